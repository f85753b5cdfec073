import type {ModelConfig} from '../../model/config.js'
import {inverseFrequencies} from '../../model/rope-tables.js'
import type {SourceTensor} from '../source.js'
import type {GraphBuilder} from './graph.js'
import type {ValueInfo} from './proto.js'

/** How a linear's weight enters the graph: a float MatMul, or com.microsoft.MatMulNBits. */
export type LinearWriter = (g: GraphBuilder, x: string, w: SourceTensor) => string

/**
 * The decoder as transformers.js runs it (Optimum's interface): input_ids, attention_mask,
 * position_ids and past_key_values.{i}.key/value in; logits and present.{i}.key/value out, the
 * cache [batch, kv_heads, past, head_dim]. Standard opset-17 operators, written out as the engine
 * computes: RMSNorm, rotate-half RoPE on position_ids, a causal mask from attention_mask (and the
 * sliding window), grouped-query attention by broadcasting kv heads against groups of q heads.
 */
export function buildDecoder(g: GraphBuilder, cfg: ModelConfig, weights: SourceTensor[], linear: LinearWriter):
  {inputs: ValueInfo[]; outputs: ValueInfo[]} {
  const get = (layer: number | null, key: string) => weights.find((w) => w.layer === layer && w.key === key)
  const floatWeight = (w: SourceTensor) => g.weight(w.name, 'float', w.shape, w.load())
  const inputs: ValueInfo[] = [
    {name: 'input_ids', type: 'int64', shape: ['batch_size', 'sequence_length']},
    {name: 'attention_mask', type: 'int64', shape: ['batch_size', 'total_sequence_length']},
    {name: 'position_ids', type: 'int64', shape: ['batch_size', 'sequence_length']},
  ]
  const logits: ValueInfo = {name: 'logits', type: 'float', shape: ['batch_size', 'sequence_length', cfg.vocabSize]}
  const outputs: ValueInfo[] = [logits]
  const cache = (name: string, len: string): ValueInfo => ({name, type: 'float', shape: ['batch_size', cfg.kvHeads, len, cfg.headDim]})

  const embed = floatWeight(get(null, 'model.embed_tokens.weight')!)
  let x = g.op('Gather', [embed, 'input_ids'], {axis: 0}) // (B, S, H)
  const rope = ropeTables(g, cfg)
  const mask = attentionBias(g, cfg)
  for (let l = 0; l < cfg.layers; l++) {
    const w = (key: string) => get(l, key)
    inputs.push(cache(`past_key_values.${l}.key`, 'past_sequence_length'), cache(`past_key_values.${l}.value`, 'past_sequence_length'))
    outputs.push(cache(`present.${l}.key`, 'total_sequence_length'), cache(`present.${l}.value`, 'total_sequence_length'))
    const h = rmsNorm(g, x, floatWeight(w('input_layernorm.weight')!), cfg.rmsEps)
    const proj = (name: string) => {
      const y = linear(g, h, w(`self_attn.${name}.weight`)!)
      const b = w(`self_attn.${name}.bias`)
      return b ? g.op('Add', [y, floatWeight(b)]) : y
    }
    const heads = (y: string, n: number) => g.op('Transpose', [g.op('Reshape', [y, g.int64([0, 0, n, cfg.headDim])])], {perm: [0, 2, 1, 3]}) // (B, n, S, hd)
    let q = heads(proj('q_proj'), cfg.heads), k = heads(proj('k_proj'), cfg.kvHeads)
    const v = heads(proj('v_proj'), cfg.kvHeads)
    if (cfg.qkNorm) {
      q = rmsNorm(g, q, floatWeight(w('self_attn.q_norm.weight')!), cfg.rmsEps)
      k = rmsNorm(g, k, floatWeight(w('self_attn.k_norm.weight')!), cfg.rmsEps)
    }
    q = applyRope(g, q, rope, cfg.headDim)
    k = applyRope(g, k, rope, cfg.headDim)
    const keys = g.op('Concat', [`past_key_values.${l}.key`, k], {axis: 2}) // (B, kvH, T, hd)
    const values = g.op('Concat', [`past_key_values.${l}.value`, v], {axis: 2})
    g.name(keys, `present.${l}.key`)
    g.name(values, `present.${l}.value`)
    const ctx = attention(g, cfg, q, keys, values, mask)
    x = g.op('Add', [x, linear(g, ctx, w('self_attn.o_proj.weight')!)])
    const h2 = rmsNorm(g, x, floatWeight(w('post_attention_layernorm.weight')!), cfg.rmsEps)
    const gate = linear(g, h2, w('mlp.gate_proj.weight')!)
    const act = g.op('Mul', [g.op('Mul', [gate, g.op('Sigmoid', [gate])]), linear(g, h2, w('mlp.up_proj.weight')!)])
    x = g.op('Add', [x, linear(g, act, w('mlp.down_proj.weight')!)])
  }
  const final = rmsNorm(g, x, floatWeight(get(null, 'model.norm.weight')!), cfg.rmsEps)
  const head = cfg.tieEmbeddings ? {...get(null, 'model.embed_tokens.weight')!, name: 'lm_head.weight'} : get(null, 'lm_head.weight')!
  g.name(linear(g, final, head), 'logits')
  return {inputs, outputs}
}

/** x · rsqrt(mean(x²) + eps) · w over the last axis. */
function rmsNorm(g: GraphBuilder, x: string, w: string, eps: number): string {
  const ms = g.op('ReduceMean', [g.op('Mul', [x, x])], {axes: [-1], keepdims: 1})
  const inv = g.op('Div', [g.float([1]), g.op('Sqrt', [g.op('Add', [ms, g.float([eps])])])])
  return g.op('Mul', [g.op('Mul', [x, inv]), w])
}

/** cos and sin of position · inverse frequency, (B, 1, S, hd): both halves alike (rotate-half). */
function ropeTables(g: GraphBuilder, cfg: ModelConfig): {cos: string; sin: string} {
  const inv = Array.from(inverseFrequencies(cfg))
  const pos = g.op('Unsqueeze', [g.op('Cast', ['position_ids'], {to: 1}), g.int64([-1])]) // (B, S, 1)
  const half = g.op('Mul', [pos, g.float(inv, [1, 1, inv.length])])
  const angles = g.op('Unsqueeze', [g.op('Concat', [half, half], {axis: -1}), g.int64([1])])
  return {cos: g.op('Cos', [angles]), sin: g.op('Sin', [angles])}
}

function applyRope(g: GraphBuilder, x: string, t: {cos: string; sin: string}, hd: number): string {
  const first = g.op('Slice', [x, g.int64([0]), g.int64([hd / 2]), g.int64([-1])])
  const second = g.op('Slice', [x, g.int64([hd / 2]), g.int64([hd]), g.int64([-1])])
  const rotated = g.op('Concat', [g.op('Neg', [second]), first], {axis: -1})
  return g.op('Add', [g.op('Mul', [x, t.cos]), g.op('Mul', [rotated, t.sin])])
}

/**
 * Additive mask (B, 1, 1, S, T): 0 where query s (at position past + s) may see key t (t ≤ past + s,
 * attention_mask[t] = 1, and within the sliding window), else the lowest float.
 */
function attentionBias(g: GraphBuilder, cfg: ModelConfig): string {
  const total = g.op('Gather', [g.op('Shape', ['attention_mask']), g.int64([1], [])], {axis: 0})
  const seq = g.op('Gather', [g.op('Shape', ['input_ids']), g.int64([1], [])], {axis: 0})
  const zero = g.int64([0], []), one = g.int64([1], [])
  const keyPos = g.op('Range', [zero, total, one]) // (T)
  const queryPos = g.op('Unsqueeze', [g.op('Add', [g.op('Range', [zero, seq, one]), g.op('Sub', [total, seq])]), g.int64([-1])]) // (S, 1)
  let allowed = g.op('LessOrEqual', [keyPos, queryPos]) // (S, T)
  if (cfg.slidingWindow !== null) allowed = g.op('And', [allowed, g.op('Greater', [keyPos, g.op('Sub', [queryPos, g.int64([cfg.slidingWindow], [])])])])
  const padding = g.op('Unsqueeze', [g.op('Cast', ['attention_mask'], {to: 9}), g.int64([1, 2, 3])]) // (B, 1, 1, 1, T)
  return g.op('Where', [g.op('And', [allowed, padding]), g.float([0], []), g.float([-3.4028234663852886e38], [])])
}

/** Grouped-query attention: q (B, nh, S, hd) as (B, kvH, rep, S, hd) against keys (B, kvH, 1, T, hd); out (B, S, nh·hd). */
function attention(g: GraphBuilder, cfg: ModelConfig, q: string, keys: string, values: string, bias: string): string {
  const rep = cfg.heads / cfg.kvHeads, hd = cfg.headDim
  const grouped = g.op('Reshape', [q, g.int64([0, cfg.kvHeads, rep, -1, hd])])
  const k5 = g.op('Unsqueeze', [keys, g.int64([2])]), v5 = g.op('Unsqueeze', [values, g.int64([2])])
  const scores = g.op('Mul', [g.op('MatMul', [grouped, g.op('Transpose', [k5], {perm: [0, 1, 2, 4, 3]})]), g.float([1 / Math.sqrt(hd)], [])])
  const probs = g.op('Softmax', [g.op('Add', [scores, bias])], {axis: -1})
  const ctx = g.op('Reshape', [g.op('MatMul', [probs, v5]), g.int64([0, cfg.heads, -1, hd])]) // (B, nh, S, hd)
  return g.op('Reshape', [g.op('Transpose', [ctx], {perm: [0, 2, 1, 3]}), g.int64([0, 0, cfg.heads * hd])])
}
