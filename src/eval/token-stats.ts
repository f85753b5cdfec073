import {kernels as defaultKernels} from '../kernels/index.js'
import type {WeightSource} from '../model/engine/source.js'
import {forwardHidden, headLogits, headScratchLength, toBatch, type ForwardOptions} from '../model/engine/forward.js'

/** Next-token losses of one model: per chunk means (the papers' perplexity) and per token moments (its error bar). */
export interface LossStats {
  perplexity: number
  /** Mean next-token loss of each chunk. */
  losses: number[]
  /** Mean loss over scored tokens and its standard error, the tokens taken as independent (llama.cpp's perplexity). */
  nll: number
  nll_stderr: number
  /** exp(nll ± nll_stderr) */
  interval: [number, number]
  /** perplexity · nll_stderr: llama.cpp's "PPL = x +/- y". */
  perplexity_stderr: number
  scored_tokens: number
}

/** How the second model's next-token distributions differ from the first's (llama.cpp's --kl-divergence figures). */
export interface KlStats {
  mean: number
  stderr: number
  median: number
  p99: number
  max: number
  /** Share of positions where both models' most likely tokens agree. */
  same_top: number
  /** RMS over positions of p_other(next token) − p_base(next token). */
  rms_dp: number
}

/** Sums over scored tokens, and each chunk's mean. */
class Moments {
  sum = 0
  sumsq = 0
  n = 0
  readonly chunkMeans: number[] = []

  addChunk(nll: Float32Array): void {
    let s = 0
    for (const x of nll) { s += x; this.sumsq += x * x }
    this.sum += s
    this.n += nll.length
    this.chunkMeans.push(s / nll.length)
  }

  stats(): LossStats {
    const mean = this.sum / this.n
    // llama.cpp: sqrt((E[x²] − E[x]²) / (n − 1)), the sample standard deviation over √n.
    const se = this.n > 1 ? Math.sqrt(Math.max(0, this.sumsq / this.n - mean * mean) / (this.n - 1)) : 0
    const ppl = Math.exp(this.chunkMeans.reduce((a, b) => a + b, 0) / this.chunkMeans.length)
    return {perplexity: ppl, losses: this.chunkMeans, nll: mean, nll_stderr: se, interval: [Math.exp(mean - se), Math.exp(mean + se)],
      perplexity_stderr: ppl * se, scored_tokens: this.n}
  }
}

/** The statistics of given per-chunk token losses (an engine other than ours computed them). */
export function lossStats(perChunk: Float32Array[]): LossStats {
  const m = new Moments()
  for (const nll of perChunk) m.addChunk(nll)
  return m.stats()
}

/** numpy's default percentile: linear between the order statistics around q·(n − 1). */
export function percentile(sorted: Float32Array, q: number): number {
  const at = q * (sorted.length - 1), lo = Math.floor(at), hi = Math.min(sorted.length - 1, lo + 1)
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo)
}

function klStats(kl: Float32Array, same: number, dp2: number): KlStats {
  const n = kl.length
  let sum = 0, sumsq = 0
  for (const x of kl) { sum += x; sumsq += x * x }
  const mean = sum / n
  const sorted = Float32Array.from(kl).sort()
  return {mean, stderr: n > 1 ? Math.sqrt(Math.max(0, sumsq / n - mean * mean) / (n - 1)) : 0, median: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99), max: sorted[n - 1], same_top: same / n, rms_dp: Math.sqrt(dp2 / n)}
}

/** The final hidden states of the chunks [first, first + count): (count·seq, hidden). */
function hidden(model: WeightSource, chunks: readonly number[][], opts: ForwardOptions): Float32Array {
  const seq = chunks[0].length, H = model.cfg.hidden
  const out = new Float32Array(chunks.length * seq * H)
  forwardHidden(model, toBatch(chunks), (x, first, count) => out.set(x.subarray(0, count * seq * H), first * seq * H), opts)
  return out
}

/**
 * Next-token losses over the chunks, and with a second model (same vocabulary) on the same input,
 * its losses and the KL divergence of its distributions from the first's at every scored position.
 * Chunks go through in groups whose hidden states fit `maxActivationBytes`; both models' logits
 * are made a tile at a time from them, so no (tokens, vocab) array is ever held.
 */
export function tokenStats(base: WeightSource, other: WeightSource | null, chunks: readonly number[][], opts: ForwardOptions = {}):
  {base: LossStats; other: LossStats | null; kld: KlStats | null} {
  const k = opts.kernels ?? defaultKernels()
  const seq = chunks[0].length, H = base.cfg.hidden, V = base.cfg.vocabSize
  const scored = chunks.length * (seq - 1)
  const mb = new Moments(), mo = new Moments()
  const kl = new Float32Array(other ? scored : 0)
  let same = 0, dp2 = 0, at = 0
  // Both models' logits for a tile of rows at a time.
  const tile = Math.max(1, Math.min(512, Math.floor(2 ** 24 / V)))
  const lb = new Float32Array(tile * V), lo = new Float32Array(tile * V), normed = new Float32Array(headScratchLength(base.cfg, tile)), sameRows = new Uint8Array(tile)
  const logitsOf = (model: WeightSource, x: Float32Array, m: number, out: Float32Array) => headLogits(model, k, out, normed, x, m)
  const perGroup = Math.max(1, Math.floor((opts.maxActivationBytes ?? 2 * 1024 ** 3) / ((other ? 2 : 1) * seq * H * 4)))
  for (let g0 = 0; g0 < chunks.length; g0 += perGroup) {
    const group = chunks.slice(g0, g0 + perGroup)
    // Progress counts passes: one per model and group of chunks.
    const passes = other ? 2 : 1, groups = Math.ceil(chunks.length / perGroup), g = g0 / perGroup
    const progress = (pass: number): ForwardOptions => ({...opts, onBlock: (layer) => opts.onBlock?.(layer, g * passes + pass, groups * passes)})
    const hb = hidden(base, group, progress(0)), ho = other ? hidden(other, group, progress(1)) : null
    group.forEach((ids, c) => {
      const targets = Int32Array.from(ids.slice(1))
      const nb = new Float32Array(seq - 1), no = new Float32Array(seq - 1)
      for (let r0 = 0; r0 < seq - 1; r0 += tile) {
        const m = Math.min(tile, seq - 1 - r0), rows = (c * seq + r0) * H
        const t = targets.subarray(r0, r0 + m)
        logitsOf(base, hb.subarray(rows, rows + m * H), m, lb)
        k.nllRows(nb.subarray(r0, r0 + m), lb, t, m, V)
        if (!ho || !other) continue
        logitsOf(other, ho.subarray(rows, rows + m * H), m, lo)
        k.nllRows(no.subarray(r0, r0 + m), lo, t, m, V)
        k.klRows(kl.subarray(at + r0, at + r0 + m), sameRows, lb, lo, m, V)
        for (let r = 0; r < m; r++) {
          same += sameRows[r]
          dp2 += (Math.exp(-no[r0 + r]) - Math.exp(-nb[r0 + r])) ** 2
        }
      }
      mb.addChunk(nb)
      if (other) mo.addChunk(no)
      at += seq - 1
    })
  }
  return {base: mb.stats(), other: other ? mo.stats() : null, kld: other ? klStats(kl, same, dp2) : null}
}
