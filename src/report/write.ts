import {writeFileSync} from 'node:fs'
import path from 'node:path'

import {sparsityChart} from './chart.js'
import {modelName, type PruneReport} from './report.js'

const CHART = 'sparsify-chart.svg'

const pct = (x: number) => `${(100 * x).toFixed(2)}%`
const ppl = (x: number) => (x >= 1000 ? x.toFixed(1) : x.toFixed(3))

function evaluationTable(r: PruneReport): string[] {
  const e = r.evaluation
  if (!e) return ['No evaluation was run (`--eval none`).']
  const g = r.gate
  const gate = g ? ['', `Quality gate: perplexity rose ${g.ppl_increase_pct.toFixed(2)}%, limit ${g.max_ppl_increase_pct}%: **${g.passed ? 'passed' : 'FAILED'}**.`] : []
  return [
    `Perplexity on ${e.dataset} (${e.nsamples} chunks of ${e.seqlen} tokens):`,
    '',
    '| model | sparsity | perplexity |',
    '|---|---|---|',
    `| dense | 0% | ${ppl(e.dense_perplexity)} |`,
    `| ${r.method.id} ${r.target.pattern} | ${pct(r.sparsity.overall)} | ${ppl(e.pruned_perplexity)} |`,
    ...gate,
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
    `- sparsify ${r.tool.version}; peak RSS ${mib(r.peak_rss_bytes)}`,
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
    '## Sparsity per block',
    '',
    '| block | sparsity |',
    '|---|---|',
    ...r.sparsity.blocks.map((b) => `| ${b.layer} | ${pct(b.sparsity)} |`),
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
    'The weights are stored dense, with zeros: other runtimes run them at dense speed.',
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
  const provenance = {tool: r.tool, model: r.model.source, method: r.method.id, target: r.target, calibration: r.calibration, command: r.command}
  writeFileSync(path.join(dir, 'sparsify.json'), `${JSON.stringify(provenance, null, 2)}\n`)
}
