// Unit tests of the browser client (src/): the framing helpers of frame.js, the
// backoff, and the Lifeline state machine driven through injected fakes of WebSocket
// and fetch (no network, no server). Run:
//   node --experimental-websocket --test test/unit.test.mjs
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { num, utf8, event, parser, b64, unb64, backoff, action } from '../src/frame.js'
import { Lifeline } from '../src/lifeline.js'
import { sleep, waitFor, parseAll, sse, HELLO, H, RH, R, URL0, MOUNT, KEY, EVENTS, OPTS, setup, TRANSPORT_RE, viaWebSocket, viaStream, header } from './harness.mjs'

const DOC = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8')
const enc = new TextEncoder()
const bytes = s => enc.encode(s).length

// =====================================================================================
describe('frame.js', () => {
  test('num accepts canonical unsigned decimals up to 2^53-1', () => {
    for (const [s, v] of [['0', 0], ['1', 1], ['7', 7], ['42', 42], ['1000', 1000], ['4294967296', 2 ** 32], ['9007199254740991', 2 ** 53 - 1]])
      assert.equal(num(s), v, s)
  })

  test('num rejects empty, signs, leading zeros, non-digits and values over 2^53-1', () => {
    const bad = ['', '00', '01', '007', '+1', '-1', '-0', ' 1', '1 ', '1.0', '1e3', '0x10', 'abc', '1a', '\u0661', '\uff11',
      '9007199254740992', '9007199254740993', '10000000000000000', '18446744073709551615', '18446744073709551616', '99999999999999999999']
    for (const s of bad) assert.equal(num(s), -1, JSON.stringify(s))
  })

  test('utf8 equals the TextEncoder length for ASCII, 2-, 3-, 4-byte characters and surrogate pairs', () => {
    const cases = {
      '': 0, a: 1, 'hello world': 11, '\x7f': 1, // ASCII
      '\x80': 2, é: 2, ß: 2, '\u07ff': 2, // 2 bytes
      '\u0800': 3, '€': 3, 日本: 6, '\ud7ff': 3, '\ue000': 3, '\uffff': 3, // 3 bytes
      '😀': 4, '\ud800\udc00': 4, '\udbff\udfff': 4, '𝄞x😀': 9, // 4 bytes: surrogate pairs
      'aé€😀': 10,
    }
    for (const [s, n] of Object.entries(cases)) {
      assert.equal(bytes(s), n, 'test table: ' + JSON.stringify(s))
      assert.equal(utf8(s), n, JSON.stringify(s))
    }
  })

  test('utf8 matches TextEncoder on random well-formed strings', () => {
    const ranges = [[0x20, 0x7f], [0x80, 0x7ff], [0x800, 0xd7ff], [0xe000, 0xffff], [0x10000, 0x10ffff]]
    for (let k = 0; k < 300; k++) {
      let s = ''
      for (let i = 0, n = Math.floor(Math.random() * 40); i < n; i++) {
        const [lo, hi] = ranges[Math.floor(Math.random() * ranges.length)]
        s += String.fromCodePoint(lo + Math.floor(Math.random() * (hi - lo + 1)))
      }
      assert.equal(utf8(s), bytes(s), JSON.stringify(s))
    }
  })

  test('utf8 counts a lone surrogate as the 3 bytes of U+FFFD, as TextEncoder and WebSocket send it', () => {
      for (const s of ['\ud800', '\udc00', 'a\ud800b', '\udc00\ud800', '😀\ud83d']) assert.equal(utf8(s), bytes(s), JSON.stringify(s))
    })

  test('event() writes frames byte for byte: one "data: " line per line, leading spaces kept', () => {
    assert.equal(event('A7'), 'data: A7\n\n')
    assert.equal(event('Mtwo\nlines'), 'data: Mtwo\ndata: lines\n\n')
    assert.equal(event(' lead'), 'data:  lead\n\n')
    assert.equal(event('M\n  two\n'), 'data: M\ndata:   two\ndata: \n\n')
    assert.equal(event(''), 'data: \n\n')
    assert.equal(event('\n'), 'data: \ndata: \n\n')
    assert.equal(event('Mé😀'), 'data: Mé😀\n\n')
  })

  const FRAMES = ['A7', 'S12', 'Mhello', 'Mtwo\nlines', 'M', '', ' lead', '  two', 'M\n\nafter a blank line', '\n', 'M line\n  indented\n',
    'Mdata: inner', 'M:not a comment', 'Mé€😀', 'C4000 bye', 'P', 'H{"v":1}', 'Mtab\there', 'Mcr\rinside', 'B' + b64(new Uint8Array([0, 255, 1]))]

  test('parser reads back what event() writes (round trip), and the Go writer\'s format', () => {
    for (const f of FRAMES) {
      assert.deepEqual(parseAll(event(f)), [f], JSON.stringify(f))
      assert.deepEqual(parseAll(sse([f])), [f], 'Go format: ' + JSON.stringify(f))
    }
    assert.deepEqual(parseAll(FRAMES.map(event).join('')), FRAMES)
    assert.deepEqual(parseAll('data:  x\n\ndata:x\n\ndata: x\n\n'), [' x', 'x', 'x'], 'only one space after data: is dropped')
  })

  test('parser reads the example body of protocol.md §2', () => {
    const m = /Example body carrying[^]*?```\n([^]*?)```/.exec(DOC)
    assert.ok(m, 'the example body is in docs/protocol.md §2')
    assert.equal(m[1], 'data:A7\n\ndata:S12\n\ndata:Mhello\n\ndata:Mtwo\ndata:lines\n\n')
    const want = ['A7', 'S12', 'Mhello', 'Mtwo\nlines']
    assert.deepEqual(parseAll(m[1]), want)
    assert.deepEqual(parseAll(want.map(event).join('')), want)
  })

  test('parser ignores comment lines, other fields and extra blank lines', () => {
    const body = ': a comment\n\n\n:\nevent: x\nid: 5\nretry: 10\nDATA:no\ndatum:no\ndata:Mone\n: inside\nid: 6\ndata:two\n\n\n\n: trailing\n'
    assert.deepEqual(parseAll(body), ['Mone\ntwo'])
    assert.deepEqual(parseAll(': only comments\n\n'), [])
    const got = []
    const push = parser(f => got.push(f))
    push('data:Mincomplete\n')
    assert.deepEqual(got, [], 'an event is emitted only at its blank line')
    push('\n')
    assert.deepEqual(got, ['Mincomplete'])
  })

  test('parser gives the same frames for every split of a body', () => {
    const body = ': hello\n' + FRAMES.map(event).join('') + 'event: e\n' + sse(FRAMES) + ':bye\n'
    const want = [...FRAMES, ...FRAMES]
    const feed = chunks => {
      const got = []
      const push = parser(f => got.push(f))
      for (const c of chunks) push(c)
      return got
    }
    for (let i = 0; i <= body.length; i++) assert.deepEqual(feed([body.slice(0, i), body.slice(i)]), want, 'split at ' + i)
    for (let k = 0; k < 300; k++) {
      const [i, j] = [Math.floor(Math.random() * body.length), Math.floor(Math.random() * body.length)].sort((a, b) => a - b)
      assert.deepEqual(feed([body.slice(0, i), body.slice(i, j), body.slice(j)]), want, `splits at ${i}, ${j}`)
    }
    assert.deepEqual(feed([...body]), want, 'one character at a time')
  })

  test('parser throws past its limit', () => {
    assert.deepEqual(parseAll('data:' + 'x'.repeat(10) + '\n\n', 10), ['x'.repeat(10)])
    assert.throws(() => parseAll('data:' + 'x'.repeat(11) + '\n\n', 10), /too large/)
    assert.throws(() => parseAll('data:xxxxx\ndata:xxxxx\n\n', 10), /too large/, 'lines of one frame add up')
    assert.throws(() => parser(() => {}, 10)('data:' + 'x'.repeat(20)), /too large/, 'a line with no end yet')
    assert.throws(() => parser(() => {}, 10)(':' + 'x'.repeat(20)), /too large/, 'even a comment')
    const p = parser(() => {}, 10)
    p('data:xxxxx\n')
    assert.throws(() => p('data:xxxxxx\n\n'), /too large/, 'across chunks')
  })

  test('parser limit does not depend on how the body is split', () => {
      const ok = event('x'.repeat(10)), over = event('x'.repeat(11))
      for (let i = 0; i <= ok.length; i++) {
        const p = parser(() => {}, 10)
        assert.doesNotThrow(() => (p(ok.slice(0, i)), p(ok.slice(i))), 'frame of exactly the limit, split at ' + i)
      }
      for (let i = 0; i <= over.length; i++) {
        const p = parser(() => {}, 10)
        assert.throws(() => (p(over.slice(0, i)), p(over.slice(i))), /too large/, 'frame over the limit, split at ' + i)
      }
    })

  test('b64 and unb64 round-trip random bytes (empty to 100 KB) as standard padded base64', () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i)
    const cases = [new Uint8Array(0), all, ...[1, 2, 3, 4, 5, 8191, 8192, 8193, 16385, 100 * 1024].map(n => new Uint8Array(randomBytes(n)))]
    for (const u of cases) {
      const s = b64(u)
      assert.equal(s, Buffer.from(u).toString('base64'), 'length ' + u.length)
      assert.match(s, /^[A-Za-z0-9+/]*={0,2}$/)
      assert.equal(s.length % 4, 0)
      const back = unb64(s)
      assert.ok(back instanceof Uint8Array)
      assert.deepEqual(back, u, 'length ' + u.length)
    }
    assert.deepEqual(b64(all.subarray(250)), Buffer.from([250, 251, 252, 253, 254, 255]).toString('base64'), 'a view')
  })

  test('action() follows both tables of protocol.md §7 for every code from 0 to 4999', () => {
    const sec = DOC.slice(DOC.indexOf('## 7. Close codes'), DOC.indexOf('## 8.'))
    const word = a => (a.startsWith('ignore this connection') ? 'reconnect' : a.split(' ')[0])
    const spec = new Map()
    for (const [, code, a] of sec.matchAll(/^\| (\d{4}) \|[^|\n]*\|[^|\n]*\| ([^|\n]+?) \|$/gm)) spec.set(+code, word(a))
    assert.ok(spec.size >= 14 && spec.get(1001) == 'reconnect', 'the rows of the first table')
    let covered = 0
    for (const [, codes, a] of sec.matchAll(/^\| ([\d, \-]+|none) \|[^|\n]*\| ([^|\n]+?) \|$/gm))
      for (const part of codes.split(', ')) {
        const [lo, hi = lo] = part == 'none' ? [0] : part.split('-').map(Number)
        for (let c = lo; c <= hi; c++, covered++) if (!spec.has(c)) spec.set(c, word(a))
      }
    assert.ok(covered > 3900, 'the second table covers ' + covered + ' codes')
    for (let c = 0; c < 5000; c++) if (c == 0 || c >= 1000) assert.equal(action(c), spec.get(c), `code ${c}`)
    assert.equal(action(-1), 'reconnect', 'a recycled stream')
  })
})

// =====================================================================================
describe('backoff', () => {
  test('full jitter: within [0, min(backoffMax, backoffMin·2^n)), never negative, spread over the range', () => {
    const o = { backoffMin: 250, backoffMax: 10000 }
    for (let n = 0; n <= 40; n++) {
      const bound = Math.min(o.backoffMax, o.backoffMin * 2 ** n)
      let lo = Infinity, hi = -Infinity, sum = 0
      const N = 2000
      for (let k = 0; k < N; k++) {
        const v = backoff(o, n)
        assert.ok(Number.isFinite(v) && v >= 0 && v < bound, `n=${n}: ${v} not in [0, ${bound})`)
        lo = Math.min(lo, v)
        hi = Math.max(hi, v)
        sum += v
      }
      assert.ok(lo < 0.05 * bound && hi > 0.95 * bound, `n=${n}: samples span only [${lo}, ${hi}] of [0, ${bound})`)
      assert.ok(Math.abs(sum / N / bound - 0.5) < 0.05, `n=${n}: mean ${sum / N} is not about half of ${bound}`)
    }
  })

  test('the extremes: random 0 gives 0, random near 1 gives the bound', t => {
    const o = { backoffMin: 250, backoffMax: 10000 }
    t.mock.method(Math, 'random', () => 0)
    for (const n of [0, 1, 5, 100]) assert.equal(backoff(o, n), 0)
    t.mock.method(Math, 'random', () => 1 - 2 ** -53)
    const near = (v, want) => assert.ok(Math.abs(v - want) < 1e-9, `${v} != ${want}`)
    near(backoff(o, 0), 250)
    near(backoff(o, 1), 500)
    near(backoff(o, 5), 8000)
    near(backoff(o, 6), 10000)
    near(backoff(o, 1000), 10000)
  })
})

// =====================================================================================
describe('race (protocol.md §4)', () => {
  test('websocket first; stream only after headStart and poll only after pollStart while nothing works', async t => {
    const h = setup(t, { headStart: 100, pollStart: 200 })
    await h.call('poll0')
    assert.deepEqual(h.seq(TRANSPORT_RE), ['ws0', 'stream0', 'poll0'])
    assert.ok(h.at('stream0') - h.at('ws0') >= 95, `stream started ${h.at('stream0') - h.at('ws0')} ms after ws, before headStart`)
    assert.ok(h.at('poll0') - h.at('ws0') >= 195, `poll started ${h.at('poll0') - h.at('ws0')} ms after ws, before pollStart`)
    assert.equal(h.sockets[0].url, 'ws://test.invalid/ll/ws')
    for (const [c, url] of [[h.calls[0], MOUNT + '/stream'], [h.calls[1], MOUNT + '/poll']]) {
      assert.equal(c.url, url)
      assert.equal(c.method, 'GET')
      assert.equal(header(c, 'Session'), undefined, 'a creating request names no session')
      assert.equal(header(c, 'Token'), undefined)
      // Without no-store, Chromium's cache lock holds a second GET of the same URL (a
      // second tab's held poll) until the first ends: found in a real Chromium run.
      assert.equal(c.init.cache, 'no-store')
      assert.equal(c.init.credentials, undefined, "fetch's default: same-origin")
    }
    assert.equal(h.ll.readyState, Lifeline.CONNECTING)
  })

  test('a WebSocket that works before headStart keeps the HTTP transports from starting', async t => {
    const h = await viaWebSocket(t)
    assert.deepEqual(h.ws0.sent, ['R{"v":1}', 'A0'], 'R, then A0 confirms the session')
    await sleep(150) // > pollStart
    assert.deepEqual(h.calls.map(c => c.name), [])
    assert.equal(h.ll.transport, 'websocket')
    assert.equal(h.ll.sessionId, 'sid-1')
  })

  test('when every attempt started so far has failed, the next starts at once; all failing retries the race', async t => {
    const h = setup(t, { headStart: 1000, pollStart: 2000, wsDeadline: 5000 })
    ;(await h.ws(0)).drop(1006)
    const s0 = await h.call('stream0', 500) // far before headStart
    s0.reply(502)
    const p0 = await h.call('poll0', 500) // far before pollStart
    p0.fail()
    const ws1 = await h.ws(1, 1000) // every transport failed: a new race after a backoff (<= 5 ms)
    // (The client's own closing and aborting of the failed attempts is left out.)
    assert.deepEqual(h.seq(/^(ws|stream|poll)\d+(:closed .*|:502|:fail)?$/), ['ws0', 'ws0:closed 1006', 'stream0', 'stream0:502', 'poll0', 'poll0:fail', 'ws1'])
    ws1.open()
    assert.deepEqual(ws1.sent, ['R{"v":1}'], 'the new race creates a session')
    assert.equal(h.ll.readyState, Lifeline.CONNECTING)
    assert.deepEqual(h.types(), [], 'no event while connecting')
  })

  test('every transport refused with 4401: error, then close 4401', async t => {
    const h = setup(t)
    const ws0 = await h.ws(0)
    ws0.open()
    ws0.drop(4401, 'denied')
    ;(await h.call('stream0', 1000)).reply(401, sse(['C4401 denied']))
    ;(await h.call('poll0', 1000)).reply(401, sse(['C4401 denied']))
    const close = await h.event('close')
    assert.deepEqual(h.types(), ['error', 'close'])
    assert.equal(close.code, 4401)
    assert.equal(close.reason, 'denied')
    assert.equal(close.wasClean, false)
    assert.equal(h.ll.readyState, Lifeline.CLOSED)
  })

  test('a stream without its hello when poll starts is ended (a buffering proxy holds it), not left holding a connection', async t => {
    const h = setup(t)
    const s0 = await h.call('stream0')
    await h.call('poll0')
    await waitFor(() => s0.aborted, 'the stream request to be aborted')
    assert.equal(h.sockets[0].closed, null, 'the pending WebSocket is kept going')
    assert.deepEqual(h.types(), [], 'no event while connecting')
  })

  test('the stream hello wins: A0 is posted, the poll never starts, the pending WebSocket is kept', async t => {
    const h = setup(t)
    const s0 = await h.call('stream0')
    s0.open(sse([H()]))
    await h.event('open')
    assert.equal(h.ll.transport, 'stream')
    assert.equal(h.ll.readyState, Lifeline.OPEN)
    assert.equal(h.ll.sessionId, 'sid-1')
    assert.deepEqual(h.types(), ['transport', 'open'])
    const send = await h.call('send0')
    assert.equal(send.method, 'POST')
    assert.equal(send.url, MOUNT + '/send')
    assert.equal(header(send, 'Session'), 'sid-1')
    assert.equal(header(send, 'Token'), 'tok-1')
    assert.equal(send.body, 'data: A0\n\n', 'the POST confirms the session with A0')
    await sleep(250) // > pollStart
    assert.deepEqual(h.calls.map(c => c.name), ['stream0', 'send0'], 'no poll after the stream won')
    assert.equal(s0.aborted, false)
    assert.equal(h.sockets.length, 1)
    assert.equal(h.sockets[0].closed, null, 'the pending WebSocket is kept going')
  })

  test('the poll hello wins: the stream is aborted, the next poll names the session; a poll run shares its conn', async t => {
    const h = setup(t)
    const s0 = await h.call('stream0')
    const p0 = await h.call('poll0')
    p0.reply(200, sse([H()]))
    await h.event('open')
    assert.equal(h.ll.transport, 'poll')
    await waitFor(() => s0.aborted, 'the stream request to be aborted')
    const p1 = await h.call('poll1')
    assert.deepEqual([header(p1, 'Session'), header(p1, 'Token'), header(p1, 'Ack'), header(p1, 'Conn')], ['sid-1', 'tok-1', '0', '0'])
    p1.reply(200, sse(['S1', 'Ma', 'Mb']))
    const p2 = await h.call('poll2')
    assert.deepEqual([header(p2, 'Ack'), header(p2, 'Conn')], ['2', '0'])
    p2.reply(200, sse(['S2', 'Mb', 'Mc'])) // a lost response sent again: b is a duplicate
    const p3 = await h.call('poll3')
    assert.deepEqual([header(p3, 'Ack'), header(p3, 'Conn')], ['3', '0'])
    assert.deepEqual(h.messages(), ['a', 'b', 'c'])
    assert.equal(h.calls.filter(c => c.ep == 'send').length, 0, 'polls confirm and ack: no POST needed')
  })

  test('what is sent in answer to a polled message rides the next poll (a POST poll), whose answer acks it', async t => {
    const h = setup(t, { transports: ['poll'] })
    ;(await h.call('poll0')).reply(200, sse([H()]))
    await h.event('open')
    h.ll.onmessage = e => h.ll.send('re:' + e.data)
    ;(await h.call('poll1')).reply(200, sse(['S1', 'Ma', 'Mb']))
    const p2 = await h.call('poll2')
    assert.equal(p2.method, 'POST')
    assert.deepEqual(parseAll(p2.body), ['S1', 'Mre:a', 'Mre:b'])
    assert.deepEqual([header(p2, 'Ack'), header(p2, 'Conn')], ['2', '0'])
    assert.equal(h.ll.bufferedAmount, 8)
    p2.reply(200, sse(['A2']))
    const p3 = await h.call('poll3')
    assert.equal(p3.method, 'GET', 'nothing left to carry')
    assert.equal(h.ll.bufferedAmount, 0, 'the poll answer acknowledged both')
    // Sent while a poll is held: POST send, as before.
    h.ll.send('later')
    const s = await h.call('send0')
    assert.deepEqual(parseAll(s.body), ['S3', 'Mlater'])
    assert.equal(h.calls.filter(c => c.ep == 'send').length, 1)
  })

  test('a late WebSocket hello moves the live session onto the WebSocket with a second R', async t => {
    // The server acks the A0-only confirmation; other sends stay pending (not acknowledged).
    const h = setup(t, {}, { onSend: c => (c.body == event('A0') ? sse(['A0']) : null) })
    const s0 = await h.call('stream0')
    s0.open(sse([H(), 'S1', 'Ma']))
    await h.event('message')
    h.ll.send('x') // goes out on the stream, never acknowledged there
    await h.call('send1')
    const ws0 = h.sockets[0]
    assert.equal(ws0.closed, null)
    ws0.open()
    assert.deepEqual(ws0.sent, ['R{"v":1}'])
    ws0.recv(H({ sid: 'sid-ws', token: 'tok-ws' })) // the WebSocket's own new session
    await waitFor(() => ws0.sent.length >= 2, 'a second R on the WebSocket')
    assert.deepEqual(R(ws0.sent[1]), { v: 1, sid: 'sid-1', token: 'tok-1', ack: 1, conn: 1 })
    assert.equal(h.ll.transport, 'stream', 'not moved before the WebSocket answers')
    assert.equal(s0.aborted, false)
    ws0.recv(RH())
    await waitFor(() => h.ll.transport == 'websocket', 'the move to websocket')
    assert.deepEqual(h.types(), ['transport', 'open', 'message', 'transport'])
    assert.equal(h.ll.sessionId, 'sid-1')
    await waitFor(() => s0.aborted, 'the stream to be aborted')
    assert.deepEqual(ws0.sent.slice(2), ['S1', 'Mx'], 'the unacknowledged message is resent on the WebSocket')
    assert.equal(h.ll.bufferedAmount, 1)
    ws0.recv('A1')
    assert.equal(h.ll.bufferedAmount, 0)
  })

  test('a WebSocket that lost the session to a newer connection (4409) is tried again after 50 ms, doubling, not after reprobeMin', async t => {
    // reprobeMin is 60 s here: only the lost-race retry can bring the probes in time.
    const h = setup(t)
    const s0 = await h.call('stream0')
    s0.open(sse([H()]))
    await h.event('open')
    const ws0 = h.sockets[0]
    ws0.open()
    ws0.recv(H({ sid: 'sid-ws', token: 'tok-ws' }))
    await waitFor(() => ws0.sent.length >= 2, 'a second R on the WebSocket')
    ws0.drop(4409, 'superseded') // a stream recycled meanwhile took the session back
    const ws1 = await h.ws(1)
    assert.ok(h.at('ws1') - h.at('ws0:closed 4409') >= 45, 'not before 50 ms')
    ws1.open()
    assert.deepEqual(R(ws1.sent[0]), { v: 1, sid: 'sid-1', token: 'tok-1', ack: 0, conn: 2 })
    ws1.drop(4409, 'superseded') // lost again
    const ws2 = await h.ws(2)
    assert.ok(h.at('ws2') - h.at('ws1:closed 4409') >= 95, 'the retry doubles')
    ws2.open()
    ws2.recv(RH())
    await waitFor(() => h.ll.transport == 'websocket', 'the move to websocket')
    assert.equal(h.count('reconnecting'), 0, 'a lost probe is not a loss of connection')
    assert.deepEqual(h.types(), ['transport', 'open', 'transport'])
  })

  test('a WebSocket that opens but sends no hello does not hold up the stream and is abandoned at its deadline', async t => {
    const h = setup(t, { wsDeadline: 300 })
    const ws0 = await h.ws(0)
    ws0.open()
    const s0 = await h.call('stream0')
    assert.ok(h.at('stream0') - h.at('ws0') >= 25, 'the stream still waits for headStart')
    s0.open(sse([H()]))
    await h.event('open')
    assert.equal(h.ll.transport, 'stream')
    await waitFor(() => ws0.closed, 'the silent WebSocket to be closed at wsDeadline')
    assert.deepEqual(ws0.sent, ['R{"v":1}'], 'nothing else was sent on it')
    assert.equal(h.ll.transport, 'stream')
    assert.equal(h.ll.readyState, Lifeline.OPEN)
    assert.deepEqual(h.types(), ['transport', 'open'])
  })

  test('a lone silent WebSocket is dropped at its deadline and the race retried', async t => {
    const h = setup(t, { transports: ['websocket'], wsDeadline: 100 })
    const ws0 = await h.ws(0)
    ws0.open()
    await h.ws(1)
    assert.ok(ws0.closed, 'the silent WebSocket was closed')
    assert.ok(h.at('ws1') - h.at('ws0') >= 95, 'not before its deadline')
    assert.equal(h.ll.readyState, Lifeline.CONNECTING)
  })

  test('data frames before a hello are refused: that attempt ends at once and nothing is delivered', async t => {
    const h = setup(t, { headStart: 1000, pollStart: 2000 })
    const ws0 = await h.ws(0)
    ws0.open()
    ws0.recv('S1')
    ws0.recv('Mearly')
    assert.ok(ws0.closed, 'the WebSocket was closed')
    const s0 = await h.call('stream0', 500) // at once, far before headStart
    s0.open(sse(['S1', 'Mearly2']))
    const p0 = await h.call('poll0', 500)
    await waitFor(() => s0.aborted, 'the stream to be abandoned')
    p0.reply(200, sse([H(), 'S1', 'Mok']))
    await h.event('message')
    assert.deepEqual(h.messages(), ['ok'])
    assert.equal(h.ll.transport, 'poll')
  })

  test('a binary message before a hello is refused too', async t => {
    const h = setup(t, { transports: ['websocket'] })
    const ws0 = await h.ws(0)
    ws0.open()
    ws0.recv(new Uint8Array([1, 2]).buffer)
    assert.ok(ws0.closed)
    await h.ws(1)
    assert.deepEqual(h.messages(), [])
  })
})

// =====================================================================================
describe('remembered fallback transport', () => {
  function storage(t, init = {}) {
    const map = new Map(Object.entries(init)), ops = []
    globalThis.sessionStorage = {
      getItem: k => (map.has(k) ? map.get(k) : null),
      setItem: (k, v) => (ops.push(['set', k]), map.set(k, String(v))),
      removeItem: k => (ops.push(['remove', k]), map.delete(k)),
    }
    t.after(() => delete globalThis.sessionStorage)
    return { map, ops }
  }

  for (const name of ['stream', 'poll'])
    test(`a fresh "${name}" entry starts ${name} at once beside the WebSocket; reaching websocket removes the entry`, async t => {
      const s = storage(t, { [KEY]: JSON.stringify([name, Date.now() + 60000]) })
      const h = setup(t, { remember: 600000, headStart: 1000, pollStart: 2000 })
      const c = await h.call(name + '0', 500) // far before headStart
      assert.deepEqual(h.seq(TRANSPORT_RE), ['ws0', name + '0'])
      h.sockets[0].open()
      h.sockets[0].recv(H())
      await h.event('open')
      assert.equal(h.ll.transport, 'websocket')
      assert.ok(!s.map.has(KEY), 'the entry is removed')
      assert.deepEqual(s.ops, [['remove', KEY]])
      await waitFor(() => c.aborted, `the ${name} attempt to be aborted`)
    })

  test('an expired entry is ignored; a fallback that wins is remembered', async t => {
    const s = storage(t, { [KEY]: JSON.stringify(['stream', Date.now() - 1]) })
    const h = setup(t, { remember: 600000, headStart: 200, pollStart: 1000 })
    await h.ws(0)
    await sleep(100)
    assert.deepEqual(h.calls.map(c => c.name), [], 'the stream waits for headStart')
    const s0 = await h.call('stream0')
    const before = Date.now()
    s0.open(sse([H()]))
    await h.event('open')
    const [name, exp] = JSON.parse(s.map.get(KEY))
    assert.equal(name, 'stream')
    assert.ok(exp >= before + 600000 - 50 && exp <= Date.now() + 600000, 'expiry about now + remember: ' + (exp - before))
  })

  test('remember: 0 neither reads nor writes the entry', async t => {
    const s = storage(t, { [KEY]: JSON.stringify(['stream', Date.now() + 60000]) })
    const h = setup(t, { remember: 0, headStart: 200 })
    await h.ws(0)
    await sleep(100)
    assert.deepEqual(h.calls.map(c => c.name), [], 'the stream waits for headStart')
    h.sockets[0].open()
    h.sockets[0].recv(H())
    await h.event('open')
    assert.deepEqual(s.ops, [])
  })
})

// =====================================================================================
describe('resume (protocol.md §5, §7)', () => {
  test('over WebSocket: same transport, sid/token/ack, conn strictly increasing, then down the order', async t => {
    const h = await viaWebSocket(t)
    h.ws0.recv('S1')
    h.ws0.recv('Ma')
    h.ws0.drop(1006)
    assert.equal(h.ll.reconnecting, true)
    assert.equal(h.ll.readyState, Lifeline.OPEN)
    const ws1 = await h.ws(1)
    ws1.open()
    assert.deepEqual(R(ws1.sent[0]), { v: 1, sid: 'sid-1', token: 'tok-1', ack: 1, conn: 1 })
    ws1.recv(RH())
    await h.event('reconnected')
    assert.equal(h.ll.reconnecting, false)
    ws1.drop(1011) // an error code of the WebSocket layer is a network failure too
    const ws2 = await h.ws(2)
    ws2.open()
    assert.deepEqual(R(ws2.sent[0]), { v: 1, sid: 'sid-1', token: 'tok-1', ack: 1, conn: 2 })
    ws2.drop(1006) // this attempt fails: the next transport, after a backoff
    const s0 = await h.call('stream0')
    assert.deepEqual(['Session', 'Token', 'Ack', 'Conn'].map(k => header(s0, k)), ['sid-1', 'tok-1', '1', '3'])
    s0.open(sse([RH()]))
    await h.event('reconnected', 2)
    assert.equal(h.ll.transport, 'stream')
    assert.deepEqual(h.types(), ['transport', 'open', 'message', 'reconnecting', 'reconnected', 'reconnecting', 'transport', 'reconnected'])
  })

  test('offline (issue 10, point 4): once, offlineAfter after the connection was lost while no attempt works; what is sent meanwhile is kept and delivered; the next outage tells again', async t => {
    const h = await viaWebSocket(t, { offlineAfter: 200, transports: ['websocket'] })
    h.ws0.drop(1006)
    const lost = performance.now()
    await h.event('offline', 1, 1000)
    const took = performance.now() - lost
    assert.ok(took >= 190, `offline ${took} ms after the loss, before offlineAfter`)
    assert.deepEqual(h.types(), ['transport', 'open', 'reconnecting', 'offline'])
    h.ll.send('kept') // queued (bounded by maxQueued), not thrown away
    assert.equal(h.ll.bufferedAmount, 4)
    await sleep(300)
    assert.equal(h.count('offline'), 1, 'once per outage')
    const ws = h.sockets.at(-1)
    ws.open()
    ws.recv(RH())
    await h.event('reconnected')
    assert.ok(ws.sent.includes('Mkept'), 'the message sent while offline goes once the session resumes: ' + ws.sent)
    await sleep(300)
    assert.equal(h.count('offline'), 1, 'no offline while connected')
    ws.drop(1006)
    await h.event('offline', 2, 1000)
    assert.deepEqual(h.types().filter(t => t != 'message'), ['transport', 'open', 'reconnecting', 'offline', 'reconnected', 'reconnecting', 'offline'])
  })

  test('offline while the first connection never comes; offlineAfter 0 never tells', async t => {
    const h = setup(t, { offlineAfter: 100, transports: ['websocket'] })
    await h.event('offline', 1, 1000)
    assert.equal(h.ll.readyState, Lifeline.CONNECTING)
    const h0 = await viaWebSocket(t, { offlineAfter: 0, transports: ['websocket'] })
    h0.ws0.drop(1006)
    await sleep(300)
    assert.equal(h0.count('reconnecting'), 1)
    assert.equal(h0.count('offline'), 0)
  })

  test('over stream: a network failure and a recycled stream resume on the stream with the session headers', async t => {
    const h = await viaStream(t)
    h.s0.push(sse(['S1', 'Ma']))
    await h.event('message')
    h.s0.fail()
    await h.event('reconnecting')
    const s1 = await h.call('stream1')
    assert.deepEqual(['Session', 'Token', 'Ack', 'Conn'].map(k => header(s1, k)), ['sid-1', 'tok-1', '1', '1'])
    s1.open(sse([RH(), 'S2', 'Mb']))
    await h.event('reconnected')
    s1.end() // the server recycles the stream: reopened at once, not a loss of connection
    const s2 = await h.call('stream2')
    assert.deepEqual(['Session', 'Token', 'Ack', 'Conn'].map(k => header(s2, k)), ['sid-1', 'tok-1', '2', '2'])
    s2.open(sse([RH(), 'S3', 'Mc']))
    await h.event('message', 3)
    assert.deepEqual(h.messages(), ['a', 'b', 'c'])
    assert.equal(h.count('reconnecting'), 1)
    assert.equal(h.ll.transport, 'stream')
  })

  for (const [code, via] of [[4404, 'close'], [4410, 'C'], [4440, 'close'], [4507, 'C'], [4429, 'close'], [4503, 'C']])
    test(`${code} (WebSocket ${via == 'C' ? 'C frame' : 'close code'}) resets: reset event, a fresh session`, async t => {
      const h = await viaWebSocket(t)
      h.ll.send('u')
      assert.deepEqual(h.ws0.sent.slice(-2), ['S1', 'Mu'])
      if (via == 'C') h.ws0.recv(`C${code} gone`)
      else h.ws0.drop(code, 'gone')
      const reset = await h.event('reset')
      assert.equal(reset.code, code)
      assert.equal(reset.reason, 'gone')
      assert.deepEqual(reset.unsent, ['u'])
      assert.equal(h.ll.bufferedAmount, 0)
      assert.equal(h.ll.sessionId, '')
      const ws1 = await h.ws(1)
      ws1.open()
      assert.deepEqual(ws1.sent, ['R{"v":1}'], 'a fresh session')
      ws1.recv(H({ sid: 'sid-2', token: 'tok-2' }))
      await h.event('reconnected')
      assert.equal(h.ll.sessionId, 'sid-2')
      assert.equal(h.ll.readyState, Lifeline.OPEN)
      assert.equal(h.count('close'), 0)
    })

  for (const [code, via] of [[4400, 'close'], [4401, 'close'], [4403, 'C'], [4413, 'close'], [4401, 'C']])
    test(`${code} (WebSocket ${via == 'C' ? 'C frame' : 'close code'}) stops: error, close ${code}, CLOSED`, async t => {
      const h = await viaWebSocket(t)
      if (via == 'C') h.ws0.recv(`C${code} no`)
      else h.ws0.drop(code, 'no')
      const close = await h.event('close')
      assert.deepEqual(h.types().slice(-2), ['error', 'close'])
      assert.deepEqual([close.code, close.reason, close.wasClean], [code, 'no', false])
      assert.equal(h.ll.readyState, Lifeline.CLOSED)
      await sleep(30)
      assert.equal(h.sockets.length, 1, 'no reconnection')
    })

  test('WebSocket close 1009 (message too big) is close 4413', async t => {
    const h = await viaWebSocket(t)
    h.ws0.drop(1009, 'too big')
    const close = await h.event('close')
    assert.equal(close.code, 4413)
    assert.deepEqual(h.types().slice(-2), ['error', 'close'])
    assert.equal(h.ll.readyState, Lifeline.CLOSED)
  })

  test('the server closing with 1000 ends the session cleanly', async t => {
    const h = await viaWebSocket(t)
    h.ws0.drop(1000, 'bye')
    const close = await h.event('close')
    assert.deepEqual([close.code, close.reason, close.wasClean], [1000, 'bye', true])
    assert.equal(h.count('error'), 0)
  })

  for (const code of [4409, 4408, 1001, 1005])
    test(`${code} reconnects: the session resumes on a newer connection`, async t => {
      const h = await viaWebSocket(t)
      h.ws0.drop(code, 'x')
      const ws1 = await h.ws(1)
      ws1.open()
      assert.deepEqual(R(ws1.sent[0]), { v: 1, sid: 'sid-1', token: 'tok-1', ack: 0, conn: 1 })
      ws1.recv(RH())
      await h.event('reconnected')
      assert.equal(h.count('close'), 0)
      assert.equal(h.count('reset'), 0)
    })

  test('HTTP error bodies carry the close code: 409 reconnects, 404 C4404 resets', async t => {
    const h = await viaStream(t)
    h.s0.fail()
    ;(await h.call('stream1')).reply(409, sse(['C4409 superseded']))
    const p0 = await h.call('poll0') // falls down the order, with a newer conn
    assert.deepEqual(['Session', 'Conn'].map(k => header(p0, k)), ['sid-1', '2'])
    p0.reply(404, sse(['C4404 unknown session']))
    const reset = await h.event('reset')
    assert.deepEqual([reset.code, reset.reason], [4404, 'unknown session'])
    await h.ws(1) // a fresh race
    assert.equal(h.count('close'), 0)
  })

  test('HTTP 401 with C4401 on resume stops: error, close 4401', async t => {
    const h = await viaStream(t)
    h.s0.fail()
    ;(await h.call('stream1')).reply(401, sse(['C4401 refused']))
    const close = await h.event('close')
    assert.deepEqual([close.code, close.reason, close.wasClean], [4401, 'refused', false])
    assert.deepEqual(h.types().slice(-2), ['error', 'close'])
  })

  test('auth is presented on creation and on every resume (R field, Lifeline-Auth header)', async t => {
    let n = 0
    const h = setup(t, { auth: async () => 'cred-' + ++n })
    const ws0 = await h.ws(0)
    ws0.open()
    assert.deepEqual(R(ws0.sent[0]), { v: 1, auth: 'cred-1' })
    ws0.recv(H())
    await h.event('open')
    ws0.drop(1006)
    const ws1 = await h.ws(1)
    ws1.drop(1006)
    const s0 = await h.call('stream0')
    assert.equal(header(s0, 'Auth'), 'cred-3')
    assert.equal(header(s0, 'Conn'), '2')
  })

  test('re-probe: while on a fallback a WebSocket resume is tried; a failed probe leaves the stream, a later one takes over', async t => {
    const h = await viaStream(t, { reprobeMin: 50 })
    const ws1 = await h.ws(1)
    assert.ok(h.at('ws1') - h.at('stream0:200') >= 45, 'not before reprobeMin')
    ws1.drop(1006)
    const ws2 = await h.ws(2)
    assert.ok(h.at('ws2') - h.at('ws1:closed 1006') >= 95, 'the interval doubles')
    assert.equal(h.ll.transport, 'stream')
    assert.equal(h.count('reconnecting'), 0, 'a failed probe is not a loss of connection')
    ws2.open()
    assert.deepEqual(R(ws2.sent[0]), { v: 1, sid: 'sid-1', token: 'tok-1', ack: 0, conn: 2 })
    ws2.recv(RH())
    await waitFor(() => h.ll.transport == 'websocket', 'the move to websocket')
    await waitFor(() => h.s0.aborted, 'the stream to be aborted')
    assert.deepEqual(h.types(), ['transport', 'open', 'transport'])
  })

  test('a stream recycled while a WebSocket probe hangs is reopened at once; a 4409 waits for the WebSocket', async t => {
    const h = await viaStream(t, { reprobeMin: 20, wsDeadline: 60000 })
    await h.ws(1) // the probe: never opens
    h.s0.end() // recycled
    const s1 = await h.call('stream1') // not held back until wsDeadline
    s1.open(sse([RH()]))
    assert.equal(h.count('reconnecting'), 0)
    const g = await viaStream(t, { reprobeMin: 20, wsDeadline: 60000 })
    const ws1 = await g.ws(1)
    g.s0.push(sse(['C4409 superseded']))
    g.s0.end()
    await new Promise(r => setTimeout(r, 50))
    assert.equal(g.calls.filter(c => c.ep == 'stream').length, 1, 'no stream reopened after 4409 while the WebSocket is under way')
    ws1.open()
    ws1.recv(RH())
    await waitFor(() => g.ll.transport == 'websocket', 'the WebSocket to carry the session')
  })
})

// =====================================================================================
describe('heartbeats and acks (protocol.md §5, §6)', () => {
  test('an idle WebSocket sends P; an idle stream POSTs P', async t => {
    const w = setup(t)
    const ws0 = await w.ws(0)
    ws0.open()
    ws0.recv(H({ hb: 100, hbt: 5000 }))
    await w.event('open')
    const keep = setInterval(() => ws0.recv('P'), 20) // the server is heard
    t.after(() => clearInterval(keep))
    await waitFor(() => ws0.sent.includes('P'), 'a P frame on the WebSocket')
    clearInterval(keep)
    const h = setup(t)
    ;(await h.ws(0)).drop(1006)
    const s0 = await h.call('stream0')
    s0.open(sse([H({ hb: 100, hbt: 5000 })]))
    await waitFor(() => h.calls.some(c => c.ep == 'send' && c.body == event('P')), 'a POST send of P on the stream')
    assert.equal(h.ll.transport, 'stream')
  })

  test('a connection silent past hb+hbt is given up and the session resumes', async t => {
    const h = setup(t)
    const ws0 = await h.ws(0)
    ws0.open()
    ws0.recv(H({ hb: 60, hbt: 60 }))
    await h.event('open')
    const ws1 = await h.ws(1) // nothing heard for 120 ms
    assert.ok(h.at('ws1') - h.at('ws0:open') >= 110, 'not before hb+hbt')
    assert.ok(ws0.closed, 'the silent WebSocket is closed')
    ws1.open()
    assert.deepEqual(R(ws1.sent[0]), { v: 1, sid: 'sid-1', token: 'tok-1', ack: 0, conn: 1 })
    assert.deepEqual(h.types(), ['transport', 'open', 'reconnecting'])
  })

  test('a P from the server is answered with the ack due at once (its graceful close waits for it)', async t => {
    const h = await viaWebSocket(t)
    h.ws0.recv('S1')
    h.ws0.recv('M1')
    const before = h.ws0.sent.length
    h.ws0.recv('P')
    assert.deepEqual(h.ws0.sent.slice(before), ['A1'], 'the ack, not after 1 s')
    h.ws0.recv('P')
    assert.deepEqual(h.ws0.sent.slice(before), ['A1'], 'nothing more to acknowledge: no answer while not idle')
  })

  test('acks: at once after 32 messages, otherwise 5 s plus a random part of 5 s after the first unacknowledged one', async t => {
    const h = await viaWebSocket(t)
    h.ws0.recv('S1')
    for (let i = 1; i <= 31; i++) h.ws0.recv('M' + i)
    assert.deepEqual(h.ws0.sent.slice(2), [], 'no ack before 32 messages')
    h.ws0.recv('M32')
    assert.deepEqual(h.ws0.sent.slice(2), ['A32'])
    // The delay is drawn for each ack (§5): the clients of one broadcast spread theirs.
    t.mock.timers.enable({ apis: ['setTimeout'] })
    const random = t.mock.method(Math, 'random', () => 0.5)
    h.ws0.recv('M33')
    h.ws0.recv('M34') // the timer runs from the first unacknowledged message
    t.mock.timers.tick(7499)
    assert.deepEqual(h.ws0.sent.slice(3), [], 'no ack before 5 s + 0.5 x 5 s')
    t.mock.timers.tick(1)
    assert.deepEqual(h.ws0.sent.slice(3), ['A34'])
    random.mock.mockImplementation(() => 0)
    h.ws0.recv('M35')
    t.mock.timers.tick(4999)
    assert.deepEqual(h.ws0.sent.slice(4), [], 'no ack before 5 s')
    t.mock.timers.tick(1)
    assert.deepEqual(h.ws0.sent.slice(4), ['A35'])
    assert.equal(h.messages().length, 35)
    t.mock.timers.reset() // before the harness closes the session: its close waits on real timers
  })
})

// =====================================================================================
describe('WebSocket-shaped API', () => {
  test('readyState constants on the class and on instances', t => {
    const h = setup(t)
    for (const [k, v] of Object.entries({ CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 })) {
      assert.equal(Lifeline[k], v, 'Lifeline.' + k)
      assert.equal(h.ll[k], v, 'instance.' + k)
      assert.equal(WebSocket[k], v, 'same as WebSocket.' + k)
    }
    assert.equal(h.ll.readyState, Lifeline.CONNECTING)
    assert.equal(h.ll.binaryType, 'blob')
    assert.equal(h.ll.bufferedAmount, 0)
    assert.equal(h.ll.transport, '')
    assert.equal(h.ll.sessionId, '')
    assert.equal(h.ll.reconnecting, false)
  })

  test('URL validation: SyntaxError for a fragment, another scheme or a relative URL without a base', () => {
    const fakes = { WebSocket: class {}, fetch: () => new Promise(() => {}) }
    assert.equal(globalThis.location, undefined)
    for (const u of ['ws://h/ll#frag', 'wss://h/ll#', 'http://h/ll#x', 'ftp://h/ll', 'file:///ll', 'data:,x', '/ll', 'll', 'not a url', ''])
      assert.throws(() => new Lifeline(u, fakes), e => e instanceof DOMException && e.name == 'SyntaxError', JSON.stringify(u))
    assert.throws(() => new Lifeline(URL0, { ...fakes, transports: [] }), TypeError)
    assert.throws(() => new Lifeline(URL0, { ...fakes, transports: ['websocket', 'smoke'] }), TypeError)
  })

  test('URL validation: ws, wss, http, https and URL objects are accepted; url is the http(s) form', async t => {
    for (const [u, want] of [['ws://h/ll', 'http://h/ll'], ['wss://h/ll', 'https://h/ll'], ['http://h:8080/ll', 'http://h:8080/ll'], ['https://h/a/ll/', 'https://h/a/ll/'], [new URL('wss://h/x?q=1'), 'https://h/x?q=1']]) {
      const ll = new Lifeline(u, { WebSocket: class {}, fetch: () => new Promise(() => {}) })
      assert.equal(ll.url, want)
      ll.close() // before it starts anything
      assert.equal(ll.readyState, Lifeline.CLOSED)
    }
    const h = setup(t, {}, { url: 'wss://h/a/ll/?q=1' })
    assert.equal((await h.ws(0)).url, 'wss://h/a/ll/ws?q=1')
    assert.equal((await h.call('stream0')).url, 'https://h/a/ll/stream?q=1')
  })

  test('an option given as undefined takes its default', async t => {
    const h = setup(t, { transports: undefined, headStart: undefined, pollStart: undefined, maxQueued: undefined })
    await h.ws(0)
    await sleep(60)
    assert.deepEqual(h.calls.map(c => c.name), [], 'headStart is the default 150 ms, not undefined (= at once)')
    for (let i = 0; i < 16; i++) h.ll.send('x'.repeat(1 << 16))
    assert.throws(() => h.ll.send('x'), e => e.name == 'QuotaExceededError', 'maxQueued is the default 1 MiB')
    await h.call('stream0')
  })

  test('a relative URL resolves against location when there is one', t => {
    globalThis.location = { href: 'https://example.test/app/page.html' }
    t.after(() => delete globalThis.location)
    const ll = new Lifeline('../ll', { WebSocket: class {}, fetch: () => new Promise(() => {}) })
    ll.close()
    assert.equal(ll.url, 'https://example.test/ll')
  })

  test('the transports option is checked against the known names only', () => {
      for (const name of ['toString', 'constructor', 'hasOwnProperty', '__proto__']) {
        let ll
        try {
          assert.throws(() => (ll = new Lifeline(URL0, { WebSocket: class {}, fetch: () => new Promise(() => {}), transports: [name] })), TypeError, name)
        } finally {
          ll?.close() // before _create runs: the instance must not start a "transport"
        }
      }
    })

  test('send before open is queued, counted in bufferedAmount, and flushed in order on open', async t => {
    const h = setup(t)
    const src = new Uint8Array([9, 8, 7, 6])
    h.ll.send('early')
    h.ll.send(src.subarray(1, 3))
    h.ll.send(new Uint8Array([5]).buffer)
    src[1] = 0 // sent data is copied
    assert.equal(h.ll.bufferedAmount, 5 + 2 + 1)
    const ws0 = await h.ws(0)
    ws0.open()
    assert.deepEqual(ws0.sent, ['R{"v":1}'], 'nothing but R before the hello')
    ws0.recv(H())
    await h.event('open')
    assert.deepEqual(ws0.sent, ['R{"v":1}', 'S1', 'Mearly', new Uint8Array([8, 7]), new Uint8Array([5]), 'A0'])
    assert.equal(h.ll.bufferedAmount, 8)
    ws0.recv('A1')
    assert.equal(h.ll.bufferedAmount, 3)
    ws0.recv('A3')
    assert.equal(h.ll.bufferedAmount, 0)
    h.ll.send('é€')
    assert.deepEqual(ws0.sent.slice(6), ['Mé€'], 'numbering continues with no S frame')
    assert.equal(h.ll.bufferedAmount, 5, 'UTF-8 bytes')
    ws0.recv('A4')
    assert.equal(h.ll.bufferedAmount, 0)
  })

  test('over the stream, sends are POSTed as S/M/B frames and acknowledged by the response', async t => {
    const h = await viaStream(t)
    await h.call('send0')
    h.ll.send('hi\nthere')
    h.ll.send(new Uint8Array([0, 1, 255]))
    await waitFor(() => h.ll.bufferedAmount == 0, 'the server to acknowledge both messages')
    const body = h.calls.filter(c => c.ep == 'send').map(c => c.body).join('')
    const frames = parseAll(body)
    assert.deepEqual(frames.filter(f => f != 'A0'), ['S1', 'Mhi\nthere', ...(frames.includes('S2') ? ['S2'] : []), 'B' + b64(new Uint8Array([0, 1, 255]))])
    assert.equal(h.srv.rx, 2)
  })

  test('send errors: RangeError over the message limit, QuotaExceededError past maxQueued, TypeError for a Blob', async t => {
    const h = setup(t, { maxQueued: 10 })
    assert.throws(() => h.ll.send('x'.repeat(65537)), RangeError, 'the default limit before a hello')
    assert.throws(() => h.ll.send(new Blob(['x'])), TypeError)
    h.ll.send('123456')
    assert.throws(() => h.ll.send('12345'), e => e instanceof DOMException && e.name == 'QuotaExceededError')
    assert.equal(h.ll.bufferedAmount, 6)
    h.ll.send('1234')
    assert.equal(h.ll.bufferedAmount, 10)
    const ws0 = await h.ws(0)
    ws0.open()
    ws0.recv(H({ msg: 10 }))
    await h.event('open')
    ws0.recv('A2')
    assert.equal(h.ll.bufferedAmount, 0)
    assert.throws(() => h.ll.send('x'.repeat(11)), RangeError, "the hello's limit")
    assert.throws(() => h.ll.send('é'.repeat(6)), RangeError, 'counted in UTF-8 bytes')
    h.ll.send('é'.repeat(5))
    assert.equal(h.ll.bufferedAmount, 10)
  })

  test('send throws InvalidStateError after close', async t => {
    const h = await viaWebSocket(t)
    h.ll.close()
    assert.equal(h.ll.readyState, Lifeline.CLOSING)
    assert.throws(() => h.ll.send('x'), e => e instanceof DOMException && e.name == 'InvalidStateError')
    h.ws0.drop(1000)
    await h.event('close')
    assert.throws(() => h.ll.send('x'), e => e instanceof DOMException && e.name == 'InvalidStateError')
  })

  test('close() validation: InvalidAccessError for codes other than 1000 and 3000-4999, SyntaxError for a reason over 123 bytes', t => {
    const h = setup(t)
    for (const code of [0, 999, 1001, 1005, 1006, 2999, 5000])
      assert.throws(() => h.ll.close(code), e => e instanceof DOMException && e.name == 'InvalidAccessError', 'code ' + code)
    assert.throws(() => h.ll.close(1000, 'x'.repeat(124)), e => e instanceof DOMException && e.name == 'SyntaxError')
    assert.throws(() => h.ll.close(1000, 'é'.repeat(62)), e => e instanceof DOMException && e.name == 'SyntaxError', '124 UTF-8 bytes')
    assert.equal(h.ll.readyState, Lifeline.CONNECTING, 'a refused close() changes nothing')
    assert.deepEqual(h.types(), [])
    h.ll.close(4999, 'é'.repeat(61) + 'a') // 123 bytes: accepted
    assert.equal(h.ll.readyState, Lifeline.CLOSED)
  })

  test('close() before open: error, then close 1006, and the race stops', async t => {
    const h = setup(t)
    const ws0 = await h.ws(0)
    h.ll.close(3000, 'never mind')
    assert.equal(h.ll.readyState, Lifeline.CLOSED)
    assert.deepEqual(h.types(), ['error', 'close'])
    const close = h.events[1]
    assert.deepEqual([close.code, close.wasClean], [1006, false])
    assert.ok(ws0.closed, 'the pending WebSocket is closed')
    await sleep(100) // past pollStart
    assert.deepEqual(h.calls.map(c => c.name), [], 'no HTTP attempt after close()')
    h.ll.close() // again: nothing
    assert.equal(h.count('close'), 1)
  })

  test('close() on a WebSocket sends C after the pending messages; the server closing gives a clean close with that code', async t => {
    const h = await viaWebSocket(t)
    h.ll.send('last')
    h.ll.close(4000, 'bye')
    assert.equal(h.ll.readyState, Lifeline.CLOSING)
    assert.deepEqual(h.ws0.sent.slice(-3), ['S1', 'Mlast', 'C4000 bye'])
    h.ws0.recv('A1')
    h.ws0.drop(1000) // what the Go server answers a client's C frame with
    const close = await h.event('close')
    assert.deepEqual([close.code, close.reason, close.wasClean], [4000, 'bye', true])
    assert.equal(h.count('error'), 0)
    assert.equal(h.ll.readyState, Lifeline.CLOSED)
  })

  test('close() on the stream posts C once every message is acknowledged, then closes cleanly', async t => {
    const h = await viaStream(t)
    h.ll.send('m')
    h.ll.close(1000, 'done')
    const close = await h.event('close')
    assert.deepEqual([close.code, close.reason, close.wasClean], [1000, 'done', true])
    const frames = parseAll(h.calls.filter(c => c.ep == 'send').map(c => c.body).join(''))
    assert.deepEqual(frames.slice(-1), ['C1000 done'])
    assert.ok(frames.indexOf('Mm') < frames.indexOf('C1000 done'))
    assert.equal(h.count('error'), 0)
  })

  test('on* handlers and addEventListener both receive every event', async t => {
    const h = setup(t)
    const got = []
    for (const type of EVENTS) h.ll['on' + type] = e => got.push(e.type)
    const listened = []
    h.ll.addEventListener('message', e => listened.push(e.data))
    const ws0 = await h.ws(0)
    ws0.open()
    ws0.recv(H())
    ws0.recv('S1')
    ws0.recv('Mone')
    ws0.drop(1006)
    const ws1 = await h.ws(1)
    ws1.open()
    ws1.recv(RH())
    ws1.drop(4404) // reset: a fresh session
    const ws2 = await h.ws(2)
    ws2.open()
    ws2.recv(H({ sid: 'sid-2' }))
    await h.event('reconnected', 2)
    h.ll.onmessage = null
    ws2.recv('S1')
    ws2.recv('Mtwo')
    ws2.drop(4401)
    await h.event('close')
    assert.deepEqual(got, ['transport', 'open', 'message', 'reconnecting', 'reconnected', 'reconnecting', 'reset', 'reconnected', 'error', 'close'])
    assert.deepEqual(h.types(), [...got.slice(0, 8), 'message', 'error', 'close'], 'the listeners saw the same events, and the message after onmessage = null')
    assert.deepEqual(listened, ['one', 'two'])
  })

  test('binaryType: Blob by default, ArrayBuffer when set, from WebSocket binary messages and B frames', async t => {
    const h = await viaWebSocket(t)
    h.ws0.recv('S1')
    h.ws0.recv(new Uint8Array([1, 2, 3]).buffer)
    h.ll.binaryType = 'arraybuffer'
    h.ws0.recv(new Uint8Array([4, 5]).buffer)
    h.ws0.recv('B' + b64(new Uint8Array([6])))
    h.ll.binaryType = 'blob'
    h.ws0.recv('B' + b64(new Uint8Array([7, 8])))
    const [a, b, c, d] = h.messages()
    assert.ok(a instanceof Blob, 'Blob by default')
    assert.deepEqual(new Uint8Array(await a.arrayBuffer()), new Uint8Array([1, 2, 3]))
    assert.ok(b instanceof ArrayBuffer)
    assert.deepEqual(new Uint8Array(b), new Uint8Array([4, 5]))
    assert.ok(c instanceof ArrayBuffer)
    assert.deepEqual(new Uint8Array(c), new Uint8Array([6]))
    assert.ok(d instanceof Blob)
    assert.deepEqual(new Uint8Array(await d.arrayBuffer()), new Uint8Array([7, 8]))
  })

  test('exactly once: a message sent again after a resume is delivered once; a gap is a protocol error (4400)', async t => {
    const h = await viaWebSocket(t)
    for (const f of ['S1', 'Ma', 'Mb']) h.ws0.recv(f)
    h.ws0.drop(1006)
    const ws1 = await h.ws(1)
    ws1.open()
    assert.equal(R(ws1.sent[0]).ack, 2)
    ws1.recv(RH())
    for (const f of ['S2', 'Mb', 'Mc']) ws1.recv(f)
    assert.deepEqual(h.messages(), ['a', 'b', 'c'])
    ws1.recv('S5')
    ws1.recv('Mx')
    const close = await h.event('close')
    assert.equal(close.code, 4400)
    assert.deepEqual(h.types().slice(-2), ['error', 'close'])
    assert.ok(ws1.closed, 'the WebSocket is closed')
    assert.deepEqual(h.messages(), ['a', 'b', 'c'])
  })

  for (const frames of [['Mx'], ['S0'], ['S01', 'Mx'], ['S1', 'B%%%'], ['A1'], ['Ax'], ['Q'], ['C'], ['Cx']])
    test(`protocol error after the hello: ${JSON.stringify(frames)} closes 4400`, async t => {
      const h = await viaWebSocket(t)
      for (const f of frames) h.ws0.recv(f)
      const close = await h.event('close')
      assert.equal(close.code, 4400)
      assert.equal(h.ll.readyState, Lifeline.CLOSED)
      assert.deepEqual(h.messages(), [])
    })
})

// =====================================================================================
describe('robustness', () => {
  test('a POST send that times out (hb+hbt) is a network failure, not close code 20', async t => {
      const h = setup(t, {}, { onSend: c => (c.name == 'send0' ? null : sse(['A0'])) })
      ;(await h.ws(0)).drop(1006)
      const s0 = await h.call('stream0')
      s0.open(sse([H({ hb: 200, hbt: 100 })]))
      await h.event('open')
      const keep = setInterval(() => {
        try {
          s0.push(sse(['P'])) // the downlink stays alive
        } catch {}
      }, 20)
      t.after(() => clearInterval(keep))
      const send0 = await h.call('send0')
      await waitFor(() => send0.aborted, 'the send timeout to abort send0')
      await sleep(50)
      const close = h.events.find(e => e.type == 'close')
      assert.equal(close, undefined, `closed with code ${close?.code} (${close?.reason})`)
      await h.call('send1', 1000) // the uplink carries on: the next POST
      assert.equal(h.ll.readyState, Lifeline.OPEN)
    })

  test('the uplink backs off only after a POST whose messages the server took none of, not after one that carried none', async t => {
      // Backoff is 59 s here (60 s, Math.random at 0.99): a wrong wait cannot pass unseen.
      const random = Math.random
      Math.random = () => 0.99
      t.after(() => (Math.random = random))
      const h = setup(t, { backoffMin: 60000, backoffMax: 60000 }, { onSend: () => null })
      ;(await h.ws(0)).drop(1006)
      ;(await h.call('stream0')).open(sse([H()]))
      await h.event('open')
      const send0 = await h.call('send0') // the A0 confirmation, held
      assert.equal(send0.body, event('A0'))
      h.ll.send('x') // queued while a POST without messages is under way
      send0.reply(200, sse(['A0']))
      const send1 = await h.call('send1') // at once, not after the 59 s backoff
      assert.equal(send1.body, event('S1') + event('Mx'))
      send1.reply(200, sse(['A0'])) // the server took none of it (its queue is full)
      await sleep(150)
      assert.equal(h.calls.filter(c => c.ep == 'send').length, 2, 'not hammered: the next POST waits for the backoff')
    })

  test('a creating hello that acknowledges messages never sent is a protocol error: close 4400', async t => {
      const h = setup(t, { transports: ['websocket'] })
      const ws0 = await h.ws(0)
      ws0.open()
      ws0.recv(H({ ack: 5 }))
      const close = await h.event('close', 1, 1000)
      assert.equal(close.code, 4400)
    })

  test('a hello that is JSON but not an object ends that attempt at once, with no unhandled rejection', async t => {
      const h = setup(t, { transports: ['websocket'], wsDeadline: 3000 })
      let rejected
      const onRejection = e => (rejected = e) // keeps a rejection from failing the whole file
      process.on('unhandledRejection', onRejection)
      t.after(() => process.off('unhandledRejection', onRejection))
      const ws0 = await h.ws(0)
      ws0.open()
      ws0.recv('Hnull')
      await waitFor(() => ws0.closed || rejected, 'the attempt to end', 1000)
      assert.equal(rejected, undefined, 'rejected: ' + rejected)
      await waitFor(() => ws0.closed, 'the WebSocket to be closed', 1000)
      await h.ws(1, 1000)
    })
})

// =====================================================================================
// What the page says (issue 10, points 5 and 7): the page option is the event target
// of online/offline, visibilitychange, resume, pageshow and pagehide (globalThis by
// default; Node's has no addEventListener, so the other tests see none of this).
describe('page events', () => {
  const fire = (page, type, persisted) => page.dispatchEvent(Object.assign(new Event(type), persisted == null ? {} : { persisted }))

  test('offline drops a WebSocket at once and resumes the session: reconnecting, reconnected, nothing lost or repeated', async t => {
    const page = new EventTarget()
    const h = await viaWebSocket(t, { page })
    h.ll.send('a')
    fire(page, 'offline')
    assert.equal(h.count('reconnecting'), 1, 'reconnecting at once')
    assert.ok(h.ws0.closed, 'the suspect WebSocket is dropped')
    h.ll.send('b')
    const ws1 = await h.ws(1, 500)
    ws1.open()
    assert.equal(R(ws1.sent[0]).sid, 'sid-1', 'it resumes the session')
    ws1.recv(RH({ ack: 0 })) // the server holds nothing: both go again, once each
    await h.event('reconnected')
    assert.deepEqual(ws1.sent.slice(1).filter(f => f[0] == 'M'), ['Ma', 'Mb'])
    assert.deepEqual(h.ws0.sent.filter(f => f[0] == 'M'), ['Ma'])
  })

  test('online resumes at once while a backoff is pending', async t => {
    const random = Math.random
    Math.random = () => 1 // the longest backoff
    t.after(() => (Math.random = random))
    const page = new EventTarget()
    const h = await viaWebSocket(t, { page, transports: ['websocket'], backoffMin: 60000, backoffMax: 60000 })
    h.ws0.drop(1006)
    ;(await h.ws(1, 500)).drop(1006) // the first resume fails: a 60 s backoff follows
    await sleep(50)
    assert.equal(h.sockets.length, 2)
    fire(page, 'online')
    const ws2 = await h.ws(2, 500)
    ws2.open()
    ws2.recv(RH())
    await h.event('reconnected')
  })

  for (const type of ['visibilitychange', 'resume', 'pageshow'])
    test(`${type} drops a connection that carried nothing for longer than hb, and keeps one that did not`, async t => {
      const page = new EventTarget()
      const h = setup(t, { page, transports: ['websocket'] })
      const ws0 = await h.ws(0)
      ws0.open()
      ws0.recv(H({ hb: 300, hbt: 60000 }))
      await h.event('open')
      fire(page, type, false)
      await sleep(20)
      assert.equal(h.count('reconnecting'), 0, 'a live connection stays')
      assert.ok(!ws0.closed)
      await sleep(350)
      fire(page, type, false)
      assert.equal(h.count('reconnecting'), 1, 'a silent one is dropped at once')
      assert.ok(ws0.closed)
      await h.ws(1, 500)
    })

  test('pagehide with persisted true (back/forward cache) keeps the session; pageshow with persisted true resumes it', async t => {
    const page = new EventTarget()
    const h = await viaWebSocket(t, { page })
    fire(page, 'pagehide', true)
    await sleep(20)
    assert.equal(h.ll.readyState, Lifeline.OPEN)
    assert.deepEqual(h.ws0.sent, ['R{"v":1}', 'A0'], 'nothing sent')
    fire(page, 'pageshow', true) // the connection may have died in the cache: resume
    assert.equal(h.count('reconnecting'), 1)
    const ws1 = await h.ws(1, 500)
    ws1.open()
    assert.equal(R(ws1.sent[0]).sid, 'sid-1')
    ws1.recv(RH())
    await h.event('reconnected')
  })

  test('pagehide (the page goes away) closes the session on a WebSocket at once: a C1000 frame', async t => {
    const page = new EventTarget()
    const h = await viaWebSocket(t, { page })
    fire(page, 'pagehide', false)
    assert.equal(h.ws0.sent.at(-1), 'C1000 ')
    assert.equal(h.ll.readyState, Lifeline.CLOSING)
    h.ws0.drop(1000) // the server ends the session
    const close = await h.event('close', 1, 1000)
    assert.deepEqual([close.code, close.wasClean], [1000, true])
  })

  for (const name of ['stream', 'poll'])
    test(`pagehide closes the session on ${name} at once: a keepalive POST send carrying C1000`, async t => {
      const page = new EventTarget()
      const h = setup(t, { page, transports: [name] })
      const first = await h.call(name + '0')
      if (name == 'stream') first.open(sse([H()]))
      else first.reply(200, sse([H()]))
      await h.event('open')
      await h.call(name == 'stream' ? 'send0' : 'poll1') // the confirmation (send0 answered at once)
      await sleep(20)
      const sends = h.calls.filter(c => c.ep == 'send').length
      fire(page, 'pagehide')
      const post = h.calls.filter(c => c.ep == 'send')[sends]
      assert.ok(post, 'a POST send goes out at once, in the pagehide handler')
      assert.equal(parseAll(post.body).at(-1), 'C1000 ')
      assert.equal(post.init.keepalive, true, 'keepalive: the request outlives the page')
      assert.equal(header(post, 'Session'), 'sid-1')
      assert.equal(header(post, 'Token'), 'tok-1')
      const close = await h.event('close', 1, 1000)
      assert.deepEqual([close.code, close.wasClean], [1000, true])
    })

  test('the listeners are added to the page and removed on close', async t => {
    const added = new Set()
    const page = new (class extends EventTarget {
      addEventListener(type, f, o) {
        added.add(type)
        super.addEventListener(type, f, o)
      }
      removeEventListener(type, f, o) {
        added.delete(type)
        super.removeEventListener(type, f, o)
      }
    })()
    const h = await viaWebSocket(t, { page })
    assert.deepEqual([...added].sort(), ['offline', 'online', 'pagehide', 'pageshow', 'resume', 'visibilitychange'])
    h.ll.close()
    h.ws0.drop(1000)
    await h.event('close')
    assert.deepEqual([...added], [], 'all removed')
    fire(page, 'offline')
    fire(page, 'online')
    await sleep(20)
    assert.equal(h.sockets.length, 1, 'a closed Lifeline ignores the page')
  })

  test('page: false turns the page events off', async t => {
    const h = await viaWebSocket(t, { page: false })
    assert.equal(h.ll.readyState, Lifeline.OPEN)
  })
})
