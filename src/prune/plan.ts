import {existsSync, readFileSync, renameSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import type {Backend} from '../kernels/index.js'
import {OWL_MAX_SPARSITY, outlierRatios, owlSparsities, owlZeros, type OwlSettings} from '../methods/owl.js'
import type {SparsityTarget} from '../methods/types.js'
import type {ModelConfig} from '../model/config.js'
import type {Model} from '../model/model.js'
import {SparsifyError, EXIT, usage} from '../util/errors.js'
import {checkPatternFits, describeTarget, requestedSparsity} from './target.js'

/** Per-block targets: the same everywhere, from OWL's outlier pass, or from a plan file. */
export interface Allocation {
  kind: 'uniform' | 'owl' | 'plan'
  /** One per decoder block. */
  targets: SparsityTarget[]
  /** OWL's outlier ratio of each block, percent (also a plan's, when it carries them). */
  outlierRatio: number[] | null
  /** How the report and provenance name it. */
  description: string
}

/** The plan file `sparsify plan` writes and `prune --plan` reads (a user may edit a block's value). */
export interface PlanFile {
  layer_sparsity?: number[]
  /** N:M per block, N zeros in every M inputs as --pattern counts them. */
  layer_pattern?: string[]
  outlier_ratio?: number[]
  sparsity?: number
  pattern?: string
  owl_m?: number
  owl_lambda?: number
  calibration?: {dataset: string; nsamples: number; seqlen: number; seed: number}
}

/** What each block was asked for, as the checkpoint's provenance records it: the same for a plan as for the OWL run that made it. */
export function blockTargets(a: Allocation): string {
  return a.kind === 'uniform' ? a.description : `per block ${a.targets.map(describeTarget).join(', ')}`
}

export const uniformAllocation = (target: SparsityTarget, layers: number): Allocation =>
  ({kind: 'uniform', targets: Array.from({length: layers}, () => target), outlierRatio: null, description: describeTarget(target)})

/**
 * OWL's allocation (§13): the outlier pass over the dense model, then the reference's formula on
 * `base` (--sparsity s, or --pattern N:M for the N:M variant). A block pushed to more than 0.99, or an
 * N outside 0 ≤ N < M, is refused: λ is too large for these ratios.
 */
export async function owlAllocation(model: Model, samples: number[][], base: SparsityTarget, owl: OwlSettings, k: Backend,
  onProgress?: (layer: number, layers: number) => void, checkpoint?: () => void): Promise<Allocation> {
  const ratios = await outlierRatios({model, samples, m: owl.m, kernels: k, onProgress, checkpoint})
  const description = `${describeTarget(base)} on average, OWL (M ${owl.m}, λ ${owl.lambda})`
  if (base.kind === 'unstructured') {
    const layer = owlSparsities(ratios, base.sparsity, owl.lambda)
    const worst = layer.findIndex((s) => s > OWL_MAX_SPARSITY)
    if (worst >= 0) {
      throw usage(`--owl-lambda ${owl.lambda} gives block ${worst} a sparsity of ${layer[worst].toFixed(4)}, above ${OWL_MAX_SPARSITY}`,
        'lower --owl-lambda or --sparsity')
    }
    return {kind: 'owl', targets: layer.map((sparsity) => ({kind: 'unstructured', sparsity})), outlierRatio: ratios, description}
  }
  const zeros = owlZeros(ratios, base.n, owl.lambda)
  const worst = zeros.findIndex((n) => n < 0 || n >= base.m)
  if (worst >= 0) {
    throw usage(`--owl-lambda ${owl.lambda} gives block ${worst} ${zeros[worst]} zeros in every ${base.m} inputs, outside 0 to ${base.m - 1}`,
      'lower --owl-lambda, or choose a pattern with room on both sides')
  }
  return {kind: 'owl', targets: zeros.map((n) => ({kind: 'nm', n, m: base.m})), outlierRatio: ratios, description}
}

/** The plan file of an allocation, with how it was made. */
export function planFile(a: Allocation, base: SparsityTarget, owl: OwlSettings, calibration: PlanFile['calibration']): PlanFile {
  return {
    ...(base.kind === 'nm'
      ? {layer_pattern: a.targets.map(describeTarget), pattern: describeTarget(base)}
      : {layer_sparsity: a.targets.map(requestedSparsity), sparsity: base.sparsity}),
    outlier_ratio: a.outlierRatio ?? undefined, owl_m: owl.m, owl_lambda: owl.lambda, calibration,
  }
}

/** Written beside its destination and renamed into place: a failed run leaves no file. */
export function writePlanFile(file: string, plan: PlanFile): void {
  const tmp = path.join(path.dirname(path.resolve(file)), `.${path.basename(file)}.sparsify-tmp`)
  writeFileSync(tmp, `${JSON.stringify(plan, null, 2)}\n`)
  renameSync(tmp, file)
}

/** A plan file (from `sparsify plan` or by hand), checked against the model and the method. */
export function readPlanFile(file: string, cfg: ModelConfig, methodId: string): Allocation {
  if (!existsSync(file)) throw new SparsifyError(`--plan ${file} does not exist`, EXIT.notFound, 'write one with `sparsify plan`')
  let plan: PlanFile
  try { plan = JSON.parse(readFileSync(file, 'utf8')) } catch (err) {
    throw usage(`--plan ${file} is not JSON (${(err as Error).message})`, 'write one with `sparsify plan`')
  }
  const values = plan?.layer_sparsity ?? plan?.layer_pattern
  if ((plan?.layer_sparsity === undefined) === (plan?.layer_pattern === undefined) || !Array.isArray(values)) {
    throw usage(`--plan ${file} needs exactly one of layer_sparsity (numbers) and layer_pattern ("N:M" strings)`)
  }
  if (values.length !== cfg.layers) throw usage(`--plan ${file} has ${values.length} blocks; the model has ${cfg.layers}`)
  const targets = values.map((v, layer): SparsityTarget => {
    if (plan.layer_sparsity) {
      if (typeof v !== 'number' || !(v >= 0 && v < 1)) throw usage(`--plan ${file}: block ${layer}'s sparsity ${JSON.stringify(v)} is outside [0, 1)`)
      return {kind: 'unstructured', sparsity: v}
    }
    const m = typeof v === 'string' ? /^(\d+):(\d+)$/.exec(v) : null
    const n = Number(m?.[1]), mm = Number(m?.[2])
    if (!m || !(n >= 0 && n < mm)) throw usage(`--plan ${file}: block ${layer}'s pattern ${JSON.stringify(v)} is not N:M with 0 ≤ N < M`)
    checkPatternFits(`--plan ${file}: block ${layer}'s pattern ${v}`, mm, cfg, methodId)
    return {kind: 'nm', n, m: mm}
  })
  const ratios = Array.isArray(plan.outlier_ratio) && plan.outlier_ratio.length === cfg.layers ? plan.outlier_ratio : null
  return {kind: 'plan', targets, outlierRatio: ratios, description: `per-block plan ${path.basename(file)}`}
}
