import type {Backend} from '../../kernels/index.js'
import type {ModelConfig} from '../config.js'
import {expertInput} from '../arch/layout.js'
import type {BlockWeights, Linear, RoleLinears} from '../weights.js'
import type {BlockScratch, LinearObserver} from './scratch.js'
import {linear} from './linear.js'

/** Which experts each token goes to, with what weight, and each expert's tokens in token order. */
export interface Routing {
  /** (rows, experts): softmax of the router logits. */
  probs: Float32Array
  /** (rows, topK): the chosen experts and their (renormalised) weights. */
  top: Int32Array
  weights: Float32Array
  /** Per expert: its tokens ascending, and the slot (0..topK−1) through which each reached it. */
  tokens: Int32Array[]
  slots: Int32Array[]
}

/** Softmax over the router's logits in fp32, top-k (ties to the lower expert), renormalised if the family does. */
export function route(k: Backend, cfg: ModelConfig, router: Linear, x: Float32Array, rows: number): Routing {
  const {experts: E, topK: K, normTopk} = cfg.moe!
  const probs = new Float32Array(rows * E)
  linear(k, probs, x, router, rows)
  const top = new Int32Array(rows * K), weights = new Float32Array(rows * K)
  const lists: number[][] = Array.from({length: E}, () => []), slotLists: number[][] = Array.from({length: E}, () => [])
  for (let t = 0; t < rows; t++) {
    const p = probs.subarray(t * E, (t + 1) * E)
    let mx = -Infinity
    for (const v of p) mx = Math.max(mx, v)
    let sum = 0
    for (let e = 0; e < E; e++) sum += Math.exp(p[e] - mx)
    for (let e = 0; e < E; e++) p[e] = Math.exp(p[e] - mx) / sum
    const order = Array.from({length: E}, (_, e) => e).sort((a, b) => p[b] - p[a] || a - b).slice(0, K)
    let chosen = 0
    for (const e of order) chosen += p[e]
    order.forEach((e, j) => {
      top[t * K + j] = e
      weights[t * K + j] = normTopk ? p[e] / chosen : p[e]
      lists[e].push(t)
      slotLists[e].push(j)
    })
  }
  return {probs, top, weights, tokens: lists.map((l) => Int32Array.from(l)), slots: slotLists.map((l) => Int32Array.from(l))}
}

/** The rows `tokens` of x (rows, width) gathered into out. */
export function gather(out: Float32Array, x: Float32Array, tokens: Int32Array, width: number): Float32Array {
  tokens.forEach((t, i) => out.set(x.subarray(t * width, (t + 1) * width), i * width))
  return out.subarray(0, tokens.length * width)
}

/** One expert's MLP on its gathered tokens: act and ye filled; act is what down_proj sees. */
export function expertForward(k: Backend, cfg: ModelConfig, ex: RoleLinears, xe: Float32Array, n: number, gate: Float32Array, up: Float32Array,
  ye: Float32Array): void {
  linear(k, gate, xe, ex.gate!, n)
  linear(k, up, xe, ex.up!, n)
  k.actMul(cfg.activation, gate, gate, up)
  linear(k, ye, gate, ex.down!, n)
}

/**
 * The mixture of experts on x (rows, hidden) into out (which may be x): out = Σ over each token's top-k
 * experts of weight·expert(x). Only experts with tokens run; each sequence's tokens routed to an expert are
 * shown to `observe` as one sample (one forward call of the reference per calibration row).
 */
export function moeForward(k: Backend, cfg: ModelConfig, w: BlockWeights, x: Float32Array, out: Float32Array, batch: number, seq: number,
  s: BlockScratch, observe?: LinearObserver): Routing {
  const rows = batch * seq, H = cfg.hidden, W = cfg.moe!.width, K = cfg.moe!.topK
  const xin = s.buffer('moe.in', rows * H)
  xin.set(x.subarray(0, rows * H))
  const r = route(k, cfg, w.router!, xin, rows)
  out.fill(0, 0, rows * H)
  const xe = s.buffer('moe.xe', rows * H), ye = s.buffer('moe.ye', rows * H)
  for (let e = 0; e < cfg.moe!.experts; e++) {
    const tokens = r.tokens[e], n = tokens.length
    if (n === 0) continue
    gather(xe, xin, tokens, H)
    const gate = s.gate.subarray(0, n * W), up = s.up.subarray(0, n * W)
    expertForward(k, cfg, w.experts[e], xe, n, gate, up, ye)
    if (observe) observeBySequence(observe, e, tokens, seq, xe, gate, H, W)
    tokens.forEach((t, i) => {
      const row = ye.subarray(i * H, (i + 1) * H)
      k.scaleInplace(row, r.weights[t * K + r.slots[e][i]])
      k.addInplace(out.subarray(t * H, (t + 1) * H), row)
    })
  }
  return r
}

/** Each sequence's share of an expert's tokens (contiguous: tokens ascend) as one sample of its inputs. */
function observeBySequence(observe: LinearObserver, e: number, tokens: Int32Array, seq: number, xe: Float32Array, act: Float32Array, H: number, W: number): void {
  for (let i0 = 0; i0 < tokens.length;) {
    const b = Math.floor(tokens[i0] / seq)
    let i1 = i0
    while (i1 < tokens.length && Math.floor(tokens[i1] / seq) === b) i1++
    observe(expertInput(e, 'mlp_in'), xe.subarray(i0 * H, i1 * H), i1 - i0, 1)
    observe(expertInput(e, 'mlp_out'), act.subarray(i0 * W, i1 * W), i1 - i0, 1)
    i0 = i1
  }
}
