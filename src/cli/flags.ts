import {Flags} from '@oclif/core'

import {usage} from '../util/errors.js'

/** Bounds of a numeric flag: inclusive `min`/`max`, exclusive `above`/`below`. */
export interface Bounds extends Record<string, unknown> {
  min?: number
  max?: number
  above?: number
  below?: number
}

/** "an integer from 2 to 4", "a number of at least 0 and below 1", "a number above 0", "an integer". */
export function allowed(kind: string, b: Bounds): string {
  const low = b.min !== undefined ? `of at least ${b.min}` : b.above !== undefined ? `above ${b.above}` : null
  const high = b.max !== undefined ? `at most ${b.max}` : b.below !== undefined ? `below ${b.below}` : null
  if (b.min !== undefined && b.max !== undefined) return `${kind} from ${b.min} to ${b.max}`
  return [kind, [low, high].filter(Boolean).join(' and ')].filter(Boolean).join(' ')
}

const within = (n: number, b: Bounds) => (b.min === undefined || n >= b.min) && (b.max === undefined || n <= b.max)
  && (b.above === undefined || n > b.above) && (b.below === undefined || n < b.below)

/** A refusal that says what the flag allows and what it was given (oclif's own says only "Parsing --x"). */
const refuse = (name: string, what: string, input: string) => usage(`--${name} must be ${what}, got ${input.trim() === '' ? 'nothing' : input}`)

/** An integer flag, e.g. `intFlag({description, min: 2})`. */
export const intFlag = Flags.custom<number, Bounds>({
  async parse(input, _ctx, opts) {
    const n = /^\s*[+-]?\d+\s*$/.test(input) ? Number(input) : NaN
    if (!Number.isSafeInteger(n) || !within(n, opts)) throw refuse(opts.name, allowed('an integer', opts), input)
    return n
  },
})

/** A decimal number flag (learning rates, fractions, percentages). */
export const numberFlag = Flags.custom<number, Bounds>({
  async parse(input, _ctx, opts) {
    const n = input.trim() === '' ? NaN : Number(input)
    if (!Number.isFinite(n) || !within(n, opts)) throw refuse(opts.name, allowed('a number', opts), input)
    return n
  },
})

/** The reason in oclif's wrapping of a flag's parse error ("Parsing --x \n\t<reason>\nSee more help..."), or null. */
export function flagParseReason(message: string): string | null {
  const m = /^Parsing --\S+ *\n\t(.*)/.exec(message)
  return m ? m[1] : null
}
