// The WebSocket transport (docs/protocol.md §1-3): every frame is a text WebSocket
// message except binary messages, which are binary WebSocket messages.

import { now } from './frame.js'

// websocket opens a WebSocket to ll's mount and sends req as its R frame.
export function websocket(ll, req) {
  const ws = new (ll._o.WebSocket || WebSocket)(ll._url('ws'))
  const c = { name: 'websocket' }
  const send = f => {
    ws.send(f)
    c._sent = now()
  }
  c._resume = r => send('R' + JSON.stringify((c._req = r)))
  ws.binaryType = 'arraybuffer'
  ws.onopen = () => c._resume(req)
  ws.onmessage = e => ll._in(c, typeof e.data == 'string' ? e.data : new Uint8Array(e.data))
  // 1009 (too big) is the WebSocket layer's 4413; codes other than 1000 and Lifeline's
  // own say the network failed.
  // An error event (without a code) is a network failure too: some implementations
  // fire no close event after a refused handshake.
  ws.onclose = ws.onerror = e => ll._end(c, e.code == 1009 ? 4413 : e.code == 1000 || e.code >= 4000 ? e.code : 0, e.reason)
  c._abort = () => {
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null
    ws.close()
  }
  c._beat = () => send(ll._takeAck() || 'P')
  // flush writes what the session has for the server: the messages from c._next (an S
  // frame first when the numbering does not follow on), the ack due, the close.
  c._flush = () => {
    const q = ll._q, base = ll._base, end = base + q.length
    if (c._next < base) c._next = base
    if (c._next < end) {
      // _seq0 is the number that follows the last data frame written on c.
      if (c._next != c._seq0) send('S' + c._next)
      while (c._next < end) {
        const d = q[c._next++ - base][0]
        send(typeof d == 'string' ? 'M' + d : d)
      }
      c._seq0 = c._next
    }
    ll._sent = Math.max(ll._sent, c._next - 1)
    const a = ll._takeAck()
    if (a) send(a)
    // On a WebSocket the close follows the messages in order: it need not wait for acks.
    if (ll._close && !c._closing) send('C' + ll._close.join(' ')), (c._closing = 1)
  }
  return c
}
