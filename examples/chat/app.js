// The chat page: one Lifeline session carrying the JSON messages that main.go lists;
// joining a room is a request (request.min.js), answered with the room's members and
// history. User text only ever reaches the page through textContent.
'use strict'

const $ = id => document.getElementById(id)
const params = new URLSearchParams(location.search)
const log = $('log')
const transports = ['websocket', 'stream', 'poll']

let ll = null     // the Lifeline session
let room = ''     // the room joined, once the server said so
let me = ''       // the name the server gave
let reset = false // the session was reset since the connection was lost
let unread = 0    // messages that arrived while the page was hidden
let last = null   // the last message shown, {name, at}, unless a line followed it

// localStorage can be missing or refuse (private windows, file: pages).
const store = {
  get: k => { try { return localStorage.getItem(k) } catch { return null } },
  set: (k, v) => { try { localStorage.setItem(k, v) } catch {} },
}

$('name').value = params.get('name') ?? store.get('chat.name') ?? ''
$('room').value = params.get('room') ?? 'lobby'

// --- the log ---

// near reports whether the log shows its end, so that new lines keep it there.
const near = () => log.scrollHeight - log.scrollTop - log.clientHeight < 80

function append(el, stick) {
  const follow = stick || near()
  log.append(el)
  if (follow) log.scrollTop = log.scrollHeight
}

// system adds a line that is not a chat message: joins, leaves, connection news,
// errors (kind 'error') and warnings (kind 'warn'), which are always scrolled to.
function system(text, kind) {
  const p = document.createElement('div')
  p.className = 'sys' + (kind ? ' ' + kind : '')
  p.textContent = text
  append(p, !!kind)
  last = null // the next message starts a new group
}

// hue gives every name its own colour.
function hue(name) {
  let h = 0
  for (const c of name) h = (h * 31 + c.codePointAt(0)) % 360
  return h
}

const clock = new Intl.DateTimeFormat([], { hour: '2-digit', minute: '2-digit' })
const day = new Intl.DateTimeFormat([], { weekday: 'long', month: 'long', day: 'numeric' })
const shown = new Set() // the messages shown, by key
const key = m => `${m.at} ${m.name}\n${m.text}`

// showMessage adds a chat message.
function showMessage(m) {
  const at = new Date(m.at)
  const today = at.toDateString() === new Date().toDateString()
  if (last ? at.toDateString() !== new Date(last.at).toDateString() : !today) {
    const d = document.createElement('div')
    d.className = 'day'
    d.textContent = today ? 'Today' : day.format(at)
    log.append(d)
    last = null
  }
  const mine = m.name === me
  const el = document.createElement('div')
  el.className = 'msg' + (mine ? ' mine' : '')
  if (last && last.name === m.name && m.at - last.at < 5 * 60e3) el.classList.add('cont')
  el.dataset.name = m.name
  el.style.setProperty('--hue', hue(m.name))

  const avatar = document.createElement('div')
  avatar.className = 'avatar'
  avatar.textContent = [...m.name][0].toUpperCase()
  avatar.setAttribute('aria-hidden', 'true')

  const meta = document.createElement('div')
  meta.className = 'meta'
  const who = document.createElement('span')
  who.className = 'who'
  who.textContent = m.name
  const time = document.createElement('time')
  time.dateTime = at.toISOString()
  time.title = at.toLocaleString()
  time.textContent = clock.format(at)
  meta.append(who, time)

  const text = document.createElement('div')
  text.className = 'text'
  text.textContent = m.text

  const bubble = document.createElement('div')
  bubble.className = 'bubble'
  bubble.append(meta, text)
  el.append(avatar, bubble)
  append(el, mine)
  last = { name: m.name, at: m.at }
  shown.add(key(m))
}

// --- the sidebar ---

function showMembers(names) {
  const ul = $('members')
  ul.replaceChildren(...names.map(n => {
    const li = document.createElement('li')
    li.textContent = n // exactly the name: "you" is drawn by CSS
    li.style.setProperty('--hue', hue(n))
    if (n === me) li.className = 'me'
    return li
  }))
  $('count').textContent = names.length
}

function showRooms(list) {
  const ul = $('rooms')
  ul.replaceChildren(...list.map(r => {
    const b = document.createElement('button')
    b.type = 'button'
    const name = document.createElement('span')
    name.className = 'name'
    name.textContent = r.name
    const count = document.createElement('span')
    count.className = 'badge'
    count.textContent = r.count
    count.title = r.count === 1 ? '1 person' : r.count + ' people'
    b.append(name, count)
    b.onclick = () => join(r.name)
    const li = document.createElement('li')
    if (r.name === room) li.className = 'current'
    else if (!r.count) li.className = 'quiet'
    li.append(b)
    return li
  }))
}

function title() {
  document.title = (unread ? `(${unread}) ` : '') + (room ? `#${room} · ` : '') + 'Lifeline chat'
}

function composer(on) {
  for (const el of $('composer').elements) el.disabled = !on
}

// --- the session ---

function send(m) {
  if (!ll || ll.readyState > 1) {
    system('not connected: reload the page to reconnect', 'error')
    return false
  }
  try {
    ll.send(JSON.stringify(m))
    return true
  } catch (e) {
    system(`could not send: ${e.message}`, 'error')
    return false
  }
}

// joining: while a join request is on its way, the messages that arrive meanwhile (what
// is said in the new room after the server took the history: they follow the reply).
let joining = null
let joins = Promise.resolve() // one join at a time, so that the replies come in order

function join(to) {
  if (to !== undefined) $('room').value = to
  const m = { type: 'join', room: $('room').value.trim(), name: $('name').value.trim() }
  joins = joins.then(async () => {
    if (!ll || ll.readyState > 1) return system('not connected: reload the page to reconnect', 'error')
    const held = (joining = [])
    try {
      handlers.joined(JSON.parse(await ll.request(JSON.stringify(m))))
    } catch (e) {
      // A reset joins again on the new session; a close says so itself.
      if (e.reason !== 'reset' && e.reason !== 'closed') system(e.reason === 'remote' ? e.message : `could not join: ${e.message}`, 'error')
    } finally {
      joining = null
      held.forEach(handle)
    }
  })
}

// In a cluster: node owns the session (from "joined"); served is the node that
// received the latest request (each response's Chat-Node header; for a WebSocket, the
// cookie its handshake set), and servers every node that served one.
let node = ''
let served = ''
const servers = new Set()

function status() {
  const s = $('status')
  s.textContent = ll.reconnecting ? 'reconnecting…' : (ll.transport || 'connecting…') + (served ? ` · ${served}` : '')
  s.className = ll.reconnecting ? 'warn' : ll.transport ? 'ok' : ''
  if (node) s.title = `transport · the node that served the latest request; the session lives on ${node}, and ${[...servers].sort().join(', ')} served it`
}

function saw(n) {
  if (!n || n === served) return
  served = n
  servers.add(n)
  if (ll) status()
}

// fetchNode is fetch, noting which node answered.
const fetchNode = (url, init) => fetch(url, init).then(res => {
  saw(res.headers.get('Chat-Node'))
  return res
})

// NodeSocket is a WebSocket that learns which node accepted it: its URL names it
// (?conn=), and in a cluster the server's handshake sets the cookie chat-node-<conn>,
// which may land a little after open: until then the next few messages look again
// (on one node there is none to find). The cookie is deleted once read.
const tab = Math.random().toString(36).slice(2, 10)
let conns = 0
let asking = ''   // the cookie of the latest WebSocket, until it was found
let looks = 0     // how many more times to look for it
class NodeSocket extends WebSocket {
  constructor(url, protocols) {
    const conn = tab + ++conns
    super(url + (url.includes('?') ? '&' : '?') + 'conn=' + conn, protocols)
    this.addEventListener('open', () => { asking = 'chat-node-' + conn; looks = 20; look() })
  }
}

function look() {
  if (!asking) return
  const c = document.cookie.split('; ').find(c => c.startsWith(asking + '='))
  if (c || !--looks) {
    if (c) document.cookie = asking + '=; Max-Age=0; Path=/; SameSite=Strict'
    asking = ''
    saw(c?.slice(c.indexOf('=') + 1))
  }
}

const handlers = {
  joined(m) {
    if (m.node && m.node !== node) { node = m.node; status() }
    const again = m.room === room, renamed = again && m.name !== me
    if (again) {
      // Joined again (after a reset, or under a new name): add what was missed.
      m.history.filter(h => !shown.has(key(h))).forEach(showMessage)
    } else {
      // A fresh log for the room: its history, then what was shown before the
      // first join (errors).
      const before = room ? [] : [...log.children]
      log.replaceChildren()
      last = null
      shown.clear()
      m.history.forEach(showMessage)
      log.append(...before)
    }
    room = m.room
    me = m.name
    for (const el of log.querySelectorAll('.msg')) el.classList.toggle('mine', el.dataset.name === me)
    document.body.dataset.room = room
    document.body.dataset.me = me
    store.set('chat.name', $('name').value.trim())
    $('room').value = room
    const u = new URL(location.href)
    u.searchParams.set('room', room)
    if (u.searchParams.has('name')) u.searchParams.set('name', $('name').value.trim())
    history.replaceState(null, '', u)

    if (!again) system(`You joined #${room} as ${me}`)
    else if (renamed) system(`You are now ${me}`)
    else system(`You are back in #${room} as ${me}`)
    $('title').textContent = '#' + room
    $('whoami').textContent = 'you are ' + me
    $('text').placeholder = `Message #${room}`
    log.scrollTop = log.scrollHeight
    showMembers(m.members)
    showRooms(m.rooms)
    title()
    composer(true)
    if (matchMedia('(hover: hover)').matches) $('text').focus()
  },
  say(m) {
    if (m.room !== room) return
    showMessage(m)
    if (document.hidden) {
      unread++
      title()
    }
  },
  presence(m) {
    if (m.room !== room) return
    system(`${m.name} ${m.text}`)
    showMembers(m.members)
  },
  rooms(m) { showRooms(m.rooms) },
  error(m) { system(m.text, 'error') },
}

function connect() {
  const forced = params.get('transport')
  const opts = { fetch: fetchNode, WebSocket: NodeSocket }
  if (forced !== null) {
    if (transports.includes(forced)) opts.transports = [forced]
    else system(`unknown transport "${forced}" (use websocket, stream or poll): trying them all`, 'error')
  }
  try {
    ll = new Lifeline('/lifeline', opts)
  } catch (e) {
    system(`cannot connect: ${e.message}`, 'error')
    $('status').textContent = 'closed'
    return
  }
  ll.onopen = () => {
    status()
    $('title').textContent = 'Joining…'
    join()
  }
  ll.ontransport = status
  ll.onreconnecting = () => {
    reset = false
    status()
    system('reconnecting…', 'warn')
  }
  // After a reset the client reconnects with a fresh session: something may be lost.
  ll.onreconnected = () => {
    status()
    system(reset ? 'connected again' : 'reconnected: nothing was lost')
  }
  ll.onreset = e => {
    reset = true
    system('reset: some messages may be missing', 'warn')
    const said = e.unsent.filter(u => typeof u === 'string' && u.startsWith('{"type":"say"'))
    if (said.length) system(`${said.length} of your messages may not have arrived`, 'warn')
    // A new session: join again, with a join message rather than a request. Messages
    // are read in order, so what is said from now on lands in the room; a request is
    // answered on a goroutine of its own, and the messages queued behind it during the
    // reconnect could be read before it and refused ("join a room first").
    send({ type: 'join', room: $('room').value.trim(), name: $('name').value.trim() })
  }
  ll.onclose = e => {
    $('status').textContent = 'closed ' + e.code
    $('status').className = 'bad'
    system(`connection closed (${e.code}${e.reason ? ': ' + e.reason : ''}): reload the page to reconnect`, 'error')
    composer(false)
  }
  ll.onmessage = e => {
    look()
    let m
    try {
      m = JSON.parse(e.data)
    } catch {
      system('the server sent something that is not JSON', 'error')
      return
    }
    if (joining) joining.push(m)
    else handle(m)
  }
}

function handle(m) {
  const h = Object.hasOwn(handlers, m.type) && handlers[m.type]
  if (h) h(m)
}

// --- the controls ---

$('where').onsubmit = e => {
  e.preventDefault()
  join()
}

$('composer').onsubmit = e => {
  e.preventDefault()
  const input = $('text')
  const text = input.value
  if (!text.trim()) return
  if (new TextEncoder().encode(text).length > 2000) {
    system('message too long: at most 2000 bytes', 'error')
    return
  }
  if (send({ type: 'say', text })) input.value = ''
}

$('room').onfocus = e => e.target.select()

document.addEventListener('visibilitychange', () => {
  if (!document.hidden) {
    unread = 0
    title()
  }
})

connect()
