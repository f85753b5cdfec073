import {kernels as defaultKernels, type Backend} from '../kernels/index.js'
import {layerPrefix} from '../model/arch/layout.js'
import type {Model} from '../model/model.js'
import {inputWidths, type BlockTensor, type BlockWeights, type InputName} from '../model/weights.js'
import {invalidFormat} from '../util/errors.js'
import {selectPerRow} from './mask.js'
import {CalibrationRunner} from './block-runner.js'
import {blockCollectors} from './stats.js'
import type {InputStats, LinearNotes, PruningMethod, SparsityTarget} from './types.js'

export interface LinearResult {
  name: string          // HF tensor name
  layer: number
  rows: number
  cols: number
  zeros: number
  sparsity: number
  /** Σ ΔW²·E[x²] / Σ W²·E[x²] over the calibration inputs (a diagonal estimate); null without calibration. */
  relError: number | null
  skipped: boolean
  /** The method's notes on this linear (e.g. the damping its Hessian needed). */
  notes: LinearNotes
}

/** A block that the method refined after pruning (GQSA's BQPO): its output MSE against the dense path before and after. */
export interface RefinedBlock {
  layer: number
  mse_before: number
  mse_after: number
}

/** A mixture-of-experts block: calibration tokens each expert saw, and the experts none reached (pruned by magnitude per row). */
export interface ExpertUsage {
  layer: number
  tokens: number[]
  unreached: number[]
}

export interface PhaseTimes {
  calibrationForward: number   // pass 1: the dense block over the samples, statistics observed
  statistics: number           // finishing the accumulators (inside pass 1's time otherwise)
  solve: number                // the method on each linear
  rerun: number                // pass 2: the pruned block, producing the next block's inputs
  refine?: number              // the method's block refinement (BQPO), when it has one
}

export interface SequentialJob {
  model: Model
  method: PruningMethod
  /** One per block: the same everywhere, or a non-uniform allocation (OWL, a plan file). */
  targets: readonly SparsityTarget[]
  /** Calibration windows, each of the same length (none for magnitude). */
  samples: number[][]
  skip?: RegExp
  /** GBLM's stage-A gradient norms by weight name, when the method needs them. */
  gradnorms?: Map<string, Float32Array>
  kernels?: Backend
  /** Receives each finished block's weights (pruned in place) before the next block loads. */
  onBlockDone(layer: number, weights: BlockWeights, linears: LinearResult[], experts: ExpertUsage | null): void
  /** Block `layer` is finished; called first with startBlock − 1, before any block of this run. */
  onProgress?(layer: number, layers: number): void
  onRefineProgress?(layer: number, step: number, steps: number): void
  /** Called between blocks, after yielding to the event loop; throws to stop the job (signals). */
  checkpoint?(): void
  /** Rounds a pruned weight to the dtype it will be stored in, so that the next block sees the saved model. */
  roundToStorage?(name: string, weight: Float32Array): void
  /** Resuming: blocks before this one are done; their pruned linears are read back with `finishedWeight`. */
  startBlock?: number
  /** Bytes the statistics of a group of experts may take (default EXPERT_STATS_BYTES); more experts take more calibration passes. */
  expertStatsBytes?: number
  finishedWeight?(name: string, into: Float32Array): void
}

export interface SequentialResult {
  linears: LinearResult[]
  times: PhaseTimes
  refined: RefinedBlock[]
  experts: ExpertUsage[]
}

/**
 * The sequential driver of the reference repositories (§1.4): for each block, run it on the
 * calibration inputs while the linears' inputs are measured, prune every linear, then run
 * the pruned block to make the next block's inputs. One block of weights is held at a time.
 */
export async function pruneSequential(job: SequentialJob): Promise<SequentialResult> {
  const k = job.kernels ?? defaultKernels()
  const {model, method, targets} = job
  const cfg = model.cfg
  const times: PhaseTimes = {calibrationForward: 0, statistics: 0, solve: 0, rerun: 0}
  const clock = (key: keyof PhaseTimes, fn: () => void) => { const s = performance.now(); fn(); times[key] += (performance.now() - s) / 1000 }
  const linears: LinearResult[] = []
  // The calibration inputs, carried through the blocks (none for magnitude).
  const runner = method.needsCalibration ? new CalibrationRunner(k, model, job.samples) : null
  // Methods that refine a block towards the dense model carry the dense model's path alongside.
  const xDense = method.refineBlock && runner ? runner.x.slice() : null
  const refined: RefinedBlock[] = [], experts: ExpertUsage[] = []
  let w: BlockWeights | undefined
  // Resuming: the finished blocks, as saved, carry the calibration inputs forward to the first unfinished one.
  for (let layer = 0; layer < (job.startBlock ?? 0); layer++) {
    w = model.block(layer, w)
    if (xDense) clock('rerun', () => runner!.forward(w!, xDense))
    for (const t of w.tensors) job.finishedWeight!(`${t.name}.weight`, t.weight)
    if (runner) clock('rerun', () => runner.forward(w!))
  }
  // The phase's start, so that its first finished block already gives a time per block.
  job.onProgress?.((job.startBlock ?? 0) - 1, cfg.layers)
  for (let layer = job.startBlock ?? 0; layer < cfg.layers; layer++) {
    job.checkpoint?.()
    w = model.block(layer, w)
    for (const t of w.tensors) {
      if (k.countNonFinite(t.weight) > 0) {
        throw invalidFormat(`${t.name}.weight contains NaN or Inf values`, 'the checkpoint is damaged; download or export it again')
      }
    }
    const target = targets[layer]
    // The dense model's own path: this block's dense outputs are the targets and the next block's dense inputs.
    if (xDense) clock('calibrationForward', () => runner!.forward(w!, xDense))
    const dense = new Map<string, Float32Array>(), scalers = new Map<InputName, InputStats>()
    const notes = new Map<string, LinearNotes>()
    // Statistics of a mixture's experts may not fit at once: groups of experts each take a calibration pass of the
    // dense block. Experts go first, since pruning one changes no other input of the block.
    for (const group of runner ? inputGroups(w.tensors, method.needsHessian, job.expertStatsBytes ?? EXPERT_STATS_BYTES) : [null]) {
      let stats: Map<InputName, InputStats> | null = null
      if (group) {
        const collectors = blockCollectors(k, new Map([...inputWidths(w.tensors)].filter(([i]) => group.has(i))), method.needsHessian)
        // Statistics are accumulated inside pass 1; their time is moved from the forward to its own phase.
        const before = times.statistics
        clock('calibrationForward', () => runner!.observe(w!, (input, act, rows, samples) => {
          const c = collectors.get(input)
          if (c) clock('statistics', () => c.add(act, rows, rows / samples))
        }))
        times.calibrationForward -= times.statistics - before
        clock('statistics', () => { stats = new Map([...collectors].map(([input, c]) => [input, c.finish()])) })
        for (const [input, st] of stats!) scalers.set(input, {...st, hessian: null})
      }
      for (const t of w.tensors) {
        if (group && !group.has(t.input)) continue
        notes.set(t.name, {})
        const full = `${t.name}.weight`
        if (stats) dense.set(t.name, t.weight.slice())
        if (job.skip?.test(full)) continue
        clock('solve', () => {
          const ctx = {name: t.name.slice(layerPrefix(cfg, layer).length), layer, weight: t.weight, rows: t.rows, cols: t.cols,
            stats: (stats as Map<InputName, InputStats> | null)?.get(t.input) ?? EMPTY_STATS, gradnorm: job.gradnorms?.get(full) ?? null, target, kernels: k, notes: notes.get(t.name)!}
          if (t.expert !== null && group && ctx.stats.nseq === 0) pruneByRowMagnitude(ctx)
          else method.prune(ctx)
        })
      }
    }
    const statsOf = (t: BlockTensor) => scalers.get(t.input) ?? EMPTY_STATS
    if (w.router) experts.push(expertUsage(w, statsOf, runner !== null))
    if (method.refineBlock && runner && xDense) {
      const s = performance.now()
      const r = method.refineBlock({layer, cfg, weights: w, inputs: runner.x, targets: xDense, n: runner.n, seq: runner.seq, rope: runner.rope, kernels: k,
        onProgress: (done, total) => job.onRefineProgress?.(layer, done, total)})
      refined.push({layer, mse_before: r.mseBefore, mse_after: r.mseAfter})
      times.refine = (times.refine ?? 0) + (performance.now() - s) / 1000
    }
    for (const t of w.tensors) {
      const full = `${t.name}.weight`
      job.roundToStorage?.(full, t.weight)
      const [zeros] = k.zeroStats(t.weight, t.rows, t.cols, 0)
      let relError: number | null = null
      const before = dense.get(t.name)
      if (before && statsOf(t).nseq > 0) {
        const [err, ref] = k.weightedSqDiff(before, t.weight, statsOf(t).scaler, t.rows, t.cols)
        relError = ref > 0 ? err / ref : 0
      }
      const skipped = job.skip?.test(full) ?? false
      linears.push({name: full, layer, rows: t.rows, cols: t.cols, zeros, sparsity: zeros / (t.rows * t.cols), relError, skipped, notes: notes.get(t.name) ?? {}})
    }
    if (runner) clock('rerun', () => runner.forward(w!))
    job.onBlockDone(layer, w, linears.filter((l) => l.layer === layer), experts.find((e) => e.layer === layer) ?? null)
    job.onProgress?.(layer, cfg.layers)
    await new Promise((resolve) => setImmediate(resolve))
    job.checkpoint?.()
  }
  return {linears, times, refined, experts}
}

/** Bytes of statistics a group of experts may hold at once (SparseGPT's Hessians of a 128-expert block take 2.4 GB). */
export const EXPERT_STATS_BYTES = 2 ** 30

/** Per expert, the bytes of its inputs' statistics. */
export const expertStatsBytes = (hidden: number, width: number, hessian: boolean) => (hessian ? 4 * (hidden ** 2 + width ** 2) : 24 * (hidden + width))

/**
 * The block's inputs in the groups their statistics are collected in: experts (both inputs of each) in groups
 * within `budget` bytes, then every other input.
 */
function inputGroups(tensors: readonly BlockTensor[], hessian: boolean, budget: number): Set<InputName>[] {
  const widths = inputWidths(tensors)
  const expertInputs = (e: number) => tensors.filter((t) => t.expert === e).map((t) => t.input)
  const count = Math.max(-1, ...tensors.map((t) => t.expert ?? -1)) + 1
  const groups: Set<InputName>[] = []
  if (count > 0) {
    const [a, b] = [...new Set(expertInputs(0))].map((i) => widths.get(i)!)
    const per = Math.max(1, Math.floor(budget / expertStatsBytes(a, b, hessian)))
    for (let e0 = 0; e0 < count; e0 += per) {
      groups.push(new Set(Array.from({length: Math.min(per, count - e0)}, (_, i) => expertInputs(e0 + i)).flat()))
    }
  }
  groups.push(new Set(tensors.filter((t) => t.expert === null).map((t) => t.input)))
  return groups
}

/** The tokens each expert of a mixture block saw in calibration (its gate's input rows), and the ones none reached. */
function expertUsage(w: BlockWeights, statsOf: (t: BlockTensor) => InputStats, calibrated: boolean): ExpertUsage {
  const tokens = w.experts.map((_, e) => statsOf(w.tensors.find((t) => t.expert === e)!).tokens ?? 0)
  return {layer: w.layer, tokens, unreached: calibrated ? tokens.flatMap((n, e) => (n === 0 ? [e] : [])) : []}
}

/** An expert no calibration token reached: the floor(C·s) smallest |W| of each row (N:M: of each group), no statistics. */
function pruneByRowMagnitude(ctx: {weight: Float32Array; rows: number; cols: number; target: SparsityTarget; kernels: Backend}): void {
  const {weight, rows, cols, target, kernels: k} = ctx
  const score = new Float32Array(rows * cols)
  k.absScaled(score, weight, new Float32Array(cols).fill(1), rows, cols)
  k.applyMask(weight, selectPerRow(k, score, rows, cols, target))
}

const EMPTY_STATS: InputStats = {nseq: 0, tokens: 0, scaler: new Float32Array(0), sumMetric: new Float32Array(0), variance: new Float32Array(0), hessian: null}
