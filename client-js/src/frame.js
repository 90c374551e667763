// Frames and HTTP bodies of docs/protocol.md §2, and the small helpers every
// transport shares.

export const now = () => Date.now()

// num parses a frame's decimal number: no sign, no leading zeros, and (in
// JavaScript) at most 2^53-1. It returns -1 for anything else.
export const num = s => /^(0|[1-9]\d{0,15})$/.test(s) && s <= 2 ** 53 - 1 ? +s : -1

// utf8 is the length of s in UTF-8 bytes (a lone surrogate is sent as U+FFFD: 3).
const te = new TextEncoder()
export const utf8 = s => te.encode(s).length

// event writes one frame as an event of the SSE line format. A single space after
// "data:" is dropped by the reader, so writing one always keeps leading spaces.
export const event = f => 'data: ' + f.replaceAll('\n', '\ndata: ') + '\n\n'

// parser returns a function that takes a body chunk by chunk (text) and calls emit
// with each complete frame. Lines other than "data:" ones are ignored. It throws when
// a line or frame grows past limit characters.
export const parser = (emit, limit = 4e6) => {
  let buf = '', ev // (null or undefined: no event under way)
  return chunk => {
    const lines = (buf + chunk).split('\n')
    buf = lines.pop() // the line not ended yet
    for (let line of lines) {
      if (!line) {
        if (ev != null) emit(ev)
        ev = null
      } else if (line != (line = line.replace(/^data: ?/, ''))) {
        // (a data line: its field name is gone)
        ev = ev == null ? line : ev + '\n' + line
        if (ev.length > limit) throw Error('too large')
      }
    }
    if (buf.length > limit + 6) throw Error('too large')
  }
}

// closeOf matches a C frame: [, code, reason].
export const closeOf = f => /^C(\d+) ?([^]*)$/.exec(f)

// b64 and unb64 are the base64 of B frames (standard alphabet, padded).
export const b64 = u => btoa(u.reduce((s, b) => s + String.fromCharCode(b), ''))
export const unb64 = s => Uint8Array.from(atob(s), c => c.charCodeAt(0))

// backoff is the n-th wait (from 0) between failed attempts: full jitter, a random
// duration up to backoffMin·2^n, capped at backoffMax (o: the options).
export const backoff = (o, n) => random(Math.min(o.backoffMax, o.backoffMin * 2 ** n))

// random is a random duration in [0, d).
export const random = d => d * Math.random()

// Close codes (docs/protocol.md §7, both tables): what a code means for the client:
// "reconnect" for no code (a network failure), a heartbeat timeout, a superseded
// connection and the WebSocket codes of a failed connection or intermediary; "reset"
// for those after which the session is gone; "stop" for every other code.
export const action = code =>
  code <= 0 || /^(440[89]|100[156]|101[1-5])$/.test(code) ? 'reconnect' : /^4(404|410|429|440|50[37])$/.test(code) ? 'reset' : 'stop'
