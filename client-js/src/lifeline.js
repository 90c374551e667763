// Lifeline: a WebSocket-shaped client of one Lifeline session (docs/protocol.md).
// It races the transports, resumes the session when a connection is lost, moves it
// back up to WebSocket when it can, and delivers every message exactly once, in order.
import { websocket } from './websocket.js'
import { stream } from './stream.js'
import { poll } from './poll.js'
import { num, utf8, unb64, backoff, action, now, closeOf } from './frame.js'

const transports = { websocket, stream, poll }
const EVENTS = 'open message close error transport reconnecting reconnected reset'.split(' ')
const STATES = 'CONNECTING OPEN CLOSING CLOSED'.split(' ')

// The options' defaults; lifeline.d.ts documents each one.
const DEFAULTS = {
  transports: Object.keys(transports),
  headStart: 150,
  pollStart: 300,
  wsDeadline: 10000,
  connectTimeout: 3000,
  backoffMin: 250,
  backoffMax: 10000,
  reprobeMin: 10000,
  reprobeMax: 300000,
  maxQueued: 1 << 20,
  remember: 600000,
  withCredentials: false,
}

const fail = (name, msg) => new DOMException(msg, name)

export class Lifeline extends EventTarget {
  constructor(url, options) {
    super()
    let u
    try {
      u = new URL(url, globalThis.location?.href)
      if (!/^(http|ws)s?:$/.test(u.protocol) || u.href.includes('#')) throw 0
    } catch {
      throw fail('SyntaxError', 'bad URL ' + url)
    }
    u.protocol = u.protocol.replace('ws', 'http')
    const o = (this._o = { ...options })
    for (const k in DEFAULTS) o[k] ??= DEFAULTS[k] // an option undefined is the default
    if (!o.transports.length || o.transports.some(t => !Object.hasOwn(transports, t))) throw TypeError('Lifeline: bad transports')
    this.url = u.href
    this.readyState = 0
    this.transport = ''
    this.reconnecting = false
    this.binaryType = 'blob'
    for (const t of EVENTS) {
      this['on' + t] = null
      this.addEventListener(t, e => this['on' + t]?.(e))
    }
    this._q = [] // messages not acknowledged by the server: [data, bytes], the first numbered _base
    this._qb = this._n = 0 // the bytes of _q; failed attempts in a row
    this._race = new Set() // connections waiting for their hello
    this._pd = o.reprobeMin
    this._fresh()
  }

  // _fresh forgets the session (there is none yet) and starts a new one: after a
  // backoff when the server is full or shutting down.
  _fresh(code) {
    this._sid = this._tok = '' // _conn, the last connection number used, is set with _sid
    this._base = 1
    this._sent = this._rx = this._told = this._rxb = 0 // the highest number written on a
    // connection, the highest received, the highest acknowledged, bytes received since
    code == 4429 || code == 4503 ? this._retry(code) : this._create()
  }

  // bufferedAmount is the bytes of the messages sent that the server has not
  // acknowledged yet, queued ones included.
  get bufferedAmount() {
    return this._qb
  }

  // sessionId is the public id of the current session ('' before the first hello).
  get sessionId() {
    return this._sid
  }

  send(d) {
    if (this.readyState > 1) throw fail('InvalidStateError', 'closed')
    if (d instanceof ArrayBuffer || ArrayBuffer.isView(d)) d = new Uint8Array(d.buffer || d, d.byteOffset, d.byteLength).slice()
    else if (d instanceof Blob) throw TypeError('Lifeline: send blob.arrayBuffer()')
    else d = String(d)
    const n = typeof d == 'string' ? utf8(d) : d.length
    const max = this._h?.msg || 65536
    if (n > max) throw RangeError('Lifeline: message too big')
    if (this._qb + n > this._o.maxQueued) throw fail('QuotaExceededError', 'send queue full')
    this._q.push([d, n])
    this._qb += n
    this._flush()
  }

  close(code, reason = '') {
    if (code !== undefined && code != 1000 && !(code >= 3000 && code <= 4999))
      throw fail('InvalidAccessError', 'close code ' + code)
    if (utf8(reason) > 123) throw fail('SyntaxError', 'reason too long')
    if (this.readyState > 1) return
    if (!this._sid) return this._finish(1006, '', false)
    this.readyState = 2
    this._close = [code || 1000, reason]
    // Messages already sent are delivered first; give up on them after 5 s.
    this._ct = setTimeout(() => this._finish(1006, 'close timeout', false), 5000)
    this._flush()
  }

  // ---- connections

  // _url is the URL of an endpoint below the mount.
  _url(name) {
    const u = new URL(this.url)
    u.pathname = u.pathname.replace(/\/?$/, '/' + name)
    if (name == 'ws') u.protocol = u.protocol.replace('http', 'ws')
    return u.href
  }

  // _auth resolves the credentials to present (docs/protocol.md §1).
  async _auth() {
    const a = this._o.auth
    return typeof a == 'function' ? a() : a
  }

  // _req is a resume request for the session, numbered as a new connection.
  _req(auth) {
    return { v: 1, sid: this._sid, token: this._tok, ack: this._rx, conn: ++this._conn, auth }
  }

  // _open starts a connection on transport name with req as its first request, and
  // gives it until deadline ms for its hello. failed(code, reason) is called if it
  // ends before it carries the session.
  _open(name, req, deadline, failed) {
    const c = transports[name](this, req)
    c._req = req
    c._failed = failed
    c._dt = setTimeout(() => this._end(c, 0, 'no hello'), deadline)
    this._race.add(c)
    return c
  }

  // _drop abandons a connection without telling anyone.
  _drop(c) {
    if (!c || c._dead) return
    c._dead = 1
    clearTimeout(c._dt)
    clearTimeout(c._iv) // timeouts and intervals share one list of ids
    this._race.delete(c)
    c._abort()
  }

  // _dropAll abandons every connection: current, opening and probing.
  _dropAll() {
    for (const c of [this._cur, ...this._race]) this._drop(c)
    this._cur = this._att = this._probe = null
  }

  // _end handles the end of connection c with a close code (0: a network failure, -1:
  // the server recycled a stream).
  _end(c, code, reason = '') {
    if (c._dead) return
    this._drop(c)
    if (c != this._cur) return c._failed?.(code, reason)
    this._cur = null
    this._lost(code, reason)
  }

  // _create starts a fresh session by racing the transports (docs/protocol.md §4).
  async _create() {
    let auth
    try {
      auth = await this._auth()
    } catch (e) {
      return this._retry(0, e.message)
    }
    if (this.readyState > 1 || this._sid) return
    const o = this._o, order = [...o.transports], at = [0, o.headStart, o.pollStart]
    const r = this._recall(), i = order.indexOf(r)
    if (i > 0) order.splice(1, 0, ...order.splice(i, 1)), (at[1] = 0)
    const t0 = now()
    let started = 0, failed = 0, first
    const next = () => {
      clearTimeout(this._rt)
      if (this._sid || this.readyState > 1) return
      if (started == order.length) return failed == started && this._retry(...first)
      this._open(order[started++], { v: 1, auth }, o.wsDeadline, (code, reason) => {
        if (!first || (code > 0 && !(first[0] > 0))) first = [code, reason]
        if (++failed == started) next()
      })
      if (started < order.length) this._rt = setTimeout(next, at[started] - (now() - t0))
    }
    next()
  }

  // _retry follows a failed creation: stop, or create again after a backoff.
  _retry(code, reason) {
    if (action(code) == 'stop') return this._finish(code, reason, false)
    this._bt = setTimeout(() => this._create(), backoff(this._o, this._n++))
  }

  // _hello takes the hello that arrived on c.
  _hello(c, h) {
    if (c == this._cur) return // a run of polls may be greeted again
    if (!this._sid) {
      // c won the race: it created the session.
      if (!h.token || !h.sid || h.ack) return this._end(c, 4400, 'bad hello')
      this._sid = h.sid
      this._tok = h.token
      this._conn = 0
      this._told = -1 // A0 confirms the session
      return this._attach(c, h)
    }
    if (c._req.sid) return h.sid == this._sid ? this._attach(c, h) : this._end(c, 4400, 'bad hello')
    // A WebSocket of the race, late: move the live session onto it (§3, §4 step 5).
    if (c.name != 'websocket' || c._r2) return this._drop(c)
    c._r2 = 1
    this._auth().then(
      a => c._dead || !this._sid || c._resume(this._req(a)),
      () => this._drop(c),
    )
  }

  // _attach lets c, whose hello arrived, carry the session.
  _attach(c, h) {
    if (!this._ack(h.ack)) return this._end(c, 4400, 'bad ack')
    const o = this._o
    for (const t of [c._dt, this._bt, this._rt]) clearTimeout(t)
    this._race.delete(c)
    let late
    for (const x of this._race) {
      // What else is under way ends, except a WebSocket of the race that created the
      // session: it goes on and may take the session over (§4 step 5).
      if (x._req.sid || x.name != 'websocket') this._drop(x)
      else late = x
    }
    this._att = null
    this._probe = late
    if (late) late._failed = code => this._probed(0, code)
    this._drop(this._cur)
    this._cur = c
    this._h = h
    if (c._req.sid) this._told = c._req.ack
    c._next = this._base
    c._sent = now()
    c._iv = setInterval(() => this._tick(c), Math.min(1000, h.hb / 4))
    this._n = 0
    if (c.name == 'websocket') this._pd = o.reprobeMin, this._pl = 0
    // Remember a fallback that worked; forget it once WebSocket works.
    try {
      if (!o.remember) throw 0
      const k = 'lifeline:' + this.url
      c.name == o.transports[0] ? sessionStorage.removeItem(k) : sessionStorage.setItem(k, JSON.stringify([c.name, now() + o.remember]))
    } catch {}
    const was = this.transport
    this.transport = c.name
    if (was != c.name) this._fire('transport')
    if (!this.readyState) {
      this.readyState = 1
      this._fire('open')
    } else if (this.reconnecting) {
      this.reconnecting = false
      this._fire('reconnected')
    }
    this._arm()
    c._flush()
  }

  // _recall returns the transport remembered for this URL, if not expired.
  _recall() {
    try {
      const [t, exp] = JSON.parse(sessionStorage.getItem('lifeline:' + this.url))
      if (exp > now() && this._o.remember) return t
    } catch {}
  }

  // _tick watches the current connection: dead after hb+hbt of silence; a heartbeat
  // when it carried nothing from us for hb/2.
  _tick(c) {
    const h = this._h, t = now()
    if (t - c._heard > h.hb + h.hbt) this._end(c, 0, 'silent')
    else if (t - c._sent >= h.hb / 2) c._beat?.()
  }

  // _lost follows the end of the current connection (§4, §7).
  _lost(code, reason) {
    if (this._gone(code, reason)) return
    this._idx = Math.max(0, this._o.transports.indexOf(this.transport))
    // A WebSocket under way took the session over: hear it first (_probed resumes if
    // it fails). A stream recycled (code < 0) resumes at once: waiting on a hanging
    // WebSocket would stall the session until wsDeadline.
    if (this._probe && code == 4409) return
    if (code >= 0) this._reconnecting()
    this._resume()
  }

  // _gone handles a close code that ends the session (stop or reset); it reports
  // whether it did. While closing, the session ends with the application's code.
  _gone(code, reason) {
    const act = action(code)
    if (act == 'reconnect') return false
    if (this._close) this._finish(...this._close, code == 1000)
    else if (act == 'stop') this._finish(code, reason, code == 1000)
    else this._reset(code, reason)
    return true
  }

  _reconnecting() {
    if (!this.reconnecting && this.readyState == 1) {
      this.reconnecting = true
      this._fire('reconnecting')
    }
  }

  // _resume opens a connection resuming the session on the transport that last
  // worked, then down the order, with backoff between failed attempts.
  async _resume() {
    if (this._cur || this._att || this.readyState > 2 || !this._sid) return
    const o = this._o, name = o.transports[this._idx]
    this._att = 1
    const failed = (code, reason) => {
      this._att = null
      if (this._gone(code, reason)) return
      this._reconnecting()
      this._idx = (this._idx + 1) % o.transports.length
      this._bt = setTimeout(() => this._resume(), backoff(o, this._n++))
    }
    let a
    try {
      a = await this._auth()
    } catch (e) {
      return failed(0, e.message)
    }
    if (this._cur || this.readyState > 2) return (this._att = null)
    this._att = this._open(name, this._req(a), name == 'websocket' ? o.wsDeadline : o.connectTimeout, failed)
  }

  // _arm schedules a WebSocket re-probe while the session runs below WebSocket (§4
  // step 6), unless a WebSocket is under way.
  _arm() {
    const o = this._o, w = o.transports.indexOf('websocket')
    clearTimeout(this._pt)
    if (!this._cur || this._probe || w < 0 || o.transports.indexOf(this._cur.name) <= w) return
    this._pt = setTimeout(async () => {
      try {
        const a = await this._auth()
        if (this._cur && !this._probe)
          this._probe = this._open('websocket', this._req(a), o.wsDeadline, code => this._probed(1, code))
      } catch {
        this._probed(1)
      }
    }, this._pd)
  }

  // _probed follows a WebSocket probe (or late race WebSocket) that failed. One that
  // lost the session to a newer connection of ours (4409: a stream recycled while its
  // R was under way) is tried again after 50 ms, doubling per loss in a row (§4 step
  // 6): _pl is that delay, unset until a loss and after a WebSocket carried the session.
  _probed(probe, code) {
    this._probe = null
    if (code == 4409) this._pd = this._pl = Math.min(2 * this._pl || 50, this._o.reprobeMin)
    else if (probe) this._pd = Math.min(2 * this._pd, this._o.reprobeMax)
    if (this._cur) this._arm()
    else this._reconnecting(), this._resume()
  }

  // _reset starts a fresh session after the server could not resume this one, and
  // tells the application (the reset event) what it may have lost.
  _reset(code, reason) {
    // The messages ever written to a connection may or may not have arrived; the
    // ones queued after them go on the new session.
    const lost = this._q.splice(0, this._sent - this._base + 1)
    for (const [, n] of lost) this._qb -= n
    this._dropAll()
    clearTimeout(this._pt)
    this._takeAck() // cancels the ack timer
    this._reconnecting()
    this._fire('reset', { code, reason, unsent: lost.map(m => m[0]) })
    this._fresh(code)
  }

  // _finish ends the Lifeline: close event (after an error event unless clean).
  _finish(code, reason, clean) {
    if (this.readyState == 3) return
    this.readyState = 3
    this._dropAll()
    for (const t of [this._bt, this._pt, this._at, this._ct, this._rt]) clearTimeout(t)
    this.reconnecting = false
    if (!clean) this._fire('error')
    this._fire('close', { code, reason, wasClean: clean })
  }

  // _fire dispatches an event: a MessageEvent or CloseEvent in all but class (the
  // CloseEvent class is missing outside browsers).
  _fire(type, props) {
    this.dispatchEvent(Object.assign(new Event(type), props))
  }

  // ---- frames

  // _in takes one frame (a string) or binary message (Uint8Array) from c.
  _in(c, f) {
    if (c._dead) return
    c._heard = now()
    try {
      const s = typeof f == 'string', t = s && f[0], v = s && f.slice(1)
      if (t == 'H') return this._hello(c, JSON.parse(v))
      if (t == 'C') {
        const m = closeOf(f)
        return this._end(c, m ? +m[1] : 4400, m ? m[2] : 'bad frame')
      }
      // Before its hello a connection may carry nothing else: not a Lifeline server.
      if (c != this._cur) return this._end(c, 0, 'no hello')
      if (!s) this._data(c, f)
      else if (t == 'M') this._data(c, v)
      else if (t == 'B') this._data(c, unb64(v))
      else if (t == 'S' && num(v) > 0) c._seq = num(v)
      else if (t == 'A') {
        if (!this._ack(num(v))) throw Error('bad ack')
      } else if (t == 'P') {
        // P asks for our ack at once (§5); otherwise it is answered when idle.
        if (this._rx > this._told || now() - c._sent >= this._h.hb / 2) c._beat?.()
      } else throw Error('bad frame')
    } catch (e) {
      // What the server may not send stops the session (4400); before the hello it
      // only fails the connection.
      this._end(c, c == this._cur ? 4400 : 0, e.message)
    }
  }

  // _data delivers one message numbered by c's last S frame.
  _data(c, d) {
    const s = c._seq
    if (!s) throw Error('no S frame')
    c._seq++
    if (s <= this._rx) return
    if (s > this._rx + 1) throw Error('bad sequence')
    this._rx = s
    this._rxb += d.length
    if (this._rx - this._told >= 32 || this._rxb >= this._h.queue / 4) this._flush()
    else this._at ||= setTimeout(() => this._flush(), 1000)
    if (typeof d != 'string') d = this.binaryType == 'arraybuffer' ? d.buffer : new Blob([d])
    this._fire('message', { data: d })
  }

  // _ack releases the messages the server acknowledged; false if it acknowledged one
  // never sent.
  _ack(n) {
    if (n < 0 || n > this._sent) return false
    const k = n - this._base + 1
    if (k > 0) {
      for (const [, b] of this._q.splice(0, k)) this._qb -= b
      this._base = n + 1
      if (this._close && !this._q.length) this._flush()
    }
    return true
  }

  // _takeAck returns the ack frame due, if any, and counts it as told.
  _takeAck() {
    if (this._rx > this._told) {
      this._told = this._rx
      this._rxb = 0
      clearTimeout(this._at)
      this._at = 0
      return 'A' + this._rx
    }
  }

  _flush() {
    this._cur?._flush()
  }
}

STATES.forEach((s, i) => (Lifeline[s] = Lifeline.prototype[s] = i))

export default Lifeline
