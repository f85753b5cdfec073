import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {intFlag} from '../cli/flags.js'
import {DATA_HELP, loadDataset} from '../data/dataset.js'
import type {Dataset} from '../data/types.js'
import {OnnxRunner} from '../eval/onnx-runner.js'
import {evalChunks, perplexity, perplexityOf, type PerplexityResult} from '../eval/perplexity.js'
import {Model} from '../model/model.js'
import {resolveModel} from '../hub/download.js'
import {EXIT_CODES_HELP} from '../util/errors.js'

export default class Eval extends BaseCommand<typeof Eval> {
  static summary = 'Measure perplexity by the WikiText-2 protocol of the Wanda and SparseGPT papers.'
  static description = `Documents are joined with "\\n\\n", tokenized once and cut into non-overlapping chunks of --seqlen tokens; perplexity is exp of the mean, over chunks, of each chunk's mean next-token loss. A .json dataset of token-id arrays gives one chunk per row.\n\n${EXIT_CODES_HELP}`
  static examples = [
    '<%= config.bin %> eval fixtures/tiny-llama --dataset brown',
    '<%= config.bin %> eval ./Llama-3.2-1B --dataset wiki.test.parquet --seqlen 2048 --json',
  ]
  static args = {model: Args.string({description: 'Hugging Face model folder, or hub id org/name[@revision]', required: true})}
  static flags = {
    dataset: Flags.string({description: DATA_HELP, default: 'wikitext2'}),
    seqlen: intFlag({description: 'tokens per chunk (default: min(2048, max_position_embeddings))', min: 2}),
    nsamples: intFlag({description: 'evaluate only the first K chunks', min: 1}),
    engine: Flags.string({description: 'native: sparsify\'s engine on a checkpoint; onnxruntime: onnxruntime-node on a folder that export --format onnx wrote', options: ['native', 'onnxruntime'], default: 'native'}),
  }

  async run(): Promise<void> {
    const {dataset, seqlen, nsamples, engine} = this.flags
    const dir = await resolveModel(this.args.model, this.log_)
    const data = await loadDataset(dataset, 'eval', this.log_)
    const start = performance.now()
    const r = engine === 'onnxruntime' ? await this.onnx(dir, data, seqlen, nsamples) : await this.native(dir, data, seqlen, nsamples)
    const seconds = (performance.now() - start) / 1000
    this.emit(
      {model: this.args.model, engine, dataset: data.name, seqlen: r.seqlen, nsamples: r.nsamples, perplexity: r.perplexity, tokens: r.tokens, seconds},
      [
        `perplexity  ${r.perplexity.toFixed(4)}`,
        `dataset     ${data.name} (${r.nsamples} chunks × ${r.seqlen} tokens)`,
        `tokens      ${r.tokens}`,
        `time        ${seconds.toFixed(2)} s (${Math.round(r.tokens / seconds)} tokens/s)`,
      ],
    )
  }

  private async native(dir: string, data: Dataset, seqlen?: number, nsamples?: number): Promise<PerplexityResult> {
    const model = Model.load(dir)
    const chunks = await evalChunks(model, data, seqlen, nsamples)
    this.log_.info(`evaluating ${model.cfg.arch} on ${data.name}: ${chunks.length} chunks of ${chunks[0].length} tokens`)
    const r = perplexity(model, chunks, {
      onBlock: (layer, group, groups) => this.log_.step('evaluating blocks', group * model.cfg.layers + layer + 1, groups * model.cfg.layers),
    })
    model.close()
    return r
  }

  private async onnx(dir: string, data: Dataset, seqlen?: number, nsamples?: number): Promise<PerplexityResult> {
    const runner = await OnnxRunner.load(dir, this.flags.threads)
    const chunks = await evalChunks(runner, data, seqlen, nsamples)
    this.log_.info(`evaluating ${runner.file} with onnxruntime on ${data.name}: ${chunks.length} chunks of ${chunks[0].length} tokens`)
    const losses: number[] = []
    for (const c of chunks) {
      losses.push(await runner.meanLoss(c))
      this.log_.step('evaluating chunks', losses.length, chunks.length)
    }
    await runner.close()
    return perplexityOf(losses, chunks)
  }
}
