// The HTTP streaming transport (docs/protocol.md §1, §6): one long GET stream
// response carries the server's frames; POST send carries the client's.
import { conn, request, read, heartbeat } from './http.js'

// stream opens a stream creating (req without sid) or resuming the session.
export function stream(ll, req) {
  const c = conn(ll, 'stream')
  c._beat = () => heartbeat(ll)
  request(ll, 'stream', req, c._ac.signal)
    .then(res => read(ll, c, res))
    // A clean end is the server recycling the stream: the client reopens it at once.
    .then(() => ll._end(c, -1), e => ll._end(c, e._cc || 0, e.message))
  return c
}
