import {selectPerRow} from './mask.js'
import type {PruneContext, PruningMethod} from './types.js'
import {wandaScore} from './wanda.js'

/** The zyxxmu/DSnoT defaults (§6.1). */
export const DSNOT_DEFAULTS = {
  maxCycles: 50,          // max_cycle_time: swaps per row
  updateThreshold: 0.1,   // stop a row once |ε| ≤ this
  powOfVar: 1,            // pow_of_var_regrowing
  skipMlp: true,          // skip_layer "mlp": gate/up/down keep the initial mask
}

/**
 * DSnoT (Zhang et al. 2024): training-free prune-and-grow. Starting from Wanda's mask, each
 * output row swaps a pruned weight back in for a kept one while that shrinks the expected
 * reconstruction error ε = Σ_{pruned j} W_ij·μ_j, reviving weights whose inputs vary little.
 * Row by row with clean stops (spec §6.7): per-row sparsity and N:M groups stay exact.
 */
export const dsnot: PruningMethod = {
  id: 'dsnot',
  title: 'DSnoT: dynamic sparse no training (prune-and-grow on a Wanda mask)',
  paper: 'https://arxiv.org/abs/2310.08915',
  needsGradients: false,
  needsHessian: false,
  needsCalibration: true,
  prune(ctx) {
    const {weight, rows, cols, stats, target, kernels: k} = ctx
    const wanda = wandaScore(k, weight, stats.scaler, rows, cols)
    const mask = selectPerRow(k, wanda, rows, cols, target)
    if (!(DSNOT_DEFAULTS.skipMlp && ctx.name.startsWith('mlp.'))) {
      for (let r = 0; r < rows; r++) refineRow(ctx, wanda, mask, r)
    }
    k.applyMask(weight, mask)
    return mask
  },
}

/** Ascending by key, ties to the lower column (a stable sort of the column order). */
const ascending = (cols: number[], key: (j: number) => number) => cols.sort((a, b) => key(a) - key(b) || a - b)

function refineRow({weight, cols, stats, target}: PruneContext, wanda: Float32Array, mask: Uint8Array, r: number): void {
  const {maxCycles, updateThreshold, powOfVar} = DSNOT_DEFAULTS
  const o = r * cols
  const D = (j: number) => weight[o + j] * stats.sumMetric[j]           // signed expected contribution
  const grow = (j: number) => D(j) / stats.variance[j] ** powOfVar
  const pruned0: number[] = [], kept0: number[] = []
  for (let j = 0; j < cols; j++) (mask[o + j] ? pruned0 : kept0).push(j)
  let eps = 0
  for (const j of pruned0) eps += D(j)
  const sign0 = Math.sign(eps)
  // Growth candidates: initially pruned inputs that vary; revive D > 0 when ε > 0, D < 0 when ε < 0.
  const growable = pruned0.filter((j) => stats.variance[j] > 0)
  const growPos = ascending(growable.filter((j) => grow(j) > 0), grow).reverse()
  const growNeg = ascending(growable.filter((j) => grow(j) < 0), grow)
  const nm = target.kind === 'nm'
  // Unstructured prune candidates: initially kept, smallest Wanda score first, of the sign that cancels ε.
  const byWanda = ascending([...kept0], (j) => wanda[o + j])
  const pruneNeg = byWanda.filter((j) => D(j) < 0), prunePos = byWanda.filter((j) => D(j) > 0)
  const next = {growPos: 0, growNeg: 0, pruneNeg: 0, prunePos: 0}
  const stillKeptOf = new Uint8Array(cols)                              // N:M: initially kept, not yet pruned
  for (const j of kept0) stillKeptOf[j] = 1

  for (let t = 0; t < maxCycles && Math.abs(eps) > updateThreshold; t++) {
    const rev = eps > 0 ? growPos[next.growPos++] : growNeg[next.growNeg++]
    if (rev === undefined) return
    let q: number | undefined
    if (nm) {
      // The pattern stays exact: the weight pruned in exchange comes from the revived one's group.
      const g0 = rev - (rev % target.m)
      for (let j = g0; j < g0 + target.m; j++) {
        if (stillKeptOf[j] && (q === undefined || wanda[o + j] < wanda[o + q])) q = j
      }
      if (q === undefined) continue
      if (Math.sign(eps + D(q) - D(rev)) !== sign0) return
      stillKeptOf[q] = 0
    } else {
      q = eps > 0 ? pruneNeg[next.pruneNeg++] : prunePos[next.prunePos++]
      if (q === undefined) return
    }
    mask[o + rev] = 0
    mask[o + q] = 1
    eps += D(q) - D(rev)
  }
}
