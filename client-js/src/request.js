// Request/response on a Lifeline (docs/protocol.md, "Requests"): importing this module
// gives every Lifeline constructed afterwards ll.request(data, {timeout}) and
// ll.onrequest. It is a module of its own so that the core (lifeline.js) does not pay
// for it: the core only passes it the Q, Y and X frames that arrive (numbered and
// acknowledged like messages, so each arrives exactly once, in order) and lets it queue
// its own frames in the send queue (see the hook's comment in lifeline.js).
//
// Requests are numbered 1, 2, 3... per session by the side that sends them:
//   Q<id> <data>      a request
//   Y<id> <data>      its reply
//   X<id> <message>   its failure
import { num, utf8 } from './frame.js'

// LifelineRequestError rejects a request. reason: 'timeout' (no reply in time),
// 'reset' (the session was lost with the request written), 'closed' (the Lifeline
// closed) or 'remote' (the peer answered with an error: the message is its text).
export class LifelineRequestError extends Error {
  constructor(reason, message) {
    super(message)
    this.name = 'LifelineRequestError'
    this.reason = reason
  }
}

// An X frame's text is at most this long (the Go side truncates to 1024 bytes).
const MAX_ERROR = 1024

// hook is what every new Lifeline calls (lifeline.js): ll the instance, q its send
// queue ([frame, bytes] entries), put(frame, bytes) queues a data frame.
const hook = (ll, q, put) => {
  // mine: our requests waiting for their answer, by id: {ok, no, t (timer)}. sent: our
  // last request's id; heard: the peer's last request's id; gen: the session (a reset
  // starts a new one), so that no answer crosses a reset.
  let mine = new Map(), sent = 0, heard = 0, gen = 0

  // queue puts frame f in the send queue (the whole frame counts against the limits).
  const queue = f => put(f, utf8(f))

  // settle ends request id with result (a string) or an error.
  const settle = (id, result, reason) => {
    const r = mine.get(id)
    if (!r) return
    mine.delete(id)
    clearTimeout(r.t)
    reason ? r.no(new LifelineRequestError(reason, result)) : r.ok(result)
  }

  ll.onrequest = null

  ll.request = (data, { timeout = 30000 } = {}) =>
    new Promise((ok, no) => {
      if (ll.readyState > 1) throw new LifelineRequestError('closed', 'closed')
      // queue throws like send (too big, queue full) before the id is taken.
      queue('Q' + (sent + 1) + ' ' + data)
      const id = ++sent
      mine.set(id, { ok, no, t: timeout > 0 && setTimeout(() => settle(id, 'timeout', 'timeout'), timeout) })
    })

  // answer runs ll.onrequest on the peer's request id and queues its reply or failure
  // (unless the session it came on is gone, or the Lifeline is closing).
  const answer = (id, data) => {
    const g = gen, h = ll.onrequest
    const reply = (t, text) => {
      if (g != gen || ll.readyState > 1) return
      if (t == 'X') text = text.slice(0, MAX_ERROR)
      try {
        queue(t + id + ' ' + text)
      } catch (e) {
        // A reply too big for the session (or a full queue) fails the request instead.
        if (t == 'Y') reply('X', e.message)
      }
    }
    // h runs now (like a message listener); its result or throw settles the reply.
    new Promise(r => r(h ? h(data) : Promise.reject(Error('no request handler')))).then(
      y => reply('Y', String(y)),
      e => reply('X', String(e?.message ?? e)),
    )
  }

  // reset follows the loss of the session: lost holds the frames ever written. Our
  // requests written are rejected; those never written go on the new session as its
  // requests 1, 2...; replies to the old session's requests are dropped.
  const reset = lost => {
    const ours = ([d]) => typeof d == 'string' && d[0] != 'M'
    for (let i = lost.length; i--; ) if (ours(lost[i])) lost.splice(i, 1)
    const kept = new Map()
    let j = 0
    sent = heard = 0
    gen++
    for (const e of q) {
      if (ours(e)) {
        const d = e[0], sp = d.indexOf(' ')
        if (d[0] != 'Q') continue
        const old = +d.slice(1, sp), r = mine.get(old)
        e[0] = 'Q' + ++sent + d.slice(sp) // (no longer than before: its bytes stay counted)
        if (r) kept.set(sent, r), mine.delete(old) // (none if it timed out)
      }
      q[j++] = e
    }
    q.length = j
    for (const [id] of mine) settle(id, 'reset', 'reset')
    mine = kept
  }

  ll.addEventListener('close', () => {
    for (const [id] of mine) settle(id, 'closed', 'closed')
  })

  // The core calls this with each Q, Y, X frame, and with lost at a reset. A throw
  // stops the session with 4400 (the peer broke the protocol).
  return f => {
    if (typeof f != 'string') return reset(f)
    const sp = f.indexOf(' '), id = num(f.slice(1, sp)), text = f.slice(sp + 1)
    if (sp < 0 || id < 1) throw Error('bad request frame')
    if (f[0] == 'Q') {
      if (id <= heard) throw Error('bad request id')
      heard = id
      answer(id, text)
    } else {
      if (id > sent) throw Error('bad reply id')
      settle(id, text, f[0] == 'X' && 'remote')
    }
  }
}

globalThis.LifelineHook = hook
