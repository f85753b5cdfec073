import type {Backend} from '../kernels/index.js'
import {BlockScratch, runBlock, type LinearObserver} from '../model/engine/block.js'
import {embed} from '../model/engine/source.js'
import type {Model} from '../model/model.js'
import {ropeTables, type RopeTables} from '../model/rope-tables.js'
import type {BlockWeights} from '../model/weights.js'

/** Calls hold at most this many tokens, so the block's scratch stays small whatever nsamples is. */
export const TOKENS_PER_CALL = 4096

/**
 * The calibration samples carried through the decoder one block at a time (§1.3–1.4): their
 * embeddings first, then each block run over them in batches of whole sequences.
 */
export class CalibrationRunner {
  readonly n: number
  readonly seq: number
  /** (n·seq, hidden): the inputs of the block about to run. */
  readonly x: Float32Array
  readonly rope: RopeTables
  private readonly perCall: number
  private readonly tmp: Float32Array
  private readonly scratch: BlockScratch

  constructor(private readonly k: Backend, private readonly model: Model, samples: number[][]) {
    const cfg = model.cfg, H = cfg.hidden
    this.n = samples.length
    this.seq = samples[0]?.length ?? 0
    this.perCall = Math.max(1, Math.min(this.n, Math.floor(TOKENS_PER_CALL / Math.max(1, this.seq))))
    this.rope = ropeTables(cfg, this.seq)
    this.x = new Float32Array(this.n * this.seq * H)
    embed(model, Int32Array.from(samples.flat()), this.x, k, this.seq)
    this.tmp = new Float32Array(this.perCall * this.seq * H)
    this.scratch = new BlockScratch(cfg, this.perCall * this.seq)
  }

  /** Runs block weights `w` over all samples of `acts` (default: the runner's own) in place. */
  forward(w: BlockWeights, acts: Float32Array = this.x): void {
    this.batches((s, m) => runBlock(this.k, this.model.cfg, w, this.slice(acts, s, m), m, this.seq, this.rope, this.scratch))
  }

  /**
   * Runs `w` over the samples with every linear input shown to `observe`: on copies, leaving the
   * inputs for a second pass (the pruned block), or with `inPlace` making them the block's outputs.
   */
  observe(w: BlockWeights, observe: LinearObserver, inPlace = false): void {
    this.batches((s, m) => {
      const inputs = this.slice(this.x, s, m)
      const part = inPlace ? inputs : this.tmp.subarray(0, inputs.length)
      if (!inPlace) part.set(inputs)
      runBlock(this.k, this.model.cfg, w, part, m, this.seq, this.rope, this.scratch, observe)
    })
  }

  private slice(acts: Float32Array, s: number, m: number): Float32Array {
    const width = this.seq * this.model.cfg.hidden
    return acts.subarray(s * width, (s + m) * width)
  }

  private batches(fn: (start: number, count: number) => void): void {
    for (let s = 0; s < this.n; s += this.perCall) fn(s, Math.min(this.perCall, this.n - s))
  }
}
