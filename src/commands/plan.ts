import {Args, Flags} from '@oclif/core'
import Table from 'cli-table3'

import {BaseCommand} from '../cli/base-command.js'
import {intFlag, numberFlag} from '../cli/flags.js'
import {DATA_HELP} from '../data/dataset.js'
import {OWL_DEFAULTS} from '../methods/owl.js'
import {runPlan} from '../prune/run-plan.js'
import {EXIT_CODES_HELP, usage} from '../util/errors.js'

export default class Plan extends BaseCommand<typeof Plan> {
  static summary = 'Write per-block sparsities (OWL) to a plan file for `prune --plan`, without pruning.'
  static description = `OWL (Yin et al. 2023, https://arxiv.org/abs/2310.05175): each block's outlier ratio is the percentage of the Wanda scores of all its linears above --owl-m times their mean, on the dense model; ratios become per-block sparsities with mean --sparsity and spread 2λ (blocks with more outliers get less), or with --pattern N:M per-block N (the reference's N:M variant). The file holds layer_sparsity (or layer_pattern), outlier_ratio and how it was made; edit a block's value to change it. The same calibration gives \`prune --plan\` the same bytes as \`prune --owl\`.\n\n${EXIT_CODES_HELP}`
  static examples = [
    '<%= config.bin %> plan fixtures/tiny-llama --owl --sparsity 0.7 --calib brown --nsamples 64 --seqlen 256 --out plan.json',
    '<%= config.bin %> prune fixtures/tiny-llama --method wanda --plan plan.json --calib brown --nsamples 64 --seqlen 256 --out pruned',
  ]
  static args = {model: Args.string({description: 'Hugging Face model folder, or hub id org/name[@revision]', required: true})}
  static flags = {
    owl: Flags.boolean({description: 'plan with OWL (the only planner)'}),
    sparsity: numberFlag({description: 'mean fraction of zeros per block, 0 ≤ r < 1', min: 0, below: 1}),
    pattern: Flags.string({description: 'base N:M pattern (N zeros in every M inputs); blocks get their own N'}),
    'owl-m': numberFlag({description: 'a Wanda score is an outlier above this many times its block\'s mean', default: OWL_DEFAULTS.m, above: 0}),
    'owl-lambda': numberFlag({description: 'per-block sparsities spread over ±λ (the N:M variant: λ scales the counts)', default: OWL_DEFAULTS.lambda, min: 0}),
    calib: Flags.string({description: `calibration data: ${DATA_HELP} (default c4; brown:train when c4 is unavailable)`}),
    nsamples: intFlag({description: 'calibration samples', default: 128, min: 1}),
    seqlen: intFlag({description: 'tokens per calibration sample (default: min(2048, max_position_embeddings))', min: 2}),
    seed: intFlag({description: 'seed of the calibration sampler (Python random)', default: 0}),
    out: Flags.string({description: 'plan file to write (JSON)', required: true}),
    overwrite: Flags.boolean({description: 'replace an existing --out'}),
  }

  async run(): Promise<void> {
    const f = this.flags
    if (!f.owl) throw usage('sparsify plan needs --owl (the only planner so far)', 'add --owl')
    const {plan, out, seconds} = await runPlan({
      model: this.args.model, sparsity: f.sparsity, pattern: f.pattern, owl: {m: f['owl-m'], lambda: f['owl-lambda']}, calib: f.calib, nsamples: f.nsamples, seqlen: f.seqlen, seed: f.seed,
      out: f.out, overwrite: f.overwrite,
    }, this.log_)
    const layers = plan.layer_sparsity?.map((s) => `${(100 * s).toFixed(2)}%`) ?? plan.layer_pattern!
    const table = new Table({head: ['block', ...layers.map((_, i) => String(i))], style: {head: [], border: []}})
    table.push(['outliers', ...plan.outlier_ratio!.map((r) => `${r.toFixed(3)}%`)], [plan.layer_sparsity ? 'sparsity' : 'pattern', ...layers])
    this.emit({...plan, output: out, seconds}, [table.toString(), `wrote ${out} in ${seconds.toFixed(1)} s`])
  }
}
