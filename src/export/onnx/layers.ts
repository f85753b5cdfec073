import type {Activation} from '../../kernels/backend.js'
import type {ModelConfig} from '../../model/config.js'
import {inverseFrequencies} from '../../model/rope-tables.js'
import type {GraphBuilder} from './graph.js'

/** A norm's initializers: the weight as applied ((1 + w) already added for Gemma), and LayerNorm's bias. */
export interface NormWeights { weight: string; bias: string | null }

/** The family's norm over the last axis: RMSNorm, or LayerNorm with bias (OPT). */
export function norm(g: GraphBuilder, cfg: ModelConfig, x: string, n: NormWeights): string {
  if (cfg.family.norm === 'layer') return g.op('LayerNormalization', [x, n.weight, n.bias!], {axis: -1, epsilon: {float: cfg.rmsEps}})
  const ms = g.op('ReduceMean', [g.op('Mul', [x, x])], {axes: [-1], keepdims: 1})
  const inv = g.op('Div', [g.float([1]), g.op('Sqrt', [g.op('Add', [ms, g.float([cfg.rmsEps])])])])
  return g.op('Mul', [g.op('Mul', [x, inv]), n.weight])
}

const GELU_K = Math.sqrt(2 / Math.PI)

/** The MLP's activation, written out as the engine computes it (opset 17 has no tanh Gelu). */
export function activation(g: GraphBuilder, act: Activation, x: string): string {
  if (act === 'relu') return g.op('Relu', [x])
  if (act === 'silu') return g.op('Mul', [x, g.op('Sigmoid', [x])])
  const cube = g.op('Mul', [g.op('Mul', [x, x]), x])
  const t = g.op('Tanh', [g.op('Mul', [g.op('Add', [x, g.op('Mul', [cube, g.float([0.044715], [])])]), g.float([GELU_K], [])])])
  return g.op('Mul', [g.op('Mul', [x, g.float([0.5], [])]), g.op('Add', [t, g.float([1], [])])])
}

/** Gemma 2's softcapping: tanh(x / cap)·cap. */
export const softcap = (g: GraphBuilder, x: string, cap: number) =>
  g.op('Mul', [g.op('Tanh', [g.op('Div', [x, g.float([cap], [])])]), g.float([cap], [])])

export interface Rope { cos: string; sin: string; rot: number }

/**
 * cos and sin of position · inverse frequency, (B, 1, S, rot), both halves alike (rotate-half); `theta` is
 * Gemma 3's local base (unscaled). LongRoPE takes its long factors once the sequence (attention_mask's
 * length) exceeds the original context, as transformers' dynamic update does, and scales cos and sin.
 */
export function ropeTables(g: GraphBuilder, cfg: ModelConfig, positions: string, theta?: number): Rope {
  const s = cfg.ropeScaling
  const table = (inv: Float32Array) => g.float(Array.from(inv), [1, 1, inv.length])
  let inv = table(inverseFrequencies(cfg, 0, theta))
  if (s.type === 'longrope' && theta === undefined) {
    const total = g.op('Gather', [g.op('Shape', ['attention_mask']), g.int64([1], [])], {axis: 0})
    const long = g.op('Greater', [total, g.int64([s.originalMaxPositions], [])])
    inv = g.op('Where', [long, table(inverseFrequencies(cfg, s.originalMaxPositions + 1)), inv])
  }
  const pos = g.op('Unsqueeze', [g.op('Cast', [positions], {to: 1}), g.int64([-1])]) // (B, S, 1)
  const half = g.op('Mul', [pos, inv])
  const angles = g.op('Unsqueeze', [g.op('Concat', [half, half], {axis: -1}), g.int64([1])])
  let cos = g.op('Cos', [angles]), sin = g.op('Sin', [angles])
  if (s.type === 'longrope' && theta === undefined) {
    const gain = g.float([Math.fround(s.attentionFactor)], [])
    cos = g.op('Mul', [cos, gain])
    sin = g.op('Mul', [sin, gain])
  }
  return {cos, sin, rot: cfg.rotaryDim}
}

/** Rotate-half RoPE on the first `rot` dims of x (B, n, S, hd); the rest pass through (partial rotary). */
export function applyRope(g: GraphBuilder, x: string, t: Rope, hd: number): string {
  const slice = (v: string, from: number, to: number) => g.op('Slice', [v, g.int64([from]), g.int64([to]), g.int64([-1])])
  const part = t.rot < hd ? slice(x, 0, t.rot) : x
  const rotated = g.op('Concat', [g.op('Neg', [slice(part, t.rot / 2, t.rot)]), slice(part, 0, t.rot / 2)], {axis: -1})
  const out = g.op('Add', [g.op('Mul', [part, t.cos]), g.op('Mul', [rotated, t.sin])])
  return t.rot < hd ? g.op('Concat', [out, slice(x, t.rot, hd)], {axis: -1}) : out
}

/**
 * Additive mask (B, 1, 1, S, T): 0 where query s (at position past + s) may see key t (t ≤ past + s,
 * attention_mask[t] = 1, and within `window` keys ending at the query when window > 0), else the lowest float.
 */
export function attentionBias(g: GraphBuilder, window: number): string {
  const total = g.op('Gather', [g.op('Shape', ['attention_mask']), g.int64([1], [])], {axis: 0})
  const seq = g.op('Gather', [g.op('Shape', ['input_ids']), g.int64([1], [])], {axis: 0})
  const zero = g.int64([0], []), one = g.int64([1], [])
  const keyPos = g.op('Range', [zero, total, one]) // (T)
  const queryPos = g.op('Unsqueeze', [g.op('Add', [g.op('Range', [zero, seq, one]), g.op('Sub', [total, seq])]), g.int64([-1])]) // (S, 1)
  let allowed = g.op('LessOrEqual', [keyPos, queryPos]) // (S, T)
  if (window > 0) allowed = g.op('And', [allowed, g.op('Greater', [keyPos, g.op('Sub', [queryPos, g.int64([window], [])])])])
  const padding = g.op('Unsqueeze', [g.op('Cast', ['attention_mask'], {to: 9}), g.int64([1, 2, 3])]) // (B, 1, 1, 1, T)
  return g.op('Where', [g.op('And', [allowed, padding]), g.float([0], []), g.float([-3.4028234663852886e38], [])])
}

/**
 * Grouped-query attention: q (B, nh, S, hd) as (B, kvH, rep, S, hd) against keys (B, kvH, 1, T, hd), scores
 * scaled by the family's scale and softcapped where it has a cap; out (B, S, nh·hd).
 */
export function attention(g: GraphBuilder, cfg: ModelConfig, q: string, keys: string, values: string, bias: string): string {
  const rep = cfg.heads / cfg.kvHeads, hd = cfg.headDim
  const grouped = g.op('Reshape', [q, g.int64([0, cfg.kvHeads, rep, -1, hd])])
  const k5 = g.op('Unsqueeze', [keys, g.int64([2])]), v5 = g.op('Unsqueeze', [values, g.int64([2])])
  let scores = g.op('Mul', [g.op('MatMul', [grouped, g.op('Transpose', [k5], {perm: [0, 1, 2, 4, 3]})]), g.float([cfg.attnScale], [])])
  if (cfg.attnSoftcap) scores = softcap(g, scores, cfg.attnSoftcap)
  const probs = g.op('Softmax', [g.op('Add', [scores, bias])], {axis: -1})
  const ctx = g.op('Reshape', [g.op('MatMul', [probs, v5]), g.int64([0, cfg.heads, -1, hd])]) // (B, nh, S, hd)
  return g.op('Reshape', [g.op('Transpose', [ctx], {perm: [0, 2, 1, 3]}), g.int64([0, 0, cfg.heads * hd])])
}
