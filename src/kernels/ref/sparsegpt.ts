import type {SparseGptOpts} from '../backend.js'
import {findParams, quantApply, type QuantParams} from './quant.js'

/** Lower Cholesky factor of a (n, n), or the 1-based failing pivot. */
function cholesky(a: Float64Array, n: number): Float64Array | number {
  const l = new Float64Array(n * n)
  for (let j = 0; j < n; j++) {
    let d = a[j * n + j]
    for (let k = 0; k < j; k++) d -= l[j * n + k] ** 2
    if (!(d > 0) || !Number.isFinite(d)) return j + 1
    l[j * n + j] = Math.sqrt(d)
    for (let i = j + 1; i < n; i++) {
      let s = a[i * n + j]
      for (let k = 0; k < j; k++) s -= l[i * n + k] * l[j * n + k]
      l[i * n + j] = s / l[j * n + j]
    }
  }
  return l
}

/** (L·Lᵀ)⁻¹ from the factor L, column by column through two triangular solves. */
function choleskyInverse(l: Float64Array, n: number): Float64Array {
  const inv = new Float64Array(n * n), y = new Float64Array(n)
  for (let c = 0; c < n; c++) {
    for (let i = 0; i < n; i++) {                 // L·y = e_c
      let s = i === c ? 1 : 0
      for (let k = 0; k < i; k++) s -= l[i * n + k] * y[k]
      y[i] = s / l[i * n + i]
    }
    for (let i = n - 1; i >= 0; i--) {            // Lᵀ·x = y
      let s = y[i]
      for (let k = i + 1; k < n; k++) s -= l[k * n + i] * inv[k * n + c]
      inv[i * n + c] = s / l[i * n + i]
    }
  }
  return inv
}

/**
 * SparseGPT's inverse-Hessian factor as the reference code takes it: dead columns, damping,
 * Hinv = cholesky(cholesky_inverse(cholesky(H)), upper), in float64.
 */
export function sparsegptFactor(u: Float32Array, h: Float32Array, cols: number, percdamp: number): number {
  const C = cols
  const H = Float64Array.from(h)
  for (let j = 0; j < C; j++) if (H[j * C + j] === 0) H[j * C + j] = 1
  let mean = 0
  for (let j = 0; j < C; j++) mean += H[j * C + j] / C
  for (let j = 0; j < C; j++) H[j * C + j] += percdamp * mean
  const l = cholesky(H, C)
  if (typeof l === 'number') return l
  const lu = cholesky(choleskyInverse(l, C), C)
  if (typeof lu === 'number') return lu
  u.fill(0)
  for (let i = 0; i < C; i++) for (let j = i; j < C; j++) u[i * C + j] = lu[j * C + i]   // upper: the lower factor transposed
  return 0
}

/** SparseGPT's fasterprune sweep (GPTQ's fasterquant with quantization and no pruning): adaptive masks per block, OBS compensation, lazy batch updates. */
export function sparsegptPrune(w: Float32Array, mask: Uint8Array, U: Float32Array, h: Float32Array, rows: number, cols: number, o: SparseGptOpts): void {
  const C = cols, R = rows, qz = o.quant
  const gs = qz?.groupsize ?? 0, groups = gs > 0 ? Math.ceil(C / gs) : 1
  // Row parameters come from the weights as given, before dead inputs are zeroed; group parameters as the sweep reaches them.
  const params: QuantParams[][] = Array.from({length: R}, (_, r) => (qz && gs === 0 ? [findParams(w.subarray(r * C, (r + 1) * C), null, qz.bits, qz.sym, qz.scaleDtype)] : []))
  for (let j = 0; j < C; j++) if (h[j * C + j] === 0) for (let r = 0; r < R; r++) w[r * C + j] = 0
  mask.fill(0)
  for (let i1 = 0; i1 < C; i1 += o.blocksize) {
    const i2 = Math.min(i1 + o.blocksize, C), count = i2 - i1
    const W1 = new Float32Array(R * count), Err = new Float32Array(R * count)
    for (let r = 0; r < R; r++) for (let i = 0; i < count; i++) W1[r * count + i] = w[r * C + i1 + i]
    const d = (i: number) => U[(i1 + i) * C + i1 + i]
    if (o.prunen === 0 && o.sparsity >= 0) {
      const tile = W1.map((v, idx) => (v * v) / d(idx % count) ** 2)
      const t = Float32Array.from(tile).sort()[Math.floor(tile.length * o.sparsity)]
      tile.forEach((v, idx) => { mask[Math.floor(idx / count) * C + i1 + (idx % count)] = v <= t ? 1 : 0 })
    }
    if (qz && gs > 0) {   // from W as it stands at the block's start (not W1), pruned entries as 0
      for (let r = 0; r < R; r++) {
        for (let g0 = Math.ceil(i1 / gs) * gs; g0 < i2; g0 += gs) {
          const end = Math.min(g0 + gs, C)
          params[r][g0 / gs] = findParams(w.subarray(r * C + g0, r * C + end), mask.subarray(r * C + g0, r * C + end), qz.bits, qz.sym, qz.scaleDtype)
        }
      }
    }
    for (let i = 0; i < count; i++) {
      if (o.prunen !== 0 && i % o.prunem === 0) {
        for (let r = 0; r < R; r++) {
          const idx = Array.from({length: o.prunem}, (_, t) => t)
          const sc = idx.map((t) => W1[r * count + i + t] ** 2 / d(i + t) ** 2)
          idx.sort((a, b) => sc[a] - sc[b] || a - b).slice(0, o.prunen).forEach((t) => { mask[r * C + i1 + i + t] = 1 })
        }
      }
      for (let r = 0; r < R; r++) {
        const v = W1[r * count + i], masked = mask[r * C + i1 + i] ? 0 : v
        const q = qz ? quantApply(masked, params[r][gs > 0 ? Math.floor((i1 + i) / gs) : 0], qz.bits) : masked
        const e = Math.fround((v - q) / d(i))
        for (let j = i; j < count; j++) W1[r * count + j] -= e * U[(i1 + i) * C + i1 + j]
        W1[r * count + i] = q
        Err[r * count + i] = e
      }
    }
    for (let r = 0; r < R; r++) {
      for (let i = 0; i < count; i++) w[r * C + i1 + i] = W1[r * count + i]
      for (let j = i2; j < C; j++) {
        let s = 0
        for (let i = 0; i < count; i++) s += Err[r * count + i] * U[(i1 + i) * C + j]
        w[r * C + j] -= s
      }
    }
  }
  if (qz) {
    for (let r = 0; r < R; r++) {
      for (let g = 0; g < groups; g++) { qz.scales[r * groups + g] = params[r][g].scale; qz.zeros[r * groups + g] = params[r][g].zero }
    }
  }
}
