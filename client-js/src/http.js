// What the HTTP transports (stream.js, poll.js) share: requests with the Lifeline
// headers, error responses, and the uplink, POST send (docs/protocol.md §1, §5).
import { event, parser, b64, utf8, backoff, num, now, closeOf } from './frame.js'

// conn returns the base of an HTTP connection: aborting it aborts its GET requests.
export const conn = (ll, name) => {
  const ac = new AbortController()
  return { name, _ac: ac, _abort: () => ac.abort(), _flush: () => uplink(ll) }
}

// request makes one request to an endpoint. r names the session (sid, token, ack,
// conn, auth), as far as the request needs. A response other than 200 throws an
// error whose _cc is the close code of its C frame (0 without one). (Not .code:
// DOMExceptions such as AbortError have a .code of their own.)
export async function request(ll, endpoint, r, signal, body) {
  const o = ll._o, headers = {}
  // Lifeline-Session, -Token, -Ack, -Conn, -Auth (header names are case-insensitive).
  for (const k in r) if (k != 'v' && r[k] != null && r[k] !== '') headers['Lifeline-' + (k == 'sid' ? 'session' : k)] = r[k]
  if (body) headers['Content-Type'] = 'text/plain;charset=utf-8'
  const res = await (o.fetch || fetch)(ll._url(endpoint), {
    method: body ? 'POST' : 'GET',
    headers,
    body,
    signal,
    // no-store also keeps Chromium from holding a second GET of the same URL (another
    // Lifeline's held poll or stream, in this tab or another) behind its cache lock.
    cache: 'no-store',
    credentials: o.withCredentials ? 'include' : 'same-origin',
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

// read feeds a response body to c, frame by frame, as it arrives; it resolves when
// the body ends.
export async function read(ll, c, res) {
  const rd = res.body.getReader(), dec = new TextDecoder(), push = parser(f => ll._in(c, f))
  for (;;) {
    const { done, value } = await rd.read()
    if (done || c._dead) return
    c._heard = now()
    push(dec.decode(value, { stream: true }))
  }
}

// uplink sends what the session has for the server, one POST at a time (concurrent
// POSTs could arrive out of order), while the current connection is an HTTP one.
// Every body starts from the oldest unacknowledged message, so a lost request or
// response loses nothing: the server drops what it already holds.
async function uplink(ll, idle) {
  if (ll._posting) return
  ll._posting = 1
  try {
    for (let n = 0; ; idle = 0) {
      const c = ll._cur
      if (!c || c._dead || !c._ac) return
      const body = batch(ll, c, idle)
      if (!body) return
      const base = ll._base, sid = ll._sid, h = ll._h, had = ll._q.length
      c._sent = now()
      try {
        const res = await request(ll, 'send', { sid, token: ll._tok }, AbortSignal.timeout(h.hb + h.hbt), body)
        const text = await res.text()
        // The response acknowledges what the server holds (unless a reset came between).
        if (sid == ll._sid) parser(f => f[0] == 'A' && ll._ack(num(f.slice(1))))(text)
        if (c._closing) return ll._finish(...ll._close, true)
        // The server took none of the messages sent (its queue is full): do not hammer
        // it. (Messages queued during a POST that carried none go out at once.)
        if (had && ll._base == base) await sleep(ll, n++)
        else n = 0
      } catch (e) {
        if (e._cc) return ll._end(c, e._cc, e.message)
        await sleep(ll, n++)
      }
    }
  } finally {
    ll._posting = 0
  }
}

const sleep = (ll, n) => new Promise(r => setTimeout(r, backoff(ll._o, n)))

// heartbeat sends a P when the connection has been idle (stream only: polls are
// heard by the server).
export const heartbeat = ll => uplink(ll, 1)

// batch builds the next send body: the unacknowledged messages (within the hello's
// batch and body limits), the ack due on a stream, the close once every message is
// acknowledged, or a heartbeat when idle. '' means nothing to send.
function batch(ll, c, idle) {
  const q = ll._q, h = ll._h
  let b = '', k = 0, size = 0
  if (q.length) {
    b = event('S' + ll._base)
    for (const [d] of q) {
      const f = event(typeof d == 'string' ? 'M' + d : 'B' + b64(d)), n = utf8(f)
      if (k && (k + 3 > h.batch || size + n + 300 > h.body)) break
      b += f
      size += n
      k++
    }
    ll._sent = Math.max(ll._sent, ll._base + k - 1)
  }
  const a = c.name == 'stream' && ll._takeAck()
  if (a) b += event(a)
  if (ll._close && !q.length) (b += event('C' + ll._close.join(' '))), (c._closing = 1)
  return b || (idle ? event('P') : '')
}
