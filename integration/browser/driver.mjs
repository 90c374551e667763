// driver.mjs runs one headless browser engine for the integration lab. The Go tests
// (integration/lab_*_test.go) start one driver per engine, LAB_ENGINE:
//
//   chromium  /usr/bin/chromium, through playwright-core (Chrome DevTools Protocol)
//   firefox   /usr/bin/firefox-esr, through puppeteer-core over WebDriver BiDi
//   webkit    WebKitGTK's MiniBrowser, through WebKitWebDriver and selenium-webdriver
//             (classic WebDriver), each session on an Xvfb display of its own
//
// and speak JSON lines with it: a request on stdin, its reply on stdout.
//
//   {"id":1,"op":"version"}                          → {"id":1,"result":"156.0..."}
//   {"id":2,"op":"exchange","page":URL,"token":T,...} → {"id":2,"event":"ready"} (its tab
//                                                      is open), then, once a request
//   {"id":3,"op":"release","token":T}                  came, {"id":2,"event":"open"} (its
//                                                      session opened), {"id":2,"result":{...}}
//   {"id":4,"op":"chat","base":URL,...}              → {"id":4,"result":{...}}
//   {"id":5,"op":"cluster","base":URL,...}           → {"id":5,"event":"joined [sids]"},
//                                                      then {"id":5,"result":[...]}
//   {"id":5,"op":"requests","page":URL,...}          → {"id":5,"event":"loaded"} (the page
//                                                      and the client's modules), then
//                                                      {"id":5,"result":{...}}
//   any failure                                      → {"id":N,"error":"..."}
//
// Each exchange and chat runs in fresh tabs: a fresh browser context (Chromium,
// Firefox) or a fresh browser session (WebKit), closed afterwards. Requests run
// concurrently. One browser per engine is launched for the whole run (WebKit: one
// MiniBrowser per session, the WebDriver way; its driver servers are reused).
//
// Certificates: LAB_SPKI, when set, is the base64 SHA-256 of the public key of the
// lab's self-signed certificate, which Chromium is told to accept (and no other).
// WebDriver has no such option: Firefox and WebKit accept any certificate
// (acceptInsecureCerts); the lab's servers are all on 127.0.0.1.
//
// The driver exits when stdin closes or on SIGTERM, closing every browser, driver
// server and Xvfb it started.
import { spawn } from 'node:child_process'
import { createServer } from 'node:net'
import { createInterface } from 'node:readline'

const reply = (m) => process.stdout.write(JSON.stringify(m) + '\n')

const engines = { chromium: chromiumEngine, firefox: firefoxEngine, webkit: webkitEngine }
const name = process.env.LAB_ENGINE || 'chromium'
if (!engines[name]) {
  process.stderr.write(`driver: unknown LAB_ENGINE ${name}\n`)
  process.exit(2)
}
let engine
try {
  engine = await engines[name]()
} catch (e) {
  process.stderr.write(`driver: launching ${name}: ${e?.stack || e}\n`)
  process.exit(1)
}

// releases: the exchanges held at the start line, by token, each with its release.
const releases = new Map()

const ops = {
  version: async () => engine.version,
  exchange,
  chat,
  cluster,
  requests,
  release: async (req) => { releases.get(req.token)?.(); return true },
}

const pending = new Set()
let closing = null
const shutdown = () => {
  closing ??= (async () => {
    await Promise.allSettled([...pending])
    await engine.close().catch((e) => process.stderr.write(`driver: closing ${name}: ${e}\n`))
    process.exit(0)
  })()
}
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
rl.on('close', shutdown)
process.on('SIGTERM', () => { pending.clear(); shutdown() })

// An engine is {version, open({proxy}) → tab, close()}. A tab is one page in a fresh
// context: goto(url), run(fn, arg) (fn, a self-contained async function, runs in the
// page and its result comes back), type(selector, text) (types into an input, then
// Enter), console (what the page logged, or null when the engine cannot say), close().
// proxy is a forward proxy, http://host:port, for every request, loopback included.

async function chromiumEngine() {
  const { chromium } = await import('playwright-core')
  const args = [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    // Its autofill asks a Google server through the forward proxy of squid-forward-proxy.
    '--disable-features=AutofillServerCommunication',
  ]
  if (process.env.LAB_SPKI) args.push('--ignore-certificate-errors-spki-list=' + process.env.LAB_SPKI)
  // launch gives Chromium a fresh, empty user-data-dir of its own.
  const browser = await chromium.launch({
    executablePath: process.env.LAB_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args,
  })
  return {
    version: browser.version(),
    async open({ proxy }) {
      // Chromium bypasses proxies for loopback unless told otherwise.
      const ctx = await browser.newContext({ proxy: proxy ? { server: proxy, bypass: '<-loopback>' } : undefined })
      try {
        const page = await ctx.newPage()
        const tab = {
          console: [],
          goto: (url) => page.goto(url, { timeout: 15000 }),
          run: (fn, arg) => page.evaluate(fn, arg),
          type: async (sel, text) => { await page.fill(sel, text); await page.press(sel, 'Enter') },
          close: () => ctx.close(),
        }
        page.on('console', (m) => tab.console.length < 50 && tab.console.push(m.type() + ': ' + m.text()))
        page.on('pageerror', (e) => tab.console.push('pageerror: ' + e.message))
        return tab
      } catch (e) {
        await ctx.close()
        throw e
      }
    },
    close: () => browser.close(),
  }
}

async function firefoxEngine() {
  const { default: puppeteer } = await import('puppeteer-core')
  // puppeteer gives Firefox a fresh profile of its own, removed on close.
  const browser = await puppeteer.launch({
    browser: 'firefox',
    protocol: 'webDriverBiDi',
    executablePath: process.env.LAB_FIREFOX || '/usr/bin/firefox-esr',
    headless: true,
    acceptInsecureCerts: true,
    extraPrefsFirefox: {
      // A context's proxy applies to loopback too (Firefox bypasses it by default).
      'network.proxy.no_proxies_on': '',
      'network.proxy.allow_hijacking_localhost': true,
      'network.http.http3.enable': false, // as Chromium's --disable-quic
    },
  })
  return {
    version: (await browser.version()).replace(/^firefox\//i, ''),
    async open({ proxy }) {
      // BiDi's per-context proxy takes host:port.
      const ctx = await browser.createBrowserContext(proxy ? { proxyServer: new URL(proxy).host } : {})
      try {
        const page = await ctx.newPage()
        const tab = {
          console: [],
          goto: (url) => page.goto(url, { timeout: 15000 }),
          run: (fn, arg) => page.evaluate(fn, arg),
          type: async (sel, text) => {
            await page.$eval(sel, (el) => { el.value = '' })
            await page.type(sel, text)
            await page.keyboard.press('Enter')
          },
          close: () => ctx.close(),
        }
        page.on('console', (m) => tab.console.length < 50 && tab.console.push(m.type() + ': ' + m.text()))
        page.on('pageerror', (e) => tab.console.push('pageerror: ' + e.message))
        return tab
      } catch (e) {
        await ctx.close()
        throw e
      }
    },
    close: () => browser.close(),
  }
}

async function webkitEngine() {
  const { Builder, By, Key } = await import('selenium-webdriver')
  const binary = process.env.LAB_MINIBROWSER || '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser'
  // servers: WebKitWebDriver servers, each with its own Xvfb; a driver server runs one
  // session at a time, so a tab takes an idle one or starts another.
  const idle = []
  const all = new Set()
  let closed = false

  async function startServer() {
    const srv = { procs: [] }
    all.add(srv)
    try {
      const xvfb = spawn('Xvfb', ['-displayfd', '3', '-nolisten', 'tcp', '-screen', '0', '1280x1024x24'],
        { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] })
      srv.procs.push(xvfb)
      const display = await new Promise((resolve, reject) => {
        let out = ''
        let err = ''
        xvfb.stderr.on('data', (d) => { err += d })
        xvfb.stdio[3].on('data', (d) => {
          out += d
          if (out.includes('\n')) resolve(':' + out.trim())
        })
        xvfb.on('error', reject)
        xvfb.on('exit', (code) => reject(new Error(`Xvfb exited (${code}): ${err}`)))
        setTimeout(() => reject(new Error('Xvfb gave no display in 15 s: ' + err)), 15000)
      })
      for (let attempt = 0; ; attempt++) {
        const port = await freePort()
        const wd = spawn('WebKitWebDriver', ['--host=127.0.0.1', '--port=' + port],
          { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, DISPLAY: display } })
        let err = ''
        wd.stderr.on('data', (d) => { err += d })
        srv.procs.push(wd)
        if (await waitForServer(port, wd)) {
          srv.url = 'http://127.0.0.1:' + port
          return srv
        }
        await stop(wd)
        if (attempt === 2) throw new Error('WebKitWebDriver did not start: ' + err)
      }
    } catch (e) {
      await stopServer(srv)
      throw e
    }
  }
  async function stopServer(srv) {
    all.delete(srv)
    for (const p of srv.procs.reverse()) await stop(p)
  }

  // version: a first session, on the first server, which then waits idle.
  const first = await startServer()
  let version
  {
    const d = await new Builder().usingServer(first.url).withCapabilities(caps()).build()
    try {
      version = (await d.getCapabilities()).get('browserVersion')
    } finally {
      await d.quit()
    }
  }
  idle.push(first)

  function caps(proxy) {
    const c = {
      browserName: 'MiniBrowser',
      acceptInsecureCerts: true,
      // --automation, not --automation-mode: with the latter, session creation hangs.
      'webkitgtk:browserOptions': { binary, args: ['--automation'] },
      timeouts: { script: 150000, pageLoad: 15000, implicit: 0 },
    }
    if (proxy) {
      const host = new URL(proxy).host
      c.proxy = { proxyType: 'manual', httpProxy: host, sslProxy: host }
    }
    return c
  }

  return {
    version: 'WebKitGTK ' + version,
    async open({ proxy }) {
      if (closed) throw new Error('driver: closing')
      const srv = idle.pop() ?? await startServer()
      let d
      try {
        d = await new Builder().usingServer(srv.url).withCapabilities(caps(proxy)).build()
      } catch (e) {
        await stopServer(srv)
        throw e
      }
      let done = false
      return {
        console: null, // classic WebDriver has no console events
        goto: (url) => d.get(url),
        // The function runs as an async script: its promise settles the callback.
        run: async (fn, arg) => {
          const r = await d.executeAsyncScript(`const done = arguments[arguments.length - 1];
            Promise.resolve().then(() => (${fn})(arguments[0]))
              .then((ok) => done({ ok }), (e) => done({ err: String(e && e.stack || e) }))`, arg)
          if (r && 'err' in r) throw new Error('in the page: ' + r.err)
          return r?.ok
        },
        type: async (sel, text) => {
          const el = await d.findElement(By.css(sel))
          await el.clear()
          await el.sendKeys(text, Key.ENTER)
        },
        close: async () => {
          if (done) return
          done = true
          // One session per server: the server is reused only once this one quit.
          try {
            await withTimeout(d.quit(), 15000, 'quit')
            if (closed) await stopServer(srv)
            else idle.push(srv)
          } catch {
            await stopServer(srv)
          }
        },
      }
    },
    async close() {
      closed = true
      await Promise.allSettled([...all].map(stopServer))
    },
  }
}

// freePort returns a loopback port free at the time of the call.
function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.on('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })
}

// waitForServer waits up to 15 s for a WebDriver server on port to answer /status.
async function waitForServer(port, proc) {
  for (let t = Date.now(); Date.now() - t < 15000 && proc.exitCode === null && proc.signalCode === null;) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/status`)
      if (r.ok) return true
    } catch {}
    await new Promise((res) => setTimeout(res, 50))
  }
  return false
}

// stop ends a child process: SIGTERM, then SIGKILL after 5 s.
async function stop(p) {
  if (p.exitCode !== null || p.signalCode !== null) return
  const exited = new Promise((res) => p.once('exit', res))
  p.kill('SIGTERM')
  const t = setTimeout(() => p.kill('SIGKILL'), 5000)
  await exited
  clearTimeout(t)
}

function withTimeout(p, ms, what) {
  let t
  return Promise.race([p, new Promise((_, rej) => { t = setTimeout(() => rej(new Error(what + ' timed out')), ms) })])
    .finally(() => clearTimeout(t))
}

// exchange loads the echo example's page (req.page, which opens `ll`, a Lifeline, as
// it loads), waits for it to open, then sends req.n messages (even: text, odd: binary)
// and checks their echoes: every index once, in order, with intact content.
//   paceMs: spread the sends over at least this long; idleMs: halfway through, wait
//   for every echo and then send nothing for this long; pings: then send this many
//   more, one at a time, 0-20 ms after the last echo, and time each to its echo
//   (rttMs); waitTransport: after the last echo, wait (up to 30 s) for the session
//   to reach this transport; proxy: a forward proxy (http://host:port).
async function exchange(req) {
  const tab = await engine.open({ proxy: req.proxy })
  try {
    // The start line: the lab releases the scenario's clients together.
    const released = new Promise((res) => releases.set(req.token, res))
    reply({ id: req.id, event: 'ready' })
    await withTimeout(released, 120000, 'release')
    releases.delete(req.token)
    await tab.goto(req.page)
    // The page opened its Lifeline as it loaded: once the session is open, the lab's
    // clock for the scenario may start (opening a tab and loading a page take from
    // milliseconds to seconds, by engine and load).
    await tab.run(pageOpened, { timeoutMs: 15000 })
    reply({ id: req.id, event: 'open' })
    const result = await tab.run(pageExchange, {
      n: req.n ?? 1000,
      paceMs: req.paceMs ?? 0,
      idleMs: req.idleMs ?? 0,
      pings: req.pings ?? 0,
      waitTransport: req.waitTransport ?? '',
      timeoutMs: req.timeoutMs ?? 60000,
      hookConsole: tab.console === null,
    })
    result.console = tab.console ?? result.console
    return result
  } finally {
    await tab.close()
  }
}

// pageOpened (in the echo page) waits until its Lifeline, ll, is no longer connecting.
async function pageOpened({ timeoutMs }) {
  /* global ll */
  for (const t = performance.now(); ll.readyState === 0 && performance.now() - t < timeoutMs;) {
    await new Promise((res) => setTimeout(res, 2))
  }
}

// pageExchange runs in the page. It is self-contained: the driver sends its source.
async function pageExchange({ n, paceMs, idleMs, pings, waitTransport, timeoutMs, hookConsole }) {
  const sleep = (ms) => new Promise((res) => setTimeout(res, ms))
  const deadline = performance.now() + timeoutMs
  const logged = []
  if (hookConsole) { // from now on: what the engine's driver cannot report
    for (const k of ['log', 'info', 'warn', 'error']) {
      const f = console[k]
      console[k] = (...a) => { if (logged.length < 50) logged.push(k + ': ' + a.join(' ')); f.apply(console, a) }
    }
    addEventListener('error', (e) => logged.push('pageerror: ' + e.message))
    addEventListener('unhandledrejection', (e) => logged.push('unhandledrejection: ' + e.reason))
  }
  // Every request's timing is kept (the default buffer holds 250): streams counts the
  // stream requests that ended.
  performance.setResourceTimingBufferSize(1e6)
  /* global ll, openMs */
  while (ll.readyState === 0 && performance.now() < deadline) await sleep(2)
  const r = {
    openMs: openMs, transport: ll.transport, transports: [ll.transport], final: '',
    received: 0, dups: 0, gaps: 0, corrupt: 0, reconnects: 0, resets: 0, closed: null,
    timedOut: false, ms: 0, rttMs: [], console: logged,
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
  r.streams = performance.getEntriesByType('resource').filter((e) => /\/stream(\?|$)/.test(e.name)).length
  return r
}

// chat opens the chat example in two tabs, a and b ({name, transport}), in one room;
// each sends req.n messages through the page's composer; the result is what each page
// shows: its transport, its members and its chat log.
async function chat(req) {
  const sides = [req.a, req.b]
  const tabs = []
  try {
    for (const r of await Promise.allSettled(sides.map(() => engine.open({})))) {
      if (r.status === 'rejected') throw r.reason
      tabs.push(r.value)
    }
    await Promise.all(tabs.map((tab, i) => {
      const q = new URLSearchParams({ transport: sides[i].transport, room: req.room, name: sides[i].name })
      return tab.goto(req.base + '?' + q)
    }))
    // Both open on their transport and see each other.
    const names = sides.map((s) => s.name)
    await Promise.all(tabs.map((tab, i) => tab.run(pageJoined, { transport: sides[i].transport, names, timeoutMs: 15000 })))
    const joined = await Promise.all(tabs.map((tab) => tab.run(pageState, {})))
    // Both type at once, as people do.
    await Promise.all(tabs.map(async (tab, i) => {
      for (let k = 0; k < req.n; k++) await tab.type('#text', `${sides[i].name} says ${k}`)
    }))
    // The Go test reports what arrived.
    const logs = await Promise.all(tabs.map((tab) => tab.run(pageLog, { total: 2 * req.n, timeoutMs: 30000 })))
    const final = await Promise.all(tabs.map(async (tab) => (await tab.run(pageState, {})).status))
    return { joined: joined.map(({ status, room, me, members }) => ({ status, room, me, members })), logs, final }
  } finally {
    await Promise.allSettled(tabs.map((tab) => tab.close()))
  }
}

// pageJoined (in the chat page) waits until the page shows transport as its status
// and every one of names as a member.
async function pageJoined({ transport, names, timeoutMs }) {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const members = [...document.querySelectorAll('#members li')].map((li) => li.textContent)
    // In a cluster the status is "<transport> · <node that served the latest request>".
    const status = document.getElementById('status').textContent.split(' · ')[0]
    if (status === transport && names.every((n) => members.includes(n))) return true
    if (performance.now() > deadline) throw new Error(`not joined in ${timeoutMs} ms: status ${status}, members ${members}`)
    await new Promise((res) => setTimeout(res, 20))
  }
}

// pageState (in the chat page) is what it shows: status, room, me, members.
async function pageState() {
  return {
    status: document.getElementById('status').textContent,
    room: document.body.dataset.room,
    me: document.body.dataset.me,
    members: [...document.querySelectorAll('#members li')].map((li) => li.textContent),
  }
}

// pageLog (in the chat page) waits up to timeoutMs for total messages, then returns
// the log as [name, text] pairs.
async function pageLog({ total, timeoutMs }) {
  const deadline = performance.now() + timeoutMs
  while (document.querySelectorAll('#log .msg').length < total && performance.now() < deadline) {
    await new Promise((res) => setTimeout(res, 20))
  }
  return [...document.querySelectorAll('#log .msg')].map((m) => [m.dataset.name, m.querySelector('.text').textContent])
}

// cluster opens the chat example (req.base: the front of a cluster) in one tab per
// req.pages ({transport, room}), each alone in its room under the room's name. Once
// every page has joined it reports the event "joined" followed by the pages' session
// ids as JSON (the lab then kills a node and restarts NATS on its own clock); then
// each page says req.n numbered messages, one every req.paceMs, and counts its own
// messages as the room sends them back (pageCluster). The result is each page's count.
async function cluster(req) {
  const tabs = []
  try {
    for (const r of await Promise.allSettled(req.pages.map(() => engine.open({})))) {
      if (r.status === 'rejected') throw r.reason
      tabs.push(r.value)
    }
    await Promise.all(tabs.map((tab, i) => {
      const p = req.pages[i]
      return tab.goto(req.base + '?' + new URLSearchParams({ transport: p.transport, room: p.room, name: p.room }))
    }))
    await Promise.all(tabs.map((tab, i) => tab.run(pageJoined, { transport: req.pages[i].transport, names: [req.pages[i].room], timeoutMs: 30000 })))
    const sids = await Promise.all(tabs.map((tab) => tab.run(() => ll.sessionId, {})))
    reply({ id: req.id, event: 'joined ' + JSON.stringify(sids) })
    const out = await Promise.all(tabs.map((tab) => tab.run(pageCluster, { n: req.n, paceMs: req.paceMs, timeoutMs: req.timeoutMs })))
    return out.map((r, i) => ({ ...r, console: r.console.concat(tabs[i].console ?? []) }))
  } finally {
    await Promise.allSettled(tabs.map((tab) => tab.close()))
  }
}

// pageCluster (in the chat page, joined to its room alone) says n messages, "0", "1"…
// one every paceMs, and counts those the room sends back: every index once and in
// order, but for the messages a reset lost (reset events: when, code, the index said
// next and the index expected next at that moment), and notes every pause of over
// 1 s between two of them (stalls: [from, to], Unix ms). It samples the status corner
// every 50 ms for the nodes it names, and waits for the last message (up to
// timeoutMs after the last was said).
async function pageCluster({ n, paceMs, timeoutMs }) {
  /* global ll */
  const sleep = (ms) => new Promise((res) => setTimeout(res, ms))
  const statusEl = document.getElementById('status')
  const r = {
    sids: [ll.sessionId], transports: [ll.transport], final: '', received: 0, dups: 0, corrupt: 0,
    gaps: [], resets: [], reconnects: 0, closed: null, timedOut: false, nodes: [], console: [], stalls: [],
  }
  let last = Date.now() // when the latest message came back
  const nodes = new Set()
  const sample = () => {
    const [tr, node] = statusEl.textContent.split(' · ')
    if (node && tr === ll.transport) nodes.add(node)
  }
  const sampler = setInterval(sample, 50)
  let next = 0 // the index expected next
  let sent = 0 // the index said next
  ll.addEventListener('transport', () => r.transports.push(ll.transport))
  ll.addEventListener('reconnecting', () => r.reconnects++)
  ll.addEventListener('reset', (e) => {
    r.resets.push({ at: Date.now(), code: e.code, sent, next, unsent: e.unsent.length })
  })
  ll.addEventListener('close', (e) => { r.closed = e.code })
  ll.addEventListener('message', (e) => {
    let m
    try { m = JSON.parse(e.data) } catch { r.corrupt++; return }
    if (m.type === 'error') r.console.push('chat error: ' + m.text)
    if (m.type !== 'say' || m.room !== document.body.dataset.room) return
    r.received++
    const now = Date.now()
    if (now - last > 1000) r.stalls.push([last, now]) // nothing came back for over 1 s
    last = now
    const k = /^\d+$/.test(m.text) ? +m.text : -1
    if (k < 0) r.corrupt++
    else if (k === next) next++
    else if (k < next) r.dups++
    else { r.gaps.push([next, k]); next = k + 1 }
    if (ll.sessionId !== r.sids[r.sids.length - 1]) r.sids.push(ll.sessionId)
  })
  const t0 = performance.now()
  for (; sent < n && r.closed === null; sent++) {
    const at = t0 + sent * paceMs
    if (performance.now() < at) await sleep(at - performance.now())
    ll.send(JSON.stringify({ type: 'say', text: String(sent) }))
  }
  const deadline = performance.now() + timeoutMs
  while (next < n && r.closed === null && performance.now() < deadline) await sleep(20)
  r.timedOut = next < n
  sample()
  clearInterval(sampler)
  r.nodes = [...nodes].sort()
  r.final = ll.transport
  return r
}

// requests opens req.page (a page of a server that answers requests "re:<request>" and,
// on the message "ask N", asks N requests of its own, then writes "asked N: ..."),
// loads the client's modules (then reports the event loaded: the lab may start cutting
// connections), runs pageRequests there and returns its result.
async function requests(req) {
  const tab = await engine.open({})
  try {
    await tab.goto(req.page)
    await tab.run(async (mount) => { await import(mount + '/request.js'); await import(mount + '/lifeline.js') }, req.mount)
    reply({ id: req.id, event: 'loaded' })
    return await tab.run(pageRequests, {
      mount: req.mount, transport: req.transport, n: req.n, paceMs: req.paceMs ?? 20, timeoutMs: req.timeoutMs ?? 60000,
    })
  } finally {
    await tab.close()
  }
}

// pageRequests (in the page) imports the served client and its request module, opens
// a Lifeline on transport, and makes n requests ("c1".."cN", one every paceMs) while the
// server makes n of its own. It returns how often the page answered each of the
// server's requests, the replies to its own that were wrong or failed, the server's
// "asked" line, the events and the transport at the end.
async function pageRequests({ mount, transport, n, paceMs, timeoutMs }) {
  const sleep = (ms) => new Promise((res) => setTimeout(res, ms))
  const deadline = performance.now() + timeoutMs
  await import(mount + '/request.js') // (loaded already: the same modules)
  const { Lifeline } = await import(mount + '/lifeline.js')
  const ll = new Lifeline(mount, { transports: [transport], backoffMax: 1000 })
  const answered = {}, bad = [], events = []
  let replies = 0, asked = ''
  ll.onrequest = (d) => ((answered[d] = (answered[d] || 0) + 1), 're:' + d)
  ll.onmessage = (e) => { if (String(e.data).startsWith('asked ')) asked = e.data }
  for (const t of ['reconnecting', 'reconnected', 'reset', 'close']) ll.addEventListener(t, () => events.push(t))
  ll.send('ask ' + n)
  const all = []
  for (let i = 1; i <= n; i++) {
    all.push(ll.request('c' + i, { timeout: timeoutMs }).then(
      (r) => { replies++; if (r !== 're:c' + i) bad.push(`c${i}: ${r}`) },
      (e) => bad.push(`c${i}: ${e.reason} ${e.message}`),
    ))
    await sleep(paceMs)
  }
  await Promise.all(all)
  while (!asked && performance.now() < deadline) await sleep(20)
  const final = ll.transport
  ll.close()
  return { answered, replies, bad, asked, events, transport: final }
}

