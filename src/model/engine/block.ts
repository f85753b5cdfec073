import type {Backend} from '../../kernels/index.js'
import type {ModelConfig} from '../config.js'
import {ropeOf, type RopeTables} from '../rope-tables.js'
import type {BlockWeights, Linear, Norm} from '../weights.js'
import {linear} from './linear.js'
import {moeForward} from './moe.js'
import type {BlockScratch, LinearObserver} from './scratch.js'

export {BlockScratch, type LinearObserver} from './scratch.js'
import {applyNorm} from './source.js'

/** A stacked linear (BlockWeights.fused) into `outs`, each (rows, its width), in the order they were stacked. */
function stacked(k: Backend, s: BlockScratch, input: Float32Array, l: Linear, rows: number, outs: Float32Array[]): void {
  const all = s.buffer('stacked', rows * l.out)
  linear(k, all, input, l, rows)
  for (let r = 0; r < rows; r++) {
    let at = r * l.out
    for (const o of outs) {
      const width = o.length / rows
      o.set(all.subarray(at, at + width), r * width)
      at += width
    }
  }
}

/** Attention over this call's q, k, v (rows, heads·hd): the engine's causal kernel, or a KV cache's. */
export type Attend = (ctx: Float32Array, q: Float32Array, k: Float32Array, v: Float32Array, layer: number) => void

/** The attention mask options of block `layer`. */
export const maskOf = (cfg: ModelConfig, layer: number) => ({window: cfg.windows[layer], softcap: cfg.attnSoftcap})

/**
 * One decoder block, in place on x: (batch·seq, hidden), each sequence at positions 0..seq−1.
 *   x += [norm](o(attention(rope(q), rope(k), v)))    with q, k, v = proj(norm(x))
 *   x += [norm](mlp(norm(x)))
 * where the bracketed norms are Gemma 2/3's post-norms and the MLP is gated, plain, or a mixture of experts.
 * Post-norm blocks (OPT-350m, cfg.preNorm false) move the input norms after the additions: x = norm(x + o(…)), x = norm(x + mlp(x)).
 */
export function runBlock(k: Backend, cfg: ModelConfig, w: BlockWeights, x: Float32Array, batch: number, seq: number,
  rope: RopeTables, s: BlockScratch, observe?: LinearObserver, attend?: Attend): void {
  const rows = batch * seq, H = cfg.hidden, hd = cfg.headDim
  const L = w.linears, N = w.norms
  const sub = (a: Float32Array, width: number) => a.subarray(0, rows * width)
  const h = sub(s.h, H), q = sub(s.q, cfg.heads * hd), kk = sub(s.k, cfg.kvHeads * hd), v = sub(s.v, cfg.kvHeads * hd)
  const ctx = sub(s.ctx, cfg.heads * hd), xs = x.subarray(0, rows * H)

  inputNorm(k, cfg, h, xs, N.attnIn!, rows)
  observe?.('attn_in', h, rows, batch)
  if (w.fused?.qkv) {
    stacked(k, s, h, w.fused.qkv, rows, [q, kk, v])
  } else {
    linear(k, q, h, L.q!, rows)
    linear(k, kk, h, L.k!, rows)
    linear(k, v, h, L.v!, rows)
  }
  if (N.q && N.k) {
    applyNorm(k, cfg, q, q, N.q, rows * cfg.heads, hd)
    applyNorm(k, cfg, kk, kk, N.k, rows * cfg.kvHeads, hd)
  }
  if (cfg.rotaryDim) {
    const r = ropeOf(rope, cfg, w.layer)
    k.rope(q, r.cos, r.sin, rows, seq, cfg.heads, hd, r.rot)
    k.rope(kk, r.cos, r.sin, rows, seq, cfg.kvHeads, hd, r.rot)
  }
  if (attend) attend(ctx, q, kk, v, w.layer)
  else k.attention(ctx, q, kk, v, batch, seq, cfg.heads, cfg.kvHeads, hd, cfg.attnScale, maskOf(cfg, w.layer))
  observe?.('attn_out', ctx, rows, batch)
  linear(k, h, ctx, L.o!, rows)
  if (N.attnOut) applyNorm(k, cfg, h, h, N.attnOut, rows, H)
  k.addInplace(xs, h)
  if (!cfg.preNorm) applyNorm(k, cfg, xs, xs, N.attnIn!, rows, H)

  inputNorm(k, cfg, h, xs, N.mlpIn!, rows)
  observe?.('mlp_in', h, rows, batch)
  if (w.router) moeForward(k, cfg, w, h, h, batch, seq, s, observe)
  else denseMlp(k, cfg, w, h, rows, batch, s, observe)
  if (N.mlpOut) applyNorm(k, cfg, h, h, N.mlpOut, rows, H)
  k.addInplace(xs, h)
  if (!cfg.preNorm) applyNorm(k, cfg, xs, xs, N.mlpIn!, rows, H)
}

/** A sublayer's input: norm(x) before it (pre-norm), or x itself where the norm follows the addition. */
export function inputNorm(k: Backend, cfg: ModelConfig, out: Float32Array, x: Float32Array, n: Norm, rows: number): void {
  if (cfg.preNorm) applyNorm(k, cfg, out, x, n, rows, cfg.hidden)
  else out.set(x.subarray(0, rows * cfg.hidden))
}

/** h = down(act(gate(h)) ⊙ up(h)), or down(act(up(h))) without a gate. */
function denseMlp(k: Backend, cfg: ModelConfig, w: BlockWeights, h: Float32Array, rows: number, batch: number, s: BlockScratch, observe?: LinearObserver): void {
  const L = w.linears, width = L.up?.out ?? w.fused!.gateUp!.out / 2
  const gate = s.gate.subarray(0, rows * width), up = s.up.subarray(0, rows * width)
  if (w.fused?.gateUp) stacked(k, s, h, w.fused.gateUp, rows, [gate, up])
  else {
    if (L.gate) linear(k, gate, h, L.gate, rows)
    linear(k, up, h, L.up!, rows)
  }
  const act = L.gate || w.fused?.gateUp ? gate : up
  k.actMul(cfg.activation, act, act, act === gate ? up : null)
  observe?.('mlp_out', act, rows, batch)
  linear(k, h, act, L.down!, rows)
}
