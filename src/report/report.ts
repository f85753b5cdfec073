import type {ShapeResult} from '../bench/formats.js'
import type {E2eResult} from '../methods/e2e-oqp.js'
import type {ExpertUsage, RefinedBlock} from '../methods/sequential.js'
import path from 'node:path'

import type {PerplexityResult} from '../eval/perplexity.js'
import type {TaskResult} from '../eval/tasks/run.js'
import type {KlStats} from '../eval/token-stats.js'
import type {LinearResult} from '../methods/sequential.js'
import type {PruningMethod} from '../methods/types.js'
import type {Model} from '../model/model.js'
import type {PruneOptions} from '../prune/options.js'
import type {Allocation} from '../prune/plan.js'
import {describeTarget, requestedSparsity} from '../prune/target.js'
import {VERSION} from '../version.js'

/** The quantization of a gptq or sparsegpt --wbits run. */
export interface QuantizationSummary {
  bits: number
  /** Input columns per group; null: one scale per output row. */
  group_size: number | null
  symmetric: boolean
  /** The dtype the scales were rounded to when found (the model's). */
  scale_dtype: string
  /** How the linears are stored: dense (dequantized values in the model's dtype) or pack-quantized. */
  format: string
  /** Bytes of the stored decoder-linear tensors per weight. */
  bytes_per_weight: number
}

export interface PruneReport {
  tool: {name: 'sparsify'; version: string}
  model: {source: string; architecture: string; layers: number; dtype: string | null}
  method: {id: string; title: string; paper: string}
  target: {pattern: string; requested_sparsity: number}
  /** The sparsity asked of each block (unstructured), or its N:M pattern (N zeros in every M). */
  layer_sparsity?: number[]
  layer_pattern?: string[]
  /** OWL's outlier ratio of each block (percent of Wanda scores above M × their mean); null without OWL. */
  outlier_ratio: number[] | null
  calibration: {dataset: string | null; nsamples: number; seqlen: number; seed: number}
  sparsity: {
    overall: number
    blocks: {layer: number; sparsity: number}[]
    linears: {name: string; shape: [number, number]; sparsity: number; rel_error: number | null; skipped: boolean}[]
  }
  evaluation: {dataset: string; seqlen: number; nsamples: number; dense_perplexity: number; pruned_perplexity: number
    /** ppl · standard error of the mean token loss, and exp(loss ± se) (llama.cpp's PPL ± y) */
    dense_perplexity_stderr: number; pruned_perplexity_stderr: number; dense_interval: [number, number]; pruned_interval: [number, number]
    /** The pruned model's next-token distributions against the dense model's on the same chunks. */
    kld: KlStats | null} | null
  /** --eval-tasks: zero-shot accuracy of dense and pruned (lm-evaluation-harness scoring). */
  tasks: {dense: Record<string, TaskResult>; pruned: Record<string, TaskResult>} | null
  /** The --max-ppl-increase quality gate, when one was set. */
  gate: {max_ppl_increase_pct: number; ppl_increase_pct: number; passed: boolean} | null
  /** The quantizer of the OBS sweep (gptq, sparsegpt --wbits); null when the run only prunes. */
  quantization: QuantizationSummary | null
  /** Linears whose Hessian needed more than the default damping (percdamp 0.01) to factor, and the damping used. */
  damping: {name: string; percdamp: number}[]
  timings_seconds: Record<string, number>
  /** How the output stores its decoder linears: dense (Hugging Face P.weight) or one of sparsify's packings. */
  format: string
  /** Per block, the output MSE against the dense model before and after the method's refinement (GQSA's BQPO); empty for others. */
  refinement: RefinedBlock[]
  /** Mixture-of-experts blocks: calibration tokens per expert, and the experts none reached (pruned by weight magnitude per row). */
  experts: ExpertUsage[]
  /** GQSA's E2E-OQP, when run: steps and the calibration loss before and after. */
  e2e: E2eResult | null
  /** Decode products of the model's largest linear shape in every format, measured on this machine during the run. */
  speed: ShapeResult
  peak_rss_bytes: number
  /** The preflight estimate the job was admitted by (--max-memory). */
  estimated_peak_bytes: number
  output: string
  command: string
}

export interface ReportInput {
  options: PruneOptions
  out: string
  model: Model
  method: PruningMethod
  allocation: Allocation
  seqlen: number
  samples: number
  calib: string | null
  evalName: string | null
  dense: PerplexityResult | null
  pruned: PerplexityResult | null
  linears: LinearResult[]
  phases: Record<string, number>
  seconds: number
  gate: PruneReport['gate']
  format: string
  speed: ShapeResult
  refined: RefinedBlock[]
  experts: ExpertUsage[]
  e2e: E2eResult | null
  quantization?: QuantizationSummary | null
  kld: KlStats | null
  tasks: PruneReport['tasks']
  estimatedBytes: number
}

/** The command line that reproduces the run. */
export function reproduceCommand(o: PruneOptions): string {
  const parts = ['sparsify prune', o.model, `--method ${o.method}`]
  if (o.pattern) parts.push(`--pattern ${o.pattern}`)
  else if (o.sparsity !== undefined) parts.push(`--sparsity ${o.sparsity}`)
  if (o.plan) parts.push(`--plan ${o.plan}`)
  if (o.owl) parts.push(`--owl --owl-m ${o.owl.m} --owl-lambda ${o.owl.lambda}`)
  if (o.calib) parts.push(`--calib ${o.calib}`)
  parts.push(`--nsamples ${o.nsamples}`)
  if (o.seqlen) parts.push(`--seqlen ${o.seqlen}`)
  parts.push(`--seed ${o.seed}`)
  if (o.eval) parts.push(`--eval ${o.eval}`)
  if (o.evalTasks) parts.push(`--eval-tasks ${o.evalTasks}`)
  if (o.skip) parts.push(`--skip '${o.skip}'`)
  if (o.maxPplIncrease !== undefined) parts.push(`--max-ppl-increase ${o.maxPplIncrease}`)
  if (o.method === 'gqsa' && o.gqsa) {
    const g = o.gqsa
    parts.push(`--bits ${g.bits} --group-size ${g.group} --group-budget ${g.budget} --bqpo-epochs ${g.epochs} --bqpo-lr ${g.lr} --bqpo-qlr ${g.qlr}`)
  }
  if (o.e2eSteps) parts.push(`--e2e-steps ${o.e2eSteps}${o.e2eLr !== undefined ? ` --e2e-lr ${o.e2eLr}` : ''}`)
  if (o.wbits !== undefined) parts.push(`--wbits ${o.wbits}${o.groupsize !== undefined ? ` --groupsize ${o.groupsize}` : ''}${o.sym ? ' --sym' : ''}`)
  if (o.format && o.format !== 'dense') parts.push(`--format ${o.format}`)
  parts.push(`--out ${o.out}`)
  return parts.join(' ')
}

export function buildReport(r: ReportInput): PruneReport {
  let zeros = 0, total = 0
  const byBlock = new Map<number, [number, number]>()
  for (const l of r.linears) {
    const n = l.rows * l.cols
    zeros += l.zeros
    total += n
    const b = byBlock.get(l.layer) ?? [0, 0]
    byBlock.set(l.layer, [b[0] + l.zeros, b[1] + n])
  }
  const round = (x: number) => Math.round(x * 1e6) / 1e6
  const targets = r.allocation.targets
  return {
    tool: {name: 'sparsify', version: VERSION},
    model: {source: r.options.model, architecture: r.model.cfg.arch, layers: r.model.cfg.layers, dtype: r.model.cfg.torchDtype},
    method: {id: r.method.id, title: r.method.title, paper: r.method.paper},
    target: {pattern: r.allocation.description, requested_sparsity: round(mean(targets.map(requestedSparsity)))},
    ...(targets.every((t) => t.kind === 'nm') ? {layer_pattern: targets.map(describeTarget)} : {layer_sparsity: targets.map(requestedSparsity)}),
    outlier_ratio: r.allocation.outlierRatio,
    calibration: {dataset: r.calib, nsamples: r.samples, seqlen: r.seqlen, seed: r.options.seed},
    sparsity: {
      overall: round(zeros / total),
      blocks: [...byBlock].map(([layer, [z, n]]) => ({layer, sparsity: round(z / n)})),
      linears: r.linears.map((l) => ({name: l.name, shape: [l.rows, l.cols] as [number, number], sparsity: round(l.sparsity),
        rel_error: l.relError === null ? null : round(l.relError), skipped: l.skipped})),
    },
    evaluation: r.dense && r.pruned && r.evalName
      ? {dataset: r.evalName, seqlen: r.dense.seqlen, nsamples: r.dense.nsamples, dense_perplexity: r.dense.perplexity, pruned_perplexity: r.pruned.perplexity,
        dense_perplexity_stderr: r.dense.perplexity_stderr, pruned_perplexity_stderr: r.pruned.perplexity_stderr,
        dense_interval: r.dense.interval, pruned_interval: r.pruned.interval, kld: r.kld}
      : null,
    tasks: r.tasks,
    gate: r.gate,
    quantization: r.quantization ?? null,
    damping: r.linears.flatMap((l) => (l.notes.percdamp === undefined ? [] : [{name: l.name, percdamp: l.notes.percdamp}])),
    timings_seconds: Object.fromEntries(Object.entries({...r.phases, total: r.seconds}).map(([k, v]) => [k, Math.round(v * 1000) / 1000])),
    format: r.format,
    refinement: r.refined,
    experts: r.experts,
    e2e: r.e2e,
    speed: r.speed,
    peak_rss_bytes: process.resourceUsage().maxRSS * 1024,
    estimated_peak_bytes: r.estimatedBytes,
    output: r.out,
    command: reproduceCommand(r.options),
  }
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length

export const modelName = (source: string) => path.basename(path.resolve(source))
