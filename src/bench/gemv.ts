import {kernels} from '../kernels/index.js'
import {randomNormal, seededRandom} from '../util/random.js'

export interface GemvResult {
  shape: [number, number]
  /** Milliseconds per product, best of the repetitions. */
  f32_ms: number
  bf16_ms: number
  nm24_ms: number
  /** Bytes read per weight by each format. */
  bytes_per_weight: {f32: number; bf16: number; nm24: number}
  nm24_speedup_vs_bf16: number
}

function best(reps: number, fn: () => void): number {
  fn()
  let t = Infinity
  for (let i = 0; i < reps; i++) {
    const s = performance.now()
    fn()
    t = Math.min(t, performance.now() - s)
  }
  return t
}

/**
 * Decode-time GEMV of one (rows, cols) weight in each format, on the same random 2:4 weights:
 * dense float32, dense bf16, and 2:4 packed bf16 values with 2-bit positions.
 */
export function benchGemv(rows: number, cols: number, reps = 20): GemvResult {
  const k = kernels(), rand = seededRandom(rows * 31 + cols)
  const w = randomNormal(rows * cols, rand), x = randomNormal(cols, rand), y = new Float32Array(rows)
  for (let g = 0; g < w.length; g += 4) { w[g + 1] = 0; w[g + 2] = 0 }
  const wb = new Uint16Array(rows * cols)
  k.f32ToBf16(wb, w)
  const vals = new Uint16Array(rows * cols / 2), idx = new Uint8Array(rows * cols / 4)
  k.packNm24(vals, idx, w, rows, cols)
  const f32 = best(reps, () => k.gemvF32(y, w, x, rows, cols))
  const bf16 = best(reps, () => k.gemvBf16(y, wb, x, rows, cols))
  const nm24 = best(reps, () => k.gemvNm24(y, vals, idx, x, rows, cols))
  return {shape: [rows, cols], f32_ms: f32, bf16_ms: bf16, nm24_ms: nm24,
    bytes_per_weight: {f32: 4, bf16: 2, nm24: 1.25}, nm24_speedup_vs_bf16: bf16 / nm24}
}
