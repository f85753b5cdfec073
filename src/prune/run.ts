import {copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {calibrationSamples} from '../data/calibration.js'
import {loadDataset, type Dataset, type Purpose} from '../data/dataset.js'
import {evalChunks, perplexity} from '../eval/perplexity.js'
import {MirrorWriter} from '../export/mirror-writer.js'
import {gradientNorms, GBLM_SCALE} from '../methods/gradnorm.js'
import {METHODS} from '../methods/index.js'
import {decodeFloats, encodeFloats, writeSafetensors} from '../model/safetensors/writer.js'
import {pruneSequential, type LinearResult} from '../methods/sequential.js'
import {SafetensorsFile} from '../model/safetensors/reader.js'
import {Model} from '../model/model.js'
import {resolveModel} from '../hub/download.js'
import {blockPrefix, LINEARS} from '../model/weights.js'
import {buildReport, type PruneReport} from '../report/report.js'
import {writeReportFiles} from '../report/write.js'
import {EXIT, SparsifyError, usage} from '../util/errors.js'
import type {Logger} from '../util/log.js'
import {VERSION} from '../version.js'
import {benchShape} from '../bench/formats.js'
import {exportPacked, replaceTensors} from '../export/layouts.js'
import type {Packing} from '../packed/tensors.js'
import type {SparsityTarget} from '../methods/types.js'
import {GQSA_DEFAULTS, gqsaMethod, packState, type GqsaOptions, type GqsaState} from '../methods/gqsa.js'
import {e2eOqp, type E2eResult} from '../methods/e2e-oqp.js'
import {ParamStore} from '../model/params.js'
import {kernels} from '../kernels/index.js'
import {readGqsaLinear, saveGqsaBlock} from './gqsa-state.js'
import {describeTarget, parseTarget} from './target.js'
import {availableBytes, estimatePruneBytes} from './memory.js'

export interface PruneOptions {
  model: string
  method: string
  sparsity?: number
  pattern?: string
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
  /** How to store the decoder linears: dense (default, the Hugging Face layout), nm, bitmask or gqsa (docs/formats.md). */
  format?: 'dense' | 'nm' | 'bitmask' | 'gqsa'
}

/** What an interrupted run leaves in its work folder: enough to continue it. */
interface Progress {
  fingerprint: string
  doneThrough: number
  linears: LinearResult[]
}

const PROGRESS = 'sparsify-progress.json'

/** Files beside the weights that a Hugging Face loader or tokenizer reads. */
export const COPIED = ['generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'tokenizer.model',
  'vocab.json', 'merges.txt', 'added_tokens.json', 'chat_template.jinja', 'chat_template.json']

/**
 * A named set that the hub must supply, asked for only by default, falls back to the bundled
 * brown split while the hub is out of reach; a set the user named is never swapped.
 */
async function dataWithFallback(spec: string | undefined, fallbackFrom: string, purpose: Purpose, log: Logger): Promise<Dataset> {
  if (spec !== undefined) return loadDataset(spec, purpose, log)
  try {
    return await loadDataset(fallbackFrom, purpose, log)
  } catch (err) {
    if (!(err instanceof SparsifyError) || err.exitCode === EXIT.invalidFormat) throw err
    log.info(`note: ${fallbackFrom} is not available (${err.message}); using the bundled brown ${purpose === 'eval' ? 'test' : 'train'} split`)
    return loadDataset('brown', purpose)
  }
}

/** E2E-OQP's default learning rate of the scales (EfficientQAT's E2E-QP at 4 bits uses 1e-5 over far more steps). */
const E2E_LR = 1e-4

/** The packing --format asks for, checked against the target before any work is done. */
function outputPacking(format: NonNullable<PruneOptions['format']>, target: SparsityTarget, methodId: string, skip: RegExp | undefined,
  g: GqsaOptions): Packing | null {
  if (format === 'dense') return null
  if (skip) throw usage(`--format ${format} packs every decoder linear; --skip would leave some dense`, 'drop --skip, or write --format dense')
  if (format === 'bitmask') return {format}
  if (format === 'nm') {
    if (target.kind !== 'nm') throw usage('--format nm needs an N:M --pattern', 'use --format bitmask for unstructured sparsity')
    if (target.m > 16) throw usage(`--format nm holds groups of at most 16, not ${target.m}`)
    return {format, n: target.m - target.n, m: target.m}
  }
  if (methodId !== 'gqsa') throw usage(`--format gqsa needs --method gqsa (it stores GQSA's 4-bit groups), not ${methodId}`)
  return {format, bits: 4, group: g.group}
}

export async function runPrune(o: PruneOptions, log: Logger): Promise<PruneReport> {
  const started = performance.now()
  if (!METHODS[o.method]) throw usage(`unknown method ${o.method}`, `choose one of: ${Object.keys(METHODS).join(', ')}`)
  const gqsa = o.method === 'gqsa' ? gqsaMethod({...GQSA_DEFAULTS, ...o.gqsa}) : null
  const method = gqsa ?? METHODS[o.method]
  const out = path.resolve(o.out)
  if (existsSync(out) && readdirSync(out).length > 0 && !o.overwrite) {
    throw usage(`--out ${o.out} exists and is not empty`, 'choose another folder, or pass --overwrite to replace it')
  }
  let skip: RegExp | undefined
  try { skip = o.skip ? new RegExp(o.skip) : undefined } catch { throw usage(`--skip ${o.skip} is not a valid regular expression`) }

  const model = Model.load(await resolveModel(o.model, log))
  // GQSA's W4S50 is its default; the other methods need a target.
  const target = parseTarget(o.sparsity ?? (gqsa && o.pattern === undefined ? 0.5 : undefined), o.pattern, model.cfg, method.id)
  const packing = outputPacking(o.format ?? 'dense', target, method.id, skip, {...GQSA_DEFAULTS, ...o.gqsa})
  const e2eSteps = o.e2eSteps ?? 0
  if (e2eSteps > 0 && (!gqsa || skip || o.resume)) {
    throw usage('--e2e-steps trains GQSA\'s scales over the whole model: it needs --method gqsa, and works without --skip and --resume')
  }
  const e2eStates = new Map<string, GqsaState>()
  const seqlen = o.seqlen ?? Math.min(2048, model.cfg.maxPositions)
  if (seqlen > model.cfg.maxPositions) throw usage(`--seqlen ${seqlen} exceeds the model's max_position_embeddings ${model.cfg.maxPositions}`)
  if (model.cfg.slidingWindow !== null && seqlen > model.cfg.slidingWindow) {
    throw usage(`--seqlen ${seqlen} exceeds the model's attention window of ${model.cfg.slidingWindow}`, 'pass --seqlen of at most the sliding window')
  }
  const phase: Record<string, number> = {}
  const timed = async <T>(key: string, fn: () => Promise<T> | T): Promise<T> => {
    const s = performance.now()
    try { return await fn() } finally { phase[key] = (phase[key] ?? 0) + (performance.now() - s) / 1000 }
  }

  if (o.maxPplIncrease !== undefined && o.eval === 'none') throw usage('--max-ppl-increase needs an evaluation', 'drop --eval none')
  const limit = o.maxMemory ?? availableBytes()
  const need = estimatePruneBytes(model.cfg, method, method.needsCalibration ? o.nsamples : 0, seqlen, 256 * seqlen)
  if (need > limit) {
    throw new SparsifyError(`this job needs about ${gib(need)} of memory, more than the ${gib(limit)} ${o.maxMemory ? 'allowed by --max-memory' : 'available'}`,
      EXIT.memory, 'lower --nsamples or --seqlen, or raise --max-memory')
  }
  log.info(`estimated peak memory ${gib(need)} of ${gib(limit)}`)

  const calib = method.needsCalibration ? await dataWithFallback(o.calib, 'c4', 'calib', log) : null
  const samples = calib ? await timed('sampling', () => calibrationSamples(model, calib, o.nsamples, seqlen, o.seed)) : []
  const evalData = o.eval === 'none' ? null : await dataWithFallback(o.eval, 'wikitext2', 'eval', log)
  const chunks = evalData ? await evalChunks(model, evalData, o.eval === undefined || evalData.kind === 'text' ? seqlen : undefined) : null

  log.info(`pruning ${model.cfg.arch} (${model.cfg.layers} blocks) with ${method.id}, ${describeTarget(target)}` +
    (calib ? `, calibrated on ${samples.length} × ${seqlen} tokens of ${calib.name}` : ''))
  const evalProgress = (label: string) => ({onBlock: (layer: number, group: number, groups: number) =>
    log.step(label, group * model.cfg.layers + layer + 1, groups * model.cfg.layers)})
  const dense = chunks ? await timed('evalDense', () => perplexity(model, chunks, evalProgress('dense perplexity'))) : null
  if (dense) log.info(`dense perplexity ${dense.perplexity.toFixed(3)} on ${evalData!.name}`)

  const interruption = watchSignals(log)
  const work = path.join(path.dirname(out), `.${path.basename(out)}.sparsify-work`)
  const fingerprint = jobFingerprint(o, model)
  const progress = startWork(work, fingerprint, o, log)
  let keepWork = false
  try {
    const provenance = {
      'sparsify.version': VERSION, 'sparsify.method': method.id, 'sparsify.target': describeTarget(target),
      'sparsify.calibration': calib?.name ?? 'none', 'sparsify.nsamples': String(samples.length),
      'sparsify.seqlen': String(seqlen), 'sparsify.seed': String(o.seed),
    }
    const gradnorms = method.needsGradients
      ? await timed('gradients', () => gradientNorms(model, samples, (done) => log.step('gradients (GBLM stage A)', done, samples.length)))
      : undefined
    if (gradnorms && o.saveGradnorm) {
      writeSafetensors(path.resolve(o.saveGradnorm), [...gradnorms].map(([name, g]) => ({name, dtype: 'F32' as const,
        shape: [...model.ckpt.entry(name).shape], data: encodeFloats(g, 'F32')})), {'sparsify.gblm_scale': String(GBLM_SCALE)})
    }
    const writer = new MirrorWriter(model.ckpt, work, provenance, progress?.doneThrough)
    const done: LinearResult[] = progress?.linears ?? []
    let result
    try {
      if (!progress) writer.writeThrough(-1)
      const partial = new Map<string, SafetensorsFile>()
      result = await timed('prune', () => pruneSequential({
        model, method, target, samples, skip, gradnorms, checkpoint: interruption.check,
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
        onBlockDone(layer, w, linears) {
          if (packing?.format === 'gqsa') saveGqsaBlock(work, layer, model.cfg, (name) => method.packed!(w.linears[name].weight))
          if (e2eSteps > 0) for (const name of LINEARS) e2eStates.set(`${blockPrefix(layer)}${name}.weight`, structuredClone(gqsa!.state(w.linears[name].weight)!))
          const replaced = new Map(LINEARS.map((name) => [`${blockPrefix(layer)}${name}.weight`, w.linears[name].weight]))
          writer.writeThrough(layer, replaced)
          writer.sync()
          done.push(...linears)
          saveProgress(work, {fingerprint, doneThrough: layer, linears: done})
        },
        onProgress: (layer, layers) => log.step(`pruning with ${method.id}`, layer + 1, layers),
        onRefineProgress: (layer, step, steps) => log.step(`BQPO block ${layer}`, step, steps),
      }))
      for (const f of partial.values()) f.close()
      writer.finish()
    } catch (err) {
      writer.abandon()
      throw err
    }
    result = {...result, linears: done}
    rmSync(path.join(work, PROGRESS), {force: true})
    copyConfig(model.dir, work)
    for (const f of COPIED) if (existsSync(path.join(model.dir, f))) copyFileSync(path.join(model.dir, f), path.join(work, f))
    let e2e: E2eResult | null = null
    if (e2eSteps > 0) {
      const compressed = Model.load(work)
      const store = ParamStore.fromModel(compressed)
      compressed.close()
      e2e = await timed('e2e', () => e2eOqp(store, e2eStates, samples, {steps: e2eSteps, lr: o.e2eLr ?? E2E_LR}, kernels(), (s, n) => log.step('E2E-OQP', s, n)))
      log.info(`E2E-OQP: calibration loss ${e2e.loss_before.toFixed(4)} → ${e2e.loss_after.toFixed(4)} in ${e2eSteps} steps`)
      replaceTensors(work, (name) => (e2eStates.has(name) ? store.get(name) : undefined))
      if (packing?.format === 'gqsa') {
        for (let layer = 0; layer < model.cfg.layers; layer++) saveGqsaBlock(work, layer, model.cfg, (name) => packState(e2eStates.get(`${blockPrefix(layer)}${name}.weight`)!))
      }
    }

    let pruned = null
    if (chunks) {
      const prunedModel = Model.load(work)
      pruned = await timed('evalPruned', () => perplexity(prunedModel, chunks, evalProgress('pruned perplexity')))
      prunedModel.close()
      log.info(`pruned perplexity ${pruned.perplexity.toFixed(3)}`)
    }
    model.close()
    const increase = dense && pruned ? 100 * (pruned.perplexity / dense.perplexity - 1) : null
    const gate = o.maxPplIncrease === undefined || increase === null ? null
      : {max_ppl_increase_pct: o.maxPplIncrease, ppl_increase_pct: increase, passed: increase <= o.maxPplIncrease}
    const largest = result.linears.reduce((a, l) => (l.rows * l.cols > a[0] * a[1] ? [l.rows, l.cols] : a), [0, 0])
    const speed = await timed('speed', () => benchShape(largest[0], largest[1], {reps: 5}))
    const report = buildReport({
      options: o, out, model, method, target, seqlen, samples: samples.length, calib: calib?.name ?? null,
      evalName: evalData?.name ?? null, dense, pruned, linears: result.linears, phases: {...phase, ...result.times},
      seconds: (performance.now() - started) / 1000, gate, format: o.format ?? 'dense', speed, refined: result.refined, e2e,
    })
    writeReportFiles(work, report)
    if (packing) {
      exportPacked(work, packing, out, true, log, packing.format === 'gqsa' ? (prefix) => readGqsaLinear(work, prefix) : undefined)
      rmSync(work, {recursive: true, force: true})
    } else {
      if (existsSync(out)) rmSync(out, {recursive: true, force: true})
      renameSync(work, out)
    }
    return report
  } catch (err) {
    // An interrupted job keeps its finished blocks for --resume; any other failure leaves nothing.
    const code = (err as SparsifyError).exitCode
    keepWork = code === EXIT.sigint || code === EXIT.sigterm
    if (keepWork && existsSync(path.join(work, PROGRESS))) {
      const p = JSON.parse(readFileSync(path.join(work, PROGRESS), 'utf8')) as Progress
      throw new SparsifyError(`interrupted by ${code === EXIT.sigint ? 'SIGINT' : 'SIGTERM'} after block ${p.doneThrough + 1} of ${model.cfg.layers}; --out is untouched`,
        code as typeof EXIT.sigint, `run the same command with --resume to continue (finished blocks are kept in ${work})`)
    }
    if (!keepWork || !existsSync(path.join(work, PROGRESS))) rmSync(work, {recursive: true, force: true})
    throw err
  } finally {
    interruption.release()
  }
}

/** Everything that decides the output: a resumed run must match it exactly. */
function jobFingerprint(o: PruneOptions, model: Model): string {
  const files = model.ckpt.files.map((f) => { const st = statSync(f.path); return [path.resolve(f.path), st.size, st.mtimeMs] })
  const {model: m, method, sparsity, pattern, calib, nsamples, seqlen, seed, skip, format} = o
  const gqsa = method === 'gqsa' ? {...GQSA_DEFAULTS, ...o.gqsa} : null
  return JSON.stringify({model: path.resolve(m), files, method, sparsity, pattern, calib, nsamples, seqlen, seed, skip, format, gqsa, version: VERSION})
}

/** Prepares the work folder beside --out: fresh, or the interrupted run's when resuming it. */
function startWork(work: string, fingerprint: string, o: PruneOptions, log: Logger): Progress | null {
  const file = path.join(work, PROGRESS)
  if (existsSync(work)) {
    const p = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Progress) : null
    if (o.resume && p) {
      if (p.fingerprint !== fingerprint) throw usage(`the interrupted run in ${work} used other options or another model`, 'run it with its own options, or pass --overwrite to start over')
      log.info(`resuming after block ${p.doneThrough + 1} (${work})`)
      return p
    }
    if (p && !o.overwrite) throw usage(`an interrupted run of this job is in ${work}`, 'pass --resume to continue it, or --overwrite to start over')
    rmSync(work, {recursive: true, force: true})
  } else if (o.resume) {
    log.info('nothing to resume: starting from the first block')
  }
  mkdirSync(work, {recursive: true})
  return null
}

function saveProgress(work: string, p: Progress): void {
  const tmp = path.join(work, `${PROGRESS}.tmp`)
  writeFileSync(tmp, JSON.stringify(p))
  renameSync(tmp, path.join(work, PROGRESS))
}

const gib = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`

/**
 * Ctrl-C or SIGTERM stops the job after the block in progress: finished blocks stay in the work
 * folder for --resume, any previous output stays as it was, and the exit code is 130 or 143.
 * A second Ctrl-C exits at once.
 */
function watchSignals(log: Logger): {check(): void; release(): void} {
  let caught: NodeJS.Signals | null = null
  const handler = (sig: NodeJS.Signals) => {
    if (caught) process.exit(sig === 'SIGTERM' ? EXIT.sigterm : EXIT.sigint)
    caught = sig
    log.info(`${sig}: stopping after the current block (again to quit at once)`)
  }
  process.on('SIGINT', handler)
  process.on('SIGTERM', handler)
  return {
    check() {
      if (caught) {
        throw new SparsifyError(`interrupted by ${caught}; --out is untouched`, caught === 'SIGTERM' ? EXIT.sigterm : EXIT.sigint,
          'run the same command again')
      }
    },
    release() {
      process.off('SIGINT', handler)
      process.off('SIGTERM', handler)
    },
  }
}

/** config.json as it was, less sparsity_config: current transformers and vLLM reject it on dense weights. */
function copyConfig(from: string, to: string): void {
  const cfg = JSON.parse(readFileSync(path.join(from, 'config.json'), 'utf8'))
  delete cfg.sparsity_config
  writeFileSync(path.join(to, 'config.json'), `${JSON.stringify(cfg, null, 2)}\n`)
}

