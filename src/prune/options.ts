import type {GqsaOptions} from '../methods/gqsa-types.js'
import type {OwlSettings} from '../methods/owl.js'

/** Everything `sparsify prune` is asked to do, as the command parsed it. */
export interface PruneOptions {
  model: string
  method: string
  sparsity?: number
  pattern?: string
  /** OWL: per-block sparsities (or N:M counts) around --sparsity (--pattern) from the dense model's outlier ratios. */
  owl?: OwlSettings
  /** A plan file's per-block targets, in place of --sparsity and --pattern. */
  plan?: string
  calib?: string
  nsamples: number
  seqlen?: number
  seed: number
  eval?: string
  out: string
  overwrite: boolean
  skip?: string
  /** Write GBLM's stage-A gradient norms here (safetensors, one F32 tensor per linear weight). */
  saveGradnorm?: string
  /** Fail the run (exit 10, output still written) if pruned perplexity exceeds dense by more than this many percent. */
  maxPplIncrease?: number
  /** Refuse to start if the estimated peak exceeds this many bytes (default: available memory). */
  maxMemory?: number
  /** Continue an interrupted run of the same job from its last finished block. */
  resume?: boolean
  /** GQSA's choices (bits, group size, budget, BQPO epochs and learning rates); defaults in GQSA_DEFAULTS. */
  gqsa?: Partial<GqsaOptions>
  /** GQSA's E2E-OQP: steps of end-to-end training of the scales after all blocks (0: off), and its learning rate. */
  e2eSteps?: number
  e2eLr?: number
  /** How to store the decoder linears: dense (default, the Hugging Face layout), nm, bitmask or gqsa (docs/formats.md), or compressed-tensors' pack-quantized. */
  format?: 'dense' | 'nm' | 'bitmask' | 'gqsa' | 'pack-quantized'
  /** Quantization in the OBS sweep (gptq, sparsegpt): bits, input columns per group (default: per row), symmetric. */
  wbits?: number
  groupsize?: number
  sym?: boolean
  /** Zero-shot tasks (eval --tasks syntax) to score dense and pruned on. */
  evalTasks?: string
}
