import {kernels, type Backend} from '../kernels/index.js'
import type {Model} from '../model/model.js'
import {FLOAT_DTYPES, type FloatDtype} from '../model/safetensors/dtypes.js'
import {invalidFormat} from '../util/errors.js'

const DAMAGED = 'the checkpoint is damaged; download or export it again'

/** Whether any float32 array in a block's weights (however a family nests them) holds a NaN or Inf. */
function anyNonFinite(k: Backend, value: unknown): boolean {
  if (value instanceof Float32Array) return k.countNonFinite(value) > 0
  if (value === null || typeof value !== 'object') return false
  return Object.values(value).some((v) => anyNonFinite(k, v))
}

/** The first float tensor among `names` with a NaN or Inf, read again to name it. */
function culprit(model: Model, k: Backend, names: string[]): string | undefined {
  return names.find((n) => FLOAT_DTYPES.includes(model.ckpt.entry(n).dtype as FloatDtype) && k.countNonFinite(model.ckpt.readF32(n)) > 0)
}

/**
 * The model as the forward pass reads it, every weight checked for NaN and Inf once loaded: a
 * damaged checkpoint would otherwise give a NaN perplexity. The check is one pass over weights that
 * the pass multiplies by anyway; only on a hit are the tensors read again to name the culprit.
 */
export function finiteWeights(model: Model, k: Backend = kernels()): Model {
  const seen = new WeakSet<object>()
  const inBlock = /(^|\.)layers\.(\d+)\./
  const fail = (names: string[], what: string): never => {
    const name = culprit(model, k, names)
    throw invalidFormat(`${name ?? what} contains NaN or Inf values`, DAMAGED)
  }
  const whole = <T extends object | null>(what: string, get: () => T) => () => {
    const w = get()
    if (w && !seen.has(w)) {
      if (anyNonFinite(k, w)) fail(model.ckpt.names().filter((n) => !inBlock.test(n)), what)
      seen.add(w)
    }
    return w
  }
  // The prototype keeps every other member of the model; only the weight readers are checked.
  const checked: Model = Object.create(model)
  checked.embeddings = whole('the embeddings', () => model.embeddings())
  checked.head = whole('the output head', () => model.head())
  checked.finalNorm = whole('the final norm', () => model.finalNorm())
  checked.projection = (which) => whole(`project_${which}`, () => model.projection(which))()
  checked.block = (layer, reuse) => {
    const w = model.block(layer, reuse)
    if (anyNonFinite(k, w)) fail(model.ckpt.names().filter((n) => inBlock.exec(n)?.[2] === String(layer)), `block ${layer}`)
    return w
  }
  return checked
}
