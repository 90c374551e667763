// The HTTP streaming transport (docs/protocol.md §1, §6): one long GET stream
// response carries the server's frames; POST send carries the client's.
import { conn, request, read } from './http.js'

// stream opens a stream creating (req without sid) or resuming the session.
export function stream(s, req) {
  const [c, sig] = conn(s, 'stream')
  // An idle stream sends a P (polls need none: the server hears them).
  c._beat = () => c._flush(1)
  request(s, 'stream', req, sig)
    .then(res => read(s, sig, res))
    // A clean end is the server recycling the stream: the client reopens it at once.
    .then(() => s._end(-1), e => s._end(e._cc | 0, e.message))
  return c
}
