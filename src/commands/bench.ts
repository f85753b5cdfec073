import {Args} from '@oclif/core'
import Table from 'cli-table3'

import {decodeSpeed} from '../bench/decode.js'
import {benchShape} from '../bench/formats.js'
import {BaseCommand} from '../cli/base-command.js'
import {intFlag} from '../cli/flags.js'
import {resolveModel} from '../hub/download.js'
import {Model} from '../model/model.js'
import {blockTensors} from '../model/arch/layout.js'
import {DECODE_FORMATS} from '../packed/store.js'
import {EXIT_CODES_HELP} from '../util/errors.js'

/** Llama-7B's linear shapes, when no model is given. */
const STANDARD: [number, number][] = [[4096, 4096], [11008, 4096], [4096, 11008]]

export default class Bench extends BaseCommand<typeof Bench> {
  static summary = 'Measure what each weight format buys on this machine: GEMV and small-batch GEMM per format, and decode tokens/s of a model per format.'
  static description = `Products use random weights of the model's linear shapes (from its config.json), or Llama-7B's, with the sparsity each format implies (2:4, 50% unstructured, GQSA W4S50 in 16-column groups). With a model, it is also decoded greedily with its linears held in each format it can take.

Checkpoints written by prune store zeros densely: other runtimes run them at dense speed. These figures are what sparsify's own kernels reach with the packed formats.\n\n${EXIT_CODES_HELP}`
  static examples = ['<%= config.bin %> bench', '<%= config.bin %> bench ./llama-2of4 --json']
  static args = {model: Args.string({description: 'Hugging Face model folder or hub id whose linear shapes to use and to decode', required: false})}
  static flags = {
    reps: intFlag({description: 'repetitions per measurement (the best is kept)', default: 20, min: 1}),
    batch: intFlag({description: 'tokens of the small-batch GEMM', default: 8, min: 2}),
    'decode-tokens': intFlag({description: 'tokens to decode per format (with a model)', default: 32, min: 1}),
  }

  async run(): Promise<void> {
    let shapes = STANDARD
    const dir = this.args.model ? await resolveModel(this.args.model, this.log_) : null
    const model = dir ? Model.load(dir) : null
    if (model) {
      const seen = new Map<string, [number, number]>()
      for (const t of blockTensors(model.cfg, 0)) if (t.cols % 16 === 0) seen.set(`${t.rows}x${t.cols}`, [t.rows, t.cols])
      shapes = [...seen.values()]
    }
    const products = shapes.map(([r, c], i) => {
      this.log_.step('measuring products', i, shapes.length)
      return benchShape(r, c, {reps: this.flags.reps, batch: this.flags.batch})
    })
    const decode = model ? DECODE_FORMATS.map((f) => {
      this.log_.step('decoding', DECODE_FORMATS.indexOf(f), DECODE_FORMATS.length)
      return decodeSpeed(model, f, {tokens: this.flags['decode-tokens']})
    }) : []
    model?.close()

    const table = new Table({head: ['shape', 'format', 'bytes/weight', 'GEMV ms', `GEMM ×${this.flags.batch} ms`, 'GEMV vs bf16'], style: {head: [], border: []}})
    for (const p of products) {
      for (const f of p.formats) {
        table.push([p.shape.join(' × '), f.format, f.bytes_per_weight.toFixed(3), f.gemv_ms.toFixed(3), f.gemm_ms.toFixed(3), `${f.gemv_speedup_vs_bf16.toFixed(2)}×`])
      }
    }
    const lines = [table.toString()]
    if (decode.length) {
      const t = new Table({head: ['decode format', 'tokens/s', 'linear MiB'], style: {head: [], border: []}})
      for (const d of decode) t.push('skipped' in d ? [d.format, 'n/a', d.skipped] : [d.format, d.tokens_per_second.toFixed(1), (d.linear_bytes / 2 ** 20).toFixed(2)])
      lines.push(t.toString())
    }
    lines.push('Checkpoints written by prune store zeros densely: other runtimes run them at dense speed.')
    this.emit({products, decode}, lines)
  }
}
