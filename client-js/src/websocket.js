// The WebSocket transport (docs/protocol.md §1-3): every frame is a text WebSocket
// message except binary messages, which are binary WebSocket messages. It talks to
// the client only through the host s (the interface is described in lifeline.js).

// websocket opens a WebSocket to the mount and sends req as its R frame.
export function websocket(s, req) {
  const ws = new (s._o.WebSocket || WebSocket)(s._url('ws'))
  // next: the number of the next message to write; seq: the number that follows the
  // last data frame written (an S frame goes first when next is not it); closing: C sent.
  let next = 0, seq, closing
  const send = f => {
    ws.send(f)
    s._wrote()
  }
  const c = {
    _resume: r => send('R' + JSON.stringify(r)),
    _abort: () => {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null
      ws.close()
    },
    _beat: () => send(s._ack() || 'P'),
    // flush writes what the session has for the server: the messages from next, the
    // ack due, the close.
    _flush: () => {
      const [q, base, close] = s._out(), end = base + q.length
      if (next < base) next = base
      for (; next < end; seq = ++next) {
        if (next != seq) send('S' + next)
        send(q[next - base][0])
      }
      s._wrote(next - 1)
      const a = s._ack()
      if (a) send(a)
      // On a WebSocket the close follows the messages in order: it need not wait for acks.
      if (close && !closing) send('C' + close.join(' ')), (closing = 1)
    },
  }
  ws.binaryType = 'arraybuffer'
  ws.onopen = () => c._resume(req)
  ws.onmessage = e => s._in(typeof e.data == 'string' ? e.data : new Uint8Array(e.data))
  // 1009 (too big) is the WebSocket layer's 4413; codes other than 1000 and Lifeline's
  // own say the network failed.
  // An error event (without a code) is a network failure too: some implementations
  // fire no close event after a refused handshake.
  ws.onclose = ws.onerror = e => s._end(e.code == 1009 ? 4413 : e.code == 1000 || e.code >= 4000 ? e.code : 0, e.reason)
  return c
}
