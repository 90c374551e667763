// The Lifeline inspector's page: it opens a Lifeline session at inspect/ll (relative
// to the mount) and renders each JSON snapshot the server pushes (server/inspect.go).
/* global Lifeline */
'use strict'
;(() => {
  const $ = (id) => document.getElementById(id)
  const fmt = new Intl.NumberFormat('en')
  const set = (id, v) => { $(id).textContent = typeof v === 'number' ? fmt.format(v) : v }
  const dur = (ms) => ms < 0 ? '?' : ms < 1000 ? ms + ' ms' : ms < 60000 ? (ms / 1000).toFixed(1) + ' s'
    : ms < 3600000 ? Math.floor(ms / 60000) + ' min ' + Math.floor(ms / 1000) % 60 + ' s' : (ms / 3600000).toFixed(1) + ' h'
  const el = (tag, text, cls) => { const e = document.createElement(tag); e.textContent = text; if (cls) e.className = cls; return e }
  const row = (tbody, cells) => {
    const tr = document.createElement('tr')
    for (const c of cells) tr.append(c instanceof Node ? c : el('td', String(c)))
    tbody.append(tr)
    return tr
  }
  const td = (node, cls) => { const t = document.createElement('td'); if (cls) t.className = cls; t.append(node); return t }
  const badge = (name) => el('span', name || 'none', 'tr ' + (name || 'none'))
  const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim()

  function chart (canvas, series, lines, bars) {
    const dpr = window.devicePixelRatio || 1
    const w = canvas.clientWidth; const h = canvas.clientHeight
    canvas.width = w * dpr; canvas.height = h * dpr
    const g = canvas.getContext('2d')
    g.scale(dpr, dpr)
    g.clearRect(0, 0, w, h)
    const n = 120; const pad = 22
    const keys = lines || bars
    let top = 1
    for (const s of series) for (const k of keys) top = Math.max(top, s[k.key])
    top = Math.pow(10, Math.ceil(Math.log10(top * 1.1)))
    g.strokeStyle = '#e3e6ec'; g.fillStyle = '#667'; g.font = '10px system-ui'; g.lineWidth = 1
    for (const f of [0, 0.5, 1]) {
      const y = h - pad / 2 - f * (h - pad)
      g.beginPath(); g.moveTo(pad + 8, y); g.lineTo(w, y); g.stroke()
      g.fillText(fmt.format(top * f), 0, y + 3)
    }
    const x = (i) => pad + 8 + (w - pad - 8) * (n - series.length + i) / (n - 1)
    const y = (v) => h - pad / 2 - (h - pad) * v / top
    for (const k of keys) {
      g.strokeStyle = g.fillStyle = css(k.color)
      if (lines) {
        g.lineWidth = 2; g.beginPath()
        series.forEach((s, i) => i ? g.lineTo(x(i), y(s[k.key])) : g.moveTo(x(i), y(s[k.key])))
        g.stroke()
      } else {
        const bw = Math.max(1, (w - pad) / n / 2 - 1)
        series.forEach((s, i) => { if (s[k.key]) g.fillRect(x(i) + (k.key === 'upgrades' ? bw : 0), y(s[k.key]), bw, h - pad / 2 - y(s[k.key])) })
      }
    }
  }

  function render (s) {
    const st = s.stats
    set('n-sessions', st.Sessions); set('n-websocket', st.WebSocket); set('n-stream', st.Stream); set('n-poll', st.Poll)
    set('m-in', st.MessagesIn); set('m-out', st.MessagesOut); set('queued', st.QueuedOut + st.QueuedIn)
    set('created', st.Created); set('resumes', st.Resumes); set('resets', st.Resets)
    set('fallbacks', st.Fallbacks); set('upgrades', st.Upgrades)
    const last = s.series[s.series.length - 1]
    set('rate-in', last ? Math.round(last.in) : 0); set('rate-out', last ? Math.round(last.out) : 0)

    const sb = $('sessions').tBodies[0]; sb.replaceChildren()
    for (const r of s.sessions) {
      row(sb, [td(el('span', r.id), 'id'), td(badge(r.transport)), td(el('span', dur(r.ageMs)), 'num'), td(el('span', dur(r.idleMs)), 'num'),
        td(el('span', fmt.format(r.queuedOut)), 'num'), td(el('span', fmt.format(r.queuedIn)), 'num'), (r.groups || []).join(', ')]).dataset.id = r.id
    }
    $('sessions-note').textContent = st.Sessions > s.sessions.length ? `(the ${s.sessions.length} oldest of ${fmt.format(st.Sessions)})` : ''
    const gb = $('groups').tBodies[0]; gb.replaceChildren()
    for (const g of s.groups) row(gb, [g.name, td(el('span', fmt.format(g.count)), 'num'), td(el('span', g.members.join(' ') + (g.count > g.members.length ? ' …' : '')), 'id')]).dataset.group = g.name
    const cb = $('closes').tBodies[0]; cb.replaceChildren()
    for (const c of s.closes) {
      row(cb, [new Date(c.at).toLocaleTimeString(), td(el('span', String(c.code), 'code' + (c.stop ? ' stop' : ''))), c.reason, td(badge(c.transport)), td(el('span', c.id), 'id')]).dataset.code = c.code
    }
    chart($('chart'), s.series, [{ key: 'in', color: '--in' }, { key: 'out', color: '--out' }])
    chart($('moves'), s.series, null, [{ key: 'fallbacks', color: '--fb' }, { key: 'upgrades', color: '--up' }])
    $('viewers').textContent = `${s.viewers} inspector session${s.viewers === 1 ? '' : 's'} open (this page's included), not counted above · snapshot ${new Date(s.at).toLocaleTimeString()}`
    document.body.dataset.snapshots = String(Number(document.body.dataset.snapshots || 0) + 1)
  }

  const status = $('status')
  const ll = new Lifeline(new URL('inspect/ll', location.href))
  const show = (text, cls) => { status.textContent = text; status.className = 'status ' + cls }
  ll.addEventListener('open', () => show('live · ' + ll.transport, 'live'))
  ll.addEventListener('transport', () => show('live · ' + ll.transport, 'live'))
  ll.addEventListener('reconnecting', () => show('reconnecting…', 'down'))
  ll.addEventListener('reconnected', () => show('live · ' + ll.transport, 'live'))
  ll.addEventListener('close', (e) => show('closed (' + e.code + (e.reason ? ' ' + e.reason : '') + ')', 'down'))
  ll.addEventListener('message', (e) => render(JSON.parse(e.data)))
})()
