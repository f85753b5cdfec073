import {copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {calibrationSamples} from '../data/calibration.js'
import {loadDataset, type Dataset, type Purpose} from '../data/dataset.js'
import {evalChunks, perplexity} from '../eval/perplexity.js'
import {MirrorWriter} from '../export/mirror-writer.js'
import {gradientNorms, GBLM_SCALE} from '../methods/gradnorm.js'
import {METHODS} from '../methods/index.js'
import {encodeFloats, writeSafetensors} from '../model/safetensors/writer.js'
import {pruneSequential} from '../methods/sequential.js'
import {Model} from '../model/model.js'
import {blockPrefix, LINEARS} from '../model/weights.js'
import {buildReport, type PruneReport} from '../report/report.js'
import {writeReportFiles} from '../report/write.js'
import {EXIT, type SparsifyError, usage} from '../util/errors.js'
import type {Logger} from '../util/log.js'
import {VERSION} from '../version.js'
import {describeTarget, parseTarget} from './target.js'

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
}

/** Files beside the weights that a Hugging Face loader or tokenizer reads. */
const COPIED = ['generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'tokenizer.model',
  'vocab.json', 'merges.txt', 'added_tokens.json', 'chat_template.jinja', 'chat_template.json']

/**
 * A named set that the hub must supply, asked for only by default, falls back to the bundled
 * brown split while the hub is out of reach; a set the user named is never swapped.
 */
async function dataWithFallback(spec: string | undefined, fallbackFrom: string, purpose: Purpose, log: Logger): Promise<Dataset> {
  if (spec !== undefined) return loadDataset(spec, purpose)
  try {
    return await loadDataset(fallbackFrom, purpose)
  } catch (err) {
    if ((err as SparsifyError).exitCode !== EXIT.notFound) throw err
    log.info(`note: ${fallbackFrom} is not available offline; using the bundled brown ${purpose === 'eval' ? 'test' : 'train'} split`)
    return loadDataset('brown', purpose)
  }
}

export async function runPrune(o: PruneOptions, log: Logger): Promise<PruneReport> {
  const started = performance.now()
  const method = METHODS[o.method]
  if (!method) throw usage(`unknown method ${o.method}`, `choose one of: ${Object.keys(METHODS).join(', ')}`)
  const out = path.resolve(o.out)
  if (existsSync(out) && readdirSync(out).length > 0 && !o.overwrite) {
    throw usage(`--out ${o.out} exists and is not empty`, 'choose another folder, or pass --overwrite to replace it')
  }
  let skip: RegExp | undefined
  try { skip = o.skip ? new RegExp(o.skip) : undefined } catch { throw usage(`--skip ${o.skip} is not a valid regular expression`) }

  const model = Model.load(o.model)
  const target = parseTarget(o.sparsity, o.pattern, model.cfg, method.id)
  const seqlen = o.seqlen ?? Math.min(2048, model.cfg.maxPositions)
  if (seqlen > model.cfg.maxPositions) throw usage(`--seqlen ${seqlen} exceeds the model's max_position_embeddings ${model.cfg.maxPositions}`)
  const phase: Record<string, number> = {}
  const timed = async <T>(key: string, fn: () => Promise<T> | T): Promise<T> => {
    const s = performance.now()
    try { return await fn() } finally { phase[key] = (phase[key] ?? 0) + (performance.now() - s) / 1000 }
  }

  const calib = method.needsCalibration ? await dataWithFallback(o.calib, 'c4', 'calib', log) : null
  const samples = calib ? await timed('sampling', () => calibrationSamples(model, calib, o.nsamples, seqlen, o.seed)) : []
  const evalData = o.eval === 'none' ? null : await dataWithFallback(o.eval, 'wikitext2', 'eval', log)
  const chunks = evalData ? await evalChunks(model, evalData, o.eval === undefined || evalData.kind === 'text' ? seqlen : undefined) : null

  log.info(`pruning ${model.cfg.arch} (${model.cfg.layers} blocks) with ${method.id}, ${describeTarget(target)}` +
    (calib ? `, calibrated on ${samples.length} × ${seqlen} tokens of ${calib.name}` : ''))
  const dense = chunks ? await timed('evalDense', () => perplexity(model, chunks)) : null
  if (dense) log.info(`dense perplexity ${dense.perplexity.toFixed(3)} on ${evalData!.name}`)

  const work = path.join(path.dirname(out), `.${path.basename(out)}.sparsify-tmp-${process.pid}`)
  rmSync(work, {recursive: true, force: true})
  mkdirSync(work, {recursive: true})
  try {
    const provenance = {
      'sparsify.version': VERSION, 'sparsify.method': method.id, 'sparsify.target': describeTarget(target),
      'sparsify.calibration': calib?.name ?? 'none', 'sparsify.nsamples': String(samples.length),
      'sparsify.seqlen': String(seqlen), 'sparsify.seed': String(o.seed),
    }
    const gradnorms = method.needsGradients
      ? await timed('gradients', () => gradientNorms(model, samples, (done) => log.info(`  gradients of sample ${done}/${samples.length}`)))
      : undefined
    if (gradnorms && o.saveGradnorm) {
      writeSafetensors(path.resolve(o.saveGradnorm), [...gradnorms].map(([name, g]) => ({name, dtype: 'F32' as const,
        shape: [...model.ckpt.entry(name).shape], data: encodeFloats(g, 'F32')})), {'sparsify.gblm_scale': String(GBLM_SCALE)})
    }
    const writer = new MirrorWriter(model.ckpt, work, provenance)
    let result
    try {
      writer.writeThrough(-1)
      result = await timed('prune', () => pruneSequential({
        model, method, target, samples, skip, gradnorms,
        onBlockDone(layer, w) {
          const replaced = new Map(LINEARS.map((name) => [`${blockPrefix(layer)}${name}.weight`, w.linears[name].weight]))
          writer.writeThrough(layer, replaced)
        },
        onProgress: (layer, layers) => log.info(`  block ${layer + 1}/${layers} pruned`),
      }))
      writer.finish()
    } catch (err) {
      writer.abort()
      throw err
    }
    copyConfig(model.dir, work)
    for (const f of COPIED) if (existsSync(path.join(model.dir, f))) copyFileSync(path.join(model.dir, f), path.join(work, f))

    let pruned = null
    if (chunks) {
      const prunedModel = Model.load(work)
      pruned = await timed('evalPruned', () => perplexity(prunedModel, chunks))
      prunedModel.close()
      log.info(`pruned perplexity ${pruned.perplexity.toFixed(3)}`)
    }
    model.close()
    const report = buildReport({
      options: o, out, model, method, target, seqlen, samples: samples.length, calib: calib?.name ?? null,
      evalName: evalData?.name ?? null, dense, pruned, linears: result.linears, phases: {...phase, ...result.times},
      seconds: (performance.now() - started) / 1000,
    })
    writeReportFiles(work, report)
    if (existsSync(out)) rmSync(out, {recursive: true, force: true})
    renameSync(work, out)
    return report
  } catch (err) {
    rmSync(work, {recursive: true, force: true})
    throw err
  }
}

/** config.json as it was, less sparsity_config: current transformers and vLLM reject it on dense weights. */
function copyConfig(from: string, to: string): void {
  const cfg = JSON.parse(readFileSync(path.join(from, 'config.json'), 'utf8'))
  delete cfg.sparsity_config
  writeFileSync(path.join(to, 'config.json'), `${JSON.stringify(cfg, null, 2)}\n`)
}

