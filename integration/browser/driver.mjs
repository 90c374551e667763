// driver.mjs runs headless Chromium (/usr/bin/chromium, through playwright-core) for the
// integration lab. The Go tests (integration/lab_*_test.go) start it once and speak
// JSON lines with it: a request on stdin, its reply on stdout.
//
//   {"id":1,"op":"version"}                          → {"id":1,"result":"156.0..."}
//   {"id":2,"op":"exchange","page":URL,...}          → {"id":2,"result":{...}}
//   {"id":3,"op":"chat","base":URL,...}              → {"id":3,"result":{...}}
//   any failure                                      → {"id":N,"error":"..."}
//
// Each exchange and chat runs in fresh browser contexts, closed afterwards. Requests
// run concurrently. LAB_SPKI, when set, is the base64 SHA-256 of the public key of the
// lab's self-signed certificate, which Chromium is told to accept (and no other).
// The driver exits when stdin closes.
import { createInterface } from 'node:readline'
import { chromium } from 'playwright-core'

const args = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
]
if (process.env.LAB_SPKI) args.push('--ignore-certificate-errors-spki-list=' + process.env.LAB_SPKI)

// launch gives Chromium a fresh, empty user-data-dir of its own.
const browser = await chromium.launch({
  executablePath: process.env.LAB_CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args,
})

const reply = (m) => process.stdout.write(JSON.stringify(m) + '\n')

const ops = {
  version: async () => browser.version(),
  exchange,
  chat,
}

const pending = new Set()
const rl = createInterface({ input: process.stdin })
rl.on('line', (line) => {
  let req
  try {
    req = JSON.parse(line)
  } catch (e) {
    reply({ id: 0, error: 'driver: bad request line: ' + e.message })
    return
  }
  const op = ops[req.op]
  const p = (op ? op(req) : Promise.reject(new Error('driver: unknown op ' + req.op)))
    .then((result) => reply({ id: req.id, result }), (e) => reply({ id: req.id, error: String(e?.stack || e) }))
  pending.add(p)
  p.finally(() => pending.delete(p))
})
rl.on('close', async () => {
  await Promise.allSettled([...pending])
  await browser.close()
  process.exit(0)
})

// exchange loads the echo example's page (req.page, which opens `ll`, a Lifeline, as
// it loads), waits for it to open, then sends req.n messages (even: text, odd: binary)
// and checks their echoes: every index once, in order, with intact content.
//   paceMs: spread the sends over at least this long; idleMs: halfway through, wait
//   for every echo and then send nothing for this long; pings: then send this many
//   more, one at a time, 0-20 ms after the last echo, and time each to its echo
//   (rttMs); waitTransport: after the last echo, wait (up to 30 s) for the session
//   to reach this transport.
async function exchange(req) {
  // req.proxy: a forward proxy (http://host:port) for every request of the context,
  // loopback included (Chromium bypasses proxies for loopback unless told otherwise).
  const proxy = req.proxy ? { server: req.proxy, bypass: '<-loopback>' } : undefined
  const ctx = await browser.newContext({ ignoreHTTPSErrors: false, proxy })
  try {
    const page = await ctx.newPage()
    const console = []
    page.on('console', (m) => console.length < 50 && console.push(m.type() + ': ' + m.text()))
    page.on('pageerror', (e) => console.push('pageerror: ' + e.message))
    await page.goto(req.page, { timeout: 15000 })
    const result = await page.evaluate(pageExchange, {
      n: req.n ?? 1000,
      paceMs: req.paceMs ?? 0,
      idleMs: req.idleMs ?? 0,
      pings: req.pings ?? 0,
      waitTransport: req.waitTransport ?? '',
      timeoutMs: req.timeoutMs ?? 60000,
    })
    result.console = console
    return result
  } finally {
    await ctx.close()
  }
}

// pageExchange runs in the page. It is self-contained: playwright sends its source.
async function pageExchange({ n, paceMs, idleMs, pings, waitTransport, timeoutMs }) {
  const sleep = (ms) => new Promise((res) => setTimeout(res, ms))
  const deadline = performance.now() + timeoutMs
  /* global ll, openMs */
  while (ll.readyState === 0 && performance.now() < deadline) await sleep(2)
  const r = {
    openMs: openMs, transport: ll.transport, transports: [ll.transport], final: '',
    received: 0, dups: 0, gaps: 0, corrupt: 0, reconnects: 0, resets: 0, closed: null,
    timedOut: false, ms: 0, rttMs: [],
    protocol: performance.getEntriesByType('navigation')[0]?.nextHopProtocol ?? '', // of the page: h2, http/1.1
  }
  if (ll.readyState !== 1) {
    r.closed = 'never opened, readyState ' + ll.readyState
    return r
  }
  ll.binaryType = 'arraybuffer'
  ll.addEventListener('transport', () => r.transports.push(ll.transport))
  ll.addEventListener('reconnecting', () => r.reconnects++)
  ll.addEventListener('reset', () => r.resets++)
  ll.addEventListener('close', (e) => { r.closed = e.code; wake() })

  const text = (i) => i + ':' + 'é€😀'.repeat(i % 13) + '.'.repeat(i % 101)
  const bin = (i) => {
    const b = new Uint8Array(4 + (i % 301))
    new DataView(b.buffer).setUint32(0, i)
    for (let j = 4; j < b.length; j++) b[j] = (i + j) & 255
    return b
  }
  const index = (d) => {
    if (typeof d === 'string') {
      const i = parseInt(d, 10)
      return d === text(i) ? i : -1
    }
    const b = new Uint8Array(d)
    if (b.length < 4) return -1
    const i = new DataView(d).getUint32(0)
    const want = bin(i)
    return i % 2 === 1 && b.length === want.length && b.every((x, j) => x === want[j]) ? i : -1
  }

  let next = 0 // the index expected next
  let waiter = null
  const wake = () => { const w = waiter; waiter = null; w?.() }
  const waitFor = async (cond) => {
    while (!cond() && r.closed === null && performance.now() < deadline) {
      await Promise.race([new Promise((res) => { waiter = res }), sleep(100)])
    }
    return cond()
  }
  ll.addEventListener('message', (e) => {
    r.received++
    const k = index(e.data)
    if (k < 0) r.corrupt++
    else if (k === next) next++
    else if (k < next) r.dups++
    else { r.gaps += k - next; next = k + 1 }
    wake()
  })

  const t0 = performance.now()
  for (let i = 0; i < n; i++) {
    if (idleMs && i === n >> 1) {
      await waitFor(() => next >= i)
      await sleep(idleMs)
    }
    if (paceMs) {
      const at = t0 + (i * paceMs) / n
      if (performance.now() < at) await sleep(at - performance.now())
    }
    await waitFor(() => i - next < 200) // at most 200 in flight
    if (r.closed !== null || performance.now() > deadline) break
    ll.send(i % 2 ? bin(i) : text(i))
  }
  await waitFor(() => next >= n && r.received >= n)
  r.ms = Math.round(performance.now() - t0)
  // Round trips: messages n, n+1, ... sent one at a time, checked like the rest.
  for (let i = n; i < n + pings && r.closed === null && performance.now() < deadline; i++) {
    await sleep(Math.random() * 20)
    const t = performance.now()
    ll.send(i % 2 ? bin(i) : text(i))
    if (!(await waitFor(() => next > i))) break
    r.rttMs.push(performance.now() - t)
  }
  if (waitTransport) await waitFor(() => ll.transport === waitTransport)
  r.timedOut = performance.now() > deadline
  r.final = ll.transport
  return r
}

// chat opens the chat example in two browser contexts, a and b ({name, transport}),
// in one room; each sends req.n messages through the page's composer; the result is
// what each page shows: its transport, its members and its chat log.
async function chat(req) {
  const sides = [req.a, req.b]
  const ctxs = await Promise.all(sides.map(() => browser.newContext()))
  try {
    const pages = await Promise.all(ctxs.map((c) => c.newPage()))
    await Promise.all(pages.map((p, i) => {
      const q = new URLSearchParams({ transport: sides[i].transport, room: req.room, name: sides[i].name })
      return p.goto(req.base + '?' + q, { timeout: 15000 })
    }))
    // Both open on their transport and see each other.
    await Promise.all(pages.map((p, i) =>
      p.waitForFunction(([t, names]) => {
        const m = [...document.querySelectorAll('#members li')].map((li) => li.textContent)
        return document.getElementById('status').textContent === t && names.every((n) => m.includes(n))
      }, [sides[i].transport, sides.map((s) => s.name)], { timeout: 15000 })))
    const joined = await Promise.all(pages.map((p) => p.evaluate(() => ({
      status: document.getElementById('status').textContent,
      room: document.body.dataset.room,
      me: document.body.dataset.me,
      members: [...document.querySelectorAll('#members li')].map((li) => li.textContent),
    }))))
    // Both type at once, as people do.
    await Promise.all(pages.map(async (p, i) => {
      for (let k = 0; k < req.n; k++) {
        await p.fill('#text', `${sides[i].name} says ${k}`)
        await p.press('#text', 'Enter')
      }
    }))
    const total = 2 * req.n
    await Promise.all(pages.map((p) =>
      p.waitForFunction((t) => document.querySelectorAll('#log .msg').length >= t, total, { timeout: 30000 })
        .catch(() => {}))) // the Go test reports what arrived
    const logs = await Promise.all(pages.map((p) => p.evaluate(() =>
      [...document.querySelectorAll('#log .msg')].map((m) => [m.dataset.name, m.querySelector('.text').textContent]))))
    return { joined, logs, final: await Promise.all(pages.map((p) => p.evaluate(() => document.getElementById('status').textContent))) }
  } finally {
    await Promise.all(ctxs.map((c) => c.close()))
  }
}
