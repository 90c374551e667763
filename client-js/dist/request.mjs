// lifeline-client/request: built from src/ by build.mjs; do not edit.

// src/frame.js
var num = (s) => /^(0|[1-9]\d{0,15})$/.test(s) && s <= 2 ** 53 - 1 ? +s : -1;
var te = new TextEncoder();
var utf8 = (s) => te.encode(s).length;

// src/request.js
var LifelineRequestError = class extends Error {
  constructor(reason, message) {
    super(message);
    this.name = "LifelineRequestError";
    this.reason = reason;
  }
};
var MAX_ERROR = 1024;
var hook = (ll, q, put) => {
  let mine = /* @__PURE__ */ new Map(), sent = 0, heard = 0, gen = 0;
  const queue = (f) => put(f, utf8(f));
  const settle = (id, result, reason) => {
    const r = mine.get(id);
    if (!r) return;
    mine.delete(id);
    clearTimeout(r.t);
    reason ? r.no(new LifelineRequestError(reason, result)) : r.ok(result);
  };
  ll.onrequest = null;
  ll.request = (data, { timeout = 3e4 } = {}) => new Promise((ok, no) => {
    if (ll.readyState > 1) throw new LifelineRequestError("closed", "closed");
    queue("Q" + (sent + 1) + " " + data);
    const id = ++sent;
    mine.set(id, { ok, no, t: timeout > 0 && setTimeout(() => settle(id, "timeout", "timeout"), timeout) });
  });
  const answer = (id, data) => {
    const g = gen, h = ll.onrequest;
    const reply = (t, text) => {
      if (g != gen || ll.readyState > 1) return;
      if (t == "X") text = text.slice(0, MAX_ERROR);
      try {
        queue(t + id + " " + text);
      } catch (e) {
        if (t == "Y") reply("X", e.message);
      }
    };
    new Promise((r) => r(h ? h(data) : Promise.reject(Error("no request handler")))).then(
      (y) => reply("Y", String(y)),
      (e) => reply("X", String(e?.message ?? e))
    );
  };
  const reset = (lost) => {
    const ours = ([d]) => typeof d == "string" && d[0] != "M";
    for (let i = lost.length; i--; ) if (ours(lost[i])) lost.splice(i, 1);
    const kept = /* @__PURE__ */ new Map();
    let j = 0;
    sent = heard = 0;
    gen++;
    for (const e of q) {
      if (ours(e)) {
        const d = e[0], sp = d.indexOf(" ");
        if (d[0] != "Q") continue;
        const old = +d.slice(1, sp), r = mine.get(old);
        e[0] = "Q" + ++sent + d.slice(sp);
        if (r) kept.set(sent, r), mine.delete(old);
      }
      q[j++] = e;
    }
    q.length = j;
    for (const [id] of mine) settle(id, "reset", "reset");
    mine = kept;
  };
  ll.addEventListener("close", () => {
    for (const [id] of mine) settle(id, "closed", "closed");
  });
  return (f) => {
    if (typeof f != "string") return reset(f);
    const sp = f.indexOf(" "), id = num(f.slice(1, sp)), text = f.slice(sp + 1);
    if (sp < 0 || id < 1) throw Error("bad request frame");
    if (f[0] == "Q") {
      if (id <= heard) throw Error("bad request id");
      heard = id;
      answer(id, text);
    } else {
      if (id > sent) throw Error("bad reply id");
      settle(id, text, f[0] == "X" && "remote");
    }
  };
};
globalThis.LifelineHook = hook;
export {
  LifelineRequestError
};
