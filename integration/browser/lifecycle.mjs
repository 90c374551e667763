// lifecycle.mjs drives headless Chromium (/usr/bin/chromium, through playwright-core)
// for integration/lab_lifecycle_test.go: the page events of the browser client (issue
// 10, points 5 and 7) in the chat example. It runs one scenario and prints one JSON
// line with what it saw, or exits 1 with the error on stderr.
//
//   node lifecycle.mjs close BASE TRANSPORT    ann (websocket) and bob (TRANSPORT) join
//       a room; bob's page is closed: {goneMs} is how long ann still listed bob.
//   node lifecycle.mjs offline BASE TRANSPORT  bob (TRANSPORT) goes offline:
//       {reconnectingMs} until his page says reconnecting; he types 3 messages; he comes
//       back online: {backMs} until his page shows its transport again, and {annLog},
//       the messages as ann's page shows them.
//
// (A script of its own beside driver.mjs, which another change is extending: these
// scenarios need page.close and context.setOffline, which driver.mjs does not offer.)
import { chromium } from 'playwright-core'

const [scenario, base, transport] = process.argv.slice(2)
const browser = await chromium.launch({
  executablePath: process.env.LAB_CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
})

const members = (p) => p.evaluate(() => [...document.querySelectorAll('#members li')].map((li) => li.textContent))
const statusOf = (p) => p.evaluate(() => document.getElementById('status').textContent)

// join opens the chat in a fresh context as name on transport, in room lc.
async function join(name, t) {
  const ctx = await browser.newContext()
  const page = await ctx.newPage()
  await page.goto(base + '?' + new URLSearchParams({ transport: t, room: 'lc', name }), { timeout: 15000 })
  return { ctx, page }
}

// until polls cond on page every 20 ms and returns the ms it took, failing after ms.
async function until(page, cond, arg, ms, what) {
  const t0 = Date.now()
  await page.waitForFunction(cond, arg, { timeout: ms, polling: 20 }).catch(() => {
    throw new Error(`${what}: not within ${ms} ms`)
  })
  return Date.now() - t0
}

const bothListed = () => {
  const m = [...document.querySelectorAll('#members li')].map((li) => li.textContent)
  return m.includes('ann') && m.includes('bob')
}

try {
  const ann = await join('ann', 'websocket')
  const bob = await join('bob', transport)
  await until(bob.page, (t) => document.getElementById('status').textContent === t, transport, 15000, `bob on ${transport}`)
  await until(ann.page, bothListed, null, 15000, 'ann lists ann and bob')
  await until(bob.page, bothListed, null, 15000, 'bob lists ann and bob')
  let result
  if (scenario === 'close') {
    const t0 = Date.now()
    await bob.page.close() // pagehide with persisted false, then the page is gone
    await ann.page.waitForFunction(() => ![...document.querySelectorAll('#members li')].some((li) => li.textContent === 'bob'), null, { timeout: 10000, polling: 20 })
      .catch(async () => { throw new Error(`ann still lists bob 10 s after his page closed: ${await members(ann.page)}`) })
    result = { goneMs: Date.now() - t0 }
  } else if (scenario === 'offline') {
    await bob.ctx.setOffline(true)
    const reconnectingMs = await until(bob.page, () => document.getElementById('status').textContent === 'reconnecting…', null, 5000, 'bob reconnecting after going offline')
    for (let k = 0; k < 3; k++) {
      await bob.page.fill('#text', `offline ${k}`)
      await bob.page.press('#text', 'Enter')
    }
    await new Promise((r) => setTimeout(r, 500))
    const t0 = Date.now()
    await bob.ctx.setOffline(false)
    await until(bob.page, (t) => document.getElementById('status').textContent === t, transport, 10000, `bob back on ${transport}`)
    const backMs = Date.now() - t0
    await until(ann.page, () => [...document.querySelectorAll('#log .msg')].filter((m) => m.dataset.name === 'bob').length >= 3, null, 10000, "bob's 3 messages at ann's")
      .catch(() => {}) // the Go test reports what arrived
    await new Promise((r) => setTimeout(r, 300)) // a duplicate would show by now
    const annLog = await ann.page.evaluate(() =>
      [...document.querySelectorAll('#log .msg')].filter((m) => m.dataset.name === 'bob').map((m) => m.querySelector('.text').textContent))
    result = { reconnectingMs, backMs, annLog, status: await statusOf(bob.page) }
  } else throw new Error('unknown scenario ' + scenario)
  process.stdout.write(JSON.stringify(result) + '\n')
  await browser.close()
} catch (e) {
  process.stderr.write(String(e?.stack || e) + '\n')
  await browser.close()
  process.exit(1)
}
