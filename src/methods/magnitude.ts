import {selectPerRow} from './mask.js'
import type {PruningMethod} from './types.js'

/**
 * Magnitude pruning (§2): score |W|. Unstructured compares the whole matrix: every weight
 * with |W| ≤ the floor(numel·s)-th smallest goes (the reference's ≤, so one more than
 * floor(numel·s), plus ties). N:M compares within each group of m inputs of a row.
 */
export const magnitude: PruningMethod = {
  id: 'magnitude',
  title: 'Magnitude: prune the smallest weights of each matrix',
  paper: 'https://arxiv.org/abs/2306.11695 (baseline of Wanda)',
  needsGradients: false,
  needsHessian: false,
  needsCalibration: false,
  prune({weight, rows, cols, target, kernels: k}) {
    const score = new Float32Array(rows * cols)
    k.absScaled(score, weight, new Float32Array(cols).fill(1), rows, cols)
    let mask: Uint8Array
    if (target.kind === 'nm') {
      mask = selectPerRow(k, score, rows, cols, target)
    } else {
      mask = new Uint8Array(rows * cols)
      k.selectThreshold(mask, score, Math.floor(rows * cols * target.sparsity))
    }
    k.applyMask(weight, mask)
    return mask
  },
}
