// The Socket.IO 4.8 side of the Lifeline benchmark (bench/): an echo or broadcast
// server on a free loopback port, which it prints. Started by the bench as a child
// process (node server.js echo|broadcast), pinned like every server it measures.
//
// echo: each socket's "m" event is emitted back to it.
// broadcast: GET /broadcast emits one "b" event to every socket (encoded once by the
// adapter) carrying the unix time in ns of the ask (its t parameter) padded to 100
// bytes, and answers the number of connected clients.
'use strict'
const http = require('node:http')
const { Server } = require('socket.io')

const mode = process.argv[2] || 'echo'
const srv = http.createServer((req, res) => {
  const u = new URL(req.url, 'http://127.0.0.1')
  if (u.pathname === '/broadcast') {
    // t: when the bench asked (unix ns), so that an ask that waited behind the last
    // broadcast counts its wait; now when absent.
    const ns = u.searchParams.get('t') ?? String(BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000)) * 1000n)
    io.emit('b', ns.padEnd(100, ' '))
    res.end(String(io.engine.clientsCount))
    return
  }
  res.writeHead(404)
  res.end()
})
// Defaults otherwise (websocket and polling, pingInterval 25 s, no compression).
const io = new Server(srv, { transports: ['polling', 'websocket'], serveClient: false })
if (mode === 'echo') {
  io.on('connection', s => s.on('m', d => s.emit('m', d)))
}
srv.listen(0, '127.0.0.1', () => console.log('127.0.0.1:' + srv.address().port))
