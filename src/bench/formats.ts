import {gqsaHeldParams, gqsaPairBytes, kernels, type Backend} from '../kernels/index.js'
import {randomNormal, seededRandom} from '../util/random.js'

/** The weight formats the engine can multiply by, as `sparsify bench` and the prune report compare them. */
export const BENCH_FORMATS = ['f32', 'bf16', 'nm 2:4', 'bitmask 50%', 'gqsa W4S50'] as const
export type BenchFormat = (typeof BENCH_FORMATS)[number]

export interface FormatTiming {
  format: BenchFormat
  /** Bytes the product reads per weight of the dense matrix (values, metadata, scales). */
  bytes_per_weight: number
  /** Milliseconds per product with one token (decode GEMV) and with `batch` tokens (prefill), best of the repetitions. */
  gemv_ms: number
  gemm_ms: number
  gemv_speedup_vs_bf16: number
}

export interface ShapeResult {
  shape: [number, number]
  batch: number
  formats: FormatTiming[]
}

/**
 * The best time of each function over `rounds` rounds, the functions taking turns within a round: a spell
 * of noise from other tenants of the machine then falls on every format alike instead of on one.
 */
function bestInTurns(rounds: number, fns: (() => void)[]): number[] {
  const t = fns.map((fn) => { fn(); return Infinity })
  for (let r = 0; r < rounds; r++) {
    fns.forEach((fn, i) => {
      const s = performance.now()
      fn()
      t[i] = Math.min(t[i], performance.now() - s)
    })
  }
  return t
}

type Product = (y: Float32Array, x: Float32Array, tokens: number) => void

/**
 * Decoding streams every weight from memory once per token. A weight that fits in the last-level
 * cache would be timed from cache on repetition, so each format's weight is copied until the
 * copies exceed this, and successive products rotate through them.
 */
const ROTATE_BYTES = 128 * 2 ** 20

function rotating<T extends ArrayBufferView[]>(parts: [...T], run: (...parts: T) => Product): Product {
  const bytes = parts.reduce((a, p) => a + p.byteLength, 0)
  const copies = Array.from({length: Math.max(1, Math.ceil(ROTATE_BYTES / bytes))}, (_, i) =>
    run(...(i === 0 ? parts : parts.map((p) => (p as unknown as {slice(): ArrayBufferView}).slice())) as T))
  let next = 0
  return (y, x, t) => copies[next++ % copies.length](y, x, t)
}

/** Each format's product for one random weight with the sparsity that format implies. */
function products(k: Backend, rows: number, cols: number, seed: number): Record<BenchFormat, {bytes: number; run: Product}> {
  const rand = seededRandom(seed)
  const w = randomNormal(rows * cols, rand)
  const bf16 = (v: Float32Array) => { const b = new Uint16Array(v.length); k.f32ToBf16(b, v); return b }
  const wb = bf16(w)

  const w24 = w.slice()
  for (let g = 0; g < w24.length; g += 4) { w24[g + 1] = 0; w24[g + 2] = 0 }
  const nmVals = new Float32Array(rows * cols / 2), pos = new Uint8Array(rows * cols / 4)
  k.packNm(nmVals, pos, w24, rows, cols, 2, 4)
  k.nm24Blocks(pos, rows, cols, true)
  const nmB = bf16(nmVals)

  const wu = w.map((v) => (rand() < 0.5 ? 0 : v))
  const bmVals = new Float32Array(rows * cols), mask = new Uint8Array(rows * Math.ceil(cols / 8)), offsets = new BigInt64Array(rows)
  const nnz = k.packBitmask(bmVals, mask, offsets, wu, rows, cols)
  const bmB = bf16(bmVals.subarray(0, nnz))

  // GQSA W4S50 with 16-column groups: each row keeps a random half of its groups (rows differ).
  const group = 16, rowPtr = new Int32Array(rows + 1), col: number[] = []
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < cols / group; g++) if (rand() < 0.5) col.push(g)
    rowPtr[r + 1] = col.length
  }
  const nnzb = col.length, cols16 = Uint16Array.from(col)
  const pairs = Uint8Array.from({length: gqsaPairBytes(nnzb, group)}, () => Math.floor(rand() * 256))
  const {scales, offsetZeros} = gqsaHeldParams(Float32Array.from({length: nnzb}, () => 0.01 + 0.01 * rand()), new Float32Array(nnzb).fill(8))

  const n = rows * cols
  return {
    'f32': {bytes: 4, run: rotating([w], (w) => (y, x, t) => k.matmulDense(y, w, x, t, rows, cols))},
    'bf16': {bytes: 2, run: rotating([wb], (wb) => (y, x, t) => k.matmulDense(y, wb, x, t, rows, cols))},
    'nm 2:4': {bytes: (nmB.byteLength + pos.byteLength) / n,
      run: rotating([nmB, pos], (nmB, pos) => (y, x, t) => k.matmulNm(y, nmB, pos, x, t, rows, cols, 2, 4))},
    'bitmask 50%': {bytes: (bmB.byteLength + mask.byteLength + offsets.byteLength) / n,
      run: rotating([bmB, mask, offsets], (bmB, mask, offsets) => (y, x, t) => k.matmulBitmask(y, bmB, mask, offsets, x, t, rows, cols))},
    // The file holds fp16 scales and zeros (2 + 2 bytes a group); the kernel reads float32 ones (4 + 4).
    'gqsa W4S50': {bytes: (pairs.byteLength + cols16.byteLength + 8 * nnzb + rowPtr.byteLength) / n,
      run: rotating([rowPtr, cols16, pairs, scales, offsetZeros], (rowPtr, cols16, pairs, scales, offsetZeros) => (y, x, t) =>
        k.matmulGqsa(y, rowPtr, cols16, pairs, scales, offsetZeros, x, t, rows, cols, group))},
  }
}

/** Every format's GEMV and small-batch GEMM on one (rows, cols) weight, on this machine. */
export function benchShape(rows: number, cols: number, {reps = 20, batch = 8} = {}): ShapeResult {
  const k = kernels()
  const p = products(k, rows, cols, rows * 31 + cols)
  const x = randomNormal(batch * cols, seededRandom(cols)), y = new Float32Array(batch * rows)
  const gemv = bestInTurns(reps, BENCH_FORMATS.map((f) => () => p[f].run(y, x, 1)))
  const gemm = bestInTurns(Math.max(1, reps >> 2), BENCH_FORMATS.map((f) => () => p[f].run(y, x, batch)))
  const formats = BENCH_FORMATS.map((format, i): FormatTiming => ({
    format, bytes_per_weight: p[format].bytes, gemv_ms: gemv[i], gemm_ms: gemm[i], gemv_speedup_vs_bf16: 0,
  }))
  const bf16 = formats.find((f) => f.format === 'bf16')!.gemv_ms
  for (const f of formats) f.gemv_speedup_vs_bf16 = bf16 / f.gemv_ms
  return {shape: [rows, cols], batch, formats}
}
