// lifeline-client: built from src/ by build.mjs; do not edit.

// src/frame.js
var now = () => Date.now();
var num = (s) => /^(0|[1-9]\d{0,15})$/.test(s) && s <= Number.MAX_SAFE_INTEGER ? +s : -1;
var utf8 = (s) => {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    n += c < 128 ? 1 : c < 2048 ? 2 : c >> 10 == 54 && s.charCodeAt(i + 1) >> 10 == 55 ? (i++, 4) : 3;
  }
  return n;
};
var event = (f) => "data: " + f.split("\n").join("\ndata: ") + "\n\n";
var parser = (emit, limit = 4e6) => {
  let buf = "", ev = null;
  return (chunk) => {
    buf += chunk;
    let p = 0, i;
    while ((i = buf.indexOf("\n", p)) >= 0) {
      let line = buf.slice(p, i);
      p = i + 1;
      if (!line) {
        if (ev != null) emit(ev);
        ev = null;
      } else if (line.startsWith("data:")) {
        line = line.slice(line[5] == " " ? 6 : 5);
        ev = ev == null ? line : ev + "\n" + line;
        if (ev.length > limit) throw Error("too large");
      }
    }
    buf = buf.slice(p);
    if (buf.length > limit + 6) throw Error("too large");
  };
};
var closeOf = (f) => /^C(\d+) ?([^]*)$/.exec(f);
var b64 = (u) => {
  let s = "";
  for (let i = 0; i < u.length; i += 8192) s += String.fromCharCode.apply(null, u.subarray(i, i + 8192));
  return btoa(s);
};
var unb64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
var backoff = (o, n) => Math.random() * Math.min(o.backoffMax, o.backoffMin * 2 ** n);
var action = (code) => code <= 0 || /^(440[89]|100[156]|101[1-5])$/.test(code) ? "reconnect" : /^4(404|410|429|440|50[37])$/.test(code) ? "reset" : "stop";

// src/websocket.js
function websocket(ll, req) {
  const ws = new (ll.b.WebSocket || WebSocket)(ll.V("ws"));
  const c = { name: "websocket" };
  const send = (f) => {
    ws.send(f);
    c.e = now();
  };
  c.o = (r) => send("R" + JSON.stringify(c.f = r));
  ws.binaryType = "arraybuffer";
  ws.onopen = () => c.o(req);
  ws.onmessage = (e) => ll.E(c, typeof e.data == "string" ? e.data : new Uint8Array(e.data));
  ws.onclose = ws.onerror = (e) => ll.c(c, e.code == 1009 ? 4413 : e.code == 1e3 || e.code >= 4e3 ? e.code : 0, e.reason);
  c.W = () => {
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    ws.close();
  };
  c.F = () => send(ll.w() || "P");
  c.h = () => {
    const q = ll.n, base = ll.i, end = base + q.length;
    if (c.j < base) c.j = base;
    if (c.j < end) {
      if (c.j != c.ga) send("S" + c.j);
      while (c.j < end) {
        const d = q[c.j++ - base][0];
        send(typeof d == "string" ? "M" + d : d);
      }
      c.ga = c.j;
    }
    ll.e = Math.max(ll.e, c.j - 1);
    const a = ll.w();
    if (a) send(a);
    if (ll.k && !c.G) send("C" + ll.k.join(" ")), c.G = 1;
  };
  return c;
}

// src/http.js
var conn = (ll, name) => {
  const ac = new AbortController();
  return { name, H: ac, W: () => ac.abort(), h: () => uplink(ll) };
};
async function request(ll, endpoint, r, signal, body) {
  const o = ll.b, headers = {};
  for (const k in r) if (k != "v" && r[k] != null && r[k] !== "") headers["Lifeline-" + (k == "sid" ? "session" : k)] = r[k];
  if (body) headers["Content-Type"] = "text/plain;charset=utf-8";
  const res = await (o.fetch || fetch)(ll.V(endpoint), {
    method: body ? "POST" : "GET",
    headers,
    body,
    signal,
    // no-store also keeps Chromium from holding a second GET of the same URL (another
    // Lifeline's held poll or stream, in this tab or another) behind its cache lock.
    cache: "no-store",
    credentials: o.withCredentials ? "include" : "same-origin"
  });
  if (res.ok) return res;
  let code = 0, reason = "HTTP " + res.status;
  try {
    parser((f) => {
      const m = closeOf(f);
      if (m) code = +m[1], reason = m[2];
    })(await res.text());
  } catch {
  }
  throw Object.assign(Error(reason), { A: code });
}
async function read(ll, c, res) {
  const rd = res.body.getReader(), dec = new TextDecoder(), push = parser((f) => ll.E(c, f));
  for (; ; ) {
    const { done, value } = await rd.read();
    if (done || c.l) return;
    c.X = now();
    push(dec.decode(value, { stream: true }));
  }
}
async function uplink(ll, idle) {
  if (ll.Y) return;
  ll.Y = 1;
  try {
    for (let n = 0; ; idle = 0) {
      const c = ll.a;
      if (!c || c.l || !c.H) return;
      const body = batch(ll, c, idle);
      if (!body) return;
      const base = ll.i, sid = ll.d, h = ll.p, had = ll.n.length;
      c.e = now();
      try {
        const res = await request(ll, "send", { sid, token: ll.B }, AbortSignal.timeout(h.hb + h.hbt), body);
        const text = await res.text();
        if (sid == ll.d) parser((f) => f[0] == "A" && ll.I(num(f.slice(1))))(text);
        if (c.G) return ll.q(...ll.k, true);
        if (had && ll.i == base) await sleep(ll, n++);
        else n = 0;
      } catch (e) {
        if (e.A) return ll.c(c, e.A, e.message);
        await sleep(ll, n++);
      }
    }
  } finally {
    ll.Y = 0;
  }
}
var sleep = (ll, n) => new Promise((r) => setTimeout(r, backoff(ll.b, n)));
var heartbeat = (ll) => uplink(ll, 1);
function batch(ll, c, idle) {
  const q = ll.n, h = ll.p;
  let b = "", k = 0, size = 0;
  if (q.length) {
    b = event("S" + ll.i);
    for (const [d] of q) {
      const f = event(typeof d == "string" ? "M" + d : "B" + b64(d)), n = utf8(f);
      if (k && (k + 3 > h.batch || size + n + 300 > h.body)) break;
      b += f;
      size += n;
      k++;
    }
    ll.e = Math.max(ll.e, ll.i + k - 1);
  }
  const a = c.name == "stream" && ll.w();
  if (a) b += event(a);
  if (ll.k && !q.length) b += event("C" + ll.k.join(" ")), c.G = 1;
  return b || (idle ? event("P") : "");
}

// src/stream.js
function stream(ll, req) {
  const c = conn(ll, "stream");
  c.F = () => heartbeat(ll);
  request(ll, "stream", req, c.H.signal).then((res) => read(ll, c, res)).then(() => ll.c(c, -1), (e) => ll.c(c, e.A || 0, e.message));
  return c;
}

// src/poll.js
function poll(ll, req) {
  const c = conn(ll, "poll");
  (async () => {
    for (let r = req; ; ) {
      const res = await request(ll, "poll", r, c.H.signal);
      const body = await res.text();
      if (c.l) return;
      c.J = 0;
      parser((f) => ll.E(c, f))(body);
      if (c.l) return;
      if (c != ll.a) throw Error("no hello");
      ll.w();
      r = { sid: ll.d, token: ll.B, ack: ll.g, conn: c.f.conn || 0 };
    }
  })().catch((e) => ll.c(c, e.A || 0, e.message));
  return c;
}

// src/lifeline.js
var transports = { websocket, stream, poll };
var EVENTS = "open message close error transport reconnecting reconnected reset".split(" ");
var STATES = "CONNECTING OPEN CLOSING CLOSED".split(" ");
var DEFAULTS = {
  transports: Object.keys(transports),
  headStart: 150,
  pollStart: 300,
  wsDeadline: 1e4,
  connectTimeout: 3e3,
  backoffMin: 250,
  backoffMax: 1e4,
  reprobeMin: 1e4,
  reprobeMax: 3e5,
  maxQueued: 1 << 20,
  remember: 6e5,
  withCredentials: false
};
var fail = (name, msg) => new DOMException(msg, name);
var Lifeline = class extends EventTarget {
  constructor(url, options) {
    super();
    let u;
    try {
      u = new URL(url, globalThis.location?.href);
      if (!/^(http|ws)s?:$/.test(u.protocol) || u.href.includes("#")) throw 0;
    } catch {
      throw fail("SyntaxError", "bad URL " + url);
    }
    u.protocol = u.protocol.replace("ws", "http");
    const o = this.b = { ...options };
    for (const k in DEFAULTS) o[k] ??= DEFAULTS[k];
    if (!o.transports.length || o.transports.some((t) => !Object.hasOwn(transports, t))) throw TypeError("Lifeline: bad transports");
    this.url = u.href;
    this.readyState = 0;
    this.transport = "";
    this.reconnecting = false;
    this.binaryType = "blob";
    for (const t of EVENTS) {
      this["on" + t] = null;
      this.addEventListener(t, (e) => this["on" + t]?.(e));
    }
    this.n = [];
    this.x = this.K = 0;
    this.y = /* @__PURE__ */ new Set();
    this.z = o.reprobeMin;
    this.Z();
  }
  // _fresh forgets the session (there is none yet) and starts a new one: after a
  // backoff when the server is full or shutting down.
  Z(code) {
    this.d = this.B = "";
    this.i = 1;
    this.e = this.g = this.r = this.L = 0;
    code == 4429 || code == 4503 ? this.M(code) : this._();
  }
  // bufferedAmount is the bytes of the messages sent that the server has not
  // acknowledged yet, queued ones included.
  get bufferedAmount() {
    return this.x;
  }
  // sessionId is the public id of the current session ('' before the first hello).
  get sessionId() {
    return this.d;
  }
  send(d) {
    if (this.readyState > 1) throw fail("InvalidStateError", "closed");
    if (d instanceof ArrayBuffer || ArrayBuffer.isView(d)) d = new Uint8Array(d.buffer || d, d.byteOffset, d.byteLength).slice();
    else if (d instanceof Blob) throw TypeError("Lifeline: send blob.arrayBuffer()");
    else d = String(d);
    const n = typeof d == "string" ? utf8(d) : d.length;
    const max = this.p?.msg || 65536;
    if (n > max) throw RangeError("Lifeline: message too big");
    if (this.x + n > this.b.maxQueued) throw fail("QuotaExceededError", "send queue full");
    this.n.push([d, n]);
    this.x += n;
    this.h();
  }
  close(code, reason = "") {
    if (code !== void 0 && code != 1e3 && !(code >= 3e3 && code <= 4999))
      throw fail("InvalidAccessError", "close code " + code);
    if (utf8(reason) > 123) throw fail("SyntaxError", "reason too long");
    if (this.readyState > 1) return;
    if (!this.d) return this.q(1006, "", false);
    this.readyState = 2;
    this.k = [code || 1e3, reason];
    this.ha = setTimeout(() => this.q(1006, "close timeout", false), 5e3);
    this.h();
  }
  // ---- connections
  // _url is the URL of an endpoint below the mount.
  V(name) {
    const u = new URL(this.url);
    u.pathname = u.pathname.replace(/\/?$/, "/" + name);
    if (name == "ws") u.protocol = u.protocol.replace("http", "ws");
    return u.href;
  }
  // _auth resolves the credentials to present (docs/protocol.md §1).
  async C() {
    const a = this.b.auth;
    return typeof a == "function" ? a() : a;
  }
  // _req is a resume request for the session, numbered as a new connection.
  f(auth) {
    return { v: 1, sid: this.d, token: this.B, ack: this.g, conn: ++this.ia, auth };
  }
  // _open starts a connection on transport name with req as its first request, and
  // gives it until deadline ms for its hello. failed(code, reason) is called if it
  // ends before it carries the session.
  N(name, req, deadline, failed) {
    const c = transports[name](this, req);
    c.f = req;
    c.$ = failed;
    c.aa = setTimeout(() => this.c(c, 0, "no hello"), deadline);
    this.y.add(c);
    return c;
  }
  // _drop abandons a connection without telling anyone.
  s(c) {
    if (!c || c.l) return;
    c.l = 1;
    clearTimeout(c.aa);
    clearTimeout(c.ja);
    this.y.delete(c);
    c.W();
  }
  // _dropAll abandons every connection: current, opening and probing.
  ba() {
    for (const c of [this.a, ...this.y]) this.s(c);
    this.a = this.t = this.u = null;
  }
  // _end handles the end of connection c with a close code (0: a network failure, -1:
  // the server recycled a stream).
  c(c, code, reason = "") {
    if (c.l) return;
    this.s(c);
    if (c != this.a) return c.$?.(code, reason);
    this.a = null;
    this.ka(code, reason);
  }
  // _create starts a fresh session by racing the transports (docs/protocol.md §4).
  async _() {
    let auth;
    try {
      auth = await this.C();
    } catch (e) {
      return this.M(0, e.message);
    }
    if (this.readyState > 1 || this.d) return;
    const o = this.b, order = [...o.transports], at = [0, o.headStart, o.pollStart];
    const r = this.la(), i = order.indexOf(r);
    if (i > 0) order.splice(1, 0, ...order.splice(i, 1)), at[1] = 0;
    const t0 = now();
    let started = 0, failed = 0, first;
    const next = () => {
      clearTimeout(this.O);
      if (this.d || this.readyState > 1) return;
      if (started == order.length) return failed == started && this.M(...first);
      this.N(order[started++], { v: 1, auth }, o.wsDeadline, (code, reason) => {
        if (!first || code > 0 && !(first[0] > 0)) first = [code, reason];
        if (++failed == started) next();
      });
      if (started < order.length) this.O = setTimeout(next, at[started] - (now() - t0));
    };
    next();
  }
  // _retry follows a failed creation: stop, or create again after a backoff.
  M(code, reason) {
    if (action(code) == "stop") return this.q(code, reason, false);
    this.P = setTimeout(() => this._(), backoff(this.b, this.K++));
  }
  // _hello takes the hello that arrived on c.
  ma(c, h) {
    if (c == this.a) return;
    if (!this.d) {
      if (!h.token || !h.sid || h.ack) return this.c(c, 4400, "bad hello");
      this.d = h.sid;
      this.B = h.token;
      this.ia = 0;
      this.r = -1;
      return this.ca(c, h);
    }
    if (c.f.sid) return h.sid == this.d ? this.ca(c, h) : this.c(c, 4400, "bad hello");
    if (c.name != "websocket" || c.na) return this.s(c);
    c.na = 1;
    this.C().then(
      (a) => c.l || !this.d || c.o(this.f(a)),
      () => this.s(c)
    );
  }
  // _attach lets c, whose hello arrived, carry the session.
  ca(c, h) {
    if (!this.I(h.ack)) return this.c(c, 4400, "bad ack");
    const o = this.b;
    for (const t of [c.aa, this.P, this.O]) clearTimeout(t);
    this.y.delete(c);
    let late;
    for (const x of this.y) {
      if (x.f.sid || x.name != "websocket") this.s(x);
      else late = x;
    }
    this.t = null;
    this.u = late;
    if (late) late.$ = (code) => this.Q(0, code);
    this.s(this.a);
    this.a = c;
    this.p = h;
    if (c.f.sid) this.r = c.f.ack;
    c.j = this.i;
    c.e = now();
    c.ja = setInterval(() => this.oa(c), Math.min(1e3, h.hb / 4));
    this.K = 0;
    if (c.name == "websocket") this.z = o.reprobeMin, this.da = 0;
    try {
      if (!o.remember) throw 0;
      const k = "lifeline:" + this.url;
      c.name == o.transports[0] ? sessionStorage.removeItem(k) : sessionStorage.setItem(k, JSON.stringify([c.name, now() + o.remember]));
    } catch {
    }
    const was = this.transport;
    this.transport = c.name;
    if (was != c.name) this.m("transport");
    if (!this.readyState) {
      this.readyState = 1;
      this.m("open");
    } else if (this.reconnecting) {
      this.reconnecting = false;
      this.m("reconnected");
    }
    this.ea();
    c.h();
  }
  // _recall returns the transport remembered for this URL, if not expired.
  la() {
    try {
      const [t, exp] = JSON.parse(sessionStorage.getItem("lifeline:" + this.url));
      if (exp > now() && this.b.remember) return t;
    } catch {
    }
  }
  // _tick watches the current connection: dead after hb+hbt of silence; a heartbeat
  // when it carried nothing from us for hb/2.
  oa(c) {
    const h = this.p, t = now();
    if (t - c.X > h.hb + h.hbt) this.c(c, 0, "silent");
    else if (t - c.e >= h.hb / 2) c.F?.();
  }
  // _lost follows the end of the current connection (§4, §7).
  ka(code, reason) {
    if (this.fa(code, reason)) return;
    this.R = Math.max(0, this.b.transports.indexOf(this.transport));
    if (this.u && code == 4409) return;
    if (code >= 0) this.D();
    this.o();
  }
  // _gone handles a close code that ends the session (stop or reset); it reports
  // whether it did. While closing, the session ends with the application's code.
  fa(code, reason) {
    const act = action(code);
    if (act == "reconnect") return false;
    if (this.k) this.q(...this.k, code == 1e3);
    else if (act == "stop") this.q(code, reason, code == 1e3);
    else this.pa(code, reason);
    return true;
  }
  D() {
    if (!this.reconnecting && this.readyState == 1) {
      this.reconnecting = true;
      this.m("reconnecting");
    }
  }
  // _resume opens a connection resuming the session on the transport that last
  // worked, then down the order, with backoff between failed attempts.
  async o() {
    if (this.a || this.t || this.readyState > 2 || !this.d) return;
    const o = this.b, name = o.transports[this.R];
    this.t = 1;
    const failed = (code, reason) => {
      this.t = null;
      if (this.fa(code, reason)) return;
      this.D();
      this.R = (this.R + 1) % o.transports.length;
      this.P = setTimeout(() => this.o(), backoff(o, this.K++));
    };
    let a;
    try {
      a = await this.C();
    } catch (e) {
      return failed(0, e.message);
    }
    if (this.a || this.readyState > 2) return this.t = null;
    this.t = this.N(name, this.f(a), name == "websocket" ? o.wsDeadline : o.connectTimeout, failed);
  }
  // _arm schedules a WebSocket re-probe while the session runs below WebSocket (§4
  // step 6), unless a WebSocket is under way.
  ea() {
    const o = this.b, w = o.transports.indexOf("websocket");
    clearTimeout(this.S);
    if (!this.a || this.u || w < 0 || o.transports.indexOf(this.a.name) <= w) return;
    this.S = setTimeout(async () => {
      try {
        const a = await this.C();
        if (this.a && !this.u)
          this.u = this.N("websocket", this.f(a), o.wsDeadline, (code) => this.Q(1, code));
      } catch {
        this.Q(1);
      }
    }, this.z);
  }
  // _probed follows a WebSocket probe (or late race WebSocket) that failed. One that
  // lost the session to a newer connection of ours (4409: a stream recycled while its
  // R was under way) is tried again after 50 ms, doubling per loss in a row (§4 step
  // 6): _pl is that delay, unset until a loss and after a WebSocket carried the session.
  Q(probe, code) {
    this.u = null;
    if (code == 4409) this.z = this.da = Math.min(2 * this.da || 50, this.b.reprobeMin);
    else if (probe) this.z = Math.min(2 * this.z, this.b.reprobeMax);
    if (this.a) this.ea();
    else this.D(), this.o();
  }
  // _reset starts a fresh session after the server could not resume this one, and
  // tells the application (the reset event) what it may have lost.
  pa(code, reason) {
    const lost = this.n.splice(0, this.e - this.i + 1);
    for (const [, n] of lost) this.x -= n;
    this.ba();
    clearTimeout(this.S);
    this.w();
    this.D();
    this.m("reset", { code, reason, unsent: lost.map((m) => m[0]) });
    this.Z(code);
  }
  // _finish ends the Lifeline: close event (after an error event unless clean).
  q(code, reason, clean) {
    if (this.readyState == 3) return;
    this.readyState = 3;
    this.ba();
    for (const t of [this.P, this.S, this.T, this.ha, this.O]) clearTimeout(t);
    this.reconnecting = false;
    if (!clean) this.m("error");
    this.m("close", { code, reason, wasClean: clean });
  }
  // _fire dispatches an event: a MessageEvent or CloseEvent in all but class (the
  // CloseEvent class is missing outside browsers).
  m(type, props) {
    this.dispatchEvent(Object.assign(new Event(type), props));
  }
  // ---- frames
  // _in takes one frame (a string) or binary message (Uint8Array) from c.
  E(c, f) {
    if (c.l) return;
    c.X = now();
    try {
      const s = typeof f == "string", t = s && f[0], v = s && f.slice(1);
      if (t == "H") return this.ma(c, JSON.parse(v));
      if (t == "C") {
        const m = closeOf(f);
        return this.c(c, m ? +m[1] : 4400, m ? m[2] : "bad frame");
      }
      if (c != this.a) return this.c(c, 0, "no hello");
      if (!s) this.U(c, f);
      else if (t == "M") this.U(c, v);
      else if (t == "B") this.U(c, unb64(v));
      else if (t == "S" && num(v) > 0) c.J = num(v);
      else if (t == "A") {
        if (!this.I(num(v))) throw Error("bad ack");
      } else if (t == "P") {
        if (this.g > this.r || now() - c.e >= this.p.hb / 2) c.F?.();
      } else throw Error("bad frame");
    } catch (e) {
      this.c(c, c == this.a ? 4400 : 0, e.message);
    }
  }
  // _data delivers one message numbered by c's last S frame.
  U(c, d) {
    const s = c.J;
    if (!s) throw Error("no S frame");
    c.J++;
    if (s <= this.g) return;
    if (s > this.g + 1) throw Error("bad sequence");
    this.g = s;
    this.L += d.length;
    if (this.g - this.r >= 32 || this.L >= this.p.queue / 4) this.h();
    else this.T ||= setTimeout(() => this.h(), 1e3);
    if (typeof d != "string") d = this.binaryType == "arraybuffer" ? d.buffer : new Blob([d]);
    this.m("message", { data: d });
  }
  // _ack releases the messages the server acknowledged; false if it acknowledged one
  // never sent.
  I(n) {
    if (n < 0 || n > this.e) return false;
    const k = n - this.i + 1;
    if (k > 0) {
      for (const [, b] of this.n.splice(0, k)) this.x -= b;
      this.i = n + 1;
      if (this.k && !this.n.length) this.h();
    }
    return true;
  }
  // _takeAck returns the ack frame due, if any, and counts it as told.
  w() {
    if (this.g > this.r) {
      this.r = this.g;
      this.L = 0;
      clearTimeout(this.T);
      this.T = 0;
      return "A" + this.g;
    }
  }
  h() {
    this.a?.h();
  }
};
STATES.forEach((s, i) => Lifeline[s] = Lifeline.prototype[s] = i);
var lifeline_default = Lifeline;
export {
  Lifeline,
  lifeline_default as default
};
