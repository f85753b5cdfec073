import {dsnot} from './dsnot.js'
import {gblm} from './gblm.js'
import {gptq} from './gptq.js'
import {gqsaMethod} from './gqsa.js'
import {magnitude} from './magnitude.js'
import {sparsegpt} from './sparsegpt.js'
import type {PruningMethod} from './types.js'
import {wanda} from './wanda.js'

/** Every method, by the id the CLI takes. */
export const METHODS: Record<string, PruningMethod> = {magnitude, wanda, sparsegpt, gblm, dsnot, gqsa: gqsaMethod(), gptq}
