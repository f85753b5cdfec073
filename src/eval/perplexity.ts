import type {Dataset} from '../data/types.js'
import {sequenceLosses, toBatch, type ForwardOptions} from '../model/engine/forward.js'
import type {Model} from '../model/model.js'
import {finiteWeights} from './finite.js'
import {TextTokenizer} from '../model/tokenizer.js'
import {invalidFormat, usage} from '../util/errors.js'

/** What chunking needs of a model: its folder (tokenizer) and config (limits, vocabulary). */
export type ModelFolder = Pick<Model, 'dir' | 'cfg'>

export interface PerplexityResult {
  perplexity: number
  /** Mean next-token loss of each chunk. */
  losses: number[]
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

/**
 * exp of the mean, over chunks, of each chunk's mean next-token loss. A NaN or Inf weight, or a
 * chunk whose loss is not finite (activations beyond float32), is an error, never a NaN perplexity.
 */
export function perplexity(model: Model, chunks: number[][], opts: ForwardOptions = {}): PerplexityResult {
  return perplexityOf([...sequenceLosses(finiteWeights(model, opts.kernels), toBatch(chunks), opts)], chunks)
}

/** The result from each chunk's mean loss (any engine's); a non-finite loss is an error. */
export function perplexityOf(losses: number[], chunks: number[][]): PerplexityResult {
  const bad = losses.findIndex((l) => !Number.isFinite(l))
  if (bad >= 0) {
    throw invalidFormat(`evaluation chunk ${bad} (of ${chunks.length}, counted from 0) has a non-finite loss (${losses[bad]})`,
      'the activations overflow float32: the checkpoint is damaged or its weights are out of range')
  }
  const mean = losses.reduce((a, b) => a + b, 0) / losses.length
  return {perplexity: Math.exp(mean), losses, seqlen: chunks[0].length, nsamples: chunks.length, tokens: chunks.length * chunks[0].length}
}
