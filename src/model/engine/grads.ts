import type {NormSlot} from '../arch/families.js'
import type {ModelConfig} from '../config.js'
import {roleViews, type BlockWeights, type Norm} from '../weights.js'
import type {LinearGrad} from './linear.js'

/** Gradients of one block's parameters, shaped like BlockWeights: role and expert views share the tensors' buffers. */
export interface BlockGrads {
  norms: Partial<Record<NormSlot, Norm>>
  linears: Partial<Record<string, LinearGrad>>
  experts: Partial<Record<string, LinearGrad>>[]
  router: LinearGrad | null
  /** One per BlockWeights.tensors, same order. */
  tensors: LinearGrad[]
}

export function zeroGrads(cfg: ModelConfig, w: BlockWeights): BlockGrads {
  const z = (a: Float32Array | null) => (a ? new Float32Array(a.length) : null)
  const norms: BlockGrads['norms'] = {}
  for (const [slot, n] of Object.entries(w.norms) as [NormSlot, Norm][]) norms[slot] = {weight: z(n.weight)!, bias: z(n.bias)}
  const g: BlockGrads = {norms, linears: {}, experts: [], router: w.router && {weight: z(w.router.weight)!, bias: null}, tensors: []}
  for (const t of w.tensors) {
    const tg = {weight: new Float32Array(t.weight.length), bias: z(t.bias)}
    g.tensors.push(tg)
    const views = roleViews(cfg, t.roles, tg.weight, tg.bias, t.expert === null ? cfg.intermediate : cfg.moe!.width)
    if (t.expert === null) Object.assign(g.linears, views)
    else Object.assign(g.experts[t.expert] ??= {}, views)
  }
  return g
}
