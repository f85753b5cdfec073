import {Args, Flags} from '@oclif/core'
import Table from 'cli-table3'

import {benchGemv} from '../bench/gemv.js'
import {BaseCommand} from '../cli/base-command.js'
import {resolveModel} from '../hub/download.js'
import {readConfig} from '../model/config.js'
import {LINEARS, linearShape} from '../model/weights.js'
import {EXIT_CODES_HELP} from '../util/errors.js'

/** Llama-7B's linear shapes, when no model is given. */
const STANDARD: [number, number][] = [[4096, 4096], [11008, 4096], [4096, 11008]]

export default class Bench extends BaseCommand<typeof Bench> {
  static summary = 'Measure what each weight format buys on this machine: decode GEMV of dense float32, dense bf16 and 2:4 packed bf16.'
  static description = `On the model's own linear shapes (from its config.json), or Llama-7B's. Weights are random with a 2:4 pattern; every format computes the same product.\n\n${EXIT_CODES_HELP}`
  static examples = ['<%= config.bin %> bench', '<%= config.bin %> bench fixtures/tiny-llama --json']
  static args = {model: Args.string({description: 'Hugging Face model folder or hub id whose linear shapes to use', required: false})}
  static flags = {reps: Flags.integer({description: 'repetitions per measurement (the best is kept)', default: 20, min: 1})}

  async run(): Promise<void> {
    let shapes = STANDARD
    if (this.args.model) {
      const cfg = readConfig(await resolveModel(this.args.model, this.log_))
      const seen = new Map<string, [number, number]>()
      for (const name of LINEARS) { const s = linearShape(cfg, name); if (s[1] % 4 === 0) seen.set(s.join('x'), s) }
      shapes = [...seen.values()]
    }
    const results = shapes.map(([r, c], i) => {
      this.log_.step('measuring GEMV', i, shapes.length)
      return benchGemv(r, c, this.flags.reps)
    })
    const table = new Table({head: ['shape', 'f32 ms', 'bf16 ms', '2:4 ms', '2:4 vs bf16', 'bytes/weight f32, bf16, 2:4'], style: {head: [], border: []}})
    for (const r of results) {
      table.push([r.shape.join(' × '), r.f32_ms.toFixed(3), r.bf16_ms.toFixed(3), r.nm24_ms.toFixed(3), `${r.nm24_speedup_vs_bf16.toFixed(2)}×`, '4, 2, 1.25'])
    }
    this.emit({results}, [table.toString(), 'Checkpoints written by prune store zeros densely: other runtimes run them at dense speed.'])
  }
}
