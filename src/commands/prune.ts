import {Args, Flags} from '@oclif/core'
import Table from 'cli-table3'

import {BaseCommand} from '../cli/base-command.js'
import {intFlag, numberFlag} from '../cli/flags.js'
import {DATA_HELP} from '../data/dataset.js'
import {METHODS} from '../methods/index.js'
import {OWL_DEFAULTS} from '../methods/owl.js'
import {runPrune} from '../prune/run.js'
import {comparisonTable} from '../eval/tasks/table.js'
import {EXIT, EXIT_CODES_HELP, SparsifyError} from '../util/errors.js'
import {parseBytes} from '../prune/memory.js'

export default class Prune extends BaseCommand<typeof Prune> {
  static summary = 'Prune a Hugging Face model with a post-training method and write a loadable checkpoint and a report.'
  static description = `Methods:\n${Object.values(METHODS).map((m) => `  ${m.id.padEnd(10)} ${m.title} (${m.paper})`).join('\n')}\n\nThe output folder holds the checkpoint (same tensor names, dtype and sharding as the input; config, generation config and tokenizer copied), a model card README.md, sparsify.json, sparsify-report.json and REPORT.md. It is built in a work folder beside --out and moved into place only when complete.\n\n${EXIT_CODES_HELP}`
  static examples = [
    '<%= config.bin %> prune fixtures/tiny-llama --method wanda --sparsity 0.5 --calib brown --eval brown --out pruned',
    '<%= config.bin %> prune ./Llama-3.2-1B --method sparsegpt --pattern 2:4 --nsamples 128 --out ./llama-2of4',
    '<%= config.bin %> prune ./Llama-3.2-1B --method wanda --sparsity 0.7 --owl --owl-m 5 --owl-lambda 0.08 --out ./llama-owl70',
    '<%= config.bin %> prune fixtures/tiny-llama --method gqsa --calib brown --eval brown --format gqsa --out tiny-w4s50',
  ]
  static args = {model: Args.string({description: 'Hugging Face model folder, or hub id org/name[@revision]', required: true})}
  static flags = {
    method: Flags.string({description: 'pruning method', options: Object.keys(METHODS), required: true}),
    sparsity: numberFlag({description: 'fraction of zeros per linear, 0 ≤ r < 1 (unstructured)', min: 0, below: 1}),
    pattern: Flags.string({description: 'N:M semi-structured pattern, e.g. 2:4 (N zeros in every M inputs)'}),
    owl: Flags.boolean({description: 'OWL: blocks with more activation outliers get less sparsity (mean --sparsity; with --pattern, per-block N)'}),
    'owl-m': numberFlag({description: 'OWL: a Wanda score is an outlier above this many times its block\'s mean', default: OWL_DEFAULTS.m, above: 0}),
    'owl-lambda': numberFlag({description: 'OWL: per-block sparsities spread over ±λ around --sparsity (the N:M variant: λ scales the counts)', default: OWL_DEFAULTS.lambda, min: 0}),
    plan: Flags.string({description: 'prune each block by this plan file (from `sparsify plan`, or edited by hand) instead of --sparsity/--pattern'}),
    calib: Flags.string({description: `calibration data: ${DATA_HELP} (default c4; brown:train when c4 is unavailable)`}),
    nsamples: intFlag({description: 'calibration samples', default: 128, min: 1}),
    seqlen: intFlag({description: 'tokens per calibration sample and eval chunk (default: min(2048, max_position_embeddings))', min: 2}),
    seed: intFlag({description: 'seed of the calibration sampler (Python random)', default: 0}),
    eval: Flags.string({description: 'perplexity data for dense vs pruned, or none (default wikitext2; brown:test when unavailable)'}),
    skip: Flags.string({description: 'regular expression of linear tensor names to leave dense'}),
    out: Flags.string({description: 'output folder', required: true}),
    overwrite: Flags.boolean({description: 'replace a non-empty --out (and discard an interrupted run of the job)'}),
    resume: Flags.boolean({description: 'continue an interrupted run of the same command from its last finished block'}),
    'save-gradnorm': Flags.string({description: 'gblm: also write the stage-A gradient norms to this safetensors file'}),
    'max-ppl-increase': numberFlag({description: 'quality gate: exit 10 (output still written) if pruned perplexity exceeds dense by more than this many percent', min: 0}),
    bits: intFlag({description: 'gqsa: bits per kept weight (2 to 4)', default: 4, min: 2, max: 4}),
    'group-size': intFlag({description: 'gqsa: input columns per group (pruned or kept whole, one scale and zero each)', default: 16, min: 2}),
    'group-budget': Flags.string({description: 'gqsa: prune the same share of groups in every row, or across each layer', options: ['layer', 'row'], default: 'layer'}),
    'bqpo-epochs': intFlag({description: 'gqsa: BQPO epochs over the calibration set per block (0: one-shot only)', default: 4, min: 0}),
    'bqpo-lr': numberFlag({description: 'gqsa: BQPO learning rate of the kept weights', default: 1e-3, above: 0}),
    'bqpo-qlr': numberFlag({description: 'gqsa: BQPO learning rate of the scales and zeros', default: 1e-2, above: 0}),
    'e2e-steps': intFlag({description: 'gqsa: E2E-OQP steps training the scales end to end after all blocks (holds the model in memory; off by default on CPU)', default: 0, min: 0}),
    'e2e-lr': numberFlag({description: 'gqsa: E2E-OQP learning rate of the scales', default: 1e-4, above: 0}),
    wbits: intFlag({description: 'gptq, sparsegpt: quantize the weights to this many bits (2 to 8) inside the OBS sweep', min: 2, max: 8}),
    groupsize: intFlag({description: 'gptq, sparsegpt --wbits: input columns per quantization group (default: one scale per output row)', min: 1}),
    sym: Flags.boolean({description: 'gptq, sparsegpt --wbits: symmetric quantizer (zero point 2^(bits−1))'}),
    format: Flags.string({description: 'how to store the decoder linears: dense (Hugging Face layout), nm (N:M patterns), bitmask or gqsa (sparsify\'s packed formats, read by its generate/eval; docs/formats.md), pack-quantized (compressed-tensors W4A16/W8A16, with --wbits 4 or 8)',
      options: ['dense', 'nm', 'bitmask', 'gqsa', 'pack-quantized'], default: 'dense'}),
    'eval-tasks': Flags.string({description: 'also score dense and pruned on zero-shot tasks (as eval --tasks: all, or names, each optionally name=PATH)'}),
    'max-memory': Flags.string({description: 'refuse to start (exit 4) if the estimated peak exceeds this, e.g. 16G (default: available memory)'}),
  }

  async run(): Promise<void> {
    const f = this.flags
    const report = await runPrune({
      model: this.args.model, method: f.method, sparsity: f.sparsity, pattern: f.pattern, plan: f.plan,
      owl: f.owl ? {m: f['owl-m'], lambda: f['owl-lambda']} : undefined, calib: f.calib, nsamples: f.nsamples,
      seqlen: f.seqlen, seed: f.seed, eval: f.eval, out: f.out, overwrite: f.overwrite, skip: f.skip, saveGradnorm: f['save-gradnorm'],
      maxPplIncrease: f['max-ppl-increase'],
      maxMemory: f['max-memory'] === undefined ? undefined : parseBytes(f['max-memory']), resume: f.resume,
      format: f.format as 'dense' | 'nm' | 'bitmask' | 'gqsa' | 'pack-quantized', wbits: f.wbits, groupsize: f.groupsize, sym: f.sym,
      gqsa: {bits: f.bits, group: f['group-size'], budget: f['group-budget'] as 'layer' | 'row', epochs: f['bqpo-epochs'],
        lr: f['bqpo-lr'], qlr: f['bqpo-qlr']},
      e2eSteps: f['e2e-steps'], e2eLr: f['e2e-lr'], evalTasks: f['eval-tasks'],
    }, this.log_)
    const e = report.evaluation
    const quality = new Table({head: ['', 'sparsity', `perplexity${e ? ` (${e.dataset})` : ''}`], style: {head: [], border: []}})
    quality.push(['dense', '0.00%', e ? `${e.dense_perplexity.toFixed(3)} ± ${e.dense_perplexity_stderr.toFixed(3)}` : '-'])
    quality.push([`${report.method.id} ${report.target.pattern}`, `${(100 * report.sparsity.overall).toFixed(2)}%`, e ? `${e.pruned_perplexity.toFixed(3)} ± ${e.pruned_perplexity_stderr.toFixed(3)}` : '-'])
    const blocks = new Table({head: ['block', ...report.sparsity.blocks.map((b) => String(b.layer))], style: {head: [], border: []}})
    blocks.push(['sparsity', ...report.sparsity.blocks.map((b) => `${(100 * b.sparsity).toFixed(1)}%`)])
    if (report.outlier_ratio) blocks.push(['outliers', ...report.outlier_ratio.map((r) => `${r.toFixed(2)}%`)])
    this.emit(report, [
      `pruned ${report.model.source} with ${report.method.id} (${report.target.pattern}): ${(100 * report.sparsity.overall).toFixed(2)}% of decoder-linear weights are zero`,
      quality.toString(),
      blocks.toString(),
      ...(report.tasks ? [comparisonTable(report.tasks.dense, report.tasks.pruned)] : []),
      `wrote ${report.output} in ${report.timings_seconds.total.toFixed(1)} s (report: ${report.output}/REPORT.md)`,
    ])
    const g = report.gate
    if (g && !g.passed) {
      throw new SparsifyError(`quality gate failed: perplexity rose ${g.ppl_increase_pct.toFixed(2)}%, more than --max-ppl-increase ${g.max_ppl_increase_pct}%`,
        EXIT.gate, `the output was written to ${report.output}; see REPORT.md`)
    }
  }
}
