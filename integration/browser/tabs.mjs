// tabs.mjs drives headless Chromium (/usr/bin/chromium, through playwright-core) for
// integration/lab_tabs_test.go (issue 10, point 8): many tabs of the echo example in
// ONE browser context, so that they share the browser's connection pool (six HTTP/1.1
// connections per host), as the tabs of one browser do.
//
//   node tabs.mjs BASE TABS ROUNDS   opens TABS tabs of BASE (the echo page) at once;
//       once every tab is open, each makes ROUNDS round trips, one message at a time,
//       all tabs at the same time. It prints one JSON line, one entry per tab:
//       {openMs, loadOpenMs, transport, final, rttMs, lost, dups, wrong, resets,
//       reconnects, closed}, or exits 1 with the error on stderr.
//
// openMs is the page's own (from new Lifeline to open); loadOpenMs counts from the
// start of the page's navigation, so it includes loading the page and the client.
// (A script of its own beside driver.mjs, whose engines give each tab a fresh context.)
import { chromium } from 'playwright-core'

const [base, tabsArg, roundsArg] = process.argv.slice(2)
const tabs = +tabsArg || 8, rounds = +roundsArg || 20
const browser = await chromium.launch({
  executablePath: process.env.LAB_CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
})

// watch runs in every page before its scripts: it counts the Lifeline's events from
// the very first (a reset can come before the lab's code could add a listener) and
// notes when the session opened, in ms from the start of the navigation.
function watch() {
  const lab = (window.__lab = { resets: 0, reconnects: 0, openAt: null, closed: null })
  const dispatch = EventTarget.prototype.dispatchEvent
  EventTarget.prototype.dispatchEvent = function (e) {
    if ('reconnecting' in this && 'transport' in this) {
      if (e.type === 'open') lab.openAt = performance.now()
      else if (e.type === 'reset') lab.resets++
      else if (e.type === 'reconnecting') lab.reconnects++
      else if (e.type === 'close') lab.closed = e.code
    }
    return dispatch.call(this, e)
  }
}

// pageRun (in a page, once every tab is open) makes rounds round trips, one message
// at a time, each checked: its own echo, once, before the next is sent. It gives up
// on a message after timeoutMs (lost), and starts none after budgetMs.
async function pageRun({ tab, rounds, timeoutMs, budgetMs }) {
  /* global ll */
  const sleep = (ms) => new Promise((res) => setTimeout(res, ms))
  const r = { rttMs: [], lost: 0, dups: 0, wrong: 0 }
  const seen = new Map()
  let waiter = null
  ll.addEventListener('message', (e) => {
    const n = (seen.get(e.data) || 0) + 1
    seen.set(e.data, n)
    if (n > 1) r.dups++
    else if (!String(e.data).startsWith(`tab ${tab} round `)) r.wrong++
    waiter?.()
  })
  const end = performance.now() + budgetMs // then the tab stops, short of its rounds
  for (let k = 0; k < rounds && ll.readyState === 1 && performance.now() < end; k++) {
    await sleep(Math.random() * 20)
    const m = `tab ${tab} round ${k}`
    const t0 = performance.now()
    ll.send(m)
    while (!seen.has(m) && performance.now() - t0 < timeoutMs) {
      await Promise.race([new Promise((res) => { waiter = res }), sleep(100)])
    }
    if (!seen.has(m)) { r.lost++; break }
    r.rttMs.push(Math.round((performance.now() - t0) * 10) / 10)
  }
  await sleep(300) // a late duplicate would show by now
  return r
}

try {
  const ctx = await browser.newContext()
  await ctx.addInitScript(watch)
  const pages = []
  for (let i = 0; i < tabs; i++) pages.push(await ctx.newPage())
  // Every tab loads the page at once, as a browser restoring its tabs does.
  await Promise.all(pages.map((p) => p.goto(base, { timeout: 30000 })))
  await Promise.all(pages.map((p) => p.waitForFunction(() => ll.readyState !== 0, null, { timeout: 30000, polling: 10 })))
  const opened = await Promise.all(pages.map((p) => p.evaluate(() => ({ openMs, transport: ll.transport, loadOpenMs: window.__lab.openAt }))))
  const runs = await Promise.all(pages.map((p, i) => p.evaluate(pageRun, { tab: i, rounds, timeoutMs: 30000, budgetMs: 60000 })))
  const out = await Promise.all(pages.map(async (p, i) => {
    const lab = await p.evaluate(() => ({ ...window.__lab, final: ll.transport }))
    return {
      openMs: opened[i].openMs, loadOpenMs: Math.round(lab.openAt ?? -1), transport: opened[i].transport, final: lab.final,
      ...runs[i], resets: lab.resets, reconnects: lab.reconnects, closed: lab.closed,
    }
  }))
  process.stdout.write(JSON.stringify(out) + '\n')
  await browser.close()
} catch (e) {
  process.stderr.write(String(e?.stack || e) + '\n')
  await browser.close()
  process.exit(1)
}
