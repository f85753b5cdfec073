import {Args} from '@oclif/core'
import Table from 'cli-table3'

import {BaseCommand} from '../cli/base-command.js'
import {inspectModel} from '../inspect/inspect.js'
import {resolveModel} from '../hub/download.js'
import {EXIT_CODES_HELP} from '../util/errors.js'

const pct = (x: number) => `${(100 * x).toFixed(2)}%`

export default class Inspect extends BaseCommand<typeof Inspect> {
  static summary = 'Show a checkpoint: architecture, dtypes, parameters, size, and the sparsity and N:M pattern of every decoder linear.'
  static description = EXIT_CODES_HELP
  static examples = ['<%= config.bin %> inspect fixtures/tiny-llama', '<%= config.bin %> inspect ./pruned --json']
  static args = {model: Args.string({description: 'Hugging Face model folder, or hub id org/name[@revision]', required: true})}

  async run(): Promise<void> {
    const r = inspectModel(await resolveModel(this.args.model, this.log_))
    const table = new Table({head: ['tensor', 'shape', 'dtype', 'sparsity', 'N:M'], style: {head: [], border: []}})
    for (const l of r.linears) table.push([l.name, l.shape.join(' × '), l.dtype, pct(l.sparsity), l.pattern ?? '-'])
    this.emit(r, [
      `${r.model}: ${r.architecture}, ${(r.parameters / 1e6).toFixed(2)}M parameters (${r.dtypes.join(', ')}), ${(r.bytes_on_disk / 2 ** 20).toFixed(1)} MiB in ${r.files} file${r.files > 1 ? 's' : ''}`,
      `decoder linears: ${pct(r.sparsity)} zeros${r.pattern ? `, every one ${r.pattern}` : ''}; stored ${r.format === 'dense' ? 'dense' : `packed (${r.format})`}${r.quantization ? `, ${r.quantization.bits}-bit ${r.quantization.group_size ? `groups of ${r.quantization.group_size}` : 'per row'}${r.quantization.symmetric ? ' symmetric' : ''}` : ''}`,
      table.toString(),
    ])
  }
}
