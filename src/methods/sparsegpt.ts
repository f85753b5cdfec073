import type {Backend} from '../kernels/index.js'
import {SparsifyError} from '../util/errors.js'
import type {PruningMethod} from './types.js'

/** Factors by Hessian, alive as long as the block's statistics are. */
const factors = new WeakMap<Float32Array, Float32Array>()

/** The reference defaults (§4.2). */
export const SPARSEGPT_DEFAULTS = {blocksize: 128, percdamp: 0.01}

/**
 * SparseGPT's inverse-Hessian factor U (H⁻¹ = UᵀU, U upper) after damping. q/k/v (and gate/up) see
 * the same input, hence the same Hessian: it is factored once and shared.
 */
export function inverseHessianFactor(k: Backend, h: Float32Array, cols: number, name: string): Float32Array {
  let u = factors.get(h)
  if (!u) {
    u = new Float32Array(cols * cols)
    const pivot = k.sparsegptFactor(u, h, cols, SPARSEGPT_DEFAULTS.percdamp)
    if (pivot !== 0) {
      throw new SparsifyError(`the Hessian of ${name} is not positive definite after damping (pivot ${pivot})`, 1,
        'the calibration activations contain Inf or NaN; check the checkpoint, or calibrate on other data')
    }
    factors.set(h, u)
  }
  return u
}

/**
 * SparseGPT (Frantar & Alistarh 2023): OBS reconstruction column by column with the
 * inverse-Hessian factor, adaptive masks per 128-column block, lazy batch updates.
 * The numerical core is native (src/kernels/native/sparsegpt.cc).
 */
export const sparsegpt: PruningMethod = {
  id: 'sparsegpt',
  title: 'SparseGPT: one-shot OBS pruning with weight reconstruction',
  paper: 'https://arxiv.org/abs/2301.00774',
  needsGradients: false,
  needsHessian: true,
  needsCalibration: true,
  prune({name, layer, weight, rows, cols, stats, target, kernels: k}) {
    const h = stats.hessian!
    const u = inverseHessianFactor(k, h, cols, `model.layers.${layer}.${name}`)
    const mask = new Uint8Array(rows * cols)
    k.sparsegptPrune(weight, mask, u, h, rows, cols, {
      blocksize: SPARSEGPT_DEFAULTS.blocksize,
      sparsity: target.kind === 'unstructured' ? target.sparsity : 0,
      prunen: target.kind === 'nm' ? target.n : 0,
      prunem: target.kind === 'nm' ? target.m : 0,
    })
    return mask
  },
}
