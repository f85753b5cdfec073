import type {ModelConfig} from '../config.js'
import type {InputName} from '../weights.js'

/** Sees each input of the block's linear layers as the block runs: x is (rows, in), holding `samples` calibration samples. */
export type LinearObserver = (input: InputName, x: Float32Array, rows: number, samples: number) => void

/** Work buffers for one decoder block over `rows` tokens; reused across blocks and batches. */
export class BlockScratch {
  readonly h: Float32Array      // (rows, hidden)
  readonly q: Float32Array      // (rows, heads·hd)
  readonly k: Float32Array      // (rows, kvHeads·hd)
  readonly v: Float32Array      // (rows, kvHeads·hd)
  readonly ctx: Float32Array    // (rows, heads·hd)
  readonly gate: Float32Array   // (rows, intermediate)
  readonly up: Float32Array     // (rows, intermediate)
  private readonly extra = new Map<string, Float32Array>()

  constructor(cfg: ModelConfig, readonly rows: number) {
    const q = cfg.heads * cfg.headDim, kv = cfg.kvHeads * cfg.headDim, inter = Math.max(cfg.intermediate, cfg.moe?.width ?? 0)
    this.h = new Float32Array(rows * cfg.hidden)
    this.q = new Float32Array(rows * q)
    this.k = new Float32Array(rows * kv)
    this.v = new Float32Array(rows * kv)
    this.ctx = new Float32Array(rows * q)
    this.gate = new Float32Array(rows * inter)
    this.up = new Float32Array(rows * inter)
  }

  /** A named buffer of at least `length` values, made on first use (stacked outputs, the mixture's buffers). */
  buffer(key: string, length: number): Float32Array {
    let b = this.extra.get(key)
    if (!b || b.length < length) this.extra.set(key, b = new Float32Array(length))
    return b.subarray(0, length)
  }
}
