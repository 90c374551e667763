// inspect.mjs drives the inspector page (server/inspect/) in headless Chromium for
// integration/lab_inspector_test.go. Like driver.mjs it speaks JSON lines: a request
// on stdin, its reply on stdout, one at a time, on one page.
//
//   {"op":"open","url":U,"cookie":{"name","value"}}  → {"result":{"status":...}} once a snapshot rendered
//   {"op":"state"}                                    → {"result":{numbers, sessions, groups, closes, ...}}
//   {"op":"waitAtLeast","id":ID,"min":N}              → waits for #ID's number to reach N
//   {"op":"waitClose","code":C}                       → waits for a recent close with code C
//   {"op":"screenshot","path":P}                      → writes a PNG of the whole page
//   any failure                                       → {"error":"..."}
//
// It exits when stdin closes.
import { createInterface } from 'node:readline'
import { chromium } from 'playwright-core'

const browser = await chromium.launch({
  executablePath: process.env.LAB_CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
})
const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } })
const page = await ctx.newPage()
const log = []
page.on('console', (m) => log.length < 50 && log.push(m.type() + ': ' + m.text()))
page.on('pageerror', (e) => log.push('pageerror: ' + e.message))
const wait = { timeout: 30000, polling: 50 }

const ops = {
  async open ({ url, cookie }) {
    if (cookie) await ctx.addCookies([{ ...cookie, url }])
    const res = await page.goto(url, { timeout: 15000 })
    if (!res.ok()) throw new Error('GET ' + url + ': ' + res.status())
    await page.waitForFunction(() => Number(document.body.dataset.snapshots || 0) >= 1, null, wait)
    return { status: await page.textContent('#status') }
  },
  state: () => page.evaluate(() => {
    const num = (id) => Number(document.getElementById(id).textContent.replace(/,/g, ''))
    const rows = (id) => [...document.querySelectorAll('#' + id + ' tbody tr')].map((tr) => [...tr.cells].map((c) => c.textContent))
    const numbers = {}
    for (const id of ['n-sessions', 'n-websocket', 'n-stream', 'n-poll', 'm-in', 'm-out', 'created', 'rate-in']) numbers[id] = num(id)
    return {
      numbers, sessions: rows('sessions'), groups: rows('groups'), closes: rows('closes'),
      status: document.getElementById('status').textContent, viewers: document.getElementById('viewers').textContent,
      snapshots: Number(document.body.dataset.snapshots), chartInk: (() => {
        const c = document.getElementById('chart'); const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data
        let ink = 0
        for (let i = 3; i < d.length; i += 4) if (d[i] > 0) ink++
        return ink
      })(),
    }
  }),
  async waitAtLeast ({ id, min }) {
    await page.waitForFunction(([id, min]) => Number(document.getElementById(id).textContent.replace(/,/g, '')) >= min, [id, min], wait)
    return page.textContent('#' + id)
  },
  async waitClose ({ code }) {
    await page.waitForSelector(`#closes tr[data-code="${code}"]`, { timeout: 30000 })
    return true
  },
  async screenshot ({ path }) {
    await page.screenshot({ path, fullPage: true })
    return path
  },
}

const reply = (m) => process.stdout.write(JSON.stringify(m) + '\n')
const rl = createInterface({ input: process.stdin })
let chain = Promise.resolve()
rl.on('line', (line) => {
  chain = chain.then(async () => {
    try {
      const req = JSON.parse(line)
      const op = ops[req.op]
      if (!op) throw new Error('inspect.mjs: unknown op ' + req.op)
      reply({ result: await op(req) })
    } catch (e) {
      reply({ error: String(e?.stack || e) + '\nconsole: ' + log.join('\n') })
    }
  })
})
rl.on('close', async () => {
  await chain
  await browser.close()
  process.exit(0)
})
