import type {Backend} from '../../kernels/index.js'
import type {ModelConfig} from '../config.js'
import type {RopeTables} from '../rope-tables.js'
import {multiply} from '../../packed/weight.js'
import type {BlockWeights, InputName, Linear} from '../weights.js'

/** Sees each input of the block's linear layers as the block runs: x is (rows, in). */
export type LinearObserver = (input: InputName, x: Float32Array, rows: number) => void

/** Work buffers for one decoder block over `rows` tokens; reused across blocks and batches. */
export class BlockScratch {
  readonly h: Float32Array      // (rows, hidden)
  readonly q: Float32Array      // (rows, heads·hd)
  readonly k: Float32Array      // (rows, kvHeads·hd)
  readonly v: Float32Array      // (rows, kvHeads·hd)
  readonly ctx: Float32Array    // (rows, heads·hd)
  readonly gate: Float32Array   // (rows, intermediate)
  readonly up: Float32Array     // (rows, intermediate)
  private stacked?: Float32Array

  /** Output of a stacked linear (BlockWeights.fused), made on first use: (rows, width). */
  fusedOut(width: number): Float32Array {
    if (!this.stacked || this.stacked.length < this.rows * width) this.stacked = new Float32Array(this.rows * width)
    return this.stacked.subarray(0, this.rows * width)
  }

  constructor(cfg: ModelConfig, readonly rows: number) {
    const q = cfg.heads * cfg.headDim, kv = cfg.kvHeads * cfg.headDim
    this.h = new Float32Array(rows * cfg.hidden)
    this.q = new Float32Array(rows * q)
    this.k = new Float32Array(rows * kv)
    this.v = new Float32Array(rows * kv)
    this.ctx = new Float32Array(rows * q)
    this.gate = new Float32Array(rows * cfg.intermediate)
    this.up = new Float32Array(rows * cfg.intermediate)
  }
}

export function linear(k: Backend, out: Float32Array, input: Float32Array, l: Linear, rows: number): void {
  if (!l.packed) return k.gemm(out, input, l.weight, rows, l.out, l.in, {transB: true, bias: l.bias})
  multiply(k, out, input, rows, l.out, l.in, l.packed)
  if (l.bias) for (let r = 0; r < rows; r++) k.addInplace(out.subarray(r * l.out, (r + 1) * l.out), l.bias)
}

/** A stacked linear (BlockWeights.fused) into `outs`, each (rows, its width), in the order they were stacked. */
function stacked(k: Backend, s: BlockScratch, input: Float32Array, l: Linear, rows: number, outs: Float32Array[]): void {
  const all = s.fusedOut(l.out)
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

/**
 * One pre-norm decoder block, in place on x: (batch·seq, hidden), each sequence at positions 0..seq−1.
 *   x += o_proj(attention(rope(q), rope(k), v))    with q, k, v = proj(rmsnorm(x))
 *   x += down_proj(silu(gate_proj(h)) ⊙ up_proj(h)) with h = rmsnorm(x)
 */
/** Attention over this call's q, k, v (rows, heads·hd): the engine's causal kernel, or a KV cache's. */
export type Attend = (ctx: Float32Array, q: Float32Array, k: Float32Array, v: Float32Array) => void

export function runBlock(k: Backend, cfg: ModelConfig, w: BlockWeights, x: Float32Array, batch: number, seq: number,
  rope: RopeTables, s: BlockScratch, observe?: LinearObserver, attend?: Attend): void {
  const rows = batch * seq, H = cfg.hidden, hd = cfg.headDim
  const L = w.linears
  const sub = (a: Float32Array, width: number) => a.subarray(0, rows * width)
  const h = sub(s.h, H), q = sub(s.q, cfg.heads * hd), kk = sub(s.k, cfg.kvHeads * hd), v = sub(s.v, cfg.kvHeads * hd)
  const ctx = sub(s.ctx, cfg.heads * hd), gate = sub(s.gate, cfg.intermediate), up = sub(s.up, cfg.intermediate)

  k.rmsnorm(h, x, w.inputNorm, rows, H, cfg.rmsEps)
  observe?.('attn_in', h, rows)
  if (w.fused) {
    stacked(k, s, h, w.fused.qkv, rows, [q, kk, v])
  } else {
    linear(k, q, h, L['self_attn.q_proj'], rows)
    linear(k, kk, h, L['self_attn.k_proj'], rows)
    linear(k, v, h, L['self_attn.v_proj'], rows)
  }
  if (w.qNorm && w.kNorm) {
    k.rmsnorm(q, q, w.qNorm, rows * cfg.heads, hd, cfg.rmsEps)
    k.rmsnorm(kk, kk, w.kNorm, rows * cfg.kvHeads, hd, cfg.rmsEps)
  }
  k.rope(q, rope.cos, rope.sin, rows, seq, cfg.heads, hd)
  k.rope(kk, rope.cos, rope.sin, rows, seq, cfg.kvHeads, hd)
  if (attend) attend(ctx, q, kk, v)
  else k.attention(ctx, q, kk, v, batch, seq, cfg.heads, cfg.kvHeads, hd, 1 / Math.sqrt(hd))
  observe?.('attn_out', ctx, rows)
  linear(k, h, ctx, L['self_attn.o_proj'], rows)
  k.addInplace(x.subarray(0, rows * H), h)

  k.rmsnorm(h, x, w.postNorm, rows, H, cfg.rmsEps)
  observe?.('mlp_in', h, rows)
  if (w.fused) {
    stacked(k, s, h, w.fused.gateUp, rows, [gate, up])
  } else {
    linear(k, gate, h, L['mlp.gate_proj'], rows)
    linear(k, up, h, L['mlp.up_proj'], rows)
  }
  k.siluMul(gate, gate, up)
  observe?.('mlp_out', gate, rows)
  linear(k, h, gate, L['mlp.down_proj'], rows)
  k.addInplace(x.subarray(0, rows * H), h)
}
