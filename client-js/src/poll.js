// The long-polling transport (docs/protocol.md §5): a run of GET poll requests, each
// answered with a batch of the server's frames; POST send carries the client's.
import { conn, request } from './http.js'
import { parser } from './frame.js'

// poll starts a run of polls creating (req without sid) or resuming the session.
export function poll(ll, req) {
  const c = conn(ll, 'poll')
  ;(async () => {
    for (let r = req; ; ) {
      const res = await request(ll, 'poll', r, c._ac.signal)
      const body = await res.text()
      if (c._dead) return
      c._seq = 0 // each response numbers its messages with its own S frame
      parser(f => ll._in(c, f))(body)
      if (c._dead) return
      if (c != ll._cur) throw Error('no hello')
      // The next poll of the run acknowledges what the client holds.
      ll._takeAck()
      r = { sid: ll._sid, token: ll._tok, ack: ll._rx, conn: c._req.conn || 0 }
    }
  })().catch(e => ll._end(c, e._cc || 0, e.message))
  return c
}
