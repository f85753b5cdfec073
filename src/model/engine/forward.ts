import {kernels, type Backend} from '../../kernels/index.js'
import type {BlockWeights} from '../weights.js'
import {ropeTables} from '../rope-tables.js'
import {BlockScratch, runBlock, type LinearObserver} from './block.js'
import type {ModelConfig} from '../config.js'
import {embed, headInput, type Batch, type WeightSource} from './source.js'
import {headTileRows, TOKENS_PER_CALL} from './memory.js'

export {toBatch, type Batch} from './source.js'

export interface ForwardOptions {
  kernels?: Backend
  /** Hidden states of at most this many bytes are kept at once; more sequences run in groups. */
  maxActivationBytes?: number
  /** Called after each decoder block of each group. */
  onBlock?: (layer: number, group: number, groups: number) => void
}

const DEFAULT_ACTIVATION_BYTES = 2 * 1024 ** 3

/**
 * Runs every decoder block over the batch, block by block, so that one block's weights are
 * in memory at a time. For each group of sequences, `visit` receives the final hidden states
 * (count·seq, hidden), before the final norm.
 */
export function forwardHidden(model: WeightSource, batch: Batch, visit: (x: Float32Array, first: number, count: number) => void,
  opts: ForwardOptions = {}, observe?: (layer: number) => LinearObserver | undefined): void {
  const k = opts.kernels ?? kernels()
  const {cfg} = model
  const {n, seq} = batch
  const perSeq = seq * cfg.hidden * 4
  const group = Math.max(1, Math.min(n, Math.floor((opts.maxActivationBytes ?? DEFAULT_ACTIVATION_BYTES) / perSeq)))
  const perCall = Math.max(1, Math.min(group, Math.floor(TOKENS_PER_CALL / seq)))
  const scratch = new BlockScratch(cfg, perCall * seq)
  const rope = ropeTables(cfg, seq)
  const groups = Math.ceil(n / group)
  for (let g = 0; g < groups; g++) {
    const first = g * group, count = Math.min(group, n - first)
    const x = new Float32Array(count * seq * cfg.hidden)
    embed(model, batch.ids.subarray(first * seq, (first + count) * seq), x, k, seq)
    let w: BlockWeights | undefined
    for (let layer = 0; layer < cfg.layers; layer++) {
      w = model.block(layer, w)
      const obs = observe?.(layer)
      for (let s = 0; s < count; s += perCall) {
        const m = Math.min(perCall, count - s)
        runBlock(k, cfg, w, x.subarray(s * seq * cfg.hidden, (s + m) * seq * cfg.hidden), m, seq, rope, scratch, obs)
      }
      opts.onBlock?.(layer, g, groups)
    }
    visit(x, first, count)
  }
}

/** Floats of headLogits' scratch for `rows` rows. */
export const headScratchLength = (cfg: ModelConfig, rows: number) => rows * (cfg.hidden + cfg.embedDim)

/** Logits of `rows` final hidden states x: final norm, project_out, head, and the final softcap where the family has them. */
export function headLogits(model: WeightSource, k: Backend, logits: Float32Array, scratch: Float32Array, x: Float32Array, rows: number): void {
  const {hidden: H, embedDim: E, vocabSize: V, finalSoftcap} = model.cfg
  const input = scratch.subarray(0, rows * E)
  headInput(k, model, input, scratch.subarray(rows * E, rows * (E + H)), x, rows)
  k.gemm(logits, input, model.head(), rows, V, E, {transB: true})
  if (finalSoftcap) k.softcap(logits.subarray(0, rows * V), finalSoftcap)
}

/** Rows of logits produced a tile at a time, so a large vocabulary never needs (seq, vocab) at once. */
export function headTiles(model: WeightSource, k: Backend, x: Float32Array, rows: number,
  each: (logits: Float32Array, row0: number, tileRows: number) => void): void {
  const {hidden: H, vocabSize: V} = model.cfg
  const tile = headTileRows(V)
  const h = new Float32Array(headScratchLength(model.cfg, tile)), logits = new Float32Array(tile * V)
  for (let r0 = 0; r0 < rows; r0 += tile) {
    const m = Math.min(tile, rows - r0)
    headLogits(model, k, logits, h, x.subarray(r0 * H, (r0 + m) * H), m)
    each(logits, r0, m)
  }
}

/** Mean next-token cross-entropy of each sequence (positions 0..seq−2 predict 1..seq−1). */
export function sequenceLosses(model: WeightSource, batch: Batch, opts: ForwardOptions = {}): Float64Array {
  const k = opts.kernels ?? kernels()
  const {n, seq} = batch
  const out = new Float64Array(n)
  const V = model.cfg.vocabSize
  forwardHidden(model, batch, (x, first, count) => {
    // Each row against the next id: a sequence's last row has none (it gets the next sequence's first) and is left out of the sum.
    const rows = count * seq, next = new Int32Array(rows), losses = new Float32Array(rows)
    next.set(batch.ids.subarray(first * seq + 1, first * seq + rows + 1))
    headTiles(model, k, x, rows, (logits, r0, m) => k.nllRows(losses.subarray(r0, r0 + m), logits.subarray(0, m * V), next.subarray(r0, r0 + m), m, V))
    for (let s = 0; s < count; s++) {
      let total = 0
      for (let t = 0; t < seq - 1; t++) total += losses[s * seq + t]
      out[first + s] = total / (seq - 1)
    }
  }, opts)
  return out
}

/** All logits, (n·seq, vocab): for tests and small inputs. */
export function forwardLogits(model: WeightSource, batch: Batch, opts: ForwardOptions = {}): Float32Array {
  const k = opts.kernels ?? kernels()
  const V = model.cfg.vocabSize
  const out = new Float32Array(batch.n * batch.seq * V)
  forwardHidden(model, batch, (x, first, count) => {
    headTiles(model, k, x, count * batch.seq, (logits, r0, m) => {
      out.set(logits.subarray(0, m * V), (first * batch.seq + r0) * V)
    })
  }, opts)
  return out
}
