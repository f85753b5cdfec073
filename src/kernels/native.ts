import {createRequire} from 'node:module'
import {existsSync} from 'node:fs'
import {fileURLToPath} from 'node:url'
import path from 'node:path'

import {SparsifyError} from '../util/errors.js'
import type {Backend} from './backend.js'

/** Kernels whose addon entry takes the same arguments as the Backend method. */
type SameAsBackend = Exclude<keyof Backend, 'name' | 'gemm' | 'sparsegptPrune' | 'adamwStep' | 'rope' | 'ropeBackward' | 'actMul' | 'actMulBackward' |
  'attention' | 'attentionCached' | 'attentionBackward' | 'groupsQ4' | 'groupsQ4_1'>
type F32 = Float32Array

/** The raw addon; use the checked wrappers in ./index.ts instead. */
export interface NativeAddon extends Pick<Backend, SameAsBackend> {
  gemm(c: Float32Array, a: Float32Array, b: Float32Array, bias: Float32Array | null, m: number, n: number, k: number,
    lda: number, ldb: number, ldc: number, transA: boolean, transB: boolean, accumulate: boolean): void
  gemmRef: NativeAddon['gemm']
  sparsegptPrune(w: Float32Array, mask: Uint8Array, u: Float32Array, h: Float32Array, rows: number, cols: number,
    sparsity: number, prunen: number, prunem: number, blocksize: number, bits: number, groupsize: number, sym: boolean, scaleDtype: number,
    scales: Float32Array | null, zeros: Float32Array | null): void
  adamwStep(p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, step: number): void
  rope(x: F32, cos: F32, sin: F32, tokens: number, seq: number, heads: number, hd: number, rot: number): void
  ropeBackward: NativeAddon['rope']
  /** act: the index in ACTIVATIONS. */
  actMul(act: number, out: F32, gate: F32, up: F32 | null): void
  actMulBackward(act: number, dgate: F32, dup: F32 | null, dout: F32, gate: F32, up: F32 | null): void
  /** window 0 and softcap 0 turn each off. */
  attention(out: F32, q: F32, k: F32, v: F32, batch: number, seq: number, nh: number, nkv: number, hd: number, scale: number, window: number, softcap: number): void
  attentionCached(out: F32, q: F32, kc: F32, vc: F32, n: number, past: number, nh: number, nkv: number, hd: number, scale: number, window: number, softcap: number): void
  attentionBackward(dq: F32, dk: F32, dv: F32, dout: F32, q: F32, k: F32, v: F32, batch: number, seq: number, nh: number, nkv: number, hd: number, scale: number,
    window: number, softcap: number): void
  /** 1 when the groups fit, 0 when not, −1 when rowPtr or colIdx point outside the shapes. */
  groupsQ4(...args: Parameters<Backend['groupsQ4']>): number
  groupsQ4_1(...args: Parameters<Backend['groupsQ4_1']>): number
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
