import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {decompress} from '../export/layouts.js'
import {resolveModel} from '../hub/download.js'
import {EXIT_CODES_HELP} from '../util/errors.js'

export default class Decompress extends BaseCommand<typeof Decompress> {
  static summary = 'Turn a sparse checkpoint (compressed-tensors sparse-bitmask or sparse-24-bitmask) back into plain dense safetensors.'
  static description = EXIT_CODES_HELP
  static examples = ['<%= config.bin %> decompress ./llama-2of4-ct --out ./llama-2of4']
  static args = {model: Args.string({description: 'Hugging Face model folder, or hub id org/name[@revision]', required: true})}
  static flags = {
    out: Flags.string({description: 'output folder', required: true}),
    overwrite: Flags.boolean({description: 'replace a non-empty --out'}),
  }

  async run(): Promise<void> {
    const r = decompress(await resolveModel(this.args.model, this.log_), this.flags.out, this.flags.overwrite)
    this.emit({model: this.args.model, out: this.flags.out, ...r}, [`wrote ${this.flags.out}: ${r.tensors} linears expanded to dense`])
  }
}
