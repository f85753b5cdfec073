import {selectPerRow} from './mask.js'
import type {PruningMethod} from './types.js'
import {wandaScore} from './wanda.js'

/**
 * GBLM-Pruner (Das et al. 2023): Wanda's score plus a gradient term,
 *   S_ij = |W_ij|·sqrt(scaler_j) + |W_ij|·G_ij,  G = sqrt(Σ_n (100·g_n)²)  (§5.2),
 * with the reference code's normalisation (the activation term carries 1/√N), then Wanda's
 * selection per output row or per N:M group.
 */
export const gblm: PruningMethod = {
  id: 'gblm',
  title: 'GBLM-Pruner: gradient-based language model pruner',
  paper: 'https://arxiv.org/abs/2311.04902',
  needsGradients: true,
  needsHessian: false,
  needsCalibration: true,
  prune({weight, rows, cols, stats, gradnorm, target, kernels: k}) {
    const score = wandaScore(k, weight, stats.scaler, rows, cols)
    k.absMulAdd(score, weight, gradnorm!)
    const mask = selectPerRow(k, score, rows, cols, target)
    k.applyMask(weight, mask)
    return mask
  },
}
