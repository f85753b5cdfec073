import type {Backend} from '../../kernels/index.js'
import {kernels as defaultKernels} from '../../kernels/index.js'
import type {ModelConfig} from '../config.js'
import type {NormSlot} from '../arch/families.js'
import {globalNames, normName, routerName} from '../arch/layout.js'
import {ropeOf, ropeTables, type RopeTables} from '../rope-tables.js'
import type {BlockWeights, Norm} from '../weights.js'
import {inputNorm, maskOf, runBlock, BlockScratch} from './block.js'
import {linear, linearBackward} from './linear.js'
import {moeBackward} from './moe-backward.js'
import {moeForward} from './moe.js'
import {applyNorm, embed, embedBackward, headInput, normBackward, type Batch, type WeightSource} from './source.js'
import {zeroGrads, type BlockGrads} from './grads.js'
import {BACKWARD_TILE_BYTES, F32} from './memory.js'

/** Every activation of one block forward that its backward reads. */
interface Tape {
  x0: Float32Array; h1: Float32Array; qLin: Float32Array; kLin: Float32Array; q: Float32Array; k: Float32Array; v: Float32Array
  ctx: Float32Array; attn: Float32Array; x1: Float32Array; h2: Float32Array; gate: Float32Array; up: Float32Array; act: Float32Array
  mlp: Float32Array; x2: Float32Array
  /** Post-norm blocks: the sums before their norms (x1 = norm(s1), x2 = norm(s2)); null for pre-norm. */
  s1: Float32Array | null; s2: Float32Array | null
}

function forwardTape(k: Backend, cfg: ModelConfig, w: BlockWeights, x0: Float32Array, batch: number, seq: number, rope: RopeTables): Tape {
  const rows = batch * seq, H = cfg.hidden, hd = cfg.headDim, L = w.linears, N = w.norms, I = L.up?.out ?? 0
  const f = (n: number) => new Float32Array(rows * n)
  const t: Tape = {x0, h1: f(H), qLin: f(cfg.heads * hd), kLin: f(cfg.kvHeads * hd), q: f(cfg.heads * hd), k: f(cfg.kvHeads * hd), v: f(cfg.kvHeads * hd),
    ctx: f(cfg.heads * hd), attn: f(H), x1: f(H), h2: f(H), gate: f(I), up: f(I), act: f(I), mlp: f(H), x2: f(H), s1: null, s2: null}
  inputNorm(k, cfg, t.h1, x0, N.attnIn!, rows)
  linear(k, t.qLin, t.h1, L.q!, rows)
  linear(k, t.kLin, t.h1, L.k!, rows)
  linear(k, t.v, t.h1, L.v!, rows)
  if (N.q && N.k) {
    applyNorm(k, cfg, t.q, t.qLin, N.q, rows * cfg.heads, hd)
    applyNorm(k, cfg, t.k, t.kLin, N.k, rows * cfg.kvHeads, hd)
  } else {
    t.q.set(t.qLin)
    t.k.set(t.kLin)
  }
  if (cfg.rotaryDim) {
    const r = ropeOf(rope, cfg, w.layer)
    k.rope(t.q, r.cos, r.sin, rows, seq, cfg.heads, hd, r.rot)
    k.rope(t.k, r.cos, r.sin, rows, seq, cfg.kvHeads, hd, r.rot)
  }
  k.attention(t.ctx, t.q, t.k, t.v, batch, seq, cfg.heads, cfg.kvHeads, hd, cfg.attnScale, maskOf(cfg, w.layer))
  linear(k, t.attn, t.ctx, L.o!, rows)
  t.x1.set(t.attn)
  if (N.attnOut) applyNorm(k, cfg, t.x1, t.attn, N.attnOut, rows, H)
  k.addInplace(t.x1, x0)
  if (!cfg.preNorm) applyNorm(k, cfg, t.x1, t.s1 = t.x1.slice(), N.attnIn!, rows, H)
  inputNorm(k, cfg, t.h2, t.x1, N.mlpIn!, rows)
  if (w.router) {
    moeForward(k, cfg, w, t.h2, t.mlp, batch, seq, new BlockScratch(cfg, rows))
  } else {
    if (L.gate) linear(k, t.gate, t.h2, L.gate, rows)
    linear(k, t.up, t.h2, L.up!, rows)
    k.actMul(cfg.activation, t.act, L.gate ? t.gate : t.up, L.gate ? t.up : null)
    linear(k, t.mlp, t.act, L.down!, rows)
  }
  t.x2.set(t.mlp)
  if (N.mlpOut) applyNorm(k, cfg, t.x2, t.mlp, N.mlpOut, rows, H)
  k.addInplace(t.x2, t.x1)
  if (!cfg.preNorm) applyNorm(k, cfg, t.x2, t.s2 = t.x2.slice(), N.mlpIn!, rows, H)
  return t
}

/** dx of a norm's output dy (into a new array), or dy itself where the slot has no norm. */
function throughNorm(k: Backend, cfg: ModelConfig, w: BlockWeights, g: BlockGrads, slot: NormSlot, dy: Float32Array, x: Float32Array, rows: number, dim: number): Float32Array {
  const n = w.norms[slot]
  if (!n) return dy
  const dx = new Float32Array(rows * dim)
  normBackward(k, cfg, dx, g.norms[slot]!, dy, x, n, rows, dim)
  return dx
}

/** Backward of one block: from dx2 (the gradient of its output), returns dx0 and accumulates into g. */
function blockBackward(k: Backend, cfg: ModelConfig, w: BlockWeights, t: Tape, dx2: Float32Array, g: BlockGrads,
  batch: number, seq: number, rope: RopeTables): Float32Array {
  const rows = batch * seq, H = cfg.hidden, hd = cfg.headDim, L = w.linears, G = g.linears
  const f = (n: number) => new Float32Array(rows * n)
  // MLP: x2 = x1 + [norm](mlp(norm(x1))), or post-norm x2 = norm(x1 + mlp(x1))
  const ds2 = t.s2 ? throughNorm(k, cfg, w, g, 'mlpIn', dx2, t.s2, rows, H) : dx2
  const dmlp = throughNorm(k, cfg, w, g, 'mlpOut', ds2, t.mlp, rows, H)
  const dh2 = f(H)
  if (w.router) {
    moeBackward(k, cfg, w, g, t.h2, dmlp, dh2, rows)
  } else {
    const I = L.up!.out, dact = f(I), dgate = f(I), dup = f(I)
    linearBackward(k, dact, false, dmlp, t.act, L.down!, G.down!, rows)
    if (L.gate) {
      k.actMulBackward(cfg.activation, dgate, dup, dact, t.gate, t.up)
      linearBackward(k, dh2, false, dgate, t.h2, L.gate, G.gate!, rows)
    } else {
      k.actMulBackward(cfg.activation, dup, null, dact, t.up, null)
    }
    linearBackward(k, dh2, L.gate !== undefined, dup, t.h2, L.up!, G.up!, rows)
  }
  const dx1 = t.s2 ? dh2 : throughNorm(k, cfg, w, g, 'mlpIn', dh2, t.x1, rows, H)
  k.addInplace(dx1, ds2)
  // Attention: x1 = x0 + [norm](o(attention(rope(q), rope(k), v))), or post-norm x1 = norm(x0 + o(…))
  const ds1 = t.s1 ? throughNorm(k, cfg, w, g, 'attnIn', dx1, t.s1, rows, H) : dx1
  const dattn = throughNorm(k, cfg, w, g, 'attnOut', ds1, t.attn, rows, H)
  const dctx = f(cfg.heads * hd)
  linearBackward(k, dctx, false, dattn, t.ctx, L.o!, G.o!, rows)
  const dq = f(cfg.heads * hd), dk = f(cfg.kvHeads * hd), dv = f(cfg.kvHeads * hd)
  k.attentionBackward(dq, dk, dv, dctx, t.q, t.k, t.v, batch, seq, cfg.heads, cfg.kvHeads, hd, cfg.attnScale, maskOf(cfg, w.layer))
  if (cfg.rotaryDim) {
    const r = ropeOf(rope, cfg, w.layer)
    k.ropeBackward(dq, r.cos, r.sin, rows, seq, cfg.heads, hd, r.rot)
    k.ropeBackward(dk, r.cos, r.sin, rows, seq, cfg.kvHeads, hd, r.rot)
  }
  const dqLin = throughNorm(k, cfg, w, g, 'q', dq, t.qLin, rows * cfg.heads, hd)
  const dkLin = throughNorm(k, cfg, w, g, 'k', dk, t.kLin, rows * cfg.kvHeads, hd)
  const dh1 = f(H)
  linearBackward(k, dh1, false, dqLin, t.h1, L.q!, G.q!, rows)
  linearBackward(k, dh1, true, dkLin, t.h1, L.k!, G.k!, rows)
  linearBackward(k, dh1, true, dv, t.h1, L.v!, G.v!, rows)
  const dx0 = t.s1 ? dh1 : throughNorm(k, cfg, w, g, 'attnIn', dh1, t.x0, rows, H)
  k.addInplace(dx0, ds1)
  return dx0
}

/**
 * One block on x0 (batch·seq, hidden) and the gradients of a loss of its output: `lossGrad(out, dOut)`
 * returns the loss and writes ∂loss/∂out into dOut; the parameters' gradients accumulate into g.
 * For block-wise training (GQSA's BQPO).
 */
export function blockGradients(k: Backend, cfg: ModelConfig, w: BlockWeights, x0: Float32Array, batch: number, seq: number, rope: RopeTables,
  lossGrad: (out: Float32Array, dOut: Float32Array) => number, g: BlockGrads): number {
  const t = forwardTape(k, cfg, w, x0, batch, seq, rope)
  const dOut = new Float32Array(batch * seq * cfg.hidden)
  const loss = lossGrad(t.x2, dOut)
  blockBackward(k, cfg, w, t, dOut, g, batch, seq, rope)
  return loss
}

export interface BackwardResult {
  /** Mean next-token cross-entropy over the batch's n·(seq − 1) predictions. */
  loss: number
  /** Null where the family has no final norm (post-norm OPT). */
  finalNorm: Norm | null
  /** With `outer`: the embeddings' gradient (the head's added when tied), learned positions' (OPT) or null, lm_head's or null when tied. */
  embeddings: Float32Array | null
  positions: Float32Array | null
  head: Float32Array | null
}

/** Vocabulary columns per tile of the head's backward: (rows, columns) logits of BACKWARD_TILE_BYTES. */
const vocabTile = (rows: number, vocab: number) => Math.max(1, Math.min(vocab, Math.floor(BACKWARD_TILE_BYTES / F32 / rows)))

/**
 * Loss of the head over the final hidden states x, its gradient with respect to x, the final norm's and (with
 * `headGrad`) the head's, a tile of vocabulary columns at a time so that (rows, vocab) logits never exist: a
 * first pass takes each row's log-sum-exp, a second turns each tile into softmax − onehot, through the final
 * softcap's derivative, and accumulates dh += dlogits·W and dW = dlogitsᵀ·h. (Tests pass other tile widths.)
 */
export function headBackward(k: Backend, src: WeightSource, batch: Batch, x: Float32Array, headGrad: boolean, cols = vocabTile(batch.n * batch.seq, src.cfg.vocabSize)) {
  const cfg = src.cfg, {n, seq} = batch, rows = n * seq, H = cfg.hidden, E = cfg.embedDim, V = cfg.vocabSize, cap = cfg.finalSoftcap, W = src.head()
  const hf = new Float32Array(rows * E), norm = src.finalNorm(), project = src.projection('out')
  headInput(k, src, hf, new Float32Array(project ? rows * H : 0), x, rows)
  // Positions 0..seq−2 of each sequence predict the next token; the last position of each weighs nothing.
  const count = n * (seq - 1), targets = new Int32Array(rows), rowScale = new Float32Array(rows)
  for (let s = 0; s < n; s++) for (let t = 0; t < seq - 1; t++) { targets[s * seq + t] = batch.ids[s * seq + t + 1]; rowScale[s * seq + t] = 1 / count }
  const tile = new Float32Array(rows * cols), capped = cap ? new Float32Array(rows * cols) : null
  const logits = (c0: number, m: number) => {
    const t = tile.subarray(0, rows * m)
    k.gemm(t, hf, W.subarray(c0 * E, (c0 + m) * E), rows, m, E, {transB: true})
    if (cap) k.softcap(t, cap)
    return t
  }
  const mx = new Float32Array(rows).fill(-Infinity), sum = new Float32Array(rows), zt = new Float32Array(rows)
  for (let c0 = 0; c0 < V; c0 += cols) k.lseTile(mx, sum, zt, logits(c0, Math.min(cols, V - c0)), targets, c0, rows, Math.min(cols, V - c0))
  const lse = mx.map((m, r) => m + Math.log(sum[r]))
  let loss = 0
  for (let r = 0; r < rows; r++) if (rowScale[r]) loss += lse[r] - zt[r]
  const dHead = headGrad ? new Float32Array(V * E) : null, dhf = new Float32Array(rows * E)
  for (let c0 = 0; c0 < V; c0 += cols) {
    const m = Math.min(cols, V - c0), t = logits(c0, m)
    if (capped) capped.set(t)
    k.xentTileBackward(t, lse, targets, rowScale, c0, rows, m)
    if (capped) k.softcapBackward(t, capped.subarray(0, rows * m), cap)
    k.gemm(dhf, t, W.subarray(c0 * E, (c0 + m) * E), rows, E, m, {accumulate: c0 > 0})
    if (dHead) k.gemm(dHead.subarray(c0 * E, (c0 + m) * E), t, hf, m, E, rows, {transA: true})
  }
  // project_out's own gradient is not formed: nothing prunes or trains it.
  let dNormed = dhf
  if (project) k.gemm(dNormed = new Float32Array(rows * H), dhf, project, rows, H, E)
  if (!norm) return {loss: loss / count, dx: dNormed, dNorm: null, dHead}
  const dNorm = {weight: new Float32Array(H), bias: norm.bias && new Float32Array(H)}
  const dx = new Float32Array(rows * H)
  normBackward(k, cfg, dx, dNorm, dNormed, x, norm, rows, H)
  return {loss: loss / count, dx, dNorm, dHead}
}

/**
 * Loss and gradients of a batch of equal-length sequences. Block inputs are kept; each block's
 * internals are recomputed on the way back (activation checkpointing), so one block's activations
 * and gradients exist at a time. `onBlock` receives each block's gradients, last block first; the
 * embeddings' and head's gradients ((vocab, hidden) each) are made only with `outer`.
 */
export function lossAndGradients(src: WeightSource, batch: Batch, onBlock: (layer: number, g: BlockGrads, w: BlockWeights) => void,
  kernels: Backend = defaultKernels(), outer = false): BackwardResult {
  const k = kernels, cfg = src.cfg, {n, seq} = batch, rows = n * seq, H = cfg.hidden, V = cfg.vocabSize
  const rope = ropeTables(cfg, seq)
  const inputs: Float32Array[] = []
  const x = new Float32Array(rows * H)
  embed(src, batch.ids, x, k, seq)
  const scratch = new BlockScratch(cfg, rows)
  let w: BlockWeights | undefined
  for (let l = 0; l < cfg.layers; l++) {
    inputs.push(x.slice())
    w = src.block(l, w)
    runBlock(k, cfg, w, x, n, seq, rope, scratch)
  }
  const head = headBackward(k, src, batch, x, outer)
  let dx: Float32Array = head.dx
  for (let l = cfg.layers - 1; l >= 0; l--) {
    w = src.block(l, w)
    const tape = forwardTape(k, cfg, w, inputs[l], n, seq, rope)
    const g = zeroGrads(cfg, w)
    dx = blockBackward(k, cfg, w, tape, dx, g, n, seq, rope)
    onBlock(l, g, w)
    inputs.pop()
  }
  if (!outer) return {loss: head.loss, finalNorm: head.dNorm, embeddings: null, positions: null, head: null}
  const dEmbed = cfg.tieEmbeddings ? head.dHead! : new Float32Array(V * cfg.embedDim)
  const pos = src.positions(), dPos = pos && new Float32Array(pos.length)
  embedBackward(src, batch.ids, dx, dEmbed, dPos, k, seq)
  return {loss: head.loss, finalNorm: head.dNorm, embeddings: dEmbed, positions: dPos, head: cfg.tieEmbeddings ? null : head.dHead}
}

/** All parameter gradients by Hugging Face name (for tests and small models). */
export function namedGradients(src: WeightSource, batch: Batch, kernels?: Backend): {loss: number; grads: Map<string, Float32Array>} {
  const grads = new Map<string, Float32Array>(), cfg = src.cfg
  const add = (name: string, g: {weight: Float32Array; bias: Float32Array | null}) => {
    grads.set(`${name}.weight`, g.weight)
    if (g.bias) grads.set(`${name}.bias`, g.bias)
  }
  const r = lossAndGradients(src, batch, (l, g, w) => {
    for (const [slot, ng] of Object.entries(g.norms) as [NormSlot, Norm][]) add(normName(cfg, l, slot), ng)
    w.tensors.forEach((t, i) => add(t.name, g.tensors[i]))
    if (g.router) add(routerName(cfg, l), g.router)
  }, kernels, true)
  const names = globalNames(cfg)
  grads.set(names.embed, r.embeddings!)
  if (r.positions) grads.set(names.positions!, r.positions)
  if (r.finalNorm) add(names.finalNorm, r.finalNorm)
  if (r.head) grads.set(names.head, r.head)
  return {loss: r.loss, grads}
}
