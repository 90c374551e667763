// lifeline-client: built from src/ by build.mjs; do not edit.

// src/websocket.js
function websocket(ll, req) {
  const ws = new (ll.d.WebSocket || WebSocket)(ll.W("ws"));
  const c = { name: "websocket" };
  const send = (f) => {
    ws.send(f);
    c.e = Date.now();
  };
  c.q = (r) => send("R" + JSON.stringify(c.g = r));
  ws.binaryType = "arraybuffer";
  ws.onopen = () => c.q(req);
  ws.onmessage = (e) => ll.G(c, typeof e.data == "string" ? e.data : new Uint8Array(e.data));
  ws.onclose = ws.onerror = (e) => ll.b(c, e.code == 1009 ? 4413 : e.code == 1e3 || e.code >= 4e3 ? e.code : 0, e.reason);
  c.X = () => {
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    ws.close();
  };
  c.f = (code) => ws.close(code);
  c.H = () => send(ll.A() || "P");
  c.j = () => {
    const q = ll.l, base = ll.h, end = base + q.length;
    if (c.k < base) c.k = base;
    if (c.k < end) {
      if (c.k != c.fa) send("S" + c.k);
      while (c.k < end) {
        const d = q[c.k++ - base][0];
        send(typeof d == "string" ? "M" + d : d);
      }
      c.fa = c.k;
    }
    ll.e = Math.max(ll.e, c.k - 1);
    const a = ll.A();
    if (a) send(a);
    if (ll.f && !c.I) send("C" + ll.f.join(" ")), c.I = 1;
  };
  return c;
}

// src/frame.js
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
        if (ev.length > limit) throw Error("frame too large");
      }
    }
    buf = buf.slice(p);
    if (buf.length > limit + 6) throw Error("line too large");
  };
};
var b64 = (u) => {
  let s = "";
  for (let i = 0; i < u.length; i += 8192) s += String.fromCharCode.apply(null, u.subarray(i, i + 8192));
  return btoa(s);
};
var unb64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
var backoff = (o, n) => Math.random() * Math.min(o.backoffMax, o.backoffMin * 2 ** n);
var RESET = [4404, 4410, 4429, 4440, 4503, 4507];
var action = (code) => code <= 0 || code == 4408 || code == 4409 ? "reconnect" : RESET.includes(code) ? "reset" : "stop";

// src/http.js
var conn = (ll, name) => {
  const ac = new AbortController();
  return { name, J: ac, X: () => ac.abort(), j: () => uplink(ll) };
};
async function request(ll, endpoint, r, signal, body) {
  const o = ll.d, headers = {};
  const set = (k, v) => v != null && v !== "" && (headers["Lifeline-" + k] = v);
  set("Session", r.sid);
  set("Token", r.token);
  set("Ack", r.ack);
  set("Conn", r.conn);
  set("Auth", r.auth);
  if (body) headers["Content-Type"] = "text/plain;charset=utf-8";
  const res = await (o.fetch || fetch)(ll.W(endpoint), {
    method: body ? "POST" : "GET",
    headers,
    body,
    signal,
    cache: "no-store",
    credentials: o.withCredentials ? "include" : "same-origin"
  });
  if (res.ok) return res;
  let code = 0, reason = "HTTP " + res.status;
  try {
    parser((f) => {
      const m = /^C(\d+) ?([^]*)$/.exec(f);
      if (m) code = +m[1], reason = m[2];
    })(await res.text());
  } catch {
  }
  throw Object.assign(Error(reason), { B: code });
}
async function read(ll, c, res) {
  const rd = res.body.getReader(), dec = new TextDecoder(), push = parser((f) => ll.G(c, f));
  for (; ; ) {
    const { done, value } = await rd.read();
    if (done || c.m) return;
    c.K = Date.now();
    push(dec.decode(value, { stream: true }));
  }
}
async function uplink(ll, idle) {
  if (ll.Y) return;
  ll.Y = 1;
  try {
    for (let n = 0; ; idle = 0) {
      const c = ll.a;
      if (!c || c.m || !c.J) return;
      const body = batch(ll, c, idle);
      if (!body) return;
      const base = ll.h, sid = ll.c, h = ll.r, ac = new AbortController();
      const t = setTimeout(() => ac.abort(), h.hb + h.hbt);
      c.e = Date.now();
      try {
        const res = await request(ll, "send", { sid, token: ll.w }, ac.signal, body);
        const text = await res.text();
        if (sid == ll.c) parser((f) => f[0] == "A" && ll.L(num(f.slice(1))))(text);
        if (c.I) return ll.o(ll.f[0], ll.f[1], true);
        if (ll.l.length && ll.h == base) await sleep(ll, n++);
        else n = 0;
      } catch (e) {
        if (e.B) return ll.b(c, e.B, e.message);
        await sleep(ll, n++);
      } finally {
        clearTimeout(t);
      }
    }
  } finally {
    ll.Y = 0;
  }
}
var sleep = (ll, n) => new Promise((r) => setTimeout(r, backoff(ll.d, n)));
var heartbeat = (ll) => uplink(ll, 1);
function batch(ll, c, idle) {
  const q = ll.l, h = ll.r;
  let b = "", k = 0, size = 0;
  if (q.length) {
    b = event("S" + ll.h);
    for (const [d] of q) {
      const f = event(typeof d == "string" ? "M" + d : "B" + b64(d)), n = utf8(f);
      if (k && (k + 3 > h.batch || size + n + 300 > h.body)) break;
      b += f;
      size += n;
      k++;
    }
    ll.e = Math.max(ll.e, ll.h + k - 1);
  }
  const a = c.name == "stream" && ll.A();
  if (a) b += event(a);
  if (ll.f && !q.length) b += event("C" + ll.f.join(" ")), c.I = 1;
  return b || (idle ? event("P") : "");
}

// src/stream.js
function stream(ll, req) {
  const c = conn(ll, "stream");
  c.H = () => heartbeat(ll);
  request(ll, "stream", req, c.J.signal).then((res) => read(ll, c, res)).then(() => ll.b(c, -1), (e) => ll.b(c, e.B || 0, e.message));
  return c;
}

// src/poll.js
function poll(ll, req) {
  const c = conn(ll, "poll");
  (async () => {
    for (let r = req; ; ) {
      const res = await request(ll, "poll", r, c.J.signal);
      const body = await res.text();
      if (c.m) return;
      c.M = 0;
      parser((f) => ll.G(c, f))(body);
      if (c.m) return;
      if (c != ll.a) throw Error("no hello");
      ll.A();
      r = { sid: ll.c, token: ll.w, ack: ll.i, conn: c.g.conn || 0 };
    }
  })().catch((e) => ll.b(c, e.B || 0, e.message));
  return c;
}

// src/lifeline.js
var transports = { websocket, stream, poll };
var EVENTS = ["open", "message", "close", "error", "transport", "reconnecting", "reconnected", "reset"];
var STATES = ["CONNECTING", "OPEN", "CLOSING", "CLOSED"];
var DEFAULTS = {
  transports: ["websocket", "stream", "poll"],
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
var now = () => Date.now();
var fail = (name, msg) => new DOMException("Lifeline: " + msg, name);
var Lifeline = class extends EventTarget {
  constructor(url, options) {
    super();
    let u;
    try {
      u = new URL(url, globalThis.location?.href);
    } catch {
      throw fail("SyntaxError", "bad URL " + url);
    }
    if (!/^(http|ws)s?:$/.test(u.protocol) || u.href.includes("#"))
      throw fail("SyntaxError", "bad URL " + url);
    u.protocol = u.protocol.replace("ws", "http");
    const o = this.d = { ...options };
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
    this.l = [];
    this.h = 1;
    this.x = 0;
    this.e = 0;
    this.i = 0;
    this.s = 0;
    this.C = 0;
    this.c = this.w = "";
    this.Z = 0;
    this.y = /* @__PURE__ */ new Set();
    this.N = 0;
    this.D = o.reprobeMin;
    this.O();
  }
  // bufferedAmount is the bytes of the messages sent that the server has not
  // acknowledged yet, queued ones included.
  get bufferedAmount() {
    return this.x;
  }
  // sessionId is the public id of the current session ('' before the first hello).
  get sessionId() {
    return this.c;
  }
  send(d) {
    if (this.readyState > 1) throw fail("InvalidStateError", "closed");
    if (d instanceof ArrayBuffer) d = new Uint8Array(d.slice(0));
    else if (ArrayBuffer.isView(d)) d = new Uint8Array(d.buffer.slice(d.byteOffset, d.byteOffset + d.byteLength));
    else if (globalThis.Blob && d instanceof Blob) throw TypeError("Lifeline: send blob.arrayBuffer()");
    else d = String(d);
    const n = typeof d == "string" ? utf8(d) : d.length;
    const max = this.r?.msg || 65536;
    if (n > max) throw RangeError("Lifeline: message over " + max + " bytes");
    if (this.x + n > this.d.maxQueued) throw fail("QuotaExceededError", "send queue full");
    this.l.push([d, n]);
    this.x += n;
    this.j();
  }
  close(code, reason = "") {
    if (code !== void 0 && code != 1e3 && !(code >= 3e3 && code <= 4999))
      throw fail("InvalidAccessError", "close code " + code);
    if (utf8(reason) > 123) throw fail("SyntaxError", "reason over 123 bytes");
    if (this.readyState > 1) return;
    if (!this.c) return this.o(1006, "", false);
    this.readyState = 2;
    this.f = [code || 1e3, reason];
    this.ga = setTimeout(() => this.o(1006, "close timeout", false), 5e3);
    this.j();
  }
  // ---- connections
  // _url is the URL of an endpoint below the mount.
  W(name) {
    const u = new URL(this.url);
    u.pathname = u.pathname.replace(/\/?$/, "/" + name);
    if (name == "ws") u.protocol = u.protocol.replace("http", "ws");
    return u.href;
  }
  // _auth resolves the credentials to present (docs/protocol.md §1).
  async E() {
    const a = this.d.auth;
    return typeof a == "function" ? a() : a;
  }
  // _req is a resume request for the session, numbered as a new connection.
  g(auth) {
    return { v: 1, sid: this.c, token: this.w, ack: this.i, conn: ++this.Z, auth };
  }
  // _open starts a connection on transport name with req as its first request, and
  // gives it until deadline ms for its hello. failed(code, reason) is called if it
  // ends before it carries the session.
  P(name, req, deadline, failed) {
    const c = transports[name](this, req);
    c.g = req;
    c._ = failed;
    c.$ = setTimeout(() => this.b(c, 0, "no hello"), deadline);
    this.y.add(c);
    return c;
  }
  // _drop abandons a connection without telling anyone.
  p(c) {
    if (!c || c.m) return;
    c.m = 1;
    clearTimeout(c.$);
    clearInterval(c.ha);
    this.y.delete(c);
    c.X();
  }
  // _dropAll abandons every connection: current, opening and probing.
  aa() {
    for (const c of [this.a, ...this.y]) this.p(c);
    this.a = this.t = this.u = null;
  }
  // _end handles the end of connection c with a close code (0: a network failure, -1:
  // the server recycled a stream).
  b(c, code, reason = "") {
    if (c.m) return;
    this.p(c);
    if (c != this.a) return c._?.(code, reason);
    this.a = null;
    this.ia(code, reason);
  }
  // _create starts a fresh session by racing the transports (docs/protocol.md §4).
  async O() {
    let auth;
    try {
      auth = await this.E();
    } catch (e) {
      return this.Q(0, e.message);
    }
    if (this.readyState > 1 || this.c) return;
    const o = this.d, order = [...o.transports], at = [0, o.headStart, o.pollStart];
    const r = this.ja(), i = order.indexOf(r);
    if (i > 0) order.splice(1, 0, ...order.splice(i, 1)), at[1] = 0;
    const t0 = now();
    let started = 0, failed = 0, timer, first;
    const next = () => {
      clearTimeout(timer);
      if (this.c || this.readyState > 1) return;
      if (started == order.length) return failed == started && this.Q(...first);
      this.P(order[started++], { v: 1, auth }, o.wsDeadline, (code, reason) => {
        if (!first || code > 0 && !(first[0] > 0)) first = [code, reason];
        if (++failed == started) next();
      });
      if (started < order.length) this.ba = timer = setTimeout(next, at[started] - (now() - t0));
    };
    next();
  }
  // _retry follows a failed creation: stop, or create again after a backoff.
  Q(code, reason) {
    if (action(code) == "stop") return this.o(code, reason, false);
    this.R = setTimeout(() => this.O(), backoff(this.d, this.N++));
  }
  // _hello takes the hello that arrived on c.
  ka(c, h) {
    if (c == this.a) return;
    if (!this.c) {
      if (!h.token || !h.sid || h.ack) return this.b(c, 4400, "bad hello");
      this.c = h.sid;
      this.w = h.token;
      this.Z = 0;
      this.s = -1;
      return this.ca(c, h);
    }
    if (c.g.sid) return h.sid == this.c ? this.ca(c, h) : this.b(c, 4400, "bad hello");
    if (c.name != "websocket" || c.la) return this.p(c);
    c.la = 1;
    this.E().then(
      (a) => c.m || !this.c || c.q(this.g(a)),
      () => this.p(c)
    );
  }
  // _attach lets c, whose hello arrived, carry the session.
  ca(c, h) {
    if (!this.L(h.ack)) return this.b(c, 4400, "bad ack");
    const o = this.d;
    for (const t of [c.$, this.R, this.ba]) clearTimeout(t);
    this.y.delete(c);
    let late;
    for (const x of [...this.y]) {
      if (x.g.sid || x.name != "websocket") this.p(x);
      else late = x;
    }
    this.t = null;
    this.u = late;
    if (late) late._ = () => this.S(0);
    this.p(this.a);
    this.a = c;
    this.r = h;
    if (c.g.sid) this.s = c.g.ack;
    c.k = this.h;
    c.K = c.e = now();
    c.ha = setInterval(() => this.ma(c), Math.min(1e3, h.hb / 4));
    this.N = 0;
    if (c.name == "websocket") this.D = o.reprobeMin;
    try {
      if (!o.remember) throw 0;
      const k = "lifeline:" + this.url;
      c.name == o.transports[0] ? sessionStorage.removeItem(k) : sessionStorage.setItem(k, JSON.stringify([c.name, now() + o.remember]));
    } catch {
    }
    const was = this.transport;
    this.transport = c.name;
    if (was != c.name) this.n("transport");
    if (!this.readyState) {
      this.readyState = 1;
      this.n("open");
    } else if (this.reconnecting) {
      this.reconnecting = false;
      this.n("reconnected");
    }
    this.da();
    c.j();
  }
  // _recall returns the transport remembered for this URL, if not expired.
  ja() {
    try {
      const [t, exp] = JSON.parse(sessionStorage.getItem("lifeline:" + this.url));
      if (exp > now() && this.d.remember) return t;
    } catch {
    }
  }
  // _tick watches the current connection: dead after hb+hbt of silence; a heartbeat
  // when it carried nothing from us for hb/2.
  ma(c) {
    const h = this.r, t = now();
    if (t - c.K > h.hb + h.hbt) this.b(c, 0, "silent");
    else if (t - c.e >= h.hb / 2) c.H?.();
  }
  // _lost follows the end of the current connection (§4, §7).
  ia(code, reason) {
    if (this.ea(code, reason)) return;
    this.T = Math.max(0, this.d.transports.indexOf(this.transport));
    if (this.u && (code == 4409 || code < 0)) return;
    if (code >= 0) this.F();
    this.q();
  }
  // _gone handles a close code that ends the session (stop or reset); it reports
  // whether it did. While closing, the session ends with the application's code.
  ea(code, reason) {
    const act = action(code);
    if (act == "reconnect") return false;
    if (this.f) this.o(this.f[0], this.f[1], code == 1e3);
    else if (act == "stop") this.o(code, reason, code == 1e3);
    else this.na(code, reason);
    return true;
  }
  F() {
    if (!this.reconnecting && this.readyState == 1) {
      this.reconnecting = true;
      this.n("reconnecting");
    }
  }
  // _resume opens a connection resuming the session on the transport that last
  // worked, then down the order, with backoff between failed attempts.
  async q() {
    if (this.a || this.t || this.readyState > 2 || !this.c) return;
    const o = this.d, name = o.transports[this.T];
    this.t = 1;
    const failed = (code, reason) => {
      this.t = null;
      if (this.ea(code, reason)) return;
      this.F();
      this.T = (this.T + 1) % o.transports.length;
      this.R = setTimeout(() => this.q(), backoff(o, this.N++));
    };
    let a;
    try {
      a = await this.E();
    } catch (e) {
      return failed(0, e.message);
    }
    if (this.a || this.readyState > 2) return this.t = null;
    this.t = this.P(name, this.g(a), name == "websocket" ? o.wsDeadline : o.connectTimeout, failed);
  }
  // _arm schedules a WebSocket re-probe while the session runs below WebSocket (§4
  // step 6), unless a WebSocket is under way.
  da() {
    const o = this.d, w = o.transports.indexOf("websocket");
    clearTimeout(this.U);
    if (!this.a || this.u || w < 0 || o.transports.indexOf(this.a.name) <= w) return;
    this.U = setTimeout(async () => {
      try {
        const a = await this.E();
        if (this.a && !this.u)
          this.u = this.P("websocket", this.g(a), o.wsDeadline, () => this.S(1));
      } catch {
        this.S(1);
      }
    }, this.D);
  }
  // _probed follows a WebSocket probe (or late race WebSocket) that failed.
  S(probe) {
    this.u = null;
    if (probe) this.D = Math.min(2 * this.D, this.d.reprobeMax);
    if (this.a) this.da();
    else this.F(), this.q();
  }
  // _reset starts a fresh session after the server could not resume this one, and
  // tells the application (the reset event) what it may have lost.
  na(code, reason) {
    const k = Math.min(this.l.length, Math.max(0, this.e - this.h + 1));
    const lost = this.l.splice(0, k);
    for (const [, n] of lost) this.x -= n;
    this.aa();
    this.c = this.w = "";
    this.h = 1;
    this.e = this.i = this.s = this.C = 0;
    clearTimeout(this.U);
    clearTimeout(this.z);
    this.z = 0;
    this.F();
    this.n("reset", { code, reason, unsent: lost.map((m) => m[0]) });
    if (code == 4429 || code == 4503) this.Q(code, reason);
    else this.O();
  }
  // _finish ends the Lifeline: close event (after an error event unless clean).
  o(code, reason, clean) {
    if (this.readyState == 3) return;
    this.readyState = 3;
    this.aa();
    for (const t of [this.R, this.U, this.z, this.ga, this.ba]) clearTimeout(t);
    this.reconnecting = false;
    if (!clean) this.n("error");
    this.n("close", { code, reason, wasClean: clean });
  }
  // _fire dispatches an event: a MessageEvent or CloseEvent in all but class (the
  // CloseEvent class is missing outside browsers).
  n(type, props) {
    this.dispatchEvent(Object.assign(new Event(type), props));
  }
  // ---- frames
  // _in takes one frame (a string) or binary message (Uint8Array) from c.
  G(c, f) {
    if (c.m) return;
    c.K = now();
    try {
      if (typeof f != "string") return this.V(c, f);
      const t = f[0], v = f.slice(1);
      if (t == "H") return this.ka(c, JSON.parse(v));
      if (t == "C") {
        const m = /^(\d+) ?([^]*)$/.exec(v);
        return this.b(c, m ? +m[1] : 4400, m ? m[2] : "bad frame");
      }
      if (c != this.a) return this.b(c, 0, "no hello");
      if (t == "M") this.V(c, v);
      else if (t == "B") this.V(c, unb64(v));
      else if (t == "S" && num(v) > 0) c.M = num(v);
      else if (t == "A") {
        if (!this.L(num(v))) throw Error("bad ack");
      } else if (t == "P") {
        if (now() - c.e >= this.r.hb / 2) c.H?.();
      } else throw Error("bad frame");
    } catch (e) {
      this.oa(c, e.message);
    }
  }
  // _protocol stops on what the server may not send (4400).
  oa(c, reason) {
    if (c != this.a) return this.b(c, 0, reason);
    c.f?.(4400, reason);
    this.p(c);
    this.o(4400, reason, false);
  }
  // _data delivers one message numbered by c's last S frame.
  V(c, d) {
    if (c != this.a) return this.b(c, 0, "no hello");
    const s = c.M;
    if (!s) throw Error("no S frame");
    c.M++;
    if (s <= this.i) return;
    if (s > this.i + 1) throw Error("bad sequence");
    this.i = s;
    this.C += d.length;
    if (this.i - this.s >= 32 || this.C >= this.r.queue / 4) this.j();
    else this.z ||= setTimeout(() => this.j(), 1e3);
    if (typeof d != "string") d = this.binaryType == "arraybuffer" ? d.buffer : new Blob([d]);
    this.n("message", { data: d });
  }
  // _ack releases the messages the server acknowledged; false if it acknowledged one
  // never sent.
  L(n) {
    if (n < 0 || n > this.e) return false;
    const k = n - this.h + 1;
    if (k > 0) {
      for (const [, b] of this.l.splice(0, k)) this.x -= b;
      this.h = n + 1;
      if (this.f && !this.l.length) this.j();
    }
    return true;
  }
  // _takeAck returns the ack frame due, if any, and counts it as told.
  A() {
    if (this.i > this.s) {
      this.s = this.i;
      this.C = 0;
      clearTimeout(this.z);
      this.z = 0;
      return "A" + this.i;
    }
  }
  j() {
    this.a?.j();
  }
};
STATES.forEach((s, i) => Lifeline[s] = Lifeline.prototype[s] = i);
var lifeline_default = Lifeline;
export {
  Lifeline,
  lifeline_default as default
};
