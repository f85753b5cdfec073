import type {SweepQuant} from '../kernels/index.js'
import {obsSweep, sparsegpt} from './sparsegpt.js'
import type {PruningMethod} from './types.js'

/** The quantizer of the OBS sweep (algorithms spec §14). */
export interface QuantOptions {
  bits: number
  /** Input columns per group with their own scale and zero point; 0: one per output row. */
  groupsize: number
  sym: boolean
  /** The dtype the scales are stored in (the model's): each is rounded to it when found, so every output holds the same values. */
  scaleDtype: SweepQuant['scaleDtype']
}

/** A finished linear's quantization: w = scale·(code − zero), per row or per group. */
export interface QuantState {
  bits: number
  groupsize: number
  sym: boolean
  rows: number
  cols: number
  /** (rows, groups) */
  scales: Float32Array
  zeros: Float32Array
  /** One code in [0, 2^bits) per weight, (rows, cols); null when a short last group (width not a multiple of the group size) leaves them unpacked. */
  codes: Uint8Array | null
}

export type QuantMethod = PruningMethod & {quant: QuantOptions; state(weight: Float32Array): QuantState | undefined}

/**
 * GPTQ (Frantar et al. 2022, `--method gptq`), or SparseGPT pruning and quantizing in one sweep
 * (`--method sparsegpt --wbits`): the sweep of sparsegpt.ts with the reference's quantizer.
 */
export function quantizingMethod(base: 'gptq' | 'sparsegpt', q: QuantOptions): QuantMethod {
  const states = new WeakMap<Float32Array, QuantState>()
  const scheme = `${q.bits}-bit ${q.sym ? 'symmetric' : 'asymmetric'} weights${q.groupsize ? `, groups of ${q.groupsize}` : ', per row'}`
  const info = base === 'gptq'
    ? {id: 'gptq', title: `GPTQ: one-shot OBS quantization to ${scheme}`, paper: 'https://arxiv.org/abs/2210.17323'}
    : {id: 'sparsegpt', title: `${sparsegpt.title}, quantized to ${scheme} in the same sweep`, paper: sparsegpt.paper}
  return {
    ...info,
    needsGradients: false,
    needsHessian: true,
    needsCalibration: true,
    quant: q,
    prune(ctx) {
      const {rows, cols, weight, kernels: k} = ctx
      const gs = q.groupsize || cols, groups = Math.ceil(cols / gs), whole = cols % gs === 0
      const s: QuantState = {bits: q.bits, groupsize: q.groupsize, sym: q.sym, rows, cols, scales: new Float32Array(rows * groups),
        zeros: new Float32Array(rows * groups), codes: whole ? new Uint8Array(rows * cols) : null}
      const mask = obsSweep(ctx, base === 'sparsegpt', {...q, scales: s.scales, zeros: s.zeros})
      // The codes of the swept weights, which lie on their grid: requantizing them returns them unchanged.
      if (s.codes) k.gqsaFakeQuant(new Float32Array(rows * cols), weight, s.scales, s.zeros, new Uint8Array(rows * groups), rows, cols, gs, q.bits, s.codes)
      states.set(weight, s)
      return mask
    },
    state: (weight) => states.get(weight),
  }
}

/** The registry's entry: 4-bit per row until the command line says otherwise. */
export const gptq = quantizingMethod('gptq', {bits: 4, groupsize: 0, sym: false, scaleDtype: 'F32'})
