import {writeFileSync} from 'node:fs'
import path from 'node:path'

import {sparsityChart} from './chart.js'
import {klParagraph, tasksMarkdown} from './quality-md.js'
import {modelName, type PruneReport} from './report.js'

const CHART = 'sparsify-chart.svg'

const pct = (x: number) => `${(100 * x).toFixed(2)}%`
const ppl = (x: number) => (x >= 1000 ? x.toFixed(1) : x.toFixed(3))

function evaluationTable(r: PruneReport): string[] {
  const e = r.evaluation
  if (!e) return ['No perplexity evaluation was run (`--eval none`).', ...tasksMarkdown(r)]
  const g = r.gate
  const gate = g ? ['', `Quality gate: perplexity rose ${g.ppl_increase_pct.toFixed(2)}%, limit ${g.max_ppl_increase_pct}%: **${g.passed ? 'passed' : 'FAILED'}**.`] : []
  return [
    `Perplexity on ${e.dataset} (${e.nsamples} chunks of ${e.seqlen} tokens):`,
    '',
    '| model | sparsity | perplexity | ± (ppl · se of the mean token loss) | interval exp(loss ± se) |',
    '|---|---|---|---|---|',
    `| dense | 0% | ${ppl(e.dense_perplexity)} | ${ppl(e.dense_perplexity_stderr)} | ${ppl(e.dense_interval[0])} – ${ppl(e.dense_interval[1])} |`,
    `| ${r.method.id} ${r.target.pattern} | ${pct(r.sparsity.overall)} | ${ppl(e.pruned_perplexity)} | ${ppl(e.pruned_perplexity_stderr)} | ${ppl(e.pruned_interval[0])} – ${ppl(e.pruned_interval[1])} |`,
    ...klParagraph(r),
    ...gate,
    ...tasksMarkdown(r),
  ]
}

/** Tokens per expert as a bar per expert, and the experts no calibration token reached. */
function expertsSection(r: PruneReport): string[] {
  if (r.experts.length === 0) return []
  const bar = (n: number, max: number) => '█'.repeat(Math.round(20 * n / Math.max(1, max)))
  return [
    '## Experts',
    '',
    'Calibration tokens routed to each expert (its statistics come from those tokens only). An expert no token reached is pruned by',
    'weight magnitude per output row.',
    '',
    ...r.experts.flatMap((b) => {
      const max = Math.max(...b.tokens)
      return [`Block ${b.layer}${b.unreached.length ? ` — not reached: ${b.unreached.join(', ')}` : ''}`, '', '```',
        ...b.tokens.map((n, e) => `${String(e).padStart(4)} ${String(n).padStart(7)} ${bar(n, max)}`), '```', '']
    }),
  ]
}

function refinementSection(r: PruneReport): string[] {
  if (r.refinement.length === 0) return []
  const e = r.e2e
  const e2e = e ? ['', `E2E-OQP then trained the scales end to end for ${e.steps} steps: calibration loss ${e.loss_before.toFixed(4)} → ${e.loss_after.toFixed(4)}.`, ''] : []
  return [
    '## Block refinement (BQPO)',
    '',
    'Mean squared error of each block\'s output on the calibration set against the dense model\'s, after the one-shot step and after BQPO',
    '(a block keeps its one-shot state when training does not lower it):',
    '',
    '| block | one-shot MSE | after BQPO | change |',
    '|---|---|---|---|',
    ...r.refinement.map((b) => `| ${b.layer} | ${b.mse_before.toExponential(3)} | ${b.mse_after.toExponential(3)} | ${(100 * (b.mse_after / b.mse_before - 1)).toFixed(1)}% |`),
    '',
    ...e2e,
  ]
}

/** What each weight format buys for decoding on the machine that ran the job, and what the output is stored as. */
function speedSection(r: PruneReport): string[] {
  const s = r.speed
  const fits = r.method.id === 'gqsa' ? 'gqsa W4S50' : r.target.pattern === '2:4' ? 'nm 2:4' : 'bitmask 50%'
  const stored = r.format === 'dense'
    ? 'This checkpoint stores its weights densely, zeros included (the Hugging Face layout): other runtimes run it at dense speed, and so does sparsify unless asked otherwise.'
    : `This checkpoint stores its decoder linears packed as \`${r.format}\` (docs/formats.md): \`sparsify generate\` and \`eval\` read it directly; \`sparsify decompress\` gives the Hugging Face layout back.`
  return [
    '## Speed and size',
    '',
    stored,
    '',
    `Decode products y = W·x of the largest linear shape (${s.shape.join(' × ')}) with random weights of each format's sparsity, measured on this machine during the run`,
    `(best of repetitions; the ${s.batch}-token column is a short prefill). \`sparsify generate --format …\` decodes with these kernels; \`sparsify bench\` measures more.`,
    '',
    `| format | bytes/weight | GEMV ms | ${s.batch} tokens ms | GEMV vs bf16 |`,
    '|---|---|---|---|---|',
    ...s.formats.map((f) => `| ${f.format === fits ? `**${f.format}** (fits this model)` : f.format} | ${f.bytes_per_weight.toFixed(3)} | ${f.gemv_ms.toFixed(3)} | ${f.gemm_ms.toFixed(3)} | ${f.gemv_speedup_vs_bf16.toFixed(2)}× |`),
  ]
}

/** Per block: what was asked (one target, OWL's or a plan's), what was achieved, and OWL's outlier ratio. */
function blockSection(r: PruneReport): string[] {
  const asked = (i: number) => r.layer_pattern?.[i] ?? pct(r.layer_sparsity![i])
  const o = r.outlier_ratio
  return [
    '## Sparsity per block',
    '',
    ...(o ? ['Outlier ratio: the percentage of the Wanda scores of the dense block\'s linears above M × their mean (OWL).', ''] : []),
    `| block | requested | achieved |${o ? ' outlier ratio |' : ''}`,
    `|---|---|---|${o ? '---|' : ''}`,
    ...r.sparsity.blocks.map((b, i) => `| ${b.layer} | ${asked(i)} | ${pct(b.sparsity)} |${o ? ` ${o[i].toFixed(3)}% |` : ''}`),
  ]
}

function quantizationSection(r: PruneReport): string[] {
  const q = r.quantization
  if (!q) return []
  return [
    '## Quantization',
    '',
    `${q.bits}-bit ${q.symmetric ? 'symmetric' : 'asymmetric'} weights, ${q.group_size ? `groups of ${q.group_size} input columns` : 'one scale per output row'},`,
    `quantized inside the OBS sweep (scales rounded to ${q.scale_dtype}); ${pct(r.sparsity.overall)} of the weights are zero.`,
    q.format === 'pack-quantized'
      ? 'Stored as compressed-tensors `pack-quantized` (int32-packed codes, scales, zero points).'
      : 'Stored as the dequantized values in the model\'s dtype (the Hugging Face layout, config.json unchanged); `--format pack-quantized` packs them.',
    '',
    `Stored size of the decoder linears: **${q.bytes_per_weight.toFixed(3)} bytes per weight**.`,
    '',
  ]
}

function dampingSection(r: PruneReport): string[] {
  if (r.damping.length === 0) return []
  return [
    '## Damping',
    '',
    'The Hessian of these linears was not positive definite in float32 with the default damping (1% of its mean diagonal);',
    'each was factored with ten times more, as often as it took:',
    '',
    '| tensor | damping (× mean diagonal) |',
    '|---|---|',
    ...r.damping.map((d) => `| \`${d.name}\` | ${d.percdamp} |`),
    '',
  ]
}

const reproduce = (r: PruneReport) => ['## Reproduce', '', '```sh', r.command, '```', '']

export function reportMarkdown(r: PruneReport): string {
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`
  return [
    `# sparsify report: ${modelName(r.model.source)}, ${r.method.id} ${r.target.pattern}`,
    '',
    `- model: \`${r.model.source}\` (${r.model.architecture}, ${r.model.layers} blocks, ${r.model.dtype ?? 'dtype unknown'})`,
    `- method: ${r.method.title} (${r.method.paper})`,
    `- target: ${r.target.pattern}, requested sparsity ${pct(r.target.requested_sparsity)}, achieved ${pct(r.sparsity.overall)} of the decoder-block linears`,
    `- calibration: ${r.calibration.dataset ?? 'none'}, ${r.calibration.nsamples} × ${r.calibration.seqlen} tokens, seed ${r.calibration.seed}`,
    `- sparsify ${r.tool.version}; peak RSS ${mib(r.peak_rss_bytes)} (estimated ${mib(r.estimated_peak_bytes)})`,
    '',
    '## Evaluation',
    '',
    ...evaluationTable(r),
    '',
    '## Sparsity and reconstruction error per layer',
    '',
    `![sparsity and relative reconstruction error per linear](${CHART})`,
    '',
    'The error is Σ ΔW²·E[x²] / Σ W²·E[x²] over the calibration inputs of each linear: a diagonal estimate that ignores',
    'correlations between inputs (so it overstates the error of SparseGPT, whose updates exploit them).',
    '',
    ...blockSection(r),
    '',
    '## Sparsity per linear',
    '',
    '| tensor | shape | sparsity | rel. error (est.) |',
    '|---|---|---|---|',
    ...r.sparsity.linears.map((l) => `| \`${l.name}\` | ${l.shape.join(' × ')} | ${l.skipped ? 'dense (skipped)' : pct(l.sparsity)} | ${l.rel_error === null ? '-' : l.rel_error.toExponential(2)} |`),
    '',
    '## Timings',
    '',
    '| phase | seconds |',
    '|---|---|',
    ...Object.entries(r.timings_seconds).map(([k, v]) => `| ${k} | ${v.toFixed(2)} |`),
    '',
    ...quantizationSection(r),
    ...dampingSection(r),
    ...refinementSection(r),
    ...expertsSection(r),
    ...speedSection(r),
    '',
    ...reproduce(r),
  ].join('\n')
}

/** A Hugging Face model card: front matter, what was done, the evaluation, and how to redo it. */
export function modelCard(r: PruneReport): string {
  return [
    '---',
    `base_model: ${modelName(r.model.source)}`,
    'tags:',
    '- sparsify',
    '- pruned',
    `- ${r.method.id}`,
    `- sparsity-${r.target.pattern.replace(/[^0-9a-z:]+/gi, '-').replace(/-+$/, '')}`,
    ...(r.calibration.dataset ? ['datasets:', `- ${r.calibration.dataset}`] : []),
    '---',
    '',
    `# ${modelName(r.model.source)}, pruned with ${r.method.id} (${r.target.pattern})`,
    '',
    `${pct(r.sparsity.overall)} of the weights of the decoder-block linear layers are zero (${r.method.title}; ${r.method.paper}).`,
    'Embeddings, norms and the head are unchanged. Tensor names, dtypes and sharding are those of the base model,',
    'so it loads wherever the base model does; the zeros are stored densely.',
    '',
    '## Evaluation',
    '',
    ...evaluationTable(r),
    '',
    ...reproduce(r),
    `Made with sparsify ${r.tool.version}.`,
    '',
  ].join('\n')
}

export function writeReportFiles(dir: string, r: PruneReport): void {
  writeFileSync(path.join(dir, 'sparsify-report.json'), `${JSON.stringify(r, null, 2)}\n`)
  writeFileSync(path.join(dir, 'REPORT.md'), reportMarkdown(r))
  writeFileSync(path.join(dir, CHART), sparsityChart(r))
  writeFileSync(path.join(dir, 'README.md'), modelCard(r))
  const provenance = {tool: r.tool, model: r.model.source, method: r.method.id, target: r.target, calibration: r.calibration,
    ...(r.quantization ? {quantization: r.quantization} : {}), command: r.command}
  writeFileSync(path.join(dir, 'sparsify.json'), `${JSON.stringify(provenance, null, 2)}\n`)
}
