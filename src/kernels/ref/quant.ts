import type {SweepQuant} from '../backend.js'
import {bf16ToF32, f16ToF32, f32ToBf16, f32ToF16} from './convert.js'

const f = Math.fround

/** torch.round: to the nearest integer, ties to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x)
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r
}

/** x rounded to the storage dtype of the scales (nearest even). */
function toDtype(x: number, dtype: SweepQuant['scaleDtype']): number {
  if (dtype === 'F32') return x
  const h = new Uint16Array(1), out = new Float32Array(1)
  if (dtype === 'BF16') { f32ToBf16(h, Float32Array.of(x)); bf16ToF32(out, h) } else { f32ToF16(h, Float32Array.of(x)); f16ToF32(out, h) }
  return out[0]
}

export interface QuantParams {
  scale: number
  zero: number
}

/**
 * IST-DASLab quant.py's find_params for one row or group, in float32: min-max with 0 forced into the
 * range; values whose `skip` flag is set count as 0 (pruned weights).
 */
export function findParams(x: ArrayLike<number>, skip: ArrayLike<number> | null, bits: number, sym: boolean, dtype: SweepQuant['scaleDtype'] = 'F32'): QuantParams {
  const maxq = 2 ** bits - 1
  let xmin = 0, xmax = 0
  for (let i = 0; i < x.length; i++) {
    if (skip && skip[i]) continue
    xmin = Math.min(xmin, x[i])
    xmax = Math.max(xmax, x[i])
  }
  if (sym) {
    xmax = Math.max(Math.abs(xmin), xmax)
    if (xmin < 0) xmin = -xmax
  }
  if (xmin === 0 && xmax === 0) { xmin = -1; xmax = 1 }
  let scale = toDtype(f(f(xmax - xmin) / maxq), dtype)
  if (scale === 0) scale = dtype === 'F16' ? 2 ** -24 : f(2 ** -133)   // the dtype's smallest step, not a division by zero
  return {scale, zero: sym ? (maxq + 1) / 2 : roundHalfEven(f(-xmin / scale)) + 0}   // + 0: no −0 zero point
}

/** The integer code of x: clamp(round(x / scale) + zero, 0, 2^bits − 1). */
export function quantCode(x: number, p: QuantParams, bits: number): number {
  return Math.min(Math.max(roundHalfEven(f(x / p.scale)) + p.zero, 0), 2 ** bits - 1)
}

/** quant.py's quantize: scale·(code − zero), in float32. */
export function quantApply(x: number, p: QuantParams, bits: number): number {
  return f(p.scale * (quantCode(x, p, bits) - p.zero))
}
