import {argmax, Decoder} from '../model/engine/decode.js'
import type {Model} from '../model/model.js'
import {PackedStore, type DecodeFormat} from '../packed/store.js'
import {SparsifyError} from '../util/errors.js'

export interface DecodeSpeed {
  format: DecodeFormat
  tokens_per_second: number
  /** Bytes of the decoder linears as the format holds them. */
  linear_bytes: number
}

/**
 * Greedy decoding speed of `model` with its linears in `format`: a short prompt, then `tokens`
 * single-token steps timed (best of `reps` runs). Null with the reason when the model cannot be
 * held in that format (e.g. nm for a model that is not 2:4).
 */
export function decodeSpeed(model: Model, format: DecodeFormat, {tokens = 32, reps = 3, prepare}: {tokens?: number; reps?: number;
  prepare?: Parameters<typeof PackedStore.load>[2]} = {}): DecodeSpeed | {format: DecodeFormat; skipped: string} {
  let store: PackedStore
  try {
    store = PackedStore.load(model, format, prepare)
  } catch (err) {
    if (err instanceof SparsifyError) return {format, skipped: err.message}
    throw err
  }
  const prompt = [1, 2, 3, 4, 5, 6, 7, 8].map((i) => i % model.cfg.vocabSize)
  let best = Infinity
  for (let r = 0; r < reps; r++) {
    const dec = new Decoder(store, prompt.length + tokens + 1, undefined, store.headValues)
    let next = argmax(dec.step(prompt))
    const start = performance.now()
    for (let i = 0; i < tokens; i++) next = argmax(dec.step([next]))
    best = Math.min(best, (performance.now() - start) / 1000)
  }
  return {format, tokens_per_second: tokens / best, linear_bytes: store.linearBytes()}
}
