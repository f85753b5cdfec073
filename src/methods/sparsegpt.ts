import type {Backend, SweepQuant} from '../kernels/index.js'
import {SparsifyError} from '../util/errors.js'
import type {PruneContext, PruningMethod} from './types.js'

/** A damped inverse-Hessian factor and the damping (fraction of the mean diagonal) it took. */
export interface Factor {
  u: Float32Array
  percdamp: number
}

/** Factors by Hessian, alive as long as the block's statistics are. */
const factors = new WeakMap<Float32Array, Factor>()

/** The reference defaults (§4.2). */
export const SPARSEGPT_DEFAULTS = {blocksize: 128, percdamp: 0.01}

/** A Hessian still not positive definite after the default damping is retried with ten times more, this often. */
const DAMPING_RETRIES = 3

/**
 * SparseGPT's inverse-Hessian factor U (H⁻¹ = UᵀU, U upper) after damping. q/k/v (and gate/up) see
 * the same input, hence the same Hessian: it is factored once and shared. Float32 rounding of a
 * (near-)singular Hessian can leave it indefinite by more than the default 1% of its mean diagonal;
 * the reference then stops, we retry with ×10 damping (up to three times) and record what it took.
 */
export function inverseHessianFactor(k: Backend, h: Float32Array, cols: number, name: string): Factor {
  let f = factors.get(h)
  if (!f) {
    const u = new Float32Array(cols * cols)
    let percdamp = SPARSEGPT_DEFAULTS.percdamp, pivot = k.sparsegptFactor(u, h, cols, percdamp)
    for (let retry = 0; pivot !== 0 && retry < DAMPING_RETRIES; retry++) {
      percdamp *= 10
      pivot = k.sparsegptFactor(u, h, cols, percdamp)
    }
    if (pivot !== 0) {
      throw new SparsifyError(`the Hessian of ${name} is not positive definite even with damping ${percdamp} (pivot ${pivot})`, 1,
        'the calibration activations contain Inf or NaN; check the checkpoint, or calibrate on other data')
    }
    f = {u, percdamp}
    factors.set(h, f)
  }
  return f
}

/**
 * One linear through the OBS sweep: pruned to the context's target (or not at all, for GPTQ) and,
 * with `quant`, quantized in the same pass (spec §14). Returns the mask (1 = pruned).
 */
export function obsSweep(ctx: PruneContext, prune: boolean, quant?: SweepQuant): Uint8Array {
  const {name, layer, weight, rows, cols, stats, target, kernels: k, notes} = ctx
  const h = stats.hessian!
  const {u, percdamp} = inverseHessianFactor(k, h, cols, `model.layers.${layer}.${name}`)
  if (percdamp !== SPARSEGPT_DEFAULTS.percdamp) notes.percdamp = percdamp
  const mask = new Uint8Array(rows * cols)
  k.sparsegptPrune(weight, mask, u, h, rows, cols, {
    blocksize: SPARSEGPT_DEFAULTS.blocksize,
    sparsity: !prune ? -1 : target.kind === 'unstructured' ? target.sparsity : 0,
    prunen: prune && target.kind === 'nm' ? target.n : 0,
    prunem: prune && target.kind === 'nm' ? target.m : 0,
    quant,
  })
  return mask
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
  prune: (ctx) => obsSweep(ctx, true),
}
