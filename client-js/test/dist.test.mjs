// The committed dist/ must be exactly what build.mjs makes of src/, and the
// script-tag build must stay within its size budget.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { gzipSync } from 'node:zlib'
import { build } from '../build.mjs'

const read = f => readFileSync(new URL('../' + f, import.meta.url), 'utf8')

test('dist is built from src', async () => {
  const built = await build()
  assert.deepEqual(Object.keys(built).sort(), ['dist/lifeline.min.js', 'dist/lifeline.mjs', 'dist/request.min.js', 'dist/request.mjs'])
  for (const [file, text] of Object.entries(built))
    assert.ok(read(file) === text, `${file} differs from a build of src/: run "node build.mjs" in client-js and commit dist/`)
})

// The budget is 5 KB (5,000 bytes) of dist/lifeline.min.js after gzip -9.
const BUDGET = 5000

test('lifeline.min.js within its size budget', () => {
  const min = read('dist/lifeline.min.js')
  const gz = gzipSync(min, { level: 9 }).length
  console.log(`dist/lifeline.min.js: ${min.length} bytes, ${gz} bytes gzip -9 (budget ${BUDGET})`)
  assert.ok(gz <= BUDGET, `dist/lifeline.min.js is ${gz} bytes gzipped, over the budget of ${BUDGET}`)
})

// The request module is apart from the core; it reports its size, with no budget.
test('request module size', () => {
  for (const f of ['dist/request.mjs', 'dist/request.min.js']) {
    const text = read(f)
    console.log(`${f}: ${text.length} bytes, ${gzipSync(text, { level: 9 }).length} bytes gzip -9`)
  }
})

test('package.json exports what it ships', () => {
  const pkg = JSON.parse(read('package.json'))
  assert.equal(pkg.name, 'lifeline-client')
  assert.deepEqual(Object.keys(pkg.dependencies || {}), [], 'no runtime dependencies')
  const dot = pkg.exports['.']
  const rq = pkg.exports['./request']
  for (const f of [dot.types, dot.import, pkg.exports['./min'], rq.types, rq.import, pkg.exports['./request/min']]) assert.ok(read(f).length > 500, f)
  // Importing the request module has an effect (it hooks into Lifeline): bundlers must keep it.
  for (const f of [rq.import, pkg.exports['./request/min']]) assert.ok(pkg.sideEffects.includes(f), 'sideEffects lists ' + f)
  // The types name every public member the code defines.
  const dts = read('lifeline.d.ts')
  for (const name of ['send', 'close', 'bufferedAmount', 'binaryType', 'readyState', 'transport', 'reconnecting', 'sessionId', 'url', 'request', 'onrequest'])
    assert.match(dts, new RegExp(`\\b${name}\\b`), name)
  const rdts = read(rq.types)
  for (const name of ['LifelineRequestError', 'reason', 'timeout', 'reset', 'closed', 'remote']) assert.match(rdts, new RegExp(`\\b${name}\\b`), name)
})
