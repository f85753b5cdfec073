import type {Backend} from '../kernels/index.js'
import {activationNorms, selectPerRow} from './mask.js'
import type {PruningMethod} from './types.js'

/** Wanda's score S_ij = |W_ij|·‖X_j‖₂/√N (§3.1). */
export function wandaScore(k: Backend, weight: Float32Array, scaler: Float32Array, rows: number, cols: number): Float32Array {
  const score = new Float32Array(rows * cols)
  k.absScaled(score, weight, activationNorms(scaler), rows, cols)
  return score
}

/** Wanda (Sun et al. 2023): weights times input activation norms, compared per output row. */
export const wanda: PruningMethod = {
  id: 'wanda',
  title: 'Wanda: pruning by weights and activations',
  paper: 'https://arxiv.org/abs/2306.11695',
  needsGradients: false,
  needsHessian: false,
  needsCalibration: true,
  prune({weight, rows, cols, stats, target, kernels: k}) {
    const mask = selectPerRow(k, wandaScore(k, weight, stats.scaler, rows, cols), rows, cols, target)
    k.applyMask(weight, mask)
    return mask
  },
}
