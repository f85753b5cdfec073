import {createRequire} from 'node:module'
import {existsSync} from 'node:fs'
import {fileURLToPath} from 'node:url'
import path from 'node:path'

import {SparsifyError} from '../util/errors.js'

/** The raw addon; use the checked wrappers in ./index.ts instead. */
export interface NativeAddon {
  gemm(c: Float32Array, a: Float32Array, b: Float32Array, bias: Float32Array | null, m: number, n: number, k: number,
    lda: number, ldb: number, ldc: number, transA: boolean, transB: boolean, accumulate: boolean): void
  gemmRef: NativeAddon['gemm']
  rmsnorm(out: Float32Array, x: Float32Array, w: Float32Array, rows: number, dim: number, eps: number): void
  rope(x: Float32Array, cos: Float32Array, sin: Float32Array, tokens: number, seq: number, heads: number, hd: number): void
  siluMul(out: Float32Array, gate: Float32Array, up: Float32Array): void
  addInplace(x: Float32Array, y: Float32Array): void
  attention(out: Float32Array, q: Float32Array, k: Float32Array, v: Float32Array, batch: number, seq: number,
    nh: number, nkv: number, hd: number, scale: number): void
  attentionCached(out: Float32Array, q: Float32Array, kc: Float32Array, vc: Float32Array, n: number, past: number, nh: number, nkv: number, hd: number, scale: number): void
  nllRows(losses: Float32Array, logits: Float32Array, targets: Int32Array, rows: number, vocab: number): void
  bf16ToF32(out: Float32Array, input: Uint16Array): void
  f16ToF32(out: Float32Array, input: Uint16Array): void
  f32ToBf16(out: Uint16Array, input: Float32Array): void
  f32ToF16(out: Uint16Array, input: Float32Array): void
  columnStats(sum: Float64Array, sumsq: Float64Array, varsum: Float64Array, x: Float32Array, nseq: number, seq: number, cols: number): void
  absScaled(out: Float32Array, w: Float32Array, scale: Float32Array, rows: number, cols: number): void
  selectRowK(mask: Uint8Array, score: Float32Array, rows: number, cols: number, k: number): void
  selectNM(mask: Uint8Array, score: Float32Array, rows: number, cols: number, n: number, m: number): void
  selectThreshold(mask: Uint8Array, score: Float32Array, k: number): void
  applyMask(w: Float32Array, mask: Uint8Array): void
  countNonFinite(x: Float32Array): number
  packBitmask(values: Float32Array, bitmask: Uint8Array, offsets: BigInt64Array, w: Float32Array, rows: number, cols: number): number
  pack24(values: Float32Array, bitmask: Uint8Array, w: Float32Array, rows: number, cols: number): number
  unpackBitmask(out: Float32Array, values: Float32Array, bitmask: Uint8Array, rows: number, cols: number): number
  mirrorLower(h: Float32Array, n: number, scale: number): void
  weightedSqDiff(a: Float32Array, b: Float32Array, s: Float32Array, rows: number, cols: number): [number, number]
  zeroStats(x: Float32Array, rows: number, cols: number, m: number): [number, number]
  accumulateSquares(acc: Float32Array, g: Float32Array, scale: number): void
  absMulAdd(out: Float32Array, w: Float32Array, g: Float32Array): void
  sparsegptFactor(u: Float32Array, h: Float32Array, cols: number, percdamp: number): number
  sparsegptPrune(w: Float32Array, mask: Uint8Array, u: Float32Array, h: Float32Array, rows: number, cols: number,
    sparsity: number, prunen: number, prunem: number, blocksize: number): void
  rmsnormBackward(dx: Float32Array, dw: Float32Array | null, dy: Float32Array, x: Float32Array, w: Float32Array, rows: number, dim: number, eps: number): void
  ropeBackward(dx: Float32Array, cos: Float32Array, sin: Float32Array, tokens: number, seq: number, heads: number, hd: number): void
  siluMulBackward(dgate: Float32Array, dup: Float32Array, dout: Float32Array, gate: Float32Array, up: Float32Array): void
  attentionBackward(dq: Float32Array, dk: Float32Array, dv: Float32Array, dout: Float32Array, q: Float32Array, k: Float32Array, v: Float32Array,
    batch: number, seq: number, nh: number, nkv: number, hd: number, scale: number): void
  xentBackward(logits: Float32Array, targets: Int32Array, rows: number, vocab: number, scale: number): void
  adamwStep(p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, step: number): void
  gemvF32(y: Float32Array, w: Float32Array, x: Float32Array, rows: number, cols: number): void
  gemvBf16(y: Float32Array, w: Uint16Array, x: Float32Array, rows: number, cols: number): void
  packNm24(vals: Uint16Array, idx: Uint8Array, w: Float32Array, rows: number, cols: number): number
  gemvNm24(y: Float32Array, vals: Uint16Array, idx: Uint8Array, x: Float32Array, rows: number, cols: number): void
  setThreads(n: number): void
  getThreads(): number
  isa(): string
}

const here = path.dirname(fileURLToPath(import.meta.url))
// dist/src/kernels → the package root, where node-gyp puts build/.
const addonPath = path.resolve(here, '../../../build/Release/sparsify_kernels.node')

export function loadAddon(): NativeAddon {
  if (!existsSync(addonPath)) {
    throw new SparsifyError(`native kernels not built (${addonPath} is missing)`, 1,
      'run `npm install` (or `npx node-gyp rebuild`) in the sparsify folder; it needs python3, make and a C++17 compiler')
  }
  return createRequire(import.meta.url)(addonPath) as NativeAddon
}
