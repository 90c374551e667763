// Types of lifeline-client/request: importing it gives every Lifeline constructed
// afterwards request() and onrequest (declared in lifeline.d.ts).

/** Why a request failed. */
export type LifelineRequestFailure = 'timeout' | 'reset' | 'closed' | 'remote'

/**
 * Rejects ll.request(): 'timeout' (no reply in time; a later reply is ignored), 'reset'
 * (the server lost the session after the request was written), 'closed' (the Lifeline
 * closed), 'remote' (the server answered with an error; message is its text).
 */
export declare class LifelineRequestError extends Error {
  readonly name: 'LifelineRequestError'
  readonly reason: LifelineRequestFailure
  constructor(reason: LifelineRequestFailure, message: string)
}
