// The script-tag build of request.js (load it before constructing a Lifeline): exposes
// LifelineRequestError as a global.
import { LifelineRequestError } from './request.js'

globalThis.LifelineRequestError = LifelineRequestError
