import {kernels as defaultKernels, type Backend} from '../kernels/index.js'
import type {Model} from '../model/model.js'
import {blockPrefix, INPUT_OF, LINEARS, type BlockWeights, type InputName} from '../model/weights.js'
import {invalidFormat} from '../util/errors.js'
import {CalibrationRunner} from './block-runner.js'
import {blockCollectors, finishAll} from './stats.js'
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
  onBlockDone(layer: number, weights: BlockWeights, linears: LinearResult[]): void
  /** Block `layer` is finished; called first with startBlock − 1, before any block of this run. */
  onProgress?(layer: number, layers: number): void
  onRefineProgress?(layer: number, step: number, steps: number): void
  /** Called between blocks, after yielding to the event loop; throws to stop the job (signals). */
  checkpoint?(): void
  /** Rounds a pruned weight to the dtype it will be stored in, so that the next block sees the saved model. */
  roundToStorage?(name: string, weight: Float32Array): void
  /** Resuming: blocks before this one are done; their pruned linears are read back with `finishedWeight`. */
  startBlock?: number
  finishedWeight?(name: string, into: Float32Array): void
}

export interface SequentialResult {
  linears: LinearResult[]
  times: PhaseTimes
  refined: RefinedBlock[]
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
  const runner = method.needsCalibration ? new CalibrationRunner(k, model, job.samples) : null
  // Methods that refine a block towards the dense model carry the dense model's path alongside.
  const xDense = method.refineBlock && runner ? runner.x.slice() : null
  const refined: RefinedBlock[] = []
  let w: BlockWeights | undefined
  // Resuming: the finished blocks, as saved, carry the calibration inputs forward to the first unfinished one.
  for (let layer = 0; layer < (job.startBlock ?? 0); layer++) {
    w = model.block(layer, w)
    if (xDense) clock('rerun', () => runner!.forward(w!, xDense!))
    for (const name of LINEARS) job.finishedWeight!(`${blockPrefix(layer)}${name}.weight`, w.linears[name].weight)
    if (runner) clock('rerun', () => runner.forward(w!))
  }
  // The phase's start, so that its first finished block already gives a time per block.
  job.onProgress?.((job.startBlock ?? 0) - 1, cfg.layers)
  for (let layer = job.startBlock ?? 0; layer < cfg.layers; layer++) {
    job.checkpoint?.()
    w = model.block(layer, w)
    for (const name of LINEARS) {
      if (k.countNonFinite(w.linears[name].weight) > 0) {
        throw invalidFormat(`${blockPrefix(layer)}${name}.weight contains NaN or Inf values`, 'the checkpoint is damaged; download or export it again')
      }
    }
    let stats: Record<InputName, InputStats> | null = null
    if (runner) {
      const collectors = blockCollectors(k, cfg, method.needsHessian)
      // Statistics are accumulated inside pass 1; their time is moved from the forward to its own phase.
      const before = times.statistics
      clock('calibrationForward', () => runner.observe(w!, (input, act, rows) => clock('statistics', () => collectors[input].add(act, rows, runner.seq))))
      times.calibrationForward -= times.statistics - before
      clock('statistics', () => { stats = finishAll(collectors) })
      // The dense model's own path: this block's dense outputs are the targets and the next block's dense inputs.
      if (xDense) clock('calibrationForward', () => runner.forward(w!, xDense))
    }
    const target = targets[layer]
    const dense = new Map<string, Float32Array>()
    const notes = new Map<string, LinearNotes>(LINEARS.map((name) => [name, {}]))
    for (const name of LINEARS) {
      const l = w.linears[name]
      const full = `${blockPrefix(layer)}${name}.weight`
      if (stats) dense.set(name, l.weight.slice())
      if (job.skip?.test(full)) continue
      clock('solve', () => {
        method.prune({name, layer, weight: l.weight, rows: l.out, cols: l.in, stats: stats?.[INPUT_OF[name]] ?? EMPTY_STATS,
          gradnorm: job.gradnorms?.get(full) ?? null, target, kernels: k, notes: notes.get(name)!})
      })
    }
    if (method.refineBlock && runner && xDense) {
      const s = performance.now()
      const r = method.refineBlock({layer, cfg, weights: w, inputs: runner.x, targets: xDense, n: runner.n, seq: runner.seq, rope: runner.rope, kernels: k,
        onProgress: (done, total) => job.onRefineProgress?.(layer, done, total)})
      refined.push({layer, mse_before: r.mseBefore, mse_after: r.mseAfter})
      times.refine = (times.refine ?? 0) + (performance.now() - s) / 1000
    }
    for (const name of LINEARS) {
      const l = w.linears[name]
      const full = `${blockPrefix(layer)}${name}.weight`
      job.roundToStorage?.(full, l.weight)
      const [zeros] = k.zeroStats(l.weight, l.out, l.in, 0)
      let relError: number | null = null
      const before = dense.get(name)
      if (before && stats) {
        const [err, ref] = k.weightedSqDiff(before, l.weight, (stats as Record<InputName, InputStats>)[INPUT_OF[name]].scaler, l.out, l.in)
        relError = ref > 0 ? err / ref : 0
      }
      const skipped = job.skip?.test(full) ?? false
      linears.push({name: full, layer, rows: l.out, cols: l.in, zeros, sparsity: zeros / (l.out * l.in), relError, skipped, notes: notes.get(name)!})
    }
    if (runner) clock('rerun', () => runner.forward(w!))
    job.onBlockDone(layer, w, linears.filter((l) => l.layer === layer))
    job.onProgress?.(layer, cfg.layers)
    await new Promise((resolve) => setImmediate(resolve))
    job.checkpoint?.()
  }
  return {linears, times, refined}
}

const EMPTY_STATS: InputStats = {nseq: 0, scaler: new Float32Array(0), sumMetric: new Float32Array(0), variance: new Float32Array(0), hessian: null}
