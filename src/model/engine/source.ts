import type {Backend} from '../../kernels/index.js'
import type {ModelConfig} from '../config.js'
import type {BlockWeights, Norm} from '../weights.js'

/** Where weights come from: a streamed checkpoint (Model), parameters held in memory (the trainer), or a decoding store. */
export interface WeightSource {
  readonly cfg: ModelConfig
  embeddings(): Float32Array
  /** Learned position embeddings (OPT), or null. */
  positions(): Float32Array | null
  head(): Float32Array
  /** The final norm, or null where the family has none (post-norm OPT). */
  finalNorm(): Norm | null
  /** OPT-350m's project_in (hidden, embedDim) and project_out (embedDim, hidden), or null where embedDim is hidden. */
  projection(which: 'in' | 'out'): Float32Array | null
  block(layer: number, reuse?: BlockWeights): BlockWeights
}

/** Sequences of equal length as one (n·seq) id array. */
export interface Batch {
  ids: Int32Array
  n: number
  seq: number
}

export function toBatch(rows: readonly (readonly number[] | Int32Array)[]): Batch {
  const seq = rows[0]?.length ?? 0
  const ids = new Int32Array(rows.length * seq)
  rows.forEach((r, i) => {
    if (r.length !== seq) throw new RangeError(`sequence ${i} has ${r.length} tokens, expected ${seq}`)
    ids.set(r, i * seq)
  })
  return {ids, n: rows.length, seq}
}

/**
 * The block-0 input of `ids`, sequences of `seq` tokens whose first sits at position `past`: token embeddings,
 * times the family's scale, widened by project_in (OPT-350m), plus learned positions (row position + offset)
 * where the family has them. `positions` gives each row's position where rows are not consecutive sequences (packed task requests).
 */
export function embed(src: WeightSource, ids: Int32Array, x: Float32Array, k: Backend, seq = ids.length, past = 0, positions?: Int32Array): void {
  const {cfg} = src, H = cfg.hidden, E = cfg.embedDim, table = src.embeddings(), project = src.projection('in')
  const words = project ? new Float32Array(ids.length * E) : x
  for (let t = 0; t < ids.length; t++) words.set(table.subarray(ids[t] * E, (ids[t] + 1) * E), t * E)
  if (cfg.embedScale !== 1) k.scaleInplace(words.subarray(0, ids.length * E), cfg.embedScale)
  if (project) k.gemm(x, words, project, ids.length, H, E, {transB: true})
  const pos = src.positions()
  if (pos) {
    const offset = cfg.family.positions!.offset
    for (let t = 0; t < ids.length; t++) {
      const row = (positions ? positions[t] : (t % seq) + past) + offset
      k.addInplace(x.subarray(t * H, (t + 1) * H), pos.subarray(row * H, (row + 1) * H))
    }
  }
}

/** The gradient of embed: token rows (and position rows) of the tables accumulate dx (project_in's own gradient is not formed). */
export function embedBackward(src: WeightSource, ids: Int32Array, dx: Float32Array, dEmbed: Float32Array, dPos: Float32Array | null, k: Backend, seq: number): void {
  const {cfg} = src, H = cfg.hidden, E = cfg.embedDim, project = src.projection('in')
  if (dPos) {
    const offset = cfg.family.positions!.offset
    for (let t = 0; t < ids.length; t++) {
      const row = (t % seq) + offset
      k.addInplace(dPos.subarray(row * H, (row + 1) * H), dx.subarray(t * H, (t + 1) * H))
    }
  }
  let dWords = dx
  if (project) k.gemm(dWords = new Float32Array(ids.length * E), dx, project, ids.length, E, H)
  if (cfg.embedScale !== 1) k.scaleInplace(dWords, cfg.embedScale)
  for (let t = 0; t < ids.length; t++) k.addInplace(dEmbed.subarray(ids[t] * E, (ids[t] + 1) * E), dWords.subarray(t * E, (t + 1) * E))
}

/**
 * The head's input from final hidden states x (rows, hidden): the final norm where there is one, then project_out
 * (OPT-350m) into `out` (rows, embedDim). `h` (rows, hidden) holds the normed states when both apply.
 */
export function headInput(k: Backend, src: WeightSource, out: Float32Array, h: Float32Array, x: Float32Array, rows: number): void {
  const {cfg} = src, H = cfg.hidden, norm = src.finalNorm(), project = src.projection('out')
  const normed = project ? h : out
  if (norm) applyNorm(k, cfg, normed, x, norm, rows, H)
  else normed.set(x.subarray(0, rows * H))
  if (project) k.gemm(out, normed, project, rows, cfg.embedDim, H, {transB: true})
}

/** out = norm(x) by the family's kind; x, out: (rows, dim). */
export function applyNorm(k: Backend, cfg: ModelConfig, out: Float32Array, x: Float32Array, n: Norm, rows: number, dim: number): void {
  if (n.bias) k.layernorm(out, x, n.weight, n.bias, rows, dim, cfg.rmsEps)
  else k.rmsnorm(out, x, n.weight, rows, dim, cfg.rmsEps)
}

/** dx of applyNorm; the norm's gradients (weight, and bias for LayerNorm) accumulate into g. */
export function normBackward(k: Backend, cfg: ModelConfig, dx: Float32Array, g: Norm, dy: Float32Array, x: Float32Array, n: Norm, rows: number, dim: number): void {
  if (n.bias) k.layernormBackward(dx, g.weight, g.bias, dy, x, n.weight, rows, dim, cfg.rmsEps)
  else k.rmsnormBackward(dx, g.weight, dy, x, n.weight, rows, dim, cfg.rmsEps)
}
