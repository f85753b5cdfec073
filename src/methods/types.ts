import type {Backend} from '../kernels/index.js'
import type {ModelConfig} from '../model/config.js'
import type {RopeTables} from '../model/rope-tables.js'
import type {BlockWeights, LinearName} from '../model/weights.js'
import type {PackedWeight} from '../packed/weight.js'

export type SparsityTarget =
  | {kind: 'unstructured'; sparsity: number}   // fraction of zeros
  | {kind: 'nm'; n: number; m: number}         // n zeros in every m consecutive inputs ("2:4")

/** Statistics of one linear layer's input over the calibration set (§1.5 of the spec). */
export interface InputStats {
  /** N, the number of calibration sequences (batch 1 each, as in the reference). */
  nseq: number
  /** Wanda's scaler_row: (1/N)·Σ_tokens x_j². */
  scaler: Float32Array
  /** DSnoT's sum_metric_row: (1/N)·Σ_tokens x_j. */
  sumMetric: Float32Array
  /** DSnoT's var: the mean over sequences of each sequence's population variance of x_j. */
  variance: Float32Array
  /** SparseGPT's H = (2/N)·XᵀX, (in, in); only for methods that need it. */
  hessian: Float32Array | null
}

export interface PruneContext {
  name: LinearName
  layer: number
  /** (rows, cols) = (out, in), float32; the method may overwrite it (OBS updates). */
  weight: Float32Array
  rows: number
  cols: number
  stats: InputStats
  /** GBLM's sqrt(Σ_n (100·g_n)²) for this weight, (rows, cols); null for methods without gradients. */
  gradnorm: Float32Array | null
  target: SparsityTarget
  kernels: Backend
  /** What the method has to say about this linear beyond its mask; the driver puts it in the report. */
  notes: LinearNotes
}

export interface LinearNotes {
  /** The damping (fraction of the mean Hessian diagonal) the factorisation needed, when more than the default. */
  percdamp?: number
}

/** A pruning method: what it needs collected, and how it prunes one linear given that. */
export interface PruningMethod {
  id: string
  title: string
  paper: string
  /** The input Hessian costs in² memory and a GEMM per batch: only methods that use it ask. */
  needsHessian: boolean
  /** Gradients of the language-model loss on the dense model, before pruning (GBLM's stage A). */
  needsGradients: boolean
  /** Magnitude needs no calibration at all. */
  needsCalibration: boolean
  /** Zeroes the pruned weights of ctx.weight (updating the rest if the method does) and returns the mask (1 = pruned). */
  prune(ctx: PruneContext): Uint8Array
  /**
   * After every linear of a block is pruned, trains the block towards the dense model's outputs (GQSA's BQPO);
   * returns the block's output MSE before and after. Methods with it get the dense model's path carried alongside.
   */
  refineBlock?(ctx: BlockRefineContext): {mseBefore: number; mseAfter: number}
  /** The method's own packed form of a finished weight (GQSA's groups), for --format gqsa. */
  packed?(weight: Float32Array): PackedWeight
}

export interface BlockRefineContext {
  layer: number
  cfg: ModelConfig
  /** The block with its pruned linears; refined in place. */
  weights: BlockWeights
  /** The block's inputs along the compressed model's path: (n·seq, hidden). */
  inputs: Float32Array
  /** The dense block's outputs along the dense model's path: (n·seq, hidden). */
  targets: Float32Array
  n: number
  seq: number
  rope: RopeTables
  kernels: Backend
  onProgress?(done: number, total: number): void
}
