import {existsSync, readdirSync} from 'node:fs'
import path from 'node:path'

import {calibrationSamples} from '../data/calibration.js'
import {loadDataset} from '../data/dataset.js'
import type {Dataset, Purpose} from '../data/types.js'
import {evalChunks} from '../eval/perplexity.js'
import {resolveModel} from '../hub/download.js'
import {gqsaMethod} from '../methods/gqsa.js'
import {GQSA_DEFAULTS, type GqsaOptions} from '../methods/gqsa-types.js'
import {METHODS} from '../methods/index.js'
import type {PruningMethod, SparsityTarget} from '../methods/types.js'
import type {ModelConfig} from '../model/config.js'
import {Model} from '../model/model.js'
import type {Packing} from '../packed/tensors.js'
import {EXIT, SparsifyError, usage} from '../util/errors.js'
import type {Logger} from '../util/log.js'
import {availableBytes, estimatePruneBytes} from './memory.js'
import type {PruneOptions} from './options.js'
import {readPlanFile, type Allocation} from './plan.js'
import {parseTarget} from './target.js'
import {noPruning, quantMethod} from './quant-options.js'
import type {QuantMethod} from '../methods/gptq.js'

/** A prune job whose options were checked against the model, before any work is done. */
export interface Job {
  model: Model
  method: PruningMethod
  /** The GQSA method with its state, when --method gqsa. */
  gqsa: ReturnType<typeof gqsaMethod> | null
  /** The quantizing method with its states, when --method gptq or sparsegpt --wbits. */
  quant: QuantMethod | null
  /** --sparsity or --pattern (OWL's average); null with --plan. */
  target: SparsityTarget | null
  /** The per-block targets of --plan. */
  plan: Allocation | null
  packing: Packing | null
  skip: RegExp | undefined
  seqlen: number
  e2eSteps: number
  out: string
  /** The preflight estimate of the peak memory (prune/memory.ts), in bytes. */
  estimatedBytes: number
}

export async function planJob(o: PruneOptions, log: Logger): Promise<Job> {
  if (!METHODS[o.method]) throw usage(`unknown method ${o.method}`, `choose one of: ${Object.keys(METHODS).join(', ')}`)
  const gqsaOptions = {...GQSA_DEFAULTS, ...o.gqsa}
  const gqsa = o.method === 'gqsa' ? gqsaMethod(gqsaOptions) : null
  const out = path.resolve(o.out)
  if (existsSync(out) && readdirSync(out).length > 0 && !o.overwrite) {
    throw usage(`--out ${o.out} exists and is not empty`, 'choose another folder, or pass --overwrite to replace it')
  }
  let skip: RegExp | undefined
  try { skip = o.skip ? new RegExp(o.skip) : undefined } catch { throw usage(`--skip ${o.skip} is not a valid regular expression`) }

  checkAllocationFlags(o)
  const model = Model.load(await resolveModel(o.model, log))
  const quant = quantMethod(o.method, o, model)
  const method = quant ?? gqsa ?? METHODS[o.method]
  const plan = o.plan === undefined ? null : readPlanFile(o.plan, model.cfg, method.id)
  // GQSA's W4S50 is its default; GPTQ prunes nothing; the other methods need a target.
  const target = plan ? null : method.id === 'gptq' ? noPruning(o)
    : parseTarget(o.sparsity ?? (gqsa && o.pattern === undefined ? 0.5 : undefined), o.pattern, model.cfg, method.id)
  const packing = outputPacking(o.format ?? 'dense', target ?? plan!.targets[0], method.id, skip, gqsaOptions)
  const e2eSteps = o.e2eSteps ?? 0
  if (e2eSteps > 0 && (!gqsa || skip || o.resume)) {
    throw usage('--e2e-steps trains GQSA\'s scales over the whole model: it needs --method gqsa, and works without --skip and --resume')
  }
  const seqlen = calibrationSeqlen(o.seqlen, model.cfg)
  if (o.maxPplIncrease !== undefined && o.eval === 'none') throw usage('--max-ppl-increase needs an evaluation', 'drop --eval none')
  const estimatedBytes = checkMemory(o, model, method, seqlen, log)
  return {model, method, gqsa, quant, target, plan, packing, skip, seqlen, e2eSteps, out, estimatedBytes}
}

/** --seqlen, or min(2048, max_position_embeddings), checked against the model's positions and attention window. */
export function calibrationSeqlen(asked: number | undefined, cfg: ModelConfig): number {
  const seqlen = asked ?? Math.min(2048, cfg.maxPositions)
  if (seqlen > cfg.maxPositions) throw usage(`--seqlen ${seqlen} exceeds the model's max_position_embeddings ${cfg.maxPositions}`)
  if (cfg.slidingWindow !== null && seqlen > cfg.slidingWindow) {
    throw usage(`--seqlen ${seqlen} exceeds the model's attention window of ${cfg.slidingWindow}`, 'pass --seqlen of at most the sliding window')
  }
  return seqlen
}

/** --owl and --plan against the other target flags, before anything is loaded. */
function checkAllocationFlags(o: PruneOptions): void {
  if (o.plan !== undefined && (o.sparsity !== undefined || o.pattern !== undefined)) {
    throw usage('--plan takes the place of --sparsity and --pattern', 'give either --plan or one of --sparsity and --pattern')
  }
  if (o.plan !== undefined && o.owl) throw usage('--owl computes per-block targets and --plan reads them: give one of the two')
  if ((o.plan !== undefined || o.owl) && o.method === 'gptq') {
    throw usage(`--method gptq quantizes without pruning: ${o.owl ? '--owl' : '--plan'} has no sparsity to allocate`, 'to prune and quantize together, use --method sparsegpt --wbits')
  }
  if ((o.plan !== undefined || o.owl) && o.format === 'nm') {
    throw usage('--format nm packs one N:M pattern for the whole model; per-block targets differ', 'use --format bitmask')
  }
  if (o.owl) checkOwlSettings(o)
}

/** OWL's hyperparameters, and the calibration data its outlier count needs. */
export function checkOwlSettings(o: {owl?: {m: number; lambda: number}; calib?: string}): void {
  const {m, lambda} = o.owl!
  if (!(m > 0 && Number.isFinite(m))) throw usage(`--owl-m ${m} must be a positive number`, 'the reference uses 3 to 10 (5 by default)')
  if (!(lambda >= 0 && Number.isFinite(lambda))) throw usage(`--owl-lambda ${lambda} must be at least 0`, 'the reference uses 0.02 to 0.2 (0.08 by default)')
  if (o.calib === 'none') throw usage('--owl counts outliers on calibration data: --calib none gives it none', 'give --calib, e.g. --calib brown')
}

/** The packing --format asks for, checked against the target before any work is done. */
function outputPacking(format: NonNullable<PruneOptions['format']>, target: SparsityTarget, methodId: string, skip: RegExp | undefined,
  g: GqsaOptions): Packing | null {
  if (format === 'dense') return null
  if (skip) throw usage(`--format ${format} packs every decoder linear; --skip would leave some dense`, 'drop --skip, or write --format dense')
  if (format === 'pack-quantized') return null   // written from the quantizing method's states (run.ts)
  if (format === 'bitmask') return {format}
  if (format === 'nm') {
    if (target.kind !== 'nm') throw usage('--format nm needs an N:M --pattern', 'use --format bitmask for unstructured sparsity')
    if (target.m > 16) throw usage(`--format nm holds groups of at most 16, not ${target.m}`)
    return {format, n: target.m - target.n, m: target.m}
  }
  if (methodId !== 'gqsa') throw usage(`--format gqsa needs --method gqsa (it stores GQSA's 4-bit groups), not ${methodId}`)
  return {format, bits: 4, group: g.group}
}

function checkMemory(o: PruneOptions, model: Model, method: PruningMethod, seqlen: number, log: Logger): number {
  const limit = o.maxMemory ?? availableBytes()
  const evalTokens = o.eval === 'none' ? 0 : 256 * seqlen
  const need = estimatePruneBytes(model.cfg, method, method.needsCalibration || o.owl ? o.nsamples : 0, seqlen, evalTokens)
  if (need > limit) {
    throw new SparsifyError(`this job needs about ${gib(need)} of memory, more than the ${gib(limit)} ${o.maxMemory ? 'allowed by --max-memory' : 'available'}`,
      EXIT.memory, 'lower --nsamples or --seqlen, or raise --max-memory')
  }
  log.info(`estimated peak memory ${gib(need)} of ${gib(limit)}`)
  return need
}

const gib = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`

/** The job's calibration windows and evaluation chunks. */
export interface JobData {
  calib: Dataset | null
  samples: number[][]
  evalData: Dataset | null
  chunks: number[][] | null
}

/** Runs a phase of the job and adds its wall time to the phase's total. */
export type Timed = <T>(phase: string, fn: () => Promise<T> | T) => Promise<T>

export function phaseClock(): {timed: Timed; phases: Record<string, number>} {
  const phases: Record<string, number> = {}
  const timed: Timed = async (key, fn) => {
    const s = performance.now()
    try { return await fn() } finally { phases[key] = (phases[key] ?? 0) + (performance.now() - s) / 1000 }
  }
  return {timed, phases}
}

export async function loadJobData(o: PruneOptions, job: Job, timed: Timed, log: Logger): Promise<JobData> {
  const {model, method, seqlen} = job
  const calib = method.needsCalibration || o.owl ? await dataWithFallback(o.calib, 'c4', 'calib', log) : null
  const samples = calib ? await timed('sampling', () => calibrationSamples(model, calib, o.nsamples, seqlen, o.seed)) : []
  const evalData = o.eval === 'none' ? null : await dataWithFallback(o.eval, 'wikitext2', 'eval', log)
  const chunks = evalData ? await evalChunks(model, evalData, o.eval === undefined || evalData.kind === 'text' ? seqlen : undefined) : null
  return {calib, samples, evalData, chunks}
}

/**
 * A named set that the hub must supply, asked for only by default, falls back to the bundled
 * brown split while the hub is out of reach; a set the user named is never swapped.
 */
export async function dataWithFallback(spec: string | undefined, fallbackFrom: string, purpose: Purpose, log: Logger): Promise<Dataset> {
  if (spec !== undefined) return loadDataset(spec, purpose, log)
  try {
    return await loadDataset(fallbackFrom, purpose, log)
  } catch (err) {
    if (!(err instanceof SparsifyError) || err.exitCode === EXIT.invalidFormat) throw err
    log.info(`note: ${fallbackFrom} is not available (${err.message}); using the bundled brown ${purpose === 'eval' ? 'test' : 'train'} split`)
    return loadDataset('brown', purpose)
  }
}
