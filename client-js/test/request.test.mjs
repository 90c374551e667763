// Unit tests of the request module (src/request.js) with the core, driven through the
// fakes of harness.mjs (no network, no server). Importing the module hooks it into
// every Lifeline of this file. Run:
//   node --experimental-websocket --test test/request.test.mjs
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { runInThisContext } from 'node:vm'
import { LifelineRequestError } from '../src/request.js'
import { Lifeline } from '../src/lifeline.js'
import { sleep, waitFor, sse, parseAll, H, RH, R, viaWebSocket, viaStream } from './harness.mjs'

// rejection awaits p's rejection and returns the LifelineRequestError.
async function rejection(p) {
  const e = await p.then(
    v => assert.fail('resolved with ' + v),
    e => e,
  )
  assert.ok(e instanceof LifelineRequestError, 'a LifelineRequestError: ' + e)
  assert.ok(e instanceof Error)
  assert.equal(e.name, 'LifelineRequestError')
  return e
}

// sentOn waits until socket ws has written frame f.
const sentOn = (ws, f) => waitFor(() => ws.sent.includes(f), `${ws.name} to write ${JSON.stringify(f)} (wrote ${JSON.stringify(ws.sent)})`)

describe('requests from the page', () => {
  test('a request resolves with its reply; the frames are numbered with the messages', async t => {
    const h = await viaWebSocket(t)
    assert.equal(typeof h.ll.request, 'function')
    h.ll.send('m')
    const p = h.ll.request('ping')
    assert.deepEqual(h.ws0.sent.slice(2), ['S1', 'Mm', 'Q1 ping']) // (after R and A0)
    assert.equal(h.ll.bufferedAmount, 1 + 'Q1 ping'.length, 'the whole Q frame counts')
    h.ws0.recv('S1')
    h.ws0.recv('Y1 pong')
    assert.equal(await p, 'pong')
    // Ids go on; an empty payload keeps its space.
    const p2 = h.ll.request('')
    await sentOn(h.ws0, 'Q2 ')
    h.ws0.recv('Y2 ')
    assert.equal(await p2, '')
    assert.equal(h.count('message'), 0, 'replies are not messages')
  })

  test('a reply is delivered once: a resent frame and a second answer are ignored', async t => {
    const h = await viaWebSocket(t)
    const p = h.ll.request('a')
    let n = 0
    p.then(() => n++)
    h.ws0.recv('S1')
    h.ws0.recv('Y1 first')
    h.ws0.recv('S1') // the same frame again (a server resending after a cut)
    h.ws0.recv('Y1 again')
    h.ws0.recv('Y1 second') // number 2: a second answer to request 1
    h.ws0.recv('Mafter')
    assert.equal(await p, 'first')
    await h.event('message')
    assert.equal(n, 1)
    assert.deepEqual(h.messages(), ['after'])
    assert.equal(h.ll.readyState, Lifeline.OPEN)
  })

  test('X rejects with reason remote and its text', async t => {
    const h = await viaWebSocket(t)
    const p = h.ll.request('a')
    h.ws0.recv('S1')
    h.ws0.recv('X1 no such room: a b')
    const e = await rejection(p)
    assert.equal(e.reason, 'remote')
    assert.equal(e.message, 'no such room: a b')
  })

  test('a timeout rejects with reason timeout; the late reply is ignored', async t => {
    const h = await viaWebSocket(t)
    const p = h.ll.request('slow', { timeout: 20 })
    const q = h.ll.request('fast', { timeout: 0 })
    const e = await rejection(p)
    assert.equal(e.reason, 'timeout')
    h.ws0.recv('S1')
    h.ws0.recv('Y1 late')
    h.ws0.recv('Y2 ok')
    assert.equal(await q, 'ok')
    assert.equal(h.ll.readyState, Lifeline.OPEN)
  })

  test('close rejects pending requests with reason closed; request after close rejects at once', async t => {
    const h = await viaWebSocket(t)
    const p = h.ll.request('a')
    h.ws0.recv('C4000 bye')
    await h.event('close')
    assert.equal((await rejection(p)).reason, 'closed')
    assert.equal((await rejection(h.ll.request('b'))).reason, 'closed')
  })

  test('request throws like send: over the message limit, past maxQueued', async t => {
    const h = await viaWebSocket(t, { maxQueued: 100 })
    await assert.rejects(h.ll.request('x'.repeat(65536)), RangeError)
    await assert.rejects(h.ll.request('x'.repeat(99)), { name: 'QuotaExceededError' })
    // No id was taken by the failures.
    h.ll.request('ok').catch(() => {}) // (rejected 'closed' when the test ends)
    assert.equal(h.ws0.sent.at(-1), 'Q1 ok')
  })

  test('reset rejects the requests written and keeps the unsent ones on the new session as 1, 2', async t => {
    const h = await viaWebSocket(t)
    const written = h.ll.request('w')
    h.ll.send('m1')
    assert.deepEqual(h.ws0.sent.slice(2), ['S1', 'Q1 w', 'Mm1'])
    h.ws0.drop(1006)
    await h.event('reconnecting')
    // Queued while no connection is up: never written.
    const u1 = h.ll.request('u1')
    h.ll.send('m2')
    const u2 = h.ll.request('u2')
    const ws1 = await h.ws(1)
    ws1.open()
    assert.equal(R(ws1.sent[0]).sid, 'sid-1')
    ws1.recv('C4404 gone')
    const reset = await h.event('reset')
    assert.deepEqual(reset.unsent, ['m1'], 'the request frames are not messages')
    assert.equal((await rejection(written)).reason, 'reset')
    assert.equal(h.ll.bufferedAmount, 'Q1 u1'.length + 2 + 'Q2 u2'.length)
    const ws2 = await h.ws(2)
    ws2.open()
    ws2.recv(H({ sid: 'sid-2', token: 'tok-2' }))
    await h.event('reconnected')
    assert.deepEqual(ws2.sent.slice(1), ['S1', 'Q1 u1', 'Mm2', 'Q2 u2', 'A0'])
    ws2.recv('S1')
    ws2.recv('Y2 two')
    ws2.recv('Y1 one')
    assert.deepEqual(await Promise.all([u1, u2]), ['one', 'two'])
  })

  test('reset drops the answers to the old session not yet written', async t => {
    const h = await viaWebSocket(t)
    let release
    h.ll.onrequest = () => new Promise(r => (release = r))
    h.ws0.recv('S1')
    h.ws0.recv('Q1 hold')
    await waitFor(() => release, 'the handler to run')
    h.ws0.drop(1006)
    await h.event('reconnecting')
    release('late answer') // queued? no: the session it belongs to may be gone
    h.ll.onrequest = d => 'to ' + d
    const ws1 = await h.ws(1)
    ws1.open()
    ws1.recv('C4404 gone')
    await h.event('reset')
    assert.equal(h.ll.bufferedAmount, 0, 'the old answer is gone')
    const ws2 = await h.ws(2)
    ws2.open()
    ws2.recv(H({ sid: 'sid-2', token: 'tok-2' }))
    await h.event('reconnected')
    ws2.recv('S1')
    ws2.recv('Q1 new')
    await sentOn(ws2, 'Y1 to new')
    assert.ok(!ws2.sent.some(f => /late/.test(f)))
  })
})

describe('requests from the server', () => {
  test('onrequest answers: a value, a promise, a throw, a rejection', async t => {
    const h = await viaWebSocket(t)
    h.ll.onrequest = d => {
      if (d == 'sync') return 'S'
      if (d == 'async') return sleep(5).then(() => 'A')
      if (d == 'throw') throw new Error('it threw')
      if (d == 'reject') return Promise.reject(new TypeError('it rejected'))
      if (d == 'string') throw 'a string'
      return d.length
    }
    h.ws0.recv('S1')
    for (const [i, d] of ['async', 'sync', 'throw', 'reject', 'string', 'four'].entries()) h.ws0.recv(`Q${i + 1} ${d}`)
    for (const f of ['Y2 S', 'X3 it threw', 'X4 it rejected', 'X5 a string', 'Y6 4', 'Y1 A']) await sentOn(h.ws0, f)
    // Each request is answered once.
    assert.equal(h.ws0.sent.filter(f => /^[YX]/.test(f)).length, 6)
    assert.equal(h.ll.readyState, Lifeline.OPEN)
  })

  test('without onrequest a request fails with "no request handler"', async t => {
    const h = await viaWebSocket(t)
    h.ws0.recv('S1')
    h.ws0.recv('Q1 hello')
    await sentOn(h.ws0, 'X1 no request handler')
  })

  test('a request resent after a cut is answered once', async t => {
    const h = await viaWebSocket(t)
    let n = 0
    h.ll.onrequest = d => (n++, d + '!')
    h.ws0.recv('S1')
    h.ws0.recv('Q1 a')
    await sentOn(h.ws0, 'Y1 a!')
    h.ws0.drop(1006)
    const ws1 = await h.ws(1)
    ws1.open()
    ws1.recv(RH({ ack: 1 }))
    ws1.recv('S1') // the server did not see our ack: it resends
    ws1.recv('Q1 a')
    ws1.recv('Q2 b')
    await sentOn(ws1, 'Y2 b!')
    assert.equal(n, 2)
  })

  test('an answer too big for the session fails the request instead', async t => {
    const h = await viaWebSocket(t)
    h.ll.onrequest = () => 'x'.repeat(70000)
    h.ws0.recv('S1')
    h.ws0.recv('Q1 big')
    await sentOn(h.ws0, 'X1 Lifeline: message too big')
  })

  test('over HTTP streaming: Q in a stream body, Y in a send body', async t => {
    const h = await viaStream(t)
    h.ll.onrequest = d => d.toUpperCase()
    h.s0.push(sse(['S1', 'Q1 hi there']))
    const send = await waitFor(() => h.calls.find(c => c.ep == 'send' && /Y1/.test(c.body)), 'a send with the reply')
    assert.deepEqual(parseAll(send.body).slice(0, 2), ['S1', 'Y1 HI THERE'])
    const p = h.ll.request('q')
    const send2 = await waitFor(() => h.calls.find(c => c.ep == 'send' && /Q1/.test(c.body)), 'a send with the request')
    assert.deepEqual(parseAll(send2.body).slice(0, 2), ['S2', 'Q1 q'])
    h.s0.push(sse(['Y1 a']))
    assert.equal(await p, 'a')
  })
})

describe('protocol errors stop the session (4400)', () => {
  for (const [what, frames] of [
    ['a request id not above the last', ['Q2 a', 'Q2 b']],
    ['a request id going down', ['Q2 a', 'Q1 b']],
    ['a request id 0', ['Q0 a']],
    ['a request id with a leading zero', ['Q01 a']],
    ['a frame without its space', ['Q1']],
    ['a reply to a request never sent', ['Y1 x']],
    ['a failure of a request never sent', ['X3 x']],
  ])
    test(what, async t => {
      const h = await viaWebSocket(t)
      h.ll.onrequest = () => 'ok'
      h.ws0.recv('S1')
      for (const f of frames) h.ws0.recv(f)
      const close = await h.event('close')
      assert.equal(close.code, 4400)
    })

  test('a reply frame before any S frame', async t => {
    const h = await viaWebSocket(t)
    const p = h.ll.request('a')
    h.ws0.recv('Y1 x')
    assert.equal((await h.event('close')).code, 4400)
    assert.equal((await rejection(p)).reason, 'closed')
  })
})

// Last: the built files (dist/), which replace the hook of src/ for this process.
test('the built files hook into each other: lifeline.min.js with request.min.js, lifeline.mjs with request.mjs', async t => {
  const { Lifeline: Module } = await import('../dist/lifeline.mjs')
  await import('../dist/request.mjs')
  const dir = new URL('../dist/', import.meta.url)
  for (const f of ['lifeline.min.js', 'request.min.js']) runInThisContext(readFileSync(new URL(f, dir), 'utf8'))
  assert.equal(typeof globalThis.LifelineRequestError, 'function')
  for (const cls of [Module, globalThis.Lifeline]) {
    const h = await viaWebSocket(t, {}, { Lifeline: cls })
    h.ll.onrequest = d => d + '?'
    const p = h.ll.request('a')
    h.ws0.recv('S1')
    h.ws0.recv('Q1 b')
    h.ws0.recv('X1 no')
    const e = await p.catch(e => e)
    assert.equal(e.name, 'LifelineRequestError')
    assert.equal(e.reason, 'remote')
    await sentOn(h.ws0, 'Y1 b?')
    h.ws0.recv('C4000 done') // (the built core's _finish has a shorter name)
    await h.event('close')
  }
})
