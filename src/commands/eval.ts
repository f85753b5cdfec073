import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {intFlag} from '../cli/flags.js'
import {DATA_HELP, loadDataset} from '../data/dataset.js'
import type {Dataset} from '../data/types.js'
import {klLines} from '../eval/kl-report.js'
import {OnnxRunner} from '../eval/onnx-runner.js'
import {comparePerplexity, evalChunks, perplexity, perplexityOf, type PerplexityResult} from '../eval/perplexity.js'
import {runTaskEval, TASKS_HELP} from '../eval/tasks/command.js'
import type {KlStats} from '../eval/token-stats.js'
import {Model} from '../model/model.js'
import {resolveModel} from '../hub/download.js'
import {EXIT_CODES_HELP, usage} from '../util/errors.js'

interface Measured {
  r: PerplexityResult
  base: PerplexityResult | null
  kld: KlStats | null
}

export default class Eval extends BaseCommand<typeof Eval> {
  static summary = 'Measure perplexity by the WikiText-2 protocol of the Wanda and SparseGPT papers, or zero-shot task accuracy as lm-evaluation-harness scores it.'
  static description = `Documents are joined with "\\n\\n", tokenized once and cut into non-overlapping chunks of --seqlen tokens; perplexity is exp of the mean, over chunks, of each chunk's mean next-token loss. A .json dataset of token-id arrays gives one chunk per row.\n\n${TASKS_HELP}\n\n${EXIT_CODES_HELP}`
  static examples = [
    '<%= config.bin %> eval fixtures/tiny-llama --dataset brown',
    '<%= config.bin %> eval ./Llama-3.2-1B --dataset wiki.test.parquet --seqlen 2048 --json',
    '<%= config.bin %> eval ./pruned --tasks all --json',
  ]
  static args = {model: Args.string({description: 'Hugging Face model folder, or hub id org/name[@revision]', required: true})}
  static flags = {
    dataset: Flags.string({description: DATA_HELP, default: 'wikitext2'}),
    seqlen: intFlag({description: 'tokens per chunk (default: min(2048, max_position_embeddings))', min: 2}),
    nsamples: intFlag({description: 'evaluate only the first K chunks', min: 1}),
    engine: Flags.string({description: 'native: sparsify\'s engine on a checkpoint; onnxruntime: onnxruntime-node on a folder that export --format onnx wrote', options: ['native', 'onnxruntime'], default: 'native'}),
    tasks: Flags.string({description: 'zero-shot tasks instead of perplexity: all, or a comma list of names, each optionally name=PATH (.jsonl or .parquet)'}),
    limit: intFlag({description: 'with --tasks: only the first N documents of each task', min: 1}),
    'add-bos': Flags.boolean({description: 'with --tasks: put the BOS token before every context (the papers did not)', default: false}),
    'kld-base': Flags.string({description: 'also the KL divergence of this model\'s next-token distributions from those of the given (dense) model: mean, median, 99th percentile, max, same top token'}),
    'log-samples': Flags.string({description: 'with --tasks: write one JSON line per document (task, doc_index, loglikelihoods, pred, gold) to this file'}),
  }

  async run(): Promise<void> {
    const {dataset, seqlen, nsamples, tasks, limit, engine} = this.flags
    const kldBase = this.flags['kld-base']
    if (tasks !== undefined) {
      if (kldBase !== undefined) throw usage('--kld-base compares next-token distributions on --dataset, not on --tasks', 'run the two separately')
      if (engine !== 'native') throw usage('--tasks runs on the native engine', 'drop --engine onnxruntime')
      const r = await runTaskEval({model: this.args.model, tasks, limit, addBos: this.flags['add-bos'], logSamples: this.flags['log-samples'], log: this.log_})
      this.emit(r.json, r.human)
      return
    }
    if (limit !== undefined || this.flags['add-bos'] || this.flags['log-samples'] !== undefined) {
      throw usage('--limit, --add-bos and --log-samples go with --tasks', 'add --tasks, or leave them off for perplexity')
    }
    if (kldBase !== undefined && engine !== 'native') throw usage('--kld-base runs on the native engine', 'drop --engine onnxruntime')
    const dir = await resolveModel(this.args.model, this.log_)
    const data = await loadDataset(dataset, 'eval', this.log_)
    const start = performance.now()
    const {r, base, kld} = engine === 'onnxruntime' ? {r: await this.onnx(dir, data, seqlen, nsamples), base: null, kld: null}
      : await this.native(dir, kldBase, data, seqlen, nsamples)
    const seconds = (performance.now() - start) / 1000
    const {losses: _, ...stats} = r
    const compared = base && kld ? {kld_base: kldBase, base_perplexity: base.perplexity, base_perplexity_stderr: base.perplexity_stderr, kld} : {}
    this.emit({model: this.args.model, engine, dataset: data.name, ...stats, seconds, ...compared}, [
      `perplexity  ${r.perplexity.toFixed(4)} ± ${r.perplexity_stderr.toFixed(4)} (interval ${r.interval[0].toFixed(4)} – ${r.interval[1].toFixed(4)}; loss ${r.nll.toFixed(4)} ± ${r.nll_stderr.toFixed(4)} over ${r.scored_tokens} tokens)`,
      ...(base && kld ? klLines(base.perplexity, base.perplexity_stderr, kld) : []),
      `dataset     ${data.name} (${r.nsamples} chunks × ${r.seqlen} tokens)`,
      `tokens      ${r.tokens}`,
      `time        ${seconds.toFixed(2)} s (${Math.round(r.tokens / seconds)} tokens/s)`,
    ])
  }

  private async native(dir: string, kldBase: string | undefined, data: Dataset, seqlen?: number, nsamples?: number): Promise<Measured> {
    const model = Model.load(dir)
    const base = kldBase === undefined ? null : Model.load(await resolveModel(kldBase, this.log_))
    const chunks = await evalChunks(model, data, seqlen, nsamples)
    this.log_.info(`evaluating ${model.cfg.arch} on ${data.name}: ${chunks.length} chunks of ${chunks[0].length} tokens`)
    const progress = {onBlock: (layer: number, group: number, groups: number) => this.log_.step('evaluating blocks', group * model.cfg.layers + layer + 1, groups * model.cfg.layers)}
    const cmp = base ? comparePerplexity(base, model, chunks, progress) : null
    const r = cmp ? cmp.other : perplexity(model, chunks, progress)
    model.close()
    base?.close()
    return {r, base: cmp?.base ?? null, kld: cmp?.kld ?? null}
  }

  private async onnx(dir: string, data: Dataset, seqlen?: number, nsamples?: number): Promise<PerplexityResult> {
    const runner = await OnnxRunner.load(dir, this.flags.threads)
    const chunks = await evalChunks(runner, data, seqlen, nsamples)
    this.log_.info(`evaluating ${runner.file} with onnxruntime on ${data.name}: ${chunks.length} chunks of ${chunks[0].length} tokens`)
    const losses: Float32Array[] = []
    for (const c of chunks) {
      losses.push(await runner.tokenLosses(c))
      this.log_.step('evaluating chunks', losses.length, chunks.length)
    }
    await runner.close()
    return perplexityOf(losses, chunks)
  }
}
