// The script-tag build: exposes the Lifeline class as the global Lifeline.
import { Lifeline } from './lifeline.js'

globalThis.Lifeline = Lifeline
