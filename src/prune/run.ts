import {existsSync, renameSync, rmSync} from 'node:fs'
import path from 'node:path'

import {benchShape} from '../bench/formats.js'
import {exportPacked, replaceTensors} from '../export/layouts.js'
import {MirrorWriter} from '../export/mirror-writer.js'
import {kernels} from '../kernels/index.js'
import {e2eOqp, type E2eResult} from '../methods/e2e-oqp.js'
import {packState} from '../methods/gqsa.js'
import type {GqsaState} from '../methods/gqsa-types.js'
import {gradientNorms, GBLM_SCALE} from '../methods/gradnorm.js'
import {pruneSequential, type LinearResult, type SequentialResult} from '../methods/sequential.js'
import {copyCompanionFiles, copyConfigWithoutSparsity} from '../model/companion-files.js'
import {Model} from '../model/model.js'
import {ParamStore} from '../model/params.js'
import {SafetensorsFile} from '../model/safetensors/reader.js'
import {decodeFloats, encodeFloats, writeSafetensors} from '../model/safetensors/writer.js'
import {buildReport, type PruneReport} from '../report/report.js'
import {writeReportFiles} from '../report/write.js'
import type {Logger} from '../util/log.js'
import {VERSION} from '../version.js'
import {writePackQuantized} from '../export/pack-quantized.js'
import {writeOrder} from '../model/arch/layout.js'
import {readGqsaLinear, saveGqsaBlock} from './gqsa-state.js'
import {quantizationSummary, quantStates, saveQuantBlock} from './quantized.js'
import {watchSignals} from './interruption.js'
import {loadJobData, phaseClock, planJob, type Job, type JobData, type Timed} from './job.js'
import type {PruneOptions} from './options.js'
import {blockTargets, owlAllocation, uniformAllocation, type Allocation} from './plan.js'
import {evaluateQuality, prepareTasks} from './quality.js'
import {describeTarget} from './target.js'
import {abandonWork, clearProgress, jobFingerprint, saveProgress, startWork, workFolderOf, type Progress} from './work-folder.js'

/** E2E-OQP's default learning rate of the scales (EfficientQAT's E2E-QP at 4 bits uses 1e-5 over far more steps). */
const E2E_LR = 1e-4

/**
 * The sequential pipeline: plan and check the job, load data, prune block by block into a work
 * folder beside --out, then evaluate dense against pruned, report and move the output into place.
 */
export async function runPrune(o: PruneOptions, log: Logger): Promise<PruneReport> {
  const started = performance.now()
  const job = await planJob(o, log)
  const {timed, phases} = phaseClock()
  const data = await loadJobData(o, job, timed, log)
  const allocation = await allocate(o, job, data, timed, log)
  const {model, method, seqlen} = job
  log.info(`pruning ${model.cfg.arch} (${model.cfg.layers} blocks) with ${method.id}, ${allocation.description}` +
    (data.calib ? `, calibrated on ${data.samples.length} × ${seqlen} tokens of ${data.calib.name}` : ''))
  const tasks = await prepareTasks(o.evalTasks, log)

  const interruption = watchSignals(log)
  const work = workFolderOf(job.out)
  const progress = startWork(work, jobFingerprint(o, model), o, log)
  try {
    const e2eStates = new Map<string, GqsaState>()
    const result = await pruneIntoWork(o, job, data, allocation, work, progress, e2eStates, interruption.check, timed, log)
    clearProgress(work)
    copyConfigWithoutSparsity(model.dir, work)
    copyCompanionFiles(model.dir, work)
    const e2e = job.e2eSteps > 0 ? await trainScalesEndToEnd(o, job, data, work, e2eStates, timed, log) : null
    const quality = await evaluateQuality(model, work, data.chunks, tasks, log, timed)
    const {dense, pruned} = quality
    model.close()
    const increase = dense && pruned ? 100 * (pruned.perplexity / dense.perplexity - 1) : null
    const gate = o.maxPplIncrease === undefined || increase === null ? null
      : {max_ppl_increase_pct: o.maxPplIncrease, ppl_increase_pct: increase, passed: increase <= o.maxPplIncrease}
    const largest = result.linears.reduce((a, l) => (l.rows * l.cols > a[0] * a[1] ? [l.rows, l.cols] : a), [0, 0])
    const speed = await timed('speed', () => benchShape(largest[0], largest[1], {reps: 5}))
    const report = buildReport({
      options: o, out: job.out, model, method, allocation, seqlen, samples: data.samples.length, calib: data.calib?.name ?? null,
      evalName: data.evalData?.name ?? null, dense, pruned, linears: result.linears, phases: {...phases, ...result.times},
      seconds: (performance.now() - started) / 1000, gate, format: o.format ?? 'dense', speed, refined: result.refined, experts: result.experts, e2e,
      quantization: job.quant ? quantizationSummary(job.quant.quant, o.format ?? 'dense', result.linears, model) : null,
      kld: quality.kld, tasks: quality.tasks, estimatedBytes: job.estimatedBytes,
    })
    writeReportFiles(work, report)
    placeOutput(job, work, log, o.format === 'pack-quantized')
    return report
  } catch (err) {
    throw abandonWork(work, err, model.cfg.layers)
  } finally {
    interruption.release()
  }
}

/** Per-block targets: the plan file's, OWL's from an outlier pass over the dense model, or the one target everywhere. */
async function allocate(o: PruneOptions, job: Job, data: JobData, timed: Timed, log: Logger): Promise<Allocation> {
  if (job.plan) return job.plan
  if (!o.owl) return uniformAllocation(job.target!, job.model.cfg.layers)
  const a = await timed('outliers', () => owlAllocation(job.model, data.samples, job.target!, o.owl!, kernels(),
    (layer, layers) => log.step('outlier ratios (OWL)', layer + 1, layers)))
  log.info(`OWL outlier ratios ${a.outlierRatio!.map((r) => r.toFixed(3)).join(', ')} %: ${a.targets.map(describeTarget).join(', ')}`)
  return a
}

/** GBLM's gradients when the method needs them, then the blocks pruned in order, each written to the work folder as it finishes. */
async function pruneIntoWork(o: PruneOptions, job: Job, data: JobData, allocation: Allocation, work: string, progress: Progress | null,
  e2eStates: Map<string, GqsaState>, checkpoint: () => void, timed: Timed, log: Logger): Promise<SequentialResult> {
  const {model, method, gqsa, packing, samples} = {...job, ...data}
  const fingerprint = jobFingerprint(o, model)
  const provenance = {
    'sparsify.version': VERSION, 'sparsify.method': method.id, 'sparsify.target': blockTargets(allocation),
    'sparsify.calibration': data.calib?.name ?? 'none', 'sparsify.nsamples': String(samples.length),
    'sparsify.seqlen': String(job.seqlen), 'sparsify.seed': String(o.seed),
  }
  const gradnorms = method.needsGradients
    ? await timed('gradients', () => gradientNorms(model, samples, (done) => log.step('gradients (GBLM stage A)', done, samples.length)))
    : undefined
  if (gradnorms && o.saveGradnorm) {
    writeSafetensors(path.resolve(o.saveGradnorm), [...gradnorms].map(([name, g]) => ({name, dtype: 'F32' as const,
      shape: [...model.ckpt.entry(name).shape], data: encodeFloats(g, 'F32')})), {'sparsify.gblm_scale': String(GBLM_SCALE)})
  }
  const writer = new MirrorWriter(model.ckpt, work, provenance, progress?.doneThrough, writeOrder(model.cfg))
  const done: LinearResult[] = progress?.linears ?? [], experts = progress?.experts ?? []
  const partial = new Map<string, SafetensorsFile>()
  try {
    if (!progress) writer.writeThrough(-1)
    const result = await timed('prune', () => pruneSequential({
      model, method, targets: allocation.targets, samples, skip: job.skip, gradnorms, checkpoint,
      startBlock: (progress?.doneThrough ?? -1) + 1,
      finishedWeight(name, into) {
        const shard = path.join(work, path.basename(model.ckpt.file(name).path))
        if (!partial.has(shard)) partial.set(shard, SafetensorsFile.open(shard, {allowTruncated: true}))
        partial.get(shard)!.readF32Into(name, into)
      },
      roundToStorage(name, weight) {
        const dtype = model.ckpt.entry(name).dtype
        if (dtype === 'BF16' || dtype === 'F16') weight.set(decodeFloats(encodeFloats(weight, dtype), dtype))
      },
      onBlockDone(layer, w, linears, usage) {
        if (packing?.format === 'gqsa') saveGqsaBlock(work, layer, model.cfg, (_, i) => method.packed!(w.tensors[i].weight))
        if (o.format === 'pack-quantized') saveQuantBlock(work, layer, w.tensors, (t) => job.quant!.state(t.weight)!)
        if (job.e2eSteps > 0) for (const t of w.tensors) e2eStates.set(`${t.name}.weight`, structuredClone(gqsa!.state(t.weight)!))
        writer.writeThrough(layer, new Map(w.tensors.map((t) => [`${t.name}.weight`, t.weight])))
        writer.sync()
        done.push(...linears)
        if (usage) experts.push(usage)
        saveProgress(work, {fingerprint, doneThrough: layer, linears: done, experts})
      },
      onProgress: (layer, layers) => log.step(`pruning with ${method.id}`, layer + 1, layers),
      onRefineProgress: (layer, step, steps) => log.step(`BQPO block ${layer}`, step, steps),
    }))
    closeAll(partial)
    writer.finish()
    return {...result, linears: done, experts}
  } catch (err) {
    closeAll(partial)
    writer.abandon()
    throw err
  }
}

const closeAll = (files: Map<string, SafetensorsFile>) => { for (const f of files.values()) f.close(); files.clear() }

/** GQSA's E2E-OQP over the finished model in the work folder: its scales trained end to end, written back. */
async function trainScalesEndToEnd(o: PruneOptions, job: Job, data: JobData, work: string, states: Map<string, GqsaState>,
  timed: Timed, log: Logger): Promise<E2eResult> {
  const compressed = Model.load(work)
  const store = ParamStore.fromModel(compressed)
  compressed.close()
  const e2e = await timed('e2e', () => e2eOqp(store, states, data.samples, {steps: job.e2eSteps, lr: o.e2eLr ?? E2E_LR}, kernels(),
    (s, n) => log.step('E2E-OQP', s, n)))
  log.info(`E2E-OQP: calibration loss ${e2e.loss_before.toFixed(4)} → ${e2e.loss_after.toFixed(4)} in ${job.e2eSteps} steps`)
  replaceTensors(work, (name) => (states.has(name) ? store.get(name) : undefined))
  if (job.packing?.format === 'gqsa') {
    for (let layer = 0; layer < job.model.cfg.layers; layer++) {
      saveGqsaBlock(work, layer, job.model.cfg, (t) => packState(states.get(`${t.name}.weight`)!))
    }
  }
  return e2e
}

/** The complete work folder becomes --out: renamed into place, or packed into it. */
function placeOutput(job: Job, work: string, log: Logger, packQuantized: boolean): void {
  const {packing, out} = job
  if (packQuantized) {
    const states = quantStates(work, job.model.cfg)
    try { writePackQuantized(work, out, job.quant!.quant, states.of) } finally { states.close() }
    rmSync(work, {recursive: true, force: true})
  } else if (packing) {
    exportPacked(work, packing, out, true, log, packing.format === 'gqsa' ? (prefix) => readGqsaLinear(work, job.model.cfg, prefix) : undefined)
    rmSync(work, {recursive: true, force: true})
  } else {
    if (existsSync(out)) rmSync(out, {recursive: true, force: true})
    renameSync(work, out)
  }
}
