import type {ModelConfig} from '../../model/config.js'
import {roleShape} from '../../model/arch/layout.js'
import type {NormSlot, Role, TensorSpec} from '../../model/arch/families.js'
import type {SourceTensor} from '../source.js'
import type {GraphBuilder} from './graph.js'
import {activation, applyRope, attention, attentionBias, norm, ropeTables, softcap, type NormWeights, type Rope} from './layers.js'
import type {ValueInfo} from './proto.js'

/** How a linear's weight enters the graph: a float MatMul, or com.microsoft.MatMulNBits (unless `exact`: MoE routers). */
export type LinearWriter = (g: GraphBuilder, x: string, w: SourceTensor, exact?: boolean) => string

/** What one block reads: its tensors by key, the tables and masks shared across blocks. */
interface BlockContext {
  g: GraphBuilder
  cfg: ModelConfig
  linear: LinearWriter
  get: (key: string) => SourceTensor | undefined
  norm: (x: string, key: string) => string
  rope: Rope | null
  mask: string
}

/**
 * The decoder as transformers.js runs it (Optimum's interface): input_ids, attention_mask, position_ids
 * and past_key_values.{i}.key/value in; logits and present.{i}.key/value out, the cache
 * [batch, kv_heads, past, head_dim]. Standard opset-17 operators, written from the architecture table as
 * the engine computes: the family's norm, embedding scale and learned positions, fused projections split
 * by role, q/k norms, (partial) rotate-half RoPE with a local base for sliding layers, a causal mask from
 * attention_mask and each layer's window, grouped-query attention with its scale and softcap, the gated or
 * plain MLP or the mixture of experts. `positionStart` is the first position_ids value transformers.js feeds for this model_type.
 */
export function buildDecoder(g: GraphBuilder, cfg: ModelConfig, weights: SourceTensor[], linear: LinearWriter, positionStart: number):
  {inputs: ValueInfo[]; outputs: ValueInfo[]} {
  const get = (layer: number | null, key: string) => weights.find((w) => w.layer === layer && w.key === key)
  const floatWeight = (w: SourceTensor, plusOne = false) => g.weight(w.name, 'float', w.shape, plusOne ? w.load().map((v) => v + 1) : w.load())
  const normOf = (layer: number | null) => (x: string, key: string) => {
    const n: NormWeights = {weight: floatWeight(get(layer, `${key}.weight`)!, cfg.family.norm === 'rms1p'), bias: null}
    const b = get(layer, `${key}.bias`)
    if (b) n.bias = floatWeight(b)
    return norm(g, cfg, x, n)
  }
  const inputs: ValueInfo[] = [
    {name: 'input_ids', type: 'int64', shape: ['batch_size', 'sequence_length']},
    {name: 'attention_mask', type: 'int64', shape: ['batch_size', 'total_sequence_length']},
    {name: 'position_ids', type: 'int64', shape: ['batch_size', 'sequence_length']},
  ]
  const outputs: ValueInfo[] = [{name: 'logits', type: 'float', shape: ['batch_size', 'sequence_length', cfg.vocabSize]}]
  const cache = (name: string, len: string): ValueInfo => ({name, type: 'float', shape: ['batch_size', cfg.kvHeads, len, cfg.headDim]})

  const positions = positionStart ? g.op('Sub', ['position_ids', g.int64([positionStart], [])]) : 'position_ids'
  let x = g.op('Gather', [floatWeight(get(null, 'model.embed_tokens.weight')!), 'input_ids'], {axis: 0}) // (B, S, H)
  if (cfg.embedScale !== 1) x = g.op('Mul', [x, g.float([cfg.embedScale], [])])
  const projectIn = get(null, 'model.project_in.weight')
  if (projectIn) x = linear(g, x, projectIn) // (B, S, E) → (B, S, H)
  const learned = get(null, 'model.embed_positions.weight')
  if (learned) x = g.op('Add', [x, g.op('Gather', [floatWeight(learned), g.op('Add', [positions, g.int64([cfg.family.positions!.offset], [])])], {axis: 0})])
  const rope = cfg.rotaryDim ? ropeTables(g, cfg, positions) : null
  const localRope = cfg.rotaryDim && cfg.ropeLocalTheta !== null ? ropeTables(g, cfg, positions, cfg.ropeLocalTheta) : null
  const masks = new Map<number, string>()
  for (let l = 0; l < cfg.layers; l++) {
    inputs.push(cache(`past_key_values.${l}.key`, 'past_sequence_length'), cache(`past_key_values.${l}.value`, 'past_sequence_length'))
    outputs.push(cache(`present.${l}.key`, 'total_sequence_length'), cache(`present.${l}.value`, 'total_sequence_length'))
    const window = cfg.windows[l] || (cfg.slidingWindow ?? 0)
    if (!masks.has(window)) masks.set(window, attentionBias(g, window))
    const ctx: BlockContext = {g, cfg, linear, get: (key) => get(l, key), norm: normOf(l), mask: masks.get(window)!,
      rope: localRope && cfg.windows[l] > 0 ? localRope : rope}
    x = block(ctx, l, x)
  }
  const head = cfg.tieEmbeddings ? {...get(null, 'model.embed_tokens.weight')!, name: 'lm_head.weight'} : get(null, 'lm_head.weight')!
  if (cfg.finalNorm) x = normOf(null)(x, 'model.norm')
  const projectOut = get(null, 'model.project_out.weight')
  const logits = linear(g, projectOut ? linear(g, x, projectOut) : x, head)
  g.name(cfg.finalSoftcap ? softcap(g, logits, cfg.finalSoftcap) : logits, 'logits')
  return {inputs, outputs}
}

/**
 * x + [post-norm](attention(norm(x))), then the same with the MLP; the bracketed norms are Gemma 2/3's.
 * Post-norm blocks (cfg.preNorm false, OPT-350m) apply the input norms after the additions instead: norm(x + attention(x)).
 */
function block(c: BlockContext, l: number, x: string): string {
  const {g, cfg} = c, f = cfg.family, hd = cfg.headDim
  const slotNorm = (slot: NormSlot, v: string) => c.norm(v, f.norms[slot]!)
  const before = (slot: NormSlot, v: string) => cfg.preNorm ? slotNorm(slot, v) : v
  const after = (slot: NormSlot, v: string) => cfg.preNorm ? v : slotNorm(slot, v)
  const heads = (y: string, n: number) => g.op('Transpose', [g.op('Reshape', [y, g.int64([0, 0, n, hd])])], {perm: [0, 2, 1, 3]}) // (B, n, S, hd)
  const p = projections(c, f.attention.filter((s) => s.roles[0] !== 'o'), before('attnIn', x))
  let q = heads(p.q!, cfg.heads), k = heads(p.k!, cfg.kvHeads)
  const v = heads(p.v!, cfg.kvHeads)
  if (cfg.qkNorm) {
    q = slotNorm('q', q)
    k = slotNorm('k', k)
  }
  if (c.rope) {
    q = applyRope(g, q, c.rope, hd)
    k = applyRope(g, k, c.rope, hd)
  }
  const keys = g.op('Concat', [`past_key_values.${l}.key`, k], {axis: 2}) // (B, kvH, T, hd)
  const values = g.op('Concat', [`past_key_values.${l}.value`, v], {axis: 2})
  g.name(keys, `present.${l}.key`)
  g.name(values, `present.${l}.value`)
  let attn = projections(c, f.attention.filter((s) => s.roles[0] === 'o'), attention(g, cfg, q, keys, values, c.mask)).o!
  if (f.norms.attnOut) attn = slotNorm('attnOut', attn)
  x = after('attnIn', g.op('Add', [x, attn]))

  const h = before('mlpIn', x)
  let out = cfg.moe?.sparse[l] ? mixture(c, h) : mlp(c, f.mlp, h)
  if (f.norms.mlpOut) out = slotNorm('mlpOut', out)
  return after('mlpIn', g.op('Add', [x, out]))
}

/** down(act(gate(h)) ⊙ up(h)), or down(act(up(h))) without a gate. */
function mlp(c: BlockContext, specs: readonly TensorSpec[], h: string): string {
  const {g, cfg} = c
  const m = projections(c, specs.filter((s) => s.roles[0] !== 'down'), h)
  const act = m.gate ? g.op('Mul', [activation(g, cfg.activation, m.gate), m.up!]) : activation(g, cfg.activation, m.up!)
  return projections(c, specs.filter((s) => s.roles[0] === 'down'), act).down!
}

/**
 * A mixture of experts as the engine routes it: softmax over the router's logits, the top k (ties to the
 * lower expert, as TopK orders them), renormalised where the family does, scattered into per-expert weights
 * that are 0 for experts not chosen. Every expert runs on every token and the outputs are summed by those
 * weights: the routed result, since an expert not chosen adds 0 · y (standard operators have no dispatch).
 */
function mixture(c: BlockContext, h: string): string {
  const {g, cfg} = c, spec = cfg.family.moe!, {experts, topK, normTopk} = cfg.moe!
  const probs = g.op('Softmax', [c.linear(g, h, c.get(`${spec.router}.weight`)!, true)], {axis: -1}) // (B, S, E)
  let [top, chosen] = g.ops('TopK', [probs, g.int64([topK])], {axis: -1, largest: 1, sorted: 1}, 2)
  if (normTopk) top = g.op('Div', [top, g.op('ReduceSum', [top, g.int64([-1])], {keepdims: 1})])
  const weights = g.op('ScatterElements', [g.op('ConstantOfShape', [g.op('Shape', [probs])], {value: {tensor: FLOAT_ZERO}}), chosen, top], {axis: -1})
  const outs = Array.from({length: experts}, (_, e) => {
    const prefixed = spec.expert.map((t) => ({...t, name: `${spec.experts}${e}.${t.name}`}))
    return g.op('Unsqueeze', [mlp(c, prefixed, h), g.int64([2])]) // (B, S, 1, H)
  })
  const all = g.op('Concat', outs, {axis: 2}) // (B, S, E, H)
  return g.op('ReduceSum', [g.op('Mul', [all, g.op('Unsqueeze', [weights, g.int64([-1])])]), g.int64([2])], {keepdims: 0})
}

const FLOAT_ZERO = {name: 'zero', dims: [1], type: 'float' as const, data: new Uint8Array(4)}

/** The tensors `specs` applied to `input` (with their biases), a fused tensor's output split by role. */
function projections(c: BlockContext, specs: readonly TensorSpec[], input: string): Partial<Record<Role, string>> {
  const {g, cfg} = c, out: Partial<Record<Role, string>> = {}
  for (const spec of specs) {
    let y = c.linear(g, input, c.get(`${spec.name}.weight`)!)
    const b = c.get(`${spec.name}.bias`)
    if (b) y = g.op('Add', [y, g.weight(b.name, 'float', b.shape, b.load())])
    const parts = spec.roles.length === 1 ? [y]
      : g.ops('Split', [y, g.int64(spec.roles.map((r) => roleShape(cfg, r)[0]))], {axis: -1}, spec.roles.length)
    spec.roles.forEach((r, i) => { out[r] = parts[i] })
  }
  return out
}
