// The long-polling transport (docs/protocol.md §5): a run of poll requests, each
// answered with a batch of the server's frames; POST send carries the client's, and a
// poll carries them itself (a POST poll) when they are waiting as it goes out.
import { conn, request, batch } from './http.js'
import { parser } from './frame.js'

// poll starts a run of polls creating (req without sid) or resuming the session.
export function poll(s, req) {
  const [c, sig] = conn(s, 'poll'), flush = c._flush
  // While a response is read, what the application sends in answer waits for the next
  // poll, which goes at once and carries it: one request, not two.
  let held
  c._flush = i => held || flush(i)
  ;(async () => {
    for (let r = req, greeted, body; ; ) {
      const text = await (await request(s, 'poll', r, sig, body)).text()
      // (A dropped connection's frames are ignored by the host: the check below ends it.)
      s._heard((held = 1)) // each response numbers its messages with its own S frame
      parser(f => ((greeted = 1), s._in(f)))(text)
      if (sig.aborted) return
      // The run's first response must greet it (a frame other than the hello would
      // have ended the connection).
      if (!greeted) throw 0 // (a network failure: code 0, no reason)
      // The next poll of the run acknowledges what the client holds, and carries the
      // messages waiting unless a POST is under way (the uplink sends anything else:
      // a close, say).
      s._ack()
      r = { ...s._id(1), conn: req.conn | 0 }
      held = 0
      body = (!s._up._busy && batch(s, 'poll')[0]) || void flush()
    }
  })().catch(e => s._end(e._cc | 0, e.message))
  return c
}
