// lifeline-client: built from src/ by build.mjs; do not edit.

// src/websocket.js
function websocket(s, req) {
  const ws = new (s.k.WebSocket || WebSocket)(s.p("ws"));
  let next = 0, seq, closing;
  const send = (f) => {
    ws.send(f);
    s.l();
  };
  const c = {
    q: (r) => send("R" + JSON.stringify(r)),
    r: () => {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      ws.close();
    },
    m: () => send(s.f() || "P"),
    // flush writes what the session has for the server: the messages from next, the
    // ack due, the close.
    a: () => {
      const [q, base, close] = s.g(), end = base + q.length;
      if (next < base) next = base;
      for (; next < end; seq = ++next) {
        if (next != seq) send("S" + next);
        send(q[next - base][0]);
      }
      s.l(next - 1);
      const a = s.f();
      if (a) send(a);
      if (close && !closing) send("C" + close.join(" ")), closing = 1;
    }
  };
  ws.binaryType = "arraybuffer";
  ws.onopen = () => c.q(req);
  ws.onmessage = (e) => s.h(typeof e.data == "string" ? e.data : new Uint8Array(e.data));
  ws.onclose = ws.onerror = (e) => s.b(e.code == 1009 ? 4413 : e.code == 1e3 || e.code >= 4e3 ? e.code : 0, e.reason);
  return c;
}

// src/frame.js
var now = () => Date.now();
var num = (s) => /^(0|[1-9]\d{0,15})$/.test(s) && s <= 2 ** 53 - 1 ? +s : -1;
var te = new TextEncoder();
var utf8 = (s) => te.encode(s).length;
var event = (f) => "data: " + f.replaceAll("\n", "\ndata: ") + "\n\n";
var parser = (emit, limit = 4e6) => {
  let buf = "", ev;
  return (chunk) => {
    const lines = (buf + chunk).split("\n");
    buf = lines.pop();
    for (let line of lines) {
      if (!line) {
        if (ev != null) emit(ev);
        ev = null;
      } else if (line != (line = line.replace(/^data: ?/, ""))) {
        ev = ev == null ? line : ev + "\n" + line;
        if (ev.length > limit) throw Error("too large");
      }
    }
    if (buf.length > limit + 6) throw Error("too large");
  };
};
var closeOf = (f) => /^C(\d+) ?([^]*)$/.exec(f);
var b64 = (u) => btoa(u.reduce((s, b) => s + String.fromCharCode(b), ""));
var unb64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
var backoff = (o, n) => random(Math.min(o.backoffMax, o.backoffMin * 2 ** n));
var random = (d) => d * Math.random();
var action = (code) => code <= 0 || /^(440[89]|100[156]|101[1-5])$/.test(code) ? "reconnect" : /^4(404|410|429|440|50[37])$/.test(code) ? "reset" : "stop";

// src/http.js
var conn = (s, name) => {
  const ac = new AbortController(), me = { s, A: name, t: ac.signal };
  return [{ r: () => ac.abort(), a: (idle) => uplink(me, idle) }, me.t];
};
async function request(s, endpoint, r, signal, body, keepalive) {
  const o = s.k, headers = {};
  for (const k in r) if (k != "v" && (r[k] ?? "") !== "") headers["Lifeline-" + (k == "sid" ? "session" : k)] = r[k];
  const res = await (o.fetch || fetch)(s.p(endpoint), {
    method: body && "POST",
    // (else fetch's default, GET)
    headers,
    body,
    signal,
    // no-store also keeps Chromium from holding a second GET of the same URL (another
    // Lifeline's held poll or stream, in this tab or another) behind its cache lock.
    cache: "no-store",
    // The request carrying the close outlives the page (it may be closing on pagehide).
    keepalive,
    credentials: o.withCredentials ? "include" : void 0
    // (else fetch's default, same-origin)
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
  throw Object.assign(Error(reason), { i: code });
}
async function read(s, signal, res) {
  const rd = res.body.getReader(), dec = new TextDecoder(), push = parser(s.h);
  for (; ; ) {
    const { done, value } = await rd.read();
    if (done || signal.aborted) return;
    s.c();
    push(dec.decode(value, { stream: true }));
  }
}
async function uplink(me, idle) {
  const u = me.s.u;
  u.B = me;
  if (u.n) return;
  u.n = 1;
  try {
    for (let n = 0; ; idle = 0) {
      const { s, A: name, t: sig } = u.B;
      if (sig.aborted) return;
      const [q, base, , h] = s.g(), had = q.length, [body, closing] = batch(s, name, idle);
      if (!body) return;
      try {
        parser(s.h)(await (await request(s, "send", s.w(), AbortSignal.timeout(h.hb + h.hbt), body, closing)).text());
        if (closing) return s.b(1e3);
        if (had && s.g()[1] == base) await sleep(s, n++);
        else n = 0;
      } catch (e) {
        if (e.i) return s.b(e.i, e.message);
        await sleep(s, n++);
      }
    }
  } finally {
    u.n = 0;
  }
}
var sleep = (s, n) => new Promise((r) => setTimeout(r, backoff(s.k, n)));
function batch(s, name, idle) {
  const [q, base, close, h] = s.g();
  let b = q.length ? event("S" + base) : "", k = 0, size = 0;
  for (const [d] of q) {
    const f = event(typeof d == "string" ? d : "B" + b64(d)), n = utf8(f);
    if (k && (k + 3 > h.batch || size + n + 300 > h.body)) break;
    b += f;
    size += n;
    k++;
  }
  const a = name == "stream" && s.f();
  if (a) b += event(a);
  const closing = close && !q.length;
  if (closing) b += event("C" + close.join(" "));
  if (b ||= idle ? event("P") : "") s.l(base + k - 1);
  return [b, closing];
}

// src/stream.js
function stream(s, req) {
  const [c, sig] = conn(s, "stream");
  c.m = () => c.a(1);
  request(s, "stream", req, sig).then((res) => read(s, sig, res)).then(() => s.b(-1), (e) => s.b(e.i | 0, e.message));
  return c;
}

// src/poll.js
function poll(s, req) {
  const [c, sig] = conn(s, "poll"), flush = c.a;
  let held;
  c.a = (i) => held || flush(i);
  (async () => {
    for (let r = req, greeted, body; ; ) {
      const text = await (await request(s, "poll", r, sig, body)).text();
      s.c(held = 1);
      parser((f) => (greeted = 1, s.h(f)))(text);
      if (sig.aborted) return;
      if (!greeted) throw 0;
      s.f();
      r = { ...s.w(1), conn: req.conn | 0 };
      held = 0;
      body = !s.u.n && batch(s, "poll")[0] || void flush();
    }
  })().catch((e) => s.b(e.i | 0, e.message));
  return c;
}

// src/lifeline.js
var HOOK = "LifelineHook";
var transports = { websocket, stream, poll };
var EVENTS = "open message close error transport reconnecting reconnected reset offline".split(" ");
var PAGE = "online offline visibilitychange resume pageshow pagehide".split(" ");
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
  offlineAfter: 3e4,
  maxQueued: 1 << 20,
  remember: 6e5
};
var fail = (name, msg) => new DOMException(msg, name);
var Lifeline = class extends EventTarget {
  constructor(url, options) {
    super();
    const ll = this;
    let u;
    try {
      u = new URL(url, globalThis.location?.href);
      if (!/^(http|ws)s?:$/.test(u.protocol) || u.href.includes("#")) throw 0;
    } catch {
      throw fail("SyntaxError", "bad URL " + url);
    }
    u.protocol = u.protocol.replace("ws", "http");
    const o = { ...options };
    for (const k in DEFAULTS) o[k] ??= DEFAULTS[k];
    if (!o.transports.length || o.transports.some((t) => !Object.hasOwn(transports, t))) throw TypeError("Lifeline: bad transports");
    ll.url = u.href;
    ll.readyState = 0;
    ll.transport = "";
    ll.reconnecting = false;
    ll.binaryType = "blob";
    for (const t of EVENTS) {
      ll["on" + t] = null;
      ll.addEventListener(t, (e) => ll["on" + t]?.(e));
    }
    const key = "lifeline:" + u.href;
    let q = [], qb = 0, fails = 0, race = /* @__PURE__ */ new Set(), up = {}, pd = o.reprobeMin, pl, sid, tok, conn2, base, sent, rx, told, rxb, hello, cur, att, probe, idx, closing, bt, rt, pt, at, ct, ot;
    const fresh = (code) => {
      sid = tok = "";
      base = 1;
      sent = rx = told = rxb = 0;
      code == 4429 || code == 4503 ? retry(code) : create();
    };
    const ep = (name) => {
      const u2 = new URL(ll.url);
      u2.pathname = u2.pathname.replace(/\/?$/, "/" + name);
      if (name == "ws") u2.protocol = u2.protocol.replace("http", "ws");
      return u2.href;
    };
    const creds = async () => {
      const a = o.auth;
      return typeof a == "function" ? a() : a;
    };
    const rreq = (auth) => {
      return { v: 1, sid, token: tok, ack: rx, conn: ++conn2, auth };
    };
    const start = (name, req, deadline, failed) => {
      const c = { name, e: req, x: failed };
      c.d = transports[name](
        {
          k: o,
          u: up,
          p: ep,
          h: (f) => rcv(c, f),
          c: (fresh2) => {
            c.c = now();
            if (fresh2) c.y = 0;
          },
          b: (code, reason) => end(c, code, reason),
          g: () => [q, base, closing, hello],
          l: (n) => {
            c.o = now();
            if (n > sent) sent = n;
          },
          f: takeAck,
          w: (a) => ({ sid, token: tok, ack: a && rx })
        },
        req
      );
      c.z = setTimeout(() => end(c, 0), deadline);
      race.add(c);
      return c;
    };
    const drop = (c) => {
      if (!c || c.j) return;
      c.j = 1;
      clearTimeout(c.z);
      clearTimeout(c.C);
      race.delete(c);
      c.d.r();
    };
    const dropAll = () => {
      for (const c of [cur, ...race]) drop(c);
      cur = att = probe = null;
    };
    const end = (c, code, reason = "") => {
      if (c.j) return;
      drop(c);
      if (c != cur) return c.x?.(code, reason);
      cur = null;
      lost(code, reason);
    };
    const create = async () => {
      let auth;
      try {
        auth = await creds();
      } catch (e) {
        return retry(0, e.message);
      }
      if (ll.readyState > 1 || sid) return;
      const order = [...o.transports], starts = [0, o.headStart, o.pollStart];
      const r = recall(), i = order.indexOf(r);
      if (i > 0) order.splice(1, 0, ...order.splice(i, 1)), starts[1] = 0;
      const t0 = now();
      let started = 0, failed = 0, first;
      const next = () => {
        clearTimeout(rt);
        if (sid || ll.readyState > 1) return;
        if (started == order.length) return failed == started && retry(...first);
        const name = order[started++];
        start(name, { v: 1, auth }, o.wsDeadline, (code, reason) => {
          if (!first || code > 0 && !(first[0] > 0)) first = [code, reason];
          if (++failed == started) next();
        });
        if (name == "poll") for (const x of race) x.name == "stream" && end(x, 0);
        if (started < order.length) rt = setTimeout(next, starts[started] - (now() - t0));
      };
      next();
    };
    const retry = (code, reason) => {
      if (action(code) == "stop") return finish(code, reason, false);
      bt = setTimeout(create, backoff(o, fails++));
    };
    const greet = (c, h) => {
      if (c == cur) return;
      if (!sid) {
        if (!h.token || !h.sid || h.ack) return end(c, 4400, "bad hello");
        sid = h.sid;
        tok = h.token;
        conn2 = 0;
        told = -1;
        return attach(c, h);
      }
      if (c.e.sid) return h.sid == sid ? attach(c, h) : end(c, 4400, "bad hello");
      if (c.name != "websocket" || c.D) return drop(c);
      c.D = 1;
      creds().then(
        (a) => c.j || !sid || c.d.q(c.e = rreq(a)),
        () => drop(c)
      );
    };
    const attach = (c, h) => {
      if (!ack(h.ack)) return end(c, 4400, "bad ack");
      for (const t of [c.z, bt, rt]) clearTimeout(t);
      race.delete(c);
      let late;
      for (const x of race) {
        if (x.e.sid || x.name != "websocket") drop(x);
        else late = x;
      }
      att = null;
      probe = late;
      if (late) late.x = (code) => probed(0, code);
      drop(cur);
      cur = c;
      hello = h;
      if (c.e.sid) told = c.e.ack;
      c.o = now();
      c.C = setInterval(() => tick(c), Math.min(1e3, h.hb / 4));
      fails = 0;
      if (c.name == "websocket") pd = o.reprobeMin, pl = 0;
      try {
        if (o.remember)
          c.name == o.transports[0] ? sessionStorage.removeItem(key) : sessionStorage.setItem(key, JSON.stringify([c.name, now() + o.remember]));
      } catch {
      }
      const was = ll.transport;
      ll.transport = c.name;
      if (was != c.name) fire("transport");
      ot = clearTimeout(ot);
      if (!ll.readyState) {
        ll.readyState = 1;
        fire("open");
      } else if (ll.reconnecting) {
        ll.reconnecting = false;
        fire("reconnected");
      }
      arm();
      c.d.a();
    };
    const recall = () => {
      try {
        const [t, exp] = JSON.parse(sessionStorage.getItem(key));
        if (exp > now() && o.remember) return t;
      } catch {
      }
    };
    const tick = (c) => {
      const h = hello, t = now();
      if (t - c.c > h.hb + h.hbt) end(c, 0);
      else if (t - c.o >= h.hb / 2) c.d.m?.();
    };
    const lost = (code, reason) => {
      if (gone(code, reason)) return;
      idx = Math.max(0, o.transports.indexOf(ll.transport));
      if (probe && code == 4409) return;
      if (code >= 0) reconn();
      resume();
    };
    const gone = (code, reason) => {
      const act = action(code);
      if (act == "reconnect") return false;
      if (closing) finish(...closing, code == 1e3);
      else if (act == "stop") finish(code, reason, code == 1e3);
      else reset(code, reason);
      return true;
    };
    const reconn = () => {
      if (!ll.reconnecting && ll.readyState == 1) {
        ll.reconnecting = true;
        fire("reconnecting");
        down();
      }
    };
    const down = () => o.offlineAfter > 0 && (ot = setTimeout(() => fire("offline"), o.offlineAfter));
    const resume = async () => {
      if (cur || att || ll.readyState > 2 || !sid) return;
      const name = o.transports[idx];
      att = 1;
      const failed = (code, reason) => {
        att = null;
        if (gone(code, reason)) return;
        reconn();
        idx = (idx + 1) % o.transports.length;
        bt = setTimeout(resume, backoff(o, fails++));
      };
      let a;
      try {
        a = await creds();
      } catch (e) {
        return failed(0, e.message);
      }
      if (cur || ll.readyState > 2) return att = null;
      att = start(name, rreq(a), name == "websocket" ? o.wsDeadline : o.connectTimeout, failed);
    };
    const arm = () => {
      const w = o.transports.indexOf("websocket");
      clearTimeout(pt);
      if (!cur || probe || w < 0 || o.transports.indexOf(cur.name) <= w) return;
      pt = setTimeout(async () => {
        try {
          const a = await creds();
          if (cur && !probe)
            probe = start("websocket", rreq(a), o.wsDeadline, (code) => probed(1, code));
        } catch {
          probed(1);
        }
      }, pd);
    };
    const probed = (wasProbe, code) => {
      probe = null;
      if (code == 4409) pd = pl = Math.min(2 * pl || 50, o.reprobeMin);
      else if (wasProbe) pd = Math.min(2 * pd, o.reprobeMax);
      if (cur) arm();
      else reconn(), resume();
    };
    const reset = (code, reason) => {
      const lost2 = q.splice(0, sent - base + 1);
      ext?.(lost2);
      qb = 0;
      for (const [, n] of q) qb += n;
      dropAll();
      clearTimeout(pt);
      takeAck();
      reconn();
      fire("reset", { code, reason, unsent: lost2.map(([d]) => typeof d == "string" ? d.slice(1) : d) });
      fresh(code);
    };
    const finish = (code, reason, clean) => {
      if (ll.readyState == 3) return;
      ll.readyState = 3;
      dropAll();
      for (const t of [bt, pt, at, ct, rt, ot]) clearTimeout(t);
      PAGE.map((t) => page.removeEventListener?.(t, hint, true));
      ll.reconnecting = false;
      if (!clean) fire("error");
      fire("close", { code, reason, wasClean: clean });
    };
    const fire = (type, props) => {
      ll.dispatchEvent(Object.assign(new Event(type), props));
    };
    const rcv = (c, f) => {
      if (c.j) return;
      c.c = now();
      try {
        const s = typeof f == "string", t = s && f[0], v = s && f.slice(1);
        if (t == "H") return greet(c, JSON.parse(v));
        if (t == "C") {
          const m = closeOf(f);
          return end(c, m ? +m[1] : 4400, m ? m[2] : "bad frame");
        }
        if (c != cur) return end(c, 0);
        if (!s) data(c, f);
        else if (t == "M") data(c, v);
        else if (t == "B") data(c, unb64(v));
        else if ("QYX".includes(t)) data(c, f, 1);
        else if (t == "S" && num(v) > 0) c.y = num(v);
        else if (t == "A") {
          if (!ack(num(v))) throw Error("bad ack");
        } else if (t == "P") {
          if (rx > told || now() - c.o >= hello.hb / 2) c.d.m?.();
        } else throw Error("bad frame");
      } catch (e) {
        end(c, c == cur ? 4400 : 0, e.message);
      }
    };
    const data = (c, d, typed) => {
      const s = c.y++;
      if (!s || s > rx + 1) throw Error("bad sequence");
      if (s <= rx) return;
      rx = s;
      rxb += d.length;
      if (rx - told >= 32 || rxb >= hello.queue / 4) flush();
      else at ||= setTimeout(flush, 5e3 + random(5e3));
      if (typed) return ext?.(d);
      if (typeof d != "string") d = ll.binaryType == "arraybuffer" ? d.buffer : new Blob([d]);
      fire("message", { data: d });
    };
    const ack = (n) => {
      if (n < 0 || n > sent) return false;
      const k = n - base + 1;
      if (k > 0) {
        for (const [, b] of q.splice(0, k)) qb -= b;
        base = n + 1;
        if (closing && !q.length) flush();
      }
      return true;
    };
    const takeAck = () => {
      if (rx > told) {
        told = rx;
        rxb = 0;
        at = clearTimeout(at);
        return "A" + rx;
      }
    };
    const flush = () => {
      cur?.d.a();
    };
    const put = (d, n) => {
      if (n > (hello?.msg || 65536)) throw RangeError("Lifeline: message too big");
      if (qb + n > o.maxQueued) throw fail("QuotaExceededError", "send queue full");
      q.push([d, n]);
      qb += n;
      flush();
    };
    ll.send = (d) => {
      if (ll.readyState > 1) throw fail("InvalidStateError", "closed");
      if (d instanceof ArrayBuffer || ArrayBuffer.isView(d)) put(d = new Uint8Array(d.buffer || d, d.byteOffset, d.byteLength).slice(), d.length);
      else if (d instanceof Blob) throw TypeError("Lifeline: send blob.arrayBuffer()");
      else put("M" + (d = String(d)), utf8(d));
    };
    ll.close = (code, reason = "") => {
      if (code !== void 0 && code != 1e3 && !(code >= 3e3 && code < 5e3))
        throw fail("InvalidAccessError", "close code " + code);
      if (utf8(reason) > 123) throw fail("SyntaxError", "reason too long");
      if (ll.readyState > 1) return;
      if (!sid) return finish(1006, "", false);
      ll.readyState = 2;
      closing = [code || 1e3, reason];
      ct = setTimeout(() => finish(1006, "close timeout", false), 5e3);
      flush();
    };
    Object.defineProperties(ll, {
      // bufferedAmount is the bytes of the messages sent that the server has not
      // acknowledged yet, queued ones included.
      bufferedAmount: { get: () => qb },
      // sessionId is the public id of the current session ('' before the first hello).
      sessionId: { get: () => sid }
    });
    const page = o.page ?? globalThis, hint = (e) => {
      const t = e.type;
      if (t == "pagehide") e.persisted || ll.close();
      else if (cur) (t == "offline" || e.persisted || now() - cur.c > hello.hb) && end(cur, 0);
      else if (sid && !att) clearTimeout(bt), resume();
    };
    PAGE.map((t) => page.addEventListener?.(t, hint, true));
    ll.E = finish;
    const ext = globalThis[HOOK]?.(ll, q, put);
    down();
    fresh();
  }
};
STATES.forEach((s, i) => Lifeline[s] = Lifeline.prototype[s] = i);
var lifeline_default = Lifeline;
export {
  Lifeline,
  lifeline_default as default
};
