// Lifeline: a WebSocket-shaped client of one Lifeline session (docs/protocol.md).
// It races the transports, resumes the session when a connection is lost, moves it
// back up to WebSocket when it can, and delivers every message exactly once, in order.
// The client's state lives in the constructor's closure: no other file can reach it.
//
// The transport interface. A transport (websocket.js, stream.js, poll.js) is a function
// (host, req) => transport that opens one connection whose first request or R frame is
// req. It talks to the client only through the host, one per connection; the client
// talks to it only through the transport object it returns. (The names start with _
// because they are internal to the package, which lets the build shorten them.)
//
// What a transport may call (host):
//   _o                   the options (read only): WebSocket, fetch, withCredentials, backoff
//   _url(endpoint)       the URL of 'ws', 'stream', 'poll' or 'send'
//   _in(frame)           a frame (string) or a binary message (Uint8Array) arrived
//   _heard(fresh)        bytes arrived; fresh: a new HTTP body begins (its data frames
//                        are numbered by its own S frame)
//   _end(code, reason)   the connection ended: a close code, 0 for a network failure, -1
//                        for a stream the server recycled; 1000 once a close was sent
//   _out()               [queue, base, close, hello]: the data frames not acknowledged
//                        yet ([frame, bytes] each, the first numbered base; a frame is the
//                        whole text of an M, Q, Y or X frame, or a binary message as a
//                        Uint8Array), the application's close ([code, reason]) if it asked
//                        for one, the hello's limits
//   _wrote(n)            something was written now; n: the highest message number
//                        written, if any
//   _ack()               the ack frame due ('A<n>'), counted as sent; undefined if none
//   _id(ack)             {sid, token} for a request, with ack (the highest number held)
//                        when ack is true
//   _up                  an object the HTTP transports share across a client's
//                        connections (their one-POST-at-a-time uplink); the client never
//                        reads it
// Once the client has dropped the connection, the host ignores its _in and _end.
//
// What a transport is told (the transport object):
//   _flush()             write what the session has for the server (host._out)
//   _beat()              the connection has been idle: write the ack due or a P
//                        (optional: a run of polls is heard without one)
//   _abort()             drop the connection now, reporting nothing
//   _resume(req)         WebSocket only: send another R frame (§3, §4 step 5)
import { websocket } from './websocket.js'
import { stream } from './stream.js'
import { poll } from './poll.js'
import { num, utf8, unb64, backoff, action, now, closeOf, random } from './frame.js'

// The request module (request.js) hooks in through this global function, which every
// Lifeline calls once, in its constructor, with itself, its send queue (see _out) and
// put(frame, bytes), which queues a data frame like send (it throws like send). The
// function it returns is called with each Q, Y or X frame that arrives (a string), in
// order, exactly once; and at a reset with lost, the frames taken out of the queue
// because they were ever written: it takes its own frames out of lost, and may change
// or remove those of its frames still in the queue (the client then recounts the
// queue's bytes). Without the module, Q, Y and X frames are acknowledged and dropped.
const HOOK = 'LifelineHook'

const transports = { websocket, stream, poll }
const EVENTS = 'open message close error transport reconnecting reconnected reset offline'.split(' ')
// What the page says about the link and about itself (see hint below).
const PAGE = 'online offline visibilitychange resume pageshow pagehide'.split(' ')
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
  offlineAfter: 30000,
  maxQueued: 1 << 20,
  remember: 600000,
}

const fail = (name, msg) => new DOMException(msg, name)

export class Lifeline extends EventTarget {
  constructor(url, options) {
    super()
    const ll = this
    let u
    try {
      u = new URL(url, globalThis.location?.href)
      if (!/^(http|ws)s?:$/.test(u.protocol) || u.href.includes('#')) throw 0
    } catch {
      throw fail('SyntaxError', 'bad URL ' + url)
    }
    u.protocol = u.protocol.replace('ws', 'http')
    const o = { ...options }
    for (const k in DEFAULTS) o[k] ??= DEFAULTS[k] // an option undefined is the default
    if (!o.transports.length || o.transports.some(t => !Object.hasOwn(transports, t))) throw TypeError('Lifeline: bad transports')
    ll.url = u.href
    ll.readyState = 0
    ll.transport = ''
    ll.reconnecting = false
    ll.binaryType = 'blob'
    for (const t of EVENTS) {
      ll['on' + t] = null
      ll.addEventListener(t, e => ll['on' + t]?.(e))
    }

    // The state of the client, private to this constructor's closure.
    const key = 'lifeline:' + u.href // the sessionStorage key of the remembered transport
    let q = [], // data frames not acknowledged by the server: [frame, bytes], the first numbered base (never reassigned: the hook holds it)
      qb = 0, // the bytes of q
      fails = 0, // failed attempts in a row
      race = new Set(), // connections waiting for their hello
      up = {}, // the HTTP transports' uplink state, shared by every connection (see above)
      pd = o.reprobeMin, // the next re-probe's delay
      pl, // the retry delay of a WebSocket that lost the session to a newer connection
      sid, // the session: public id, token, the last connection number used
      tok,
      conn,
      base, // the number of q[0]
      sent, // the highest message number written on a connection
      rx, // the highest number received
      told, // the highest number acknowledged to the server
      rxb, // bytes received since
      hello, // the hello of the current connection (limits, heartbeat)
      cur, // the connection carrying the session
      att, // a resume attempt under way
      probe, // a WebSocket under way that may take the session over
      idx, // the index of the transport to resume on
      closing, // [code, reason] after close()
      bt, // timers: backoff, race, re-probe, ack, close, offline
      rt,
      pt,
      at,
      ct,
      ot

    // fresh forgets the session (there is none yet) and starts a new one: after a
    // backoff when the server is full or shutting down.
    const fresh = code => {
      sid = tok = '' // conn, the last connection number used, is set with sid
      base = 1
      sent = rx = told = rxb = 0
      code == 4429 || code == 4503 ? retry(code) : create()
    }

    // ---- connections

    // ep is the URL of an endpoint below the mount.
    const ep = name => {
      const u = new URL(ll.url)
      u.pathname = u.pathname.replace(/\/?$/, '/' + name)
      if (name == 'ws') u.protocol = u.protocol.replace('http', 'ws')
      return u.href
    }

    // creds resolves the credentials to present (docs/protocol.md §1).
    const creds = async () => {
      const a = o.auth
      return typeof a == 'function' ? a() : a
    }

    // rreq is a resume request for the session, numbered as a new connection.
    const rreq = auth => {
      return { v: 1, sid: sid, token: tok, ack: rx, conn: ++conn, auth }
    }

    // start starts a connection on transport name with req as its first request, and
    // gives it until deadline ms for its hello. failed(code, reason) is called if it
    // ends before it carries the session.
    const start = (name, req, deadline, failed) => {
      // c is the client's record of the connection; c._t, the transport's object.
      const c = { name, _req: req, _failed: failed }
      c._t = transports[name](
        {
          _o: o,
          _up: up,
          _url: ep,
          _in: f => rcv(c, f),
          _heard: fresh => {
            c._heard = now()
            if (fresh) c._seq = 0
          },
          _end: (code, reason) => end(c, code, reason),
          _out: () => [q, base, closing, hello],
          _wrote: n => {
            c._sent = now()
            if (n > sent) sent = n
          },
          _ack: takeAck,
          _id: a => ({ sid, token: tok, ack: a && rx }),
        },
        req,
      )
      c._dt = setTimeout(() => end(c, 0), deadline)
      race.add(c)
      return c
    }

    // drop abandons a connection without telling anyone.
    const drop = c => {
      if (!c || c._dead) return
      c._dead = 1
      clearTimeout(c._dt)
      clearTimeout(c._iv) // timeouts and intervals share one list of ids
      race.delete(c)
      c._t._abort()
    }

    // dropAll abandons every connection: current, opening and probing.
    const dropAll = () => {
      for (const c of [cur, ...race]) drop(c)
      cur = att = probe = null
    }

    // end handles the end of connection c with a close code (0: a network failure, -1:
    // the server recycled a stream).
    const end = (c, code, reason = '') => {
      if (c._dead) return
      drop(c)
      if (c != cur) return c._failed?.(code, reason)
      cur = null
      lost(code, reason)
    }

    // create starts a fresh session by racing the transports (docs/protocol.md §4).
    const create = async () => {
      let auth
      try {
        auth = await creds()
      } catch (e) {
        return retry(0, e.message)
      }
      if (ll.readyState > 1 || sid) return
      const order = [...o.transports], starts = [0, o.headStart, o.pollStart]
      const r = recall(), i = order.indexOf(r)
      if (i > 0) order.splice(1, 0, ...order.splice(i, 1)), (starts[1] = 0)
      const t0 = now()
      let started = 0, failed = 0, first
      const next = () => {
        clearTimeout(rt)
        if (sid || ll.readyState > 1) return
        if (started == order.length) return failed == started && retry(...first)
        const name = order[started++]
        start(name, { v: 1, auth }, o.wsDeadline, (code, reason) => {
          if (!first || (code > 0 && !(first[0] > 0))) first = [code, reason]
          if (++failed == started) next()
        })
        // A stream whose hello has not come by the time poll starts is most likely held
        // by a buffering proxy: it fails now, so that it does not keep one of the
        // browser's six connections per host from the poll (docs/protocol.md §4).
        if (name == 'poll') for (const x of race) x.name == 'stream' && end(x, 0)
        if (started < order.length) rt = setTimeout(next, starts[started] - (now() - t0))
      }
      next()
    }

    // retry follows a failed creation: stop, or create again after a backoff.
    const retry = (code, reason) => {
      if (action(code) == 'stop') return finish(code, reason, false)
      bt = setTimeout(create, backoff(o, fails++))
    }

    // greet takes the hello that arrived on c.
    const greet = (c, h) => {
      if (c == cur) return // a run of polls may be greeted again
      if (!sid) {
        // c won the race: it created the session.
        if (!h.token || !h.sid || h.ack) return end(c, 4400, 'bad hello')
        sid = h.sid
        tok = h.token
        conn = 0
        told = -1 // A0 confirms the session
        return attach(c, h)
      }
      if (c._req.sid) return h.sid == sid ? attach(c, h) : end(c, 4400, 'bad hello')
      // A WebSocket of the race, late: move the live session onto it (§3, §4 step 5).
      if (c.name != 'websocket' || c._r2) return drop(c)
      c._r2 = 1
      creds().then(
        a => c._dead || !sid || c._t._resume((c._req = rreq(a))),
        () => drop(c),
      )
    }

    // attach lets c, whose hello arrived, carry the session.
    const attach = (c, h) => {
      if (!ack(h.ack)) return end(c, 4400, 'bad ack')
      for (const t of [c._dt, bt, rt]) clearTimeout(t)
      race.delete(c)
      let late
      for (const x of race) {
        // What else is under way ends, except a WebSocket of the race that created the
        // session: it goes on and may take the session over (§4 step 5).
        if (x._req.sid || x.name != 'websocket') drop(x)
        else late = x
      }
      att = null
      probe = late
      if (late) late._failed = code => probed(0, code)
      drop(cur)
      cur = c
      hello = h
      if (c._req.sid) told = c._req.ack
      c._sent = now()
      c._iv = setInterval(() => tick(c), Math.min(1000, h.hb / 4))
      fails = 0
      if (c.name == 'websocket') pd = o.reprobeMin, pl = 0
      // Remember a fallback that worked; forget it once WebSocket works.
      try {
        if (o.remember)
          c.name == o.transports[0] ? sessionStorage.removeItem(key) : sessionStorage.setItem(key, JSON.stringify([c.name, now() + o.remember]))
      } catch {}
      const was = ll.transport
      ll.transport = c.name
      if (was != c.name) fire('transport')
      ot = clearTimeout(ot)
      if (!ll.readyState) {
        ll.readyState = 1
        fire('open')
      } else if (ll.reconnecting) {
        ll.reconnecting = false
        fire('reconnected')
      }
      arm()
      c._t._flush()
    }

    // recall returns the transport remembered for this URL, if not expired.
    const recall = () => {
      try {
        const [t, exp] = JSON.parse(sessionStorage.getItem(key))
        if (exp > now() && o.remember) return t
      } catch {}
    }

    // tick watches the current connection: dead after hb+hbt of silence; a heartbeat
    // when it carried nothing from us for hb/2.
    const tick = c => {
      const h = hello, t = now()
      if (t - c._heard > h.hb + h.hbt) end(c, 0)
      else if (t - c._sent >= h.hb / 2) c._t._beat?.()
    }

    // lost follows the end of the current connection (§4, §7).
    const lost = (code, reason) => {
      if (gone(code, reason)) return
      idx = Math.max(0, o.transports.indexOf(ll.transport))
      // A WebSocket under way took the session over: hear it first (probed resumes if
      // it fails). A stream recycled (code < 0) resumes at once: waiting on a hanging
      // WebSocket would stall the session until wsDeadline.
      if (probe && code == 4409) return
      if (code >= 0) reconn()
      resume()
    }

    // gone handles a close code that ends the session (stop or reset); it reports
    // whether it did. While closing, the session ends with the application's code.
    const gone = (code, reason) => {
      const act = action(code)
      if (act == 'reconnect') return false
      if (closing) finish(...closing, code == 1000)
      else if (act == 'stop') finish(code, reason, code == 1000)
      else reset(code, reason)
      return true
    }

    const reconn = () => {
      if (!ll.reconnecting && ll.readyState == 1) {
        ll.reconnecting = true
        fire('reconnecting')
        down()
      }
    }

    // down starts the wait after which an outage is reported: the offline event, once,
    // and send failing (queuing nothing) until a connection carries the session again.
    const down = () =>
      o.offlineAfter > 0 &&
      (ot = setTimeout(() => fire('offline'), o.offlineAfter))

    // resume opens a connection resuming the session on the transport that last
    // worked, then down the order, with backoff between failed attempts.
    const resume = async () => {
      if (cur || att || ll.readyState > 2 || !sid) return
      const name = o.transports[idx]
      att = 1
      const failed = (code, reason) => {
        att = null
        if (gone(code, reason)) return
        reconn()
        idx = (idx + 1) % o.transports.length
        bt = setTimeout(resume, backoff(o, fails++))
      }
      let a
      try {
        a = await creds()
      } catch (e) {
        return failed(0, e.message)
      }
      if (cur || ll.readyState > 2) return (att = null)
      att = start(name, rreq(a), name == 'websocket' ? o.wsDeadline : o.connectTimeout, failed)
    }

    // arm schedules a WebSocket re-probe while the session runs below WebSocket (§4
    // step 6), unless a WebSocket is under way.
    const arm = () => {
      const w = o.transports.indexOf('websocket')
      clearTimeout(pt)
      if (!cur || probe || w < 0 || o.transports.indexOf(cur.name) <= w) return
      pt = setTimeout(async () => {
        try {
          const a = await creds()
          if (cur && !probe)
            probe = start('websocket', rreq(a), o.wsDeadline, code => probed(1, code))
        } catch {
          probed(1)
        }
      }, pd)
    }

    // probed follows a WebSocket probe (or late race WebSocket) that failed. One that
    // lost the session to a newer connection of ours (4409: a stream recycled while its
    // R was under way) is tried again after 50 ms, doubling per loss in a row (§4 step
    // 6): pl is that delay, unset until a loss and after a WebSocket carried the session.
    const probed = (wasProbe, code) => {
      probe = null
      if (code == 4409) pd = pl = Math.min(2 * pl || 50, o.reprobeMin)
      else if (wasProbe) pd = Math.min(2 * pd, o.reprobeMax)
      if (cur) arm()
      else reconn(), resume()
    }

    // reset starts a fresh session after the server could not resume this one, and
    // tells the application (the reset event) what it may have lost.
    const reset = (code, reason) => {
      // The messages ever written to a connection may or may not have arrived; the
      // ones queued after them go on the new session.
      const lost = q.splice(0, sent - base + 1)
      ext?.(lost)
      qb = 0
      for (const [, n] of q) qb += n
      dropAll()
      clearTimeout(pt)
      takeAck() // cancels the ack timer
      reconn()
      // unsent: the messages (the hook took its frames out of lost).
      fire('reset', { code, reason, unsent: lost.map(([d]) => (typeof d == 'string' ? d.slice(1) : d)) })
      fresh(code)
    }

    // finish ends the Lifeline: close event (after an error event unless clean).
    const finish = (code, reason, clean) => {
      if (ll.readyState == 3) return
      ll.readyState = 3
      dropAll()
      for (const t of [bt, pt, at, ct, rt, ot]) clearTimeout(t)
      PAGE.map(t => page.removeEventListener?.(t, hint, true))
      ll.reconnecting = false
      if (!clean) fire('error')
      fire('close', { code, reason, wasClean: clean })
    }

    // fire dispatches an event: a MessageEvent or CloseEvent in all but class (the
    // CloseEvent class is missing outside browsers).
    const fire = (type, props) => {
      ll.dispatchEvent(Object.assign(new Event(type), props))
    }

    // ---- frames

    // rcv takes one frame (a string) or binary message (Uint8Array) from c.
    const rcv = (c, f) => {
      if (c._dead) return
      c._heard = now()
      try {
        const s = typeof f == 'string', t = s && f[0], v = s && f.slice(1)
        if (t == 'H') return greet(c, JSON.parse(v))
        if (t == 'C') {
          const m = closeOf(f)
          return end(c, m ? +m[1] : 4400, m ? m[2] : 'bad frame')
        }
        // Before its hello a connection may carry nothing else: not a Lifeline server.
        if (c != cur) return end(c, 0)
        if (!s) data(c, f)
        else if (t == 'M') data(c, v)
        else if (t == 'B') data(c, unb64(v))
        else if ('QYX'.includes(t)) data(c, f, 1)
        else if (t == 'S' && num(v) > 0) c._seq = num(v)
        else if (t == 'A') {
          if (!ack(num(v))) throw Error('bad ack')
        } else if (t == 'P') {
          // P asks for our ack at once (§5); otherwise it is answered when idle.
          if (rx > told || now() - c._sent >= hello.hb / 2) c._t._beat?.()
        } else throw Error('bad frame')
      } catch (e) {
        // What the server may not send stops the session (4400); before the hello it
        // only fails the connection.
        end(c, c == cur ? 4400 : 0, e.message)
      }
    }

    // data delivers one message (or Q, Y, X frame: typed) numbered by c's last S frame.
    const data = (c, d, typed) => {
      const s = c._seq++ // (a throw ends c; no S frame before it is a bad sequence too)
      if (!s || s > rx + 1) throw Error('bad sequence')
      if (s <= rx) return
      rx = s
      rxb += d.length
      // An ack is due at once at 32 messages or a quarter of the queue, else 5 to 10 s
      // later (§5): at random, so the clients of one broadcast do not all ack at once.
      if (rx - told >= 32 || rxb >= hello.queue / 4) flush()
      else at ||= setTimeout(flush, 5e3 + random(5e3))
      if (typed) return ext?.(d)
      if (typeof d != 'string') d = ll.binaryType == 'arraybuffer' ? d.buffer : new Blob([d])
      fire('message', { data: d })
    }

    // ack releases the messages the server acknowledged; false if it acknowledged one
    // never sent.
    const ack = n => {
      if (n < 0 || n > sent) return false
      const k = n - base + 1
      if (k > 0) {
        for (const [, b] of q.splice(0, k)) qb -= b
        base = n + 1
        if (closing && !q.length) flush()
      }
      return true
    }

    // takeAck returns the ack frame due, if any, and counts it as told.
    const takeAck = () => {
      if (rx > told) {
        told = rx
        rxb = 0
        at = clearTimeout(at)
        return 'A' + rx
      }
    }

    const flush = () => {
      cur?._t._flush()
    }

    // put queues a data frame of n bytes (a message counts its data).
    const put = (d, n) => {
      if (n > (hello?.msg || 65536)) throw RangeError('Lifeline: message too big')
      if (qb + n > o.maxQueued) throw fail('QuotaExceededError', 'send queue full')
      q.push([d, n])
      qb += n
      flush()
    }

    ll.send = d => {
      if (ll.readyState > 1) throw fail('InvalidStateError', 'closed')
      if (d instanceof ArrayBuffer || ArrayBuffer.isView(d)) put((d = new Uint8Array(d.buffer || d, d.byteOffset, d.byteLength).slice()), d.length)
      else if (d instanceof Blob) throw TypeError('Lifeline: send blob.arrayBuffer()')
      else put('M' + (d = String(d)), utf8(d))
    }

    ll.close = (code, reason = '') => {
      if (code !== undefined && code != 1000 && !(code >= 3000 && code < 5000))
        throw fail('InvalidAccessError', 'close code ' + code)
      if (utf8(reason) > 123) throw fail('SyntaxError', 'reason too long')
      if (ll.readyState > 1) return
      if (!sid) return finish(1006, '', false)
      ll.readyState = 2
      closing = [code || 1000, reason]
      // Messages already sent are delivered first; give up on them after 5 s.
      ct = setTimeout(() => finish(1006, 'close timeout', false), 5000)
      flush()
    }

    Object.defineProperties(ll, {
      // bufferedAmount is the bytes of the messages sent that the server has not
      // acknowledged yet, queued ones included.
      bufferedAmount: { get: () => qb },
      // sessionId is the public id of the current session ('' before the first hello).
      sessionId: { get: () => sid },
    })
    // finish ends the Lifeline at once: the unit tests stop every timer with it.
    // ---- the page (docs/protocol.md §4)

    // hint takes an event of the page: offline (the link is suspect) and a page
    // restored from the back/forward cache drop the connection at once; online, a
    // visibility change and a resume after a freeze drop it only when it carried nothing
    // for longer than the heartbeat interval, and resume at once when none is up. The
    // session resumes, so nothing is lost or repeated. A page that goes away for good
    // (pagehide not persisted) closes the session, so the server ends it at once; a page
    // put in the back/forward cache or frozen keeps it.
    const page = o.page ?? globalThis,
      hint = e => {
        const t = e.type
        if (t == 'pagehide') e.persisted || ll.close()
        else if (cur) (t == 'offline' || e.persisted || now() - cur._heard > hello.hb) && end(cur, 0)
        else if (sid && !att) clearTimeout(bt), resume()
      }
    // (Capture: visibilitychange and resume are fired at the document.)
    PAGE.map(t => page.addEventListener?.(t, hint, true))

    ll._finish = finish
    const ext = globalThis[HOOK]?.(ll, q, put)
    down()
    fresh()
  }
}

STATES.forEach((s, i) => (Lifeline[s] = Lifeline.prototype[s] = i))

export default Lifeline
