// The long-polling transport (docs/protocol.md §5): a run of GET poll requests, each
// answered with a batch of the server's frames; POST send carries the client's.
import { conn, request } from './http.js'
import { parser } from './frame.js'

// poll starts a run of polls creating (req without sid) or resuming the session.
export function poll(s, req) {
  const [c, sig] = conn(s, 'poll')
  ;(async () => {
    for (let r = req, greeted; ; ) {
      const res = await request(s, 'poll', r, sig)
      const body = await res.text()
      // (A dropped connection's frames are ignored by the host: the check below ends it.)
      s._heard(1) // each response numbers its messages with its own S frame
      parser(f => ((greeted = 1), s._in(f)))(body)
      if (sig.aborted) return
      // The run's first response must greet it (a frame other than the hello would
      // have ended the connection).
      if (!greeted) throw 0 // (a network failure: code 0, no reason)
      // The next poll of the run acknowledges what the client holds.
      s._ack()
      r = { ...s._id(1), conn: req.conn || 0 }
    }
  })().catch(e => s._end(e._cc || 0, e.message))
  return c
}
