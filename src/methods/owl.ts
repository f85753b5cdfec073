import {kernels as defaultKernels, type Backend} from '../kernels/index.js'
import type {Model} from '../model/model.js'
import {inputWidths, type BlockWeights, type InputName} from '../model/weights.js'
import {CalibrationRunner} from './block-runner.js'
import {activationNorms} from './mask.js'
import {blockCollectors, finishAll} from './stats.js'

/**
 * OWL (Yin et al. 2023, luuyin/OWL lib/prune_all.py; spec §13): blocks whose Wanda scores hold
 * more outliers get less sparsity. The reference's defaults for its 70% commands: M = 5, λ = 0.08.
 */
export const OWL_DEFAULTS: OwlSettings = {m: 5, lambda: 0.08}

export interface OwlSettings {
  /** Hyper_m: a score is an outlier above m × the block's mean score. */
  m: number
  /** Lamda: per-block sparsities spread over 2λ (λ for the N:M variant's counts). */
  lambda: number
}

/** The reference clamps a block's sparsity at 0.01 from below; above this we refuse (the block would be all but gone). */
export const OWL_MAX_SPARSITY = 0.99

/** One linear of a block as the outlier count sees it: its weight (rows, cols) and Wanda's scaler (cols) of its input. */
export interface ScoredLinear {
  weight: Float32Array
  rows: number
  cols: number
  scaler: Float32Array
}

/**
 * Phase A's count for one block: the percentage of the Wanda scores |W_ij|·sqrt(scaler_j) of all
 * the block's linears, taken together (numel-weighted), that are strictly above M × their mean.
 * The mean is accumulated in double: a float32 sum moves the threshold enough to flip counts.
 * Scores are made twice (once for the mean, once for the count) so only one linear's are held.
 */
export function blockOutlierRatio(k: Backend, linears: readonly ScoredLinear[], m: number): number {
  const scratch = new Float32Array(Math.max(...linears.map((l) => l.rows * l.cols)))
  const scores = (l: ScoredLinear) => {
    const s = scratch.subarray(0, l.rows * l.cols)
    k.absScaled(s, l.weight, activationNorms(l.scaler), l.rows, l.cols)
    return s
  }
  let sum = 0, numel = 0
  for (const l of linears) { sum += k.sumF64(scores(l)); numel += l.rows * l.cols }
  const threshold = (sum / numel) * m
  let count = 0
  for (const l of linears) count += k.countAbove(scores(l), threshold)
  return (count / numel) * 100
}

/** The linears a block has, with their input statistics. */
function scoredLinears(w: BlockWeights, scalers: Map<InputName, {scaler: Float32Array}>): ScoredLinear[] {
  return w.tensors.map((t) => ({weight: t.weight, rows: t.rows, cols: t.cols, scaler: scalers.get(t.input)!.scaler}))
}

export interface OutlierPass {
  model: Model
  /** Calibration windows, each of the same length. */
  samples: number[][]
  /** Hyper_m: a score is an outlier above m × the block's mean score. */
  m: number
  kernels?: Backend
  onProgress?(layer: number, layers: number): void
  /** Called between blocks, after yielding to the event loop; throws to stop the job (signals). */
  checkpoint?(): void
}

/**
 * Phase A over the dense model: each block runs once over the calibration inputs while Wanda's
 * statistic of every linear input is accumulated, its outputs (unpruned) feed the next block, and
 * its outlier ratio (percent) is counted. Nothing is pruned.
 */
export async function outlierRatios(o: OutlierPass): Promise<number[]> {
  const k = o.kernels ?? defaultKernels()
  const runner = new CalibrationRunner(k, o.model, o.samples)
  const ratios: number[] = []
  let w: BlockWeights | undefined
  o.onProgress?.(-1, o.model.cfg.layers)
  for (let layer = 0; layer < o.model.cfg.layers; layer++) {
    o.checkpoint?.()
    w = o.model.block(layer, w)
    const collectors = blockCollectors(k, inputWidths(w.tensors), false)
    // Nothing is pruned, so the observed pass's outputs are already the next block's inputs.
    runner.observe(w, (input, act, rows, samples) => collectors.get(input)!.add(act, rows, rows / samples), true)
    ratios.push(blockOutlierRatio(k, scoredLinears(w, finishAll(collectors)), o.m))
    o.onProgress?.(layer, o.model.cfg.layers)
    await new Promise((resolve) => setImmediate(resolve))
  }
  return ratios
}

/**
 * The ratios min-max scaled into [0, spread] (the reference's order of operations, in double).
 * Equal ratios give all zeros, where the reference divides by zero.
 */
function minMaxScaled(ratios: readonly number[], spread: number): number[] {
  const lo = Math.min(...ratios), hi = Math.max(...ratios)
  if (hi === lo) return ratios.map(() => 0)
  return ratios.map((r) => (r - lo) * ((1 / (hi - lo)) * spread))
}

/**
 * Phase B, unstructured: per-block sparsity with mean s and spread 2λ, more outliers → less
 * sparsity; a block at or below 0 gets the reference's 0.01.
 */
export function owlSparsities(ratios: readonly number[], s: number, lambda: number): number[] {
  const scaled = minMaxScaled(ratios, lambda * 2)
  const mean = numpyMean(scaled)
  return scaled.map((r) => {
    const density = r - mean + (1 - s)
    const sparsity = 1 - density
    return sparsity <= 0 ? 0.01 : sparsity
  })
}

/**
 * Phase B, N:M (the reference's wanda_owl_structure): ratios scaled into [0, λ] (no factor 2),
 * centred, rounded half to even as numpy does, and taken from the base count of zeros per group.
 */
export function owlZeros(ratios: readonly number[], zeros: number, lambda: number): number[] {
  const scaled = minMaxScaled(ratios, lambda)
  const mean = numpyMean(scaled)
  return scaled.map((r) => zeros - roundHalfEven(r - mean))
}

/** numpy's round (rint): halves go to the even neighbour. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x)
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r
}

/** np.mean of a float64 vector: numpy's pairwise sum (8 accumulators up to 128 values, halves above), over n. */
export function numpyMean(a: readonly number[]): number {
  return pairwiseSum(a, 0, a.length) / a.length
}

function pairwiseSum(a: readonly number[], from: number, n: number): number {
  if (n < 8) {
    let s = 0
    for (let i = 0; i < n; i++) s += a[from + i]
    return s
  }
  if (n <= 128) {
    const r = a.slice(from, from + 8)
    let i = 8
    for (; i < n - (n % 8); i += 8) for (let j = 0; j < 8; j++) r[j] += a[from + i + j]
    let s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
    for (; i < n; i++) s += a[from + i]
    return s
  }
  const half = Math.floor(n / 2) - (Math.floor(n / 2) % 8)
  return pairwiseSum(a, from, half) + pairwiseSum(a, from + half, n - half)
}
