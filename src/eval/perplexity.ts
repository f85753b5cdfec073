import type {Dataset} from '../data/types.js'
import type {ForwardOptions} from '../model/engine/forward.js'
import type {Model} from '../model/model.js'
import {finiteWeights} from './finite.js'
import {TextTokenizer} from '../model/tokenizer.js'
import {invalidFormat, usage} from '../util/errors.js'
import {lossStats, tokenStats, type KlStats, type LossStats} from './token-stats.js'

/** What chunking needs of a model: its folder (tokenizer) and config (limits, vocabulary). */
export type ModelFolder = Pick<Model, 'dir' | 'cfg'>

export interface PerplexityResult extends LossStats {
  seqlen: number
  nsamples: number
  tokens: number
}

/** Default evaluation length: the papers' 2048, or the model's limit if shorter. */
export const defaultSeqlen = (model: ModelFolder) => Math.min(2048, model.cfg.maxPositions)

/**
 * Evaluation chunks by the WikiText-2 protocol of the Wanda and SparseGPT code: documents
 * joined with "\n\n", tokenized once, cut into floor(tokens/seqlen) non-overlapping chunks.
 * Pre-tokenized rows are one chunk each (cut to seqlen when it is given).
 */
export async function evalChunks(model: ModelFolder, data: Dataset, seqlen: number | undefined, nsamples?: number): Promise<number[][]> {
  let chunks: number[][]
  if (data.kind === 'tokens') {
    if (data.rows.length === 0) throw invalidFormat(`dataset ${data.name} is empty`, 'give at least one row of token ids')
    const len = seqlen ?? data.rows[0].length
    const short = data.rows.findIndex((r) => r.length < len)
    if (short >= 0) throw usage(`row ${short} of ${data.name} has ${data.rows[short].length} tokens, fewer than seqlen ${len}`, 'pass a smaller --seqlen or longer rows')
    chunks = data.rows.map((r) => r.slice(0, len))
  } else {
    const len = seqlen ?? defaultSeqlen(model)
    const text = data.documents.join(data.protocol?.join ?? '\n\n')
    if (!text.trim()) throw invalidFormat(`dataset ${data.name} is empty`, 'give a file with some text in it')
    const ids = await TextTokenizer.load(model.dir).encode(text)
    const n = Math.min(Math.floor(ids.length / len), data.protocol?.maxChunks ?? Infinity)
    if (n === 0) throw usage(`${data.name} has ${ids.length} tokens, fewer than seqlen ${len}`, 'pass a smaller --seqlen or more text')
    chunks = Array.from({length: n}, (_, i) => ids.slice(i * len, (i + 1) * len))
  }
  const vocab = model.cfg.vocabSize
  for (const c of chunks) {
    const bad = c.find((t) => t >= vocab)
    if (bad !== undefined) throw invalidFormat(`token id ${bad} in ${data.name} is outside the model's vocabulary of ${vocab}`, 'the data was tokenized for another model')
  }
  if (chunks[0].length < 2) throw usage('seqlen must be at least 2 to predict a next token')
  const len = chunks[0].length
  if (model.cfg.slidingWindow !== null && len > model.cfg.slidingWindow) {
    throw usage(`seqlen ${len} exceeds the model's attention window of ${model.cfg.slidingWindow}`, 'pass --seqlen of at most the sliding window')
  }
  return nsamples === undefined ? chunks : chunks.slice(0, nsamples)
}

const sized = (stats: LossStats, chunks: number[][]): PerplexityResult =>
  ({...stats, seqlen: chunks[0].length, nsamples: chunks.length, tokens: chunks.length * chunks[0].length})

/** A chunk whose loss is not finite (activations beyond float32) is an error, never a NaN perplexity. */
function finiteLosses(stats: LossStats, chunks: number[][]): LossStats {
  const bad = stats.losses.findIndex((l) => !Number.isFinite(l))
  if (bad >= 0) {
    throw invalidFormat(`evaluation chunk ${bad} (of ${chunks.length}, counted from 0) has a non-finite loss (${stats.losses[bad]})`,
      'the activations overflow float32: the checkpoint is damaged or its weights are out of range')
  }
  return stats
}

/**
 * exp of the mean, over chunks, of each chunk's mean next-token loss, with the loss's standard error
 * over tokens. A NaN or Inf weight, or a non-finite chunk loss, is an error.
 */
export function perplexity(model: Model, chunks: number[][], opts: ForwardOptions = {}): PerplexityResult {
  return sized(finiteLosses(tokenStats(finiteWeights(model, opts.kernels), null, chunks, opts).base, chunks), chunks)
}

/** The result from each chunk's per-token losses, whichever engine computed them (onnxruntime's, for one). */
export function perplexityOf(tokenLosses: Float32Array[], chunks: number[][]): PerplexityResult {
  return sized(finiteLosses(lossStats(tokenLosses), chunks), chunks)
}

/** Both models' perplexities on the same chunks, and the KL divergence of `other`'s next-token distributions from `base`'s. */
export function comparePerplexity(base: Model, other: Model, chunks: number[][], opts: ForwardOptions = {}):
  {base: PerplexityResult; other: PerplexityResult; kld: KlStats} {
  if (base.cfg.vocabSize !== other.cfg.vocabSize) throw usage(`the models' vocabularies differ (${base.cfg.vocabSize} and ${other.cfg.vocabSize})`, 'compare a pruned model with its own dense model')
  const r = tokenStats(finiteWeights(base, opts.kernels), finiteWeights(other, opts.kernels), chunks, opts)
  return {base: sized(finiteLosses(r.base, chunks), chunks), other: sized(finiteLosses(r.other!, chunks), chunks), kld: r.kld!}
}
