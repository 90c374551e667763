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
  assert.deepEqual(Object.keys(built).sort(), ['dist/lifeline.min.js', 'dist/lifeline.mjs'])
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

test('package.json exports what it ships', () => {
  const pkg = JSON.parse(read('package.json'))
  assert.equal(pkg.name, 'lifeline-client')
  assert.deepEqual(Object.keys(pkg.dependencies || {}), [], 'no runtime dependencies')
  const dot = pkg.exports['.']
  for (const f of [dot.types, dot.import, pkg.exports['./min']]) assert.ok(read(f).length > 1000, f)
  // The types name every public member the code defines.
  const dts = read('lifeline.d.ts')
  for (const name of ['send', 'close', 'bufferedAmount', 'binaryType', 'readyState', 'transport', 'reconnecting', 'sessionId', 'url'])
    assert.match(dts, new RegExp(`\\b${name}\\b`), name)
})
