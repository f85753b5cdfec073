import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {exportLayout} from '../export/layouts.js'
import {resolveModel} from '../hub/download.js'
import {EXIT_CODES_HELP} from '../util/errors.js'

export default class Export extends BaseCommand<typeof Export> {
  static summary = 'Write a pruned checkpoint in a legacy compressed-tensors sparse layout (sparse-bitmask, sparse-24-bitmask).'
  static description = `The decoder linears become P.shape, P.compressed, P.bitmask (and P.row_offsets) as compressed-tensors writes them, with a quantization_config.sparsity_config; everything else is copied. Today's transformers and vLLM reject these layouts: the default export of \`prune\` is dense; this profile serves older stacks. sparse-24-bitmask refuses a weight that is not 2:4 (the layout would silently prune it).\n\n${EXIT_CODES_HELP}`
  static examples = ['<%= config.bin %> export ./llama-2of4 --format sparse-24-bitmask --out ./llama-2of4-ct']
  static args = {model: Args.string({description: 'Hugging Face model folder, or hub id org/name[@revision]', required: true})}
  static flags = {
    format: Flags.string({description: 'layout', options: ['sparse-bitmask', 'sparse-24-bitmask'], required: true}),
    out: Flags.string({description: 'output folder', required: true}),
    overwrite: Flags.boolean({description: 'replace a non-empty --out'}),
  }

  async run(): Promise<void> {
    const dir = await resolveModel(this.args.model, this.log_)
    const r = exportLayout(dir, this.flags.format as 'sparse-bitmask' | 'sparse-24-bitmask', this.flags.out, this.flags.overwrite, this.log_)
    this.emit({model: this.args.model, format: this.flags.format, out: this.flags.out, ...r},
      [`wrote ${this.flags.out}: ${r.tensors} linears as ${this.flags.format} (${(100 * r.sparsity).toFixed(2)}% zeros)`])
  }
}
