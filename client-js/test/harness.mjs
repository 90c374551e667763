// The fakes the unit tests drive a Lifeline with: a WebSocket and fetch that record
// everything and let a test play the server (no network). unit.test.mjs and
// request.test.mjs share them.
import assert from 'node:assert/strict'
import { parser } from '../src/frame.js'
import { Lifeline } from '../src/lifeline.js'

const enc = new TextEncoder()
export const sleep = ms => new Promise(r => setTimeout(r, ms))

// waitFor polls cond until it returns something truthy, and fails with a clear message
// after ms: every wait of these tests is bounded.
export async function waitFor(cond, what, ms = 2000) {
  const end = Date.now() + ms
  for (;;) {
    const v = cond()
    if (v) return v
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await sleep(2)
  }
}

export const parseAll = (body, limit) => {
  const out = []
  parser(f => out.push(f), limit)(body)
  return out
}

// sse writes frames the way the Go server does (transport.AppendEvent): "data:" with no
// space, plus one when the line itself begins with a space. The client must read both.
export const sse = frames =>
  frames.map(f => f.split('\n').map(l => 'data:' + (l[0] == ' ' ? ' ' : '') + l + '\n').join('') + '\n').join('')

export const HELLO = { v: 1, sid: 'sid-1', token: 'tok-1', ack: 0, hb: 15000, hbt: 10000, resume: 60000, msg: 65536, batch: 100, body: 1048576, queue: 1048576 }
export const H = (o = {}) => 'H' + JSON.stringify({ ...HELLO, ...o })
// A resume hello carries no token.
export const RH = (o = {}) => H({ token: undefined, ...o })
export const R = f => (assert.equal(typeof f, 'string'), assert.equal(f[0], 'R', 'not an R frame: ' + f), JSON.parse(f.slice(1)))

export const URL0 = 'ws://test.invalid/ll'
export const MOUNT = 'http://test.invalid/ll'
export const KEY = 'lifeline:' + MOUNT
export const EVENTS = ['open', 'message', 'close', 'error', 'transport', 'reconnecting', 'reconnected', 'reset', 'offline']
export const OPTS = { headStart: 30, pollStart: 60, wsDeadline: 2000, connectTimeout: 1000, backoffMin: 1, backoffMax: 5, reprobeMin: 60000, remember: 0 }

// autoAck is a tiny server for POST send: it answers with A<highest message held>.
export function autoAck(srv, call) {
  let seq = 0
  for (const f of parseAll(call.body)) {
    if (f[0] == 'S') seq = +f.slice(1)
    else if ('MBQYX'.includes(f[0])) {
      if (seq == srv.rx + 1) srv.rx++
      seq++
    }
  }
  return sse(['A' + srv.rx])
}

// setup makes a Lifeline whose WebSocket and fetch are fakes that record everything
// and let the test play the server. Every instance, request, abort and event goes to
// one log, in order.
export function setup(t, options = {}, extra = {}) {
  const t0 = performance.now()
  const log = []
  const note = what => log.push({ at: performance.now() - t0, what })
  const sockets = [], calls = [], events = []
  const srv = { rx: 0 }
  const onSend = extra.onSend ?? (call => autoAck(srv, call))

  class FakeWebSocket {
    static CONNECTING = 0
    static OPEN = 1
    static CLOSING = 2
    static CLOSED = 3
    constructor(url) {
      this.url = url
      this.i = sockets.length
      this.name = 'ws' + this.i
      this.readyState = 0
      this.sent = []
      this.closed = null
      this.binaryType = 'blob'
      this.onopen = this.onmessage = this.onclose = this.onerror = null
      sockets.push(this)
      note(this.name)
    }
    send(d) {
      if (this.readyState != 1) throw new DOMException('send while not open', 'InvalidStateError')
      this.sent.push(typeof d == 'string' ? d : new Uint8Array(ArrayBuffer.isView(d) ? d.buffer.slice(d.byteOffset, d.byteOffset + d.byteLength) : d.slice(0)))
    }
    close(code, reason) {
      note(this.name + ':close' + (code ? ' ' + code : ''))
      if (this.closed) return
      this.closed = { code, reason }
      if (this.readyState == 3) return
      this.readyState = 2
      setTimeout(() => {
        this.readyState = 3
        this.onclose?.({ type: 'close', code: code ?? 1005, reason: reason ?? '', wasClean: true })
      })
    }
    // The server's side.
    open() {
      assert.equal(this.readyState, 0, this.name + ' is not connecting')
      this.readyState = 1
      note(this.name + ':open')
      this.onopen?.({ type: 'open' })
    }
    recv(data) {
      this.onmessage?.({ type: 'message', data })
    }
    drop(code = 1006, reason = '') {
      this.readyState = 3
      note(`${this.name}:closed ${code}`)
      this.onclose?.({ type: 'close', code, reason, wasClean: code != 1006 })
    }
  }

  function fetch(url, init = {}) {
    const ep = new URL(url).pathname.split('/').pop()
    const name = ep + calls.filter(c => c.ep == ep).length
    let resolve, reject, ctrl
    const p = new Promise((a, b) => ((resolve = a), (reject = b)))
    const call = { url, ep, name, method: init.method ?? 'GET', headers: { ...init.headers }, body: init.body ?? null, init, aborted: false, settled: false }
    const settle = () => {
      assert.ok(!call.settled, name + ' answered twice')
      call.settled = true
    }
    // reply answers with a whole body; open starts a streamed body that push feeds.
    call.reply = (status, text = '') => {
      settle()
      note(`${name}:${status}`)
      resolve(new Response(text, { status }))
    }
    call.open = (text = '') => {
      settle()
      note(name + ':200')
      resolve(new Response(new ReadableStream({ start: c => void (ctrl = c) }), { status: 200 }))
      if (text) call.push(text)
    }
    call.push = chunk => ctrl.enqueue(typeof chunk == 'string' ? enc.encode(chunk) : chunk)
    call.end = () => ctrl.close()
    call.fail = (e = new TypeError('fetch failed')) => {
      note(name + ':fail')
      if (ctrl) ctrl.error(e)
      else settle(), reject(e)
    }
    call._release = () => call.settled || ((call.settled = true), resolve(new Response('', { status: 503 })))
    init.signal?.addEventListener('abort', () => {
      call.aborted = true
      note(name + ':abort')
      const e = init.signal.reason // a DOMException AbortError, as a browser gives
      if (ctrl) {
        try {
          ctrl.error(e)
        } catch {}
      } else if (!call.settled) (call.settled = true), reject(e)
    })
    calls.push(call)
    note(name)
    if (ep == 'send') {
      const r = onSend(call)
      if (r != null) call.reply(200, r)
    }
    return p
  }

  const ll = new (extra.Lifeline ?? Lifeline)(extra.url ?? URL0, { WebSocket: FakeWebSocket, fetch, ...OPTS, ...options })
  for (const type of EVENTS)
    ll.addEventListener(type, e => {
      events.push(e)
      note('ev:' + type + (e.code != null ? ' ' + e.code : ''))
    })
  t.after(() => {
    if (ll.readyState < 3) ll._finish(1000, 'test over', true) // stops every timer of the client
    for (const c of calls) c._release() // lets pending sends end (their timeout timers with them)
  })
  const h = {
    ll, log, note, sockets, calls, events, srv, FakeWebSocket, fetch,
    seq: re => log.map(x => x.what).filter(w => re.test(w)),
    at: what => {
      const x = log.find(x => x.what == what)
      assert.ok(x, `no "${what}" in the log: ${log.map(x => x.what).join(', ')}`)
      return x.at
    },
    types: () => events.map(e => e.type),
    count: type => events.filter(e => e.type == type).length,
    messages: () => events.filter(e => e.type == 'message').map(e => e.data),
    ws: (i, ms) => waitFor(() => sockets[i], `WebSocket #${i} to be created`, ms),
    call: (name, ms) => waitFor(() => calls.find(c => c.name == name), `request ${name}`, ms),
    event: (type, n = 1, ms) => waitFor(() => events.filter(e => e.type == type)[n - 1], `${n} ${type} event(s)`, ms),
  }
  return h
}

export const TRANSPORT_RE = /^(ws|stream|poll)\d+$/

// viaWebSocket returns a Lifeline open on a WebSocket (ws0).
export async function viaWebSocket(t, options, extra) {
  const h = setup(t, options, extra)
  const ws0 = await h.ws(0)
  ws0.open()
  ws0.recv(H())
  await h.event('open')
  return { ...h, ws0 }
}

// viaStream returns a Lifeline open on an HTTP stream (stream0), the WebSocket refused.
export async function viaStream(t, options, extra) {
  const h = setup(t, options, extra)
  ;(await h.ws(0)).drop(1006)
  const s0 = await h.call('stream0')
  s0.open(sse([H()]))
  await h.event('open')
  return { ...h, s0 }
}

// header reads a Lifeline-* request header by name, case-insensitively as HTTP does.
export const header = (call, k) => {
  const v = Object.entries(call.headers).find(([h]) => h.toLowerCase() == 'lifeline-' + k.toLowerCase())?.[1]
  return v == null ? undefined : String(v)
}
