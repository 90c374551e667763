// The transport interface (the comment at the top of src/lifeline.js): each transport
// runs against a host that is a Proxy failing on any access outside the interface, and
// the transport object it returns may offer only the calls the interface names. So a
// transport that reads or writes the client's private state fails here.
//   node --test test/interface.test.mjs
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { websocket } from '../src/websocket.js'
import { stream } from '../src/stream.js'
import { poll } from '../src/poll.js'
import { parser } from '../src/frame.js'

const HOST = ['_o', '_url', '_in', '_heard', '_end', '_out', '_wrote', '_ack', '_id', '_up']
const TRANSPORT = ['_flush', '_beat', '_abort', '_resume']
const HELLO = { v: 1, sid: 's', token: 't', ack: 0, hb: 15000, hbt: 10000, resume: 60000, msg: 65536, batch: 100, body: 1048576, queue: 1048576 }
const sleep = ms => new Promise(r => setTimeout(r, ms))
const enc = new TextEncoder()
const frames = body => {
  const out = []
  parser(f => out.push(f))(body)
  return out
}

// fakeHost records every call; any other access is recorded as a violation and throws
// (a throw inside a transport's promise chain may be swallowed: the list is what counts).
function fakeHost(o) {
  const calls = [], bad = []
  const state = { q: [['Ma', 1], ['Mb', 1]], base: 1, close: undefined, rx: 0, ack: 'A0' }
  const impl = {
    _o: { backoffMin: 1, backoffMax: 5, ...o },
    _up: {},
    _url: e => 'http://test.invalid/ll/' + e,
    _in: f => calls.push(['in', f]),
    _heard: fresh => calls.push(['heard', fresh]),
    _end: (code, reason) => calls.push(['end', code, reason]),
    _out: () => [state.q, state.base, state.close, HELLO],
    _wrote: n => calls.push(['wrote', n]),
    _ack: () => {
      const a = state.ack
      state.ack = undefined
      return a
    },
    _id: a => ({ sid: 's', token: 't', ack: a && state.rx }),
  }
  const host = new Proxy(impl, {
    get(t, k) {
      if (typeof k == 'string' && HOST.includes(k)) return t[k]
      bad.push('get ' + String(k))
      throw new Error('transport read host.' + String(k) + ', outside the interface')
    },
    set(t, k) {
      bad.push('set ' + String(k))
      throw new Error('transport wrote host.' + String(k))
    },
    has: (t, k) => (bad.push('has ' + String(k)), false),
    ownKeys: () => (bad.push('ownKeys'), []),
    defineProperty: (t, k) => (bad.push('define ' + String(k)), false),
    deleteProperty: (t, k) => (bad.push('delete ' + String(k)), false),
  })
  return { host, calls, bad, state }
}

const onlyInterface = t => assert.deepEqual(Object.keys(t).filter(k => !TRANSPORT.includes(k)), [], 'the transport object offers only ' + TRANSPORT.join(', '))

test('websocket talks to the client only through the host', { timeout: 5000 }, async () => {
  const sockets = []
  class WS {
    constructor(url) {
      this.url = url
      this.sent = []
      sockets.push(this)
    }
    send(f) {
      this.sent.push(f)
    }
    close() {
      this.closed = true
    }
  }
  const { host, calls, bad, state } = fakeHost({ WebSocket: WS })
  const t = websocket(host, { v: 1 })
  onlyInterface(t)
  const ws = sockets[0]
  assert.equal(ws.url, 'http://test.invalid/ll/ws')
  ws.onopen()
  assert.deepEqual(ws.sent, ['R{"v":1}'])
  ws.onmessage({ data: 'H' + JSON.stringify(HELLO) })
  ws.onmessage({ data: new Uint8Array([1, 2]).buffer })
  t._flush()
  assert.deepEqual(ws.sent.slice(1), ['S1', 'Ma', 'Mb', 'A0'])
  t._beat()
  assert.equal(ws.sent.at(-1), 'P')
  t._resume({ v: 1, sid: 's' })
  assert.equal(ws.sent.at(-1), 'R{"v":1,"sid":"s"}')
  state.close = [1000, 'bye']
  t._flush()
  assert.equal(ws.sent.at(-1), 'C1000 bye')
  ws.onclose({ code: 1000, reason: 'bye' })
  t._abort()
  assert.ok(ws.closed)
  assert.deepEqual(calls.filter(c => c[0] == 'end'), [['end', 1000, 'bye']])
  assert.ok(calls.some(c => c[0] == 'in' && c[1] instanceof Uint8Array))
  assert.deepEqual(bad, [])
})

// fakeFetch answers stream and poll with the bodies given, and send with an ack.
function fakeFetch(answers) {
  const reqs = []
  const fetch = async (url, init) => {
    const ep = url.split('/').pop()
    reqs.push({ ep, init })
    if (ep == 'send') return new Response('data:A2\n\n')
    const body = answers[ep]?.shift()
    if (body == null) return new Promise((_, reject) => init.signal.addEventListener('abort', () => reject(init.signal.reason)))
    return new Response(body)
  }
  return { fetch, reqs }
}

for (const [name, open] of [['stream', stream], ['poll', poll]])
  test(`${name} talks to the client only through the host`, { timeout: 5000 }, async tc => {
    const body = `data:H${JSON.stringify(HELLO)}\n\ndata:S1\n\ndata:Mx\n\n`
    const { fetch, reqs } = fakeFetch({ [name]: [body] })
    const { host, calls, bad, state } = fakeHost({ fetch })
    const t = open(host, { v: 1 })
    tc.after(() => t._abort()) // stops the uplink, which retries a failed POST forever
    onlyInterface(t)
    await sleep(20)
    assert.deepEqual(calls.filter(c => c[0] == 'in').map(c => c[1]), ['H' + JSON.stringify(HELLO), 'S1', 'Mx'])
    if (name == 'poll') {
      // The next poll carries the messages waiting (a POST poll), with the ack.
      const next = reqs.filter(r => r.ep == 'poll')[1]
      assert.equal(next.init.method, 'POST')
      assert.deepEqual(frames(next.init.body), ['S1', 'Ma', 'Mb'])
      assert.equal(next.init.headers['Lifeline-ack'], 0)
    }
    t._flush()
    await sleep(20)
    const send = reqs.find(r => r.ep == 'send')
    assert.equal(send.init.headers['Lifeline-session'], 's')
    assert.deepEqual(frames(send.init.body).slice(0, 3), ['S1', 'Ma', 'Mb'])
    assert.ok(calls.some(c => c[0] == 'in' && c[1] == 'A2'), "the send response's ack goes to the host")
    // The close goes out once every message is acknowledged; its response ends the
    // connection with 1000.
    state.q = []
    state.base = 3
    state.close = [1000, '']
    t._flush()
    await sleep(20)
    assert.equal(frames(reqs.filter(r => r.ep == 'send').at(-1).init.body).at(-1), 'C1000 ')
    assert.ok(calls.some(c => c[0] == 'end' && c[1] == 1000))
    t._beat?.()
    t._abort()
    await sleep(20)
    assert.deepEqual(bad, [])
  })

// The client's side of the interface: lifeline.js calls on a transport object only
// what the interface names, and reaches no transport's state.
test('the client calls only the transport interface', () => {
  const src = readFileSync(new URL('../src/lifeline.js', import.meta.url), 'utf8').replace(/\/\/.*$/gm, '')
  const used = [...src.matchAll(/\._t\??\.(\w+)/g)].map(m => m[1])
  assert.ok(used.length >= 4, 'the client calls its transports through c._t')
  for (const k of used) assert.ok(TRANSPORT.includes(k), `lifeline.js calls _t.${k}, outside the transport interface`)
  assert.doesNotMatch(src, /\b(this|ll)\._(?!finish = finish)/, 'lifeline.js keeps no private state on the Lifeline object (it lives in the closure)')
  // Each transport file names nothing of the client but the host's interface.
  for (const f of ['websocket.js', 'http.js', 'stream.js', 'poll.js']) {
    const t = readFileSync(new URL('../src/' + f, import.meta.url), 'utf8').replace(/\/\/.*$/gm, '')
    for (const [, k] of t.matchAll(/\bs\.(_\w+)/g)) assert.ok(HOST.includes(k), `${f} uses host.${k}, outside the interface`)
  }
})
