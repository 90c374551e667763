// Measures the browser client's time to a working transport (open event) in Node,
// against the Go test server through its fault proxy, with default options:
//   node --experimental-websocket bench/open.mjs [runs]
// (make bench runs it). Each scenario prints the transport reached and the median and
// maximum time to open.
import { spawn, execFileSync } from 'node:child_process'
import { createInterface } from 'node:readline'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Lifeline } from '../src/lifeline.js'

const runs = +(process.argv[2] || 20)
const dir = mkdtempSync(join(tmpdir(), 'llbench-'))
const bin = join(dir, 'llserver')
execFileSync('go', ['build', '-o', bin, './client-js/test/server'], { cwd: new URL('../..', import.meta.url).pathname })
const p = spawn(bin, [], { stdio: ['pipe', 'pipe', 'ignore'] })
const lines = createInterface({ input: p.stdout })[Symbol.asyncIterator]()
const urls = JSON.parse((await lines.next()).value)
const cmd = async c => (p.stdin.write(c + '\n'), (await lines.next()).value)

const scenarios = [
  ['direct', [], urls.direct],
  ['proxy, all passed', ['ws pass', 'stream pass'], urls.proxy],
  ['WebSocket refused', ['ws refuse', 'stream pass'], urls.proxy],
  ['WebSocket hanging', ['ws hang', 'stream pass'], urls.proxy],
  ['WebSocket open but silent', ['ws silent', 'stream pass'], urls.proxy],
  ['WebSocket refused, stream buffered', ['ws refuse', 'stream buffer'], urls.proxy],
  ['WebSocket hanging, stream buffered', ['ws hang', 'stream buffer'], urls.proxy],
]
for (const [name, cmds, url] of scenarios) {
  for (const c of cmds) await cmd(c)
  const times = [], reached = new Set()
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now()
    const ll = new Lifeline(url, { remember: 0 })
    await new Promise((res, rej) => {
      ll.onopen = res
      ll.onclose = e => rej(new Error(`${name}: closed ${e.code}`))
    })
    times.push(performance.now() - t0)
    reached.add(ll.transport)
    ll.close()
    await new Promise(res => (ll.onclose = res))
  }
  times.sort((a, b) => a - b)
  const ms = x => x.toFixed(1) + ' ms'
  console.log(`${name.padEnd(36)} ${[...reached].join('/').padEnd(10)} median ${ms(times[runs >> 1])}, max ${ms(times[runs - 1])}`)
}
p.stdin.end()
await new Promise(res => p.on('exit', res))
rmSync(dir, { recursive: true })
