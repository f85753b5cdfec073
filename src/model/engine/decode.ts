import {kernels as defaultKernels, type Backend, type Values} from '../../kernels/index.js'
import {longFactors, ropeFrom, ropeTables, type RopeTables} from '../rope-tables.js'
import {BlockScratch, maskOf, runBlock} from './block.js'
import {embed, headInput, type WeightSource} from './source.js'

/**
 * Incremental decoding with a KV cache: each call runs only the new tokens through every block,
 * their keys and values appended to the cache, their queries attending to everything before.
 */
export class Decoder {
  private readonly kCache: Float32Array[]
  private readonly vCache: Float32Array[]
  /** By longrope factor set (one entry for other scalings): each step takes the set of its own last position. */
  private readonly ropes = new Map<boolean, RopeTables>()
  private past = 0

  /** `head` may give the output projection in another precision (bf16 for packed decoding); by default src.head(). */
  constructor(private readonly src: WeightSource, readonly maxLen: number, private readonly k: Backend = defaultKernels(),
    private readonly head: Values = src.head()) {
    const kv = src.cfg.kvHeads * src.cfg.headDim
    this.kCache = Array.from({length: src.cfg.layers}, () => new Float32Array(maxLen * kv))
    this.vCache = Array.from({length: src.cfg.layers}, () => new Float32Array(maxLen * kv))
  }

  get length(): number { return this.past }

  private ropeFor(end: number): RopeTables {
    const long = longFactors(this.src.cfg, end)
    let t = this.ropes.get(long)
    if (!t) this.ropes.set(long, t = ropeTables(this.src.cfg, this.maxLen, end))
    return t
  }

  /** Feeds `ids` (at positions length..length+n−1) and returns the logits after the last one: (vocab). */
  step(ids: number[]): Float32Array {
    const {cfg} = this.src, k = this.k, n = ids.length, H = cfg.hidden, hd = cfg.headDim
    if (this.past + n > this.maxLen) throw new RangeError(`the cache holds ${this.maxLen} tokens`)
    const kv = cfg.kvHeads * hd, past = this.past
    const x = new Float32Array(n * H)
    embed(this.src, Int32Array.from(ids), x, k, n, past)
    const scratch = new BlockScratch(cfg, n)
    const rope = ropeFrom(this.ropeFor(past + n), past, n)
    for (let l = 0; l < cfg.layers; l++) {
      const kc = this.kCache[l], vc = this.vCache[l]
      runBlock(k, cfg, this.src.block(l), x, 1, n, rope, scratch, undefined, (ctx, q, kk, v) => {
        kc.set(kk.subarray(0, n * kv), past * kv)
        vc.set(v.subarray(0, n * kv), past * kv)
        k.attentionCached(ctx, q, kc, vc, n, past, cfg.heads, cfg.kvHeads, hd, cfg.attnScale, maskOf(cfg, l))
      })
    }
    this.past += n
    const h = new Float32Array(cfg.embedDim), logits = new Float32Array(cfg.vocabSize)
    headInput(k, this.src, h, new Float32Array(H), x.subarray((n - 1) * H), 1)
    // One row: the head is a GEMV, memory-bound, and the largest single weight read per token.
    k.matmulDense(logits, this.head, h, 1, cfg.vocabSize, cfg.embedDim)
    if (cfg.finalSoftcap) k.softcap(logits, cfg.finalSoftcap)
    return logits
  }
}

/** The first index of the largest logit (a plain loop: reduce with a closure cost 0.4 ms a token on a 32000-word vocabulary). */
export function argmax(v: Float32Array): number {
  let best = 0
  for (let i = 1; i < v.length; i++) if (v[i] > v[best]) best = i
  return best
}
