// Types of lifeline-client: a WebSocket-shaped client of a Lifeline session.
// The wire protocol is docs/protocol.md in the Lifeline repository.

/** The transports, best first. */
export type Transport = 'websocket' | 'stream' | 'poll'

export interface LifelineOptions {
  /** Transports to use, best first; one entry forces it. Default ['websocket', 'stream', 'poll']. */
  transports?: Transport[]
  /**
   * Credentials for the server's authenticator: a value, or a function (sync or async)
   * called when a session is created and again before every resume, so a token can be
   * refreshed. Sent in the first WebSocket frame or the Lifeline-Auth header, never in
   * a URL. A function that throws fails that attempt, which is retried with backoff.
   * Default: none.
   */
  auth?: string | (() => string | undefined | Promise<string | undefined>)
  /** How long the first transport races alone before the second starts, if none works yet (ms). Default 150. */
  headStart?: number
  /** When the third transport starts, counted from the race's start, if none works yet (ms). Default 300. */
  pollStart?: number
  /** Bound on a WebSocket's handshake and hello, and on each attempt of a race (ms). Default 10000. */
  wsDeadline?: number
  /** Bound on the hello when resuming on an HTTP transport (ms). Default 3000. */
  connectTimeout?: number
  /** Waits between failed attempts: random (full jitter) up to backoffMin·2^n, at most backoffMax (ms). Defaults 250 and 10000. */
  backoffMin?: number
  backoffMax?: number
  /** WebSocket re-probes while on a fallback: first after reprobeMin, doubling up to reprobeMax (ms). Defaults 10000 and 300000. */
  reprobeMin?: number
  reprobeMax?: number
  /**
   * How long (ms) the client tries to reach the server, with no connection carrying the
   * session (from the loss of the connection, or from the start while none opened),
   * before it fires `offline`, once per outage. It keeps trying meanwhile. Default
   * 30000; 0 or less: never.
   */
  offlineAfter?: number
  /** Bytes sent but not yet acknowledged by the server (bufferedAmount) beyond which send throws QuotaExceededError. Default 1048576. */
  maxQueued?: number
  /**
   * How long (ms) a page load remembers, in sessionStorage, a fallback transport that
   * worked, so the next load of the same URL starts it at once beside WebSocket.
   * 0 turns it off. Default 600000 (10 minutes).
   */
  remember?: number
  /** Send cookies on cross-origin HTTP requests (fetch credentials 'include'). Default false. */
  withCredentials?: boolean
  /** The WebSocket implementation. Default the global WebSocket. */
  WebSocket?: typeof WebSocket
  /** The fetch implementation (it must stream response bodies). Default the global fetch. */
  fetch?: typeof fetch
  /**
   * Where the page's events come from (listened to in the capture phase, removed on
   * close). Default globalThis (the window); false turns this off. `offline`, and
   * `pageshow` from the back/forward cache, drop the connection at once and resume the
   * session (`reconnecting`, then `reconnected`; nothing is lost or repeated); `online`,
   * `visibilitychange` and `resume` (after a freeze) do so only when the connection has
   * carried nothing for longer than the heartbeat interval, and resume at once when no
   * connection is up. `pagehide` with `persisted` false (the page goes away for good)
   * calls close(): the close goes out at once on a WebSocket, and on the HTTP transports
   * in a keepalive POST once every message sent is acknowledged (the usual case). A page
   * put in the back/forward cache or frozen keeps its session.
   */
  page?: EventTarget | false
}

/** The reset event: the server could not resume the session (code and reason say why), so a fresh one is starting; messages may have been lost both ways. */
export interface LifelineResetEvent extends Event {
  readonly code: number
  readonly reason: string
  /** Messages sent on the old session that the server never acknowledged: they may or may not have arrived. Messages queued but never sent go on the new session. */
  readonly unsent: (string | Uint8Array)[]
}

/** A MessageEvent in all but class. */
export interface LifelineMessageEvent extends Event {
  readonly data: string | ArrayBuffer | Blob
}

/** A CloseEvent in all but class. */
export interface LifelineCloseEvent extends Event {
  readonly code: number
  readonly reason: string
  readonly wasClean: boolean
}

export interface LifelineEventMap {
  /** The first transport works: the session is open. */
  open: Event
  message: LifelineMessageEvent
  /** The session ended: after close(), a close code from the server, or a stop code. */
  close: LifelineCloseEvent
  /** Fired before a close that was not clean. */
  error: Event
  /** The transport property changed. */
  transport: Event
  /** The connection was lost; sends are queued while the session resumes. */
  reconnecting: Event
  /**
   * Connected again after `reconnecting`: on the same session (nothing was lost), or,
   * after a `reset`, on the new session that replaced it.
   */
  reconnected: Event
  reset: LifelineResetEvent
  /**
   * No connection has carried the session for offlineAfter: the server is unreachable.
   * Once per outage; `open` or `reconnected` ends it. The client keeps trying, and what
   * is sent meanwhile stays queued (at most maxQueued bytes, then send throws): it is
   * delivered once the session resumes, or listed in the `reset` event's unsent if
   * the server lost the session. (The Go client instead refuses writes while offline.)
   */
  offline: Event
}

export declare class Lifeline extends EventTarget {
  /**
   * Opens a session at the Lifeline mount URL: absolute or relative, http(s) or
   * ws(s) (every transport is tried either way). Throws a SyntaxError DOMException for
   * a URL with a fragment or another scheme, as WebSocket does, and a TypeError for
   * an empty `transports` list or a name not in it.
   */
  constructor(url: string | URL, options?: LifelineOptions)

  static readonly CONNECTING: 0
  static readonly OPEN: 1
  static readonly CLOSING: 2
  static readonly CLOSED: 3
  readonly CONNECTING: 0
  readonly OPEN: 1
  readonly CLOSING: 2
  readonly CLOSED: 3

  /** The mount URL, resolved, in its http(s) form. */
  readonly url: string
  /** CONNECTING until the first transport works, OPEN while the session lives (reconnecting included), CLOSING after close(), CLOSED. */
  readonly readyState: 0 | 1 | 2 | 3
  /** The transport carrying the session now ('' before open). */
  readonly transport: Transport | ''
  /** True while the session resumes after a lost connection. */
  readonly reconnecting: boolean
  /** The public id of the current session ('' before open). */
  readonly sessionId: string
  /** Bytes of messages sent but not yet acknowledged by the server, queued ones included. */
  readonly bufferedAmount: number
  /** How binary messages are delivered. Default 'blob', as in WebSocket. */
  binaryType: 'blob' | 'arraybuffer'

  /**
   * Sends a message: text, or binary from an ArrayBuffer or a view of one. It is
   * queued while connecting or reconnecting and delivered exactly once, in order.
   * Throws InvalidStateError after close(), RangeError over the server's message
   * limit (64 KiB by default), QuotaExceededError past maxQueued, TypeError for a Blob.
   */
  send(data: string | ArrayBufferLike | ArrayBufferView): void
  /**
   * Closes the session after the messages already sent are delivered (waiting at most
   * 5 s). Code 1000 or 3000-4999 (InvalidAccessError otherwise), reason at most 123
   * UTF-8 bytes (SyntaxError otherwise).
   */
  close(code?: number, reason?: string): void

  /**
   * Present once `lifeline-client/request` (or the server's `request.js`) was imported
   * before this Lifeline was constructed. Sends `data` to the server as a request and
   * resolves with its reply, exactly once across reconnects. Rejects with a
   * LifelineRequestError (reason 'timeout' after `timeout` ms, default 30000, 0 for
   * none; 'reset', 'closed', 'remote'), or throws like send (too big, queue full).
   */
  request?(data: string, options?: { timeout?: number }): Promise<string>
  /**
   * With the request module: answers the server's requests. Its return value (or what
   * its promise resolves to) is the reply; a throw or rejection fails the request with
   * the error's message. Null: the server's requests fail with 'no request handler'.
   */
  onrequest?: ((data: string) => string | Promise<string>) | null

  onopen: ((ev: Event) => any) | null
  onmessage: ((ev: LifelineMessageEvent) => any) | null
  onclose: ((ev: LifelineCloseEvent) => any) | null
  onerror: ((ev: Event) => any) | null
  ontransport: ((ev: Event) => any) | null
  onreconnecting: ((ev: Event) => any) | null
  onreconnected: ((ev: Event) => any) | null
  onreset: ((ev: LifelineResetEvent) => any) | null
  onoffline: ((ev: Event) => any) | null

  addEventListener<K extends keyof LifelineEventMap>(
    type: K,
    listener: (ev: LifelineEventMap[K]) => any,
    options?: boolean | AddEventListenerOptions,
  ): void
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void
  removeEventListener<K extends keyof LifelineEventMap>(
    type: K,
    listener: (ev: LifelineEventMap[K]) => any,
    options?: boolean | EventListenerOptions,
  ): void
  removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | EventListenerOptions): void
}

export default Lifeline
