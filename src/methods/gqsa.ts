import {gqsaHeldParams, gqsaPairBytes, type Backend} from '../kernels/index.js'
import type {GqsaPacked} from '../packed/weight.js'
import {usage} from '../util/errors.js'
import {bqpo} from './bqpo.js'
import {inverseHessianFactor, SPARSEGPT_DEFAULTS} from './sparsegpt.js'
import type {PruningMethod} from './types.js'
import {GQSA_DEFAULTS, type GqsaOptions, type GqsaState} from './gqsa-types.js'

/** The BSR layout of a state, kept groups only, as the kernel reads it (GqsaPacked). */
export function packState(s: GqsaState): GqsaPacked {
  const groups = s.cols / s.group
  const rowPtr = new Int32Array(s.rows + 1)
  let kept = 0
  for (let r = 0; r < s.rows; r++) {
    for (let G = 0; G < groups; G++) if (!s.pruned[r * groups + G]) kept++
    rowPtr[r + 1] = kept
  }
  const col = new Uint16Array(kept), pairs = new Uint8Array(gqsaPairBytes(kept, s.group))
  const scales = new Float32Array(kept), zeros = new Float32Array(kept)
  let k = 0
  for (let r = 0; r < s.rows; r++) {
    for (let G = 0; G < groups; G++) {
      if (s.pruned[r * groups + G]) continue
      col[k] = G
      scales[k] = s.scales[r * groups + G]
      zeros[k] = s.zeros[r * groups + G]
      const base = r * s.cols + G * s.group, pair = (k >> 1) * s.group, shift = (k & 1) * 4
      for (let j = 0; j < s.group; j++) pairs[pair + j] |= s.codes[base + j] << shift
      k++
    }
  }
  return {format: 'gqsa', bits: 4, group: s.group, rowPtr, col, pairs, ...gqsaHeldParams(scales, zeros)}
}

/** The pruned groups: the lowest saliencies of each row, or of the whole layer. */
function chooseGroups(k: Backend, score: Float32Array, rows: number, groups: number, share: number, budget: GqsaOptions['budget']): Uint8Array {
  const pruned = new Uint8Array(rows * groups)
  if (share <= 0) return pruned
  if (budget === 'row') {
    k.selectRowK(pruned, score, rows, groups, Math.round(share * groups))
  } else {
    const count = Math.round(share * rows * groups)
    if (count > 0) k.selectThreshold(pruned, score, count - 1)
  }
  return pruned
}

/**
 * GQSA (Zeng et al. 2024), one-shot initialisation then BQPO. Each row is cut into groups of
 * `group` input columns; the groups whose removal costs least (their OBS loss under the
 * inverse-Hessian factor) are pruned whole, and the kept ones are quantized column by column
 * with GPTQ's error compensation. BQPO then trains each block's kept weights and quantization
 * parameters towards the dense block's outputs.
 */
export function gqsaMethod(o: GqsaOptions = GQSA_DEFAULTS): PruningMethod & {state(weight: Float32Array): GqsaState | undefined} {
  if (!(o.bits >= 2 && o.bits <= 4)) throw usage(`--bits ${o.bits}: GQSA stores 2- to 4-bit codes`)
  if (!(o.group >= 2 && o.group % 2 === 0)) throw usage(`--group-size ${o.group} must be even`)
  const states = new WeakMap<Float32Array, GqsaState>()
  return {
    id: 'gqsa',
    title: `GQSA: group sparsity with ${o.bits}-bit group quantization (groups of ${o.group}, ${o.budget} budget, ${o.epochs} BQPO epochs)`,
    paper: 'https://arxiv.org/abs/2412.17560',
    needsGradients: false,
    needsHessian: true,
    needsCalibration: true,
    prune({name, layer, weight, rows, cols, stats, target, kernels: k, notes}) {
      if (target.kind !== 'unstructured') throw usage('GQSA takes --sparsity (the share of groups pruned), not --pattern')
      if (cols % o.group !== 0) throw usage(`model.layers.${layer}.${name} has ${cols} inputs, not a multiple of --group-size ${o.group}`)
      const h = stats.hessian!, {u, percdamp} = inverseHessianFactor(k, h, cols, `model.layers.${layer}.${name}`)
      if (percdamp !== SPARSEGPT_DEFAULTS.percdamp) notes.percdamp = percdamp
      const groups = cols / o.group
      const score = new Float32Array(rows * groups)
      k.gqsaSaliency(score, weight, u, rows, cols, o.group)
      const pruned = chooseGroups(k, score, rows, groups, target.sparsity, o.budget)
      const state: GqsaState = {rows, cols, group: o.group, bits: o.bits, pruned, codes: new Uint8Array(rows * cols),
        scales: new Float32Array(rows * groups), zeros: new Float32Array(rows * groups)}
      k.gqsaSweep(weight, pruned, u, h, rows, cols, o.group, o.bits, state.codes, state.scales, state.zeros)
      states.set(weight, state)
      const mask = new Uint8Array(rows * cols)
      for (let i = 0; i < rows * cols; i++) mask[i] = pruned[Math.floor(i / o.group)]
      return mask
    },
    refineBlock(ctx) {
      return bqpo(ctx, o, (w) => states.get(w)!)
    },
    packed(weight) {
      return packState(states.get(weight)!)
    },
    state: (weight) => states.get(weight),
  }
}
