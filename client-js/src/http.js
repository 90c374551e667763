// What the HTTP transports (stream.js, poll.js) share: requests with the Lifeline
// headers, error responses, and the uplink, POST send (docs/protocol.md §1, §5). They
// talk to the client only through the host s (the interface is described in lifeline.js).
import { event, parser, b64, utf8, backoff, closeOf } from './frame.js'

// conn returns the base of an HTTP connection, and the signal of its requests: aborting
// it aborts them; flushing it sends what the session has for the server (idle: a P if
// nothing else).
export const conn = (s, name) => {
  const ac = new AbortController(), me = { _s: s, _name: name, _sig: ac.signal }
  return [{ _abort: () => ac.abort(), _flush: idle => uplink(me, idle) }, me._sig]
}

// request makes one request to an endpoint. r names the session (sid, token, ack,
// conn, auth), as far as the request needs. A response other than 200 throws an
// error whose _cc is the close code of its C frame (0 without one). (Not .code:
// DOMExceptions such as AbortError have a .code of their own.)
export async function request(s, endpoint, r, signal, body, keepalive) {
  const o = s._o, headers = {}
  // Lifeline-Session, -Token, -Ack, -Conn, -Auth (header names are case-insensitive).
  for (const k in r) if (k != 'v' && (r[k] ?? '') !== '') headers['Lifeline-' + (k == 'sid' ? 'session' : k)] = r[k]
  // (A string body is sent as text/plain;charset=UTF-8: fetch's default.)
  const res = await (o.fetch || fetch)(s._url(endpoint), {
    method: body && 'POST', // (else fetch's default, GET)
    headers,
    body,
    signal,
    // no-store also keeps Chromium from holding a second GET of the same URL (another
    // Lifeline's held poll or stream, in this tab or another) behind its cache lock.
    cache: 'no-store',
    // The request carrying the close outlives the page (it may be closing on pagehide).
    keepalive,
    credentials: o.withCredentials ? 'include' : undefined, // (else fetch's default, same-origin)
  })
  if (res.ok) return res
  let code = 0, reason = 'HTTP ' + res.status
  try {
    parser(f => {
      const m = closeOf(f)
      if (m) (code = +m[1]), (reason = m[2])
    })(await res.text())
  } catch {}
  throw Object.assign(Error(reason), { _cc: code })
}

// read feeds a response body to the host, frame by frame, as it arrives; it resolves
// when the body ends or the connection is aborted.
export async function read(s, signal, res) {
  const rd = res.body.getReader(), dec = new TextDecoder(), push = parser(s._in)
  for (;;) {
    const { done, value } = await rd.read()
    if (done || signal.aborted) return
    s._heard()
    push(dec.decode(value, { stream: true }))
  }
}

// uplink sends what the session has for the server, one POST at a time per client
// (concurrent POSTs could arrive out of order), while its latest HTTP connection (u.c,
// in the slot s._up that the client keeps for them) lives. Every body starts from the
// oldest unacknowledged message, so a lost request or response loses nothing: the
// server drops what it already holds.
async function uplink(me, idle) {
  const u = me._s._up
  u._c = me
  if (u._busy) return
  u._busy = 1
  try {
    for (let n = 0; ; idle = 0) {
      const { _s: s, _name: name, _sig: sig } = u._c
      if (sig.aborted) return
      const [q, base, , h] = s._out(), had = q.length, [body, closing] = batch(s, name, idle)
      if (!body) return
      try {
        // The response acknowledges what the server holds: its A frame goes to the
        // host as any (ignored once the connection is gone, after a reset say).
        parser(s._in)(await (await request(s, 'send', s._id(), AbortSignal.timeout(h.hb + h.hbt), body, closing)).text())
        // The close went through: the session ended with the application's code.
        if (closing) return s._end(1000)
        // The server took none of the messages sent (its queue is full): do not hammer
        // it. (Messages queued during a POST that carried none go out at once.)
        if (had && s._out()[1] == base) await sleep(s, n++)
        else n = 0
      } catch (e) {
        if (e._cc) return s._end(e._cc, e.message)
        await sleep(s, n++)
      }
    }
  } finally {
    u._busy = 0
  }
}

const sleep = (s, n) => new Promise(r => setTimeout(r, backoff(s._o, n)))

// batch builds the next send body (counted as written) and whether it carries the
// close: the
// unacknowledged messages (within the hello's batch and body limits), the ack due on a
// stream, the close once every message is acknowledged, or a heartbeat when idle. ''
// means nothing to send.
export function batch(s, name, idle) {
  const [q, base, close, h] = s._out()
  let b = q.length ? event('S' + base) : '', k = 0, size = 0
  for (const [d] of q) {
    const f = event(typeof d == 'string' ? d : 'B' + b64(d)), n = utf8(f)
    if (k && (k + 3 > h.batch || size + n + 300 > h.body)) break
    b += f
    size += n
    k++
  }
  const a = name == 'stream' && s._ack()
  if (a) b += event(a)
  const closing = close && !q.length
  if (closing) b += event('C' + close.join(' '))
  if ((b ||= idle ? event('P') : '')) s._wrote(base + k - 1)
  return [b, closing]
}
