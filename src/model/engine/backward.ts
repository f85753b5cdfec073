import type {Backend} from '../../kernels/index.js'
import {kernels as defaultKernels} from '../../kernels/index.js'
import type {ModelConfig} from '../config.js'
import {ropeTables, type RopeTables} from '../rope-tables.js'
import {blockPrefix, LINEARS, type BlockWeights, type Linear, type LinearName} from '../weights.js'
import {embed, type Batch} from './forward.js'
import {linear, runBlock, BlockScratch} from './block.js'

/** Where weights come from: a streamed checkpoint (Model) or parameters held in memory (the trainer). */
export interface WeightSource {
  readonly cfg: ModelConfig
  embeddings(): Float32Array
  head(): Float32Array
  finalNorm(): Float32Array
  block(layer: number, reuse?: BlockWeights): BlockWeights
}

/** Gradients of one block's parameters, shaped like BlockWeights. */
export interface BlockGrads {
  inputNorm: Float32Array
  postNorm: Float32Array
  qNorm: Float32Array | null
  kNorm: Float32Array | null
  linears: Record<LinearName, {weight: Float32Array; bias: Float32Array | null}>
}

export function zeroGrads(w: BlockWeights): BlockGrads {
  const z = (a: Float32Array | null) => (a ? new Float32Array(a.length) : null)
  const linears = {} as BlockGrads['linears']
  for (const n of LINEARS) linears[n] = {weight: new Float32Array(w.linears[n].weight.length), bias: z(w.linears[n].bias)}
  return {inputNorm: z(w.inputNorm)!, postNorm: z(w.postNorm)!, qNorm: z(w.qNorm), kNorm: z(w.kNorm), linears}
}

/** Every activation of one block forward that its backward reads. */
interface Tape {
  x0: Float32Array; h1: Float32Array; qLin: Float32Array; kLin: Float32Array; q: Float32Array; k: Float32Array; v: Float32Array
  ctx: Float32Array; x1: Float32Array; h2: Float32Array; gate: Float32Array; up: Float32Array; act: Float32Array
}

function forwardTape(k: Backend, cfg: ModelConfig, w: BlockWeights, x0: Float32Array, batch: number, seq: number, rope: RopeTables): Tape {
  const rows = batch * seq, H = cfg.hidden, hd = cfg.headDim, L = w.linears
  const f = (n: number) => new Float32Array(rows * n)
  const t: Tape = {x0, h1: f(H), qLin: f(cfg.heads * hd), kLin: f(cfg.kvHeads * hd), q: f(cfg.heads * hd), k: f(cfg.kvHeads * hd), v: f(cfg.kvHeads * hd),
    ctx: f(cfg.heads * hd), x1: f(H), h2: f(H), gate: f(cfg.intermediate), up: f(cfg.intermediate), act: f(cfg.intermediate)}
  k.rmsnorm(t.h1, x0, w.inputNorm, rows, H, cfg.rmsEps)
  linear(k, t.qLin, t.h1, L['self_attn.q_proj'], rows)
  linear(k, t.kLin, t.h1, L['self_attn.k_proj'], rows)
  linear(k, t.v, t.h1, L['self_attn.v_proj'], rows)
  if (w.qNorm && w.kNorm) {
    k.rmsnorm(t.q, t.qLin, w.qNorm, rows * cfg.heads, hd, cfg.rmsEps)
    k.rmsnorm(t.k, t.kLin, w.kNorm, rows * cfg.kvHeads, hd, cfg.rmsEps)
  } else {
    t.q.set(t.qLin)
    t.k.set(t.kLin)
  }
  k.rope(t.q, rope.cos, rope.sin, rows, seq, cfg.heads, hd)
  k.rope(t.k, rope.cos, rope.sin, rows, seq, cfg.kvHeads, hd)
  k.attention(t.ctx, t.q, t.k, t.v, batch, seq, cfg.heads, cfg.kvHeads, hd, 1 / Math.sqrt(hd))
  linear(k, t.x1, t.ctx, L['self_attn.o_proj'], rows)
  k.addInplace(t.x1, x0)
  k.rmsnorm(t.h2, t.x1, w.postNorm, rows, H, cfg.rmsEps)
  linear(k, t.gate, t.h2, L['mlp.gate_proj'], rows)
  linear(k, t.up, t.h2, L['mlp.up_proj'], rows)
  k.siluMul(t.act, t.gate, t.up)
  return t
}

/** y = x·Wᵀ + b: dW += dyᵀ·x, db += Σ dy, and dx (+)= dy·W. */
function linearBackward(k: Backend, dx: Float32Array, accumulate: boolean, dy: Float32Array, x: Float32Array, l: Linear,
  g: {weight: Float32Array; bias: Float32Array | null}, rows: number): void {
  k.gemm(g.weight, dy, x, l.out, l.in, rows, {transA: true, accumulate: true})
  if (g.bias) k.gemm(g.bias, new Float32Array(rows).fill(1), dy, 1, l.out, rows, {accumulate: true})
  k.gemm(dx, dy, l.weight, rows, l.in, l.out, {accumulate})
}

/** Backward of one block: from dx2 (the gradient of its output), returns dx0 and accumulates into g. */
function blockBackward(k: Backend, cfg: ModelConfig, w: BlockWeights, t: Tape, dx2: Float32Array, g: BlockGrads,
  batch: number, seq: number, rope: RopeTables): Float32Array {
  const rows = batch * seq, H = cfg.hidden, hd = cfg.headDim, L = w.linears, G = g.linears
  const f = (n: number) => new Float32Array(rows * n)
  // MLP: x2 = x1 + down(silu(gate(h2)) ⊙ up(h2))
  const dact = f(cfg.intermediate)
  linearBackward(k, dact, false, dx2, t.act, L['mlp.down_proj'], G['mlp.down_proj'], rows)
  const dgate = f(cfg.intermediate), dup = f(cfg.intermediate)
  k.siluMulBackward(dgate, dup, dact, t.gate, t.up)
  const dh2 = f(H)
  linearBackward(k, dh2, false, dgate, t.h2, L['mlp.gate_proj'], G['mlp.gate_proj'], rows)
  linearBackward(k, dh2, true, dup, t.h2, L['mlp.up_proj'], G['mlp.up_proj'], rows)
  const dx1 = f(H)
  k.rmsnormBackward(dx1, g.postNorm, dh2, t.x1, w.postNorm, rows, H, cfg.rmsEps)
  k.addInplace(dx1, dx2)
  // Attention: x1 = x0 + o(attention(rope(q), rope(k), v))
  const dctx = f(cfg.heads * hd)
  linearBackward(k, dctx, false, dx1, t.ctx, L['self_attn.o_proj'], G['self_attn.o_proj'], rows)
  const dq = f(cfg.heads * hd), dk = f(cfg.kvHeads * hd), dv = f(cfg.kvHeads * hd)
  k.attentionBackward(dq, dk, dv, dctx, t.q, t.k, t.v, batch, seq, cfg.heads, cfg.kvHeads, hd, 1 / Math.sqrt(hd))
  k.ropeBackward(dq, rope.cos, rope.sin, rows, seq, cfg.heads, hd)
  k.ropeBackward(dk, rope.cos, rope.sin, rows, seq, cfg.kvHeads, hd)
  let dqLin = dq, dkLin = dk
  if (w.qNorm && w.kNorm) {
    dqLin = f(cfg.heads * hd)
    dkLin = f(cfg.kvHeads * hd)
    k.rmsnormBackward(dqLin, g.qNorm, dq, t.qLin, w.qNorm, rows * cfg.heads, hd, cfg.rmsEps)
    k.rmsnormBackward(dkLin, g.kNorm, dk, t.kLin, w.kNorm, rows * cfg.kvHeads, hd, cfg.rmsEps)
  }
  const dh1 = f(H)
  linearBackward(k, dh1, false, dqLin, t.h1, L['self_attn.q_proj'], G['self_attn.q_proj'], rows)
  linearBackward(k, dh1, true, dkLin, t.h1, L['self_attn.k_proj'], G['self_attn.k_proj'], rows)
  linearBackward(k, dh1, true, dv, t.h1, L['self_attn.v_proj'], G['self_attn.v_proj'], rows)
  const dx0 = f(H)
  k.rmsnormBackward(dx0, g.inputNorm, dh1, t.x0, w.inputNorm, rows, H, cfg.rmsEps)
  k.addInplace(dx0, dx1)
  return dx0
}

/**
 * One block on x0 (batch·seq, hidden) and the gradients of a loss of its output: `lossGrad(out, dOut)`
 * returns the loss and writes ∂loss/∂out into dOut; the parameters' gradients accumulate into g.
 * For block-wise training (GQSA's BQPO).
 */
export function blockGradients(k: Backend, cfg: ModelConfig, w: BlockWeights, x0: Float32Array, batch: number, seq: number, rope: RopeTables,
  lossGrad: (out: Float32Array, dOut: Float32Array) => number, g: BlockGrads): number {
  const rows = batch * seq
  const t = forwardTape(k, cfg, w, x0, batch, seq, rope)
  const out = new Float32Array(rows * cfg.hidden)
  linear(k, out, t.act, w.linears['mlp.down_proj'], rows)
  k.addInplace(out, t.x1)
  const dOut = new Float32Array(rows * cfg.hidden)
  const loss = lossGrad(out, dOut)
  blockBackward(k, cfg, w, t, dOut, g, batch, seq, rope)
  return loss
}

export interface BackwardResult {
  /** Mean next-token cross-entropy over the batch's n·(seq − 1) predictions. */
  loss: number
  embeddings: Float32Array
  finalNorm: Float32Array
  /** lm_head's gradient; null when tied (it is then added into `embeddings`). */
  head: Float32Array | null
}

/**
 * Loss and gradients of a batch of equal-length sequences. Block inputs are kept; each block's
 * internals are recomputed on the way back (activation checkpointing), so one block's activations
 * and gradients exist at a time. `onBlock` receives each block's gradients, last block first.
 */
export function lossAndGradients(src: WeightSource, batch: Batch, onBlock: (layer: number, g: BlockGrads, w: BlockWeights) => void,
  kernels: Backend = defaultKernels()): BackwardResult {
  const k = kernels, cfg = src.cfg, {n, seq} = batch, rows = n * seq, H = cfg.hidden, V = cfg.vocabSize
  const rope = ropeTables(cfg, seq)
  const inputs: Float32Array[] = []
  let x = new Float32Array(rows * H)
  embed(src, batch.ids, x)
  const scratch = new BlockScratch(cfg, rows)
  let w: BlockWeights | undefined
  for (let l = 0; l < cfg.layers; l++) {
    inputs.push(x.slice())
    w = src.block(l, w)
    runBlock(k, cfg, w, x, n, seq, rope, scratch)
  }
  // Head: positions 0..seq−2 of each sequence predict the next token.
  const hf = new Float32Array(rows * H)
  k.rmsnorm(hf, x, src.finalNorm(), rows, H, cfg.rmsEps)
  const logits = new Float32Array(rows * V)
  k.gemm(logits, hf, src.head(), rows, V, H, {transB: true})
  const targets = new Int32Array(rows), use = new Uint8Array(rows)
  for (let s = 0; s < n; s++) for (let t = 0; t < seq - 1; t++) { targets[s * seq + t] = batch.ids[s * seq + t + 1]; use[s * seq + t] = 1 }
  const count = n * (seq - 1)
  const losses = new Float32Array(rows)
  k.nllRows(losses, logits, targets, rows, V)
  let loss = 0
  for (let r = 0; r < rows; r++) if (use[r]) loss += losses[r]
  k.xentBackward(logits, targets, rows, V, 1 / count)
  for (let r = 0; r < rows; r++) if (!use[r]) logits.fill(0, r * V, (r + 1) * V)
  const dHead = new Float32Array(V * H)
  k.gemm(dHead, logits, hf, V, H, rows, {transA: true})
  const dhf = new Float32Array(rows * H)
  k.gemm(dhf, logits, src.head(), rows, H, V)
  const dNorm = new Float32Array(H)
  let dx: Float32Array = new Float32Array(rows * H)
  k.rmsnormBackward(dx, dNorm, dhf, x, src.finalNorm(), rows, H, cfg.rmsEps)
  for (let l = cfg.layers - 1; l >= 0; l--) {
    w = src.block(l, w)
    const tape = forwardTape(k, cfg, w, inputs[l], n, seq, rope)
    const g = zeroGrads(w)
    dx = blockBackward(k, cfg, w, tape, dx, g, n, seq, rope)
    onBlock(l, g, w)
    inputs.pop()
  }
  const dEmbed = cfg.tieEmbeddings ? dHead : new Float32Array(V * H)
  for (let t = 0; t < rows; t++) k.addInplace(dEmbed.subarray(batch.ids[t] * H, (batch.ids[t] + 1) * H), dx.subarray(t * H, (t + 1) * H))
  return {loss: loss / count, embeddings: dEmbed, finalNorm: dNorm, head: cfg.tieEmbeddings ? null : dHead}
}

/** All parameter gradients by Hugging Face name (for tests and small models). */
export function namedGradients(src: WeightSource, batch: Batch, kernels?: Backend): {loss: number; grads: Map<string, Float32Array>} {
  const grads = new Map<string, Float32Array>()
  const r = lossAndGradients(src, batch, (l, g) => {
    const p = blockPrefix(l)
    grads.set(`${p}input_layernorm.weight`, g.inputNorm)
    grads.set(`${p}post_attention_layernorm.weight`, g.postNorm)
    if (g.qNorm) grads.set(`${p}self_attn.q_norm.weight`, g.qNorm)
    if (g.kNorm) grads.set(`${p}self_attn.k_norm.weight`, g.kNorm)
    for (const name of LINEARS) {
      grads.set(`${p}${name}.weight`, g.linears[name].weight)
      const b = g.linears[name].bias
      if (b) grads.set(`${p}${name}.bias`, b)
    }
  }, kernels)
  grads.set('model.embed_tokens.weight', r.embeddings)
  grads.set('model.norm.weight', r.finalNorm)
  if (r.head) grads.set('lm_head.weight', r.head)
  return {loss: r.loss, grads}
}
