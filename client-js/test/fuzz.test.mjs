// Fuzzing the SSE body parser of frame.js (docs/protocol.md §2) from a checked-in
// corpus (test/corpus): every seed and many seeded mutations of it must parse to the
// same frames whether the body arrives at once or in chunks split anywhere, must fail
// only with the parser's own "too large", and event() must round-trip every frame.
// FUZZ_N sets the mutations per seed (make fuzz runs a long campaign).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { parser, event } from '../src/frame.js'

const N = +(process.env.FUZZ_N || 300)
const dir = new URL('./corpus/', import.meta.url)
const seeds = readdirSync(dir).sort().map(f => [f, readFileSync(new URL(f, dir), 'latin1')])

// A small seeded PRNG (mulberry32), so that a failure names a seed that replays it.
const rng = seed => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

const ALPHABET = 'data:\n\r MBSAPHC0123456789{}":\u00e9\ud800'
const mutate = (s, r) => {
  for (let k = 1 + Math.floor(r() * 4); k > 0; k--) {
    const i = Math.floor(r() * (s.length + 1))
    const c = ALPHABET[Math.floor(r() * ALPHABET.length)]
    switch (Math.floor(r() * 4)) {
      case 0: s = s.slice(0, i) + c + s.slice(i); break // insert
      case 1: s = s.slice(0, i) + s.slice(i + 1); break // delete
      case 2: s = s.slice(0, i) + c + s.slice(i + 1); break // replace
      default: s = s.slice(0, i) + s.slice(i, i + 8) + s.slice(i) // repeat a run
    }
  }
  return s
}

// parse feeds body in chunks cut at the given points; it returns the frames, or the
// error's message.
const parse = (body, cuts, limit) => {
  const out = []
  const feed = parser(f => out.push(f), limit)
  let at = 0
  try {
    for (const c of [...cuts, body.length]) {
      feed(body.slice(at, c))
      at = c
    }
  } catch (e) {
    return 'error: ' + e.message
  }
  return out
}

const check = (body, r, label) => {
  const limit = r() < 0.2 ? 1 + Math.floor(r() * 40) : undefined
  const whole = parse(body, [], limit)
  if (typeof whole == 'string') assert.equal(whole, 'error: too large', label)
  const cuts = []
  for (let i = 0; i < body.length; i++) if (r() < 0.2) cuts.push(i)
  const split = parse(body, cuts, limit)
  if (typeof split == 'string') assert.equal(split, 'error: too large', label)
  // The limit bounds memory: a line past it may be refused before its end arrives
  // even when, whole, it would be skipped (a line other than data:). Otherwise the
  // chunking changes nothing.
  const long = limit != null && body.split('\n').some(l => l.length > limit)
  if (!(long && typeof whole != typeof split)) assert.deepEqual(split, whole, label + ' split at ' + cuts)
  if (typeof whole != 'string')
    for (const f of whole) assert.deepEqual(parse(event(f), []), [f], label + ': event() round trip of ' + JSON.stringify(f))
}

test('the corpus parses to the frames it holds', () => {
  const byName = Object.fromEntries(seeds.map(([f, s]) => [f, parse(s, [])]))
  assert.deepEqual(byName['multiline.txt'], ['Mtwo\nlines', 'Mleading space kept'])
  assert.deepEqual(byName['cr-binary.txt'], ['Mcarriage\rreturn', 'BAP8='])
  assert.deepEqual(byName['other-lines.txt'], ['P', '', 'A12'])
  assert.deepEqual(byName['truncated.txt'], [])
  assert.equal(byName['hello.txt'].length, 3)
})

test(`every seed and ${N} mutations of each parse alike at any chunking`, () => {
  for (const [name, seed] of seeds) {
    check(seed, rng(1), name)
    for (let i = 0; i < N; i++) {
      const r = rng(i + 1)
      check(mutate(seed, r), r, `${name} mutation ${i + 1}`)
    }
  }
})
