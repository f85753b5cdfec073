import {existsSync} from 'node:fs'
import path from 'node:path'

import {calibrationSamples} from '../data/calibration.js'
import {resolveModel} from '../hub/download.js'
import {kernels} from '../kernels/index.js'
import type {OwlSettings} from '../methods/owl.js'
import {Model} from '../model/model.js'
import {usage} from '../util/errors.js'
import type {Logger} from '../util/log.js'
import {calibrationSeqlen, checkOwlSettings, dataWithFallback} from './job.js'
import {owlAllocation, planFile, writePlanFile, type PlanFile} from './plan.js'
import {parseTarget} from './target.js'

/** What `sparsify plan` is asked to do. */
export interface PlanOptions {
  model: string
  sparsity?: number
  pattern?: string
  owl: OwlSettings
  calib?: string
  nsamples: number
  seqlen?: number
  seed: number
  out: string
  overwrite: boolean
}

/**
 * OWL's per-block targets without pruning: the outlier pass over the dense model on the same
 * calibration windows `prune --owl` would draw, written as a plan file for `prune --plan`.
 */
export async function runPlan(o: PlanOptions, log: Logger): Promise<{plan: PlanFile; out: string; seconds: number}> {
  const started = performance.now()
  checkOwlSettings(o)
  const out = path.resolve(o.out)
  if (existsSync(out) && !o.overwrite) throw usage(`--out ${o.out} exists`, 'choose another file, or pass --overwrite to replace it')
  const model = Model.load(await resolveModel(o.model, log))
  try {
    const target = parseTarget(o.sparsity, o.pattern, model.cfg, 'owl')
    const seqlen = calibrationSeqlen(o.seqlen, model.cfg)
    const calib = await dataWithFallback(o.calib, 'c4', 'calib', log)
    const samples = await calibrationSamples(model, calib, o.nsamples, seqlen, o.seed)
    log.info(`counting outliers of ${model.cfg.arch} (${model.cfg.layers} blocks) on ${samples.length} × ${seqlen} tokens of ${calib.name}`)
    const a = await owlAllocation(model, samples, target, o.owl, kernels(), (layer, layers) => log.step('outlier ratios (OWL)', layer + 1, layers))
    const plan = planFile(a, target, o.owl, {dataset: calib.name, nsamples: samples.length, seqlen, seed: o.seed})
    writePlanFile(out, plan)
    return {plan, out, seconds: (performance.now() - started) / 1000}
  } finally {
    model.close()
  }
}
