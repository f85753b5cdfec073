import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {intFlag} from '../cli/flags.js'
import {exportGguf, GGUF_TYPES, type GgufType} from '../export/gguf/export.js'
import {exportLayout, exportPacked} from '../export/layouts.js'
import {exportOnnx, ONNX_DTYPES, type OnnxDtype} from '../export/onnx/export.js'
import {resolveModel} from '../hub/download.js'
import type {Packing} from '../packed/tensors.js'
import {parseNm} from '../prune/target.js'
import {EXIT_CODES_HELP} from '../util/errors.js'

export default class Export extends BaseCommand<typeof Export> {
  static summary = 'Write a pruned checkpoint in a packed format: sparsify\'s nm or bitmask (run by sparsify generate/eval), or the legacy compressed-tensors sparse-bitmask / sparse-24-bitmask.'
  static description = `nm and bitmask store the decoder linears as P.weight_values plus positions or bitmask and row offsets (docs/formats.md), with quantization_config.quant_method "sparsify"; sparsify reads them directly and \`sparsify decompress\` turns them back into plain safetensors. Other runtimes do not read them.

sparse-bitmask and sparse-24-bitmask are the compressed-tensors layouts (P.shape, P.compressed, P.bitmask, P.row_offsets) with a quantization_config.sparsity_config; today's transformers and vLLM reject them, so they serve older stacks. sparse-24-bitmask and nm refuse a weight that is not N:M.

GQSA packing is written by \`sparsify prune --method gqsa --format gqsa\`.\n\n${EXIT_CODES_HELP}`
  static examples = [
    '<%= config.bin %> export ./llama-2of4 --format nm --out ./llama-2of4-nm',
    '<%= config.bin %> export ./llama-wanda50 --format bitmask --out ./llama-wanda50-bitmask',
    '<%= config.bin %> export ./llama-2of4 --format sparse-24-bitmask --out ./llama-2of4-ct',
  ]
  static args = {model: Args.string({description: 'Hugging Face model folder, or hub id org/name[@revision]', required: true})}
  static flags = {
    format: Flags.string({description: 'packing', options: ['nm', 'bitmask', 'sparse-bitmask', 'sparse-24-bitmask', 'gguf', 'onnx'], required: true}),
    dtype: Flags.string({description: 'onnx: weight precision (model.onnx, model_fp16.onnx or model_q4.onnx)', options: [...ONNX_DTYPES], default: 'fp32'}),
    'block-size': intFlag({description: 'onnx q4: round-to-nearest block along the input dimension, a power of two (GQSA checkpoints keep their own groups)', default: 32, min: 16}),
    type: Flags.string({description: 'gguf: tensor type of the weights (default: the checkpoint\'s own dtype; norms stay f32)', options: [...GGUF_TYPES]}),
    pattern: Flags.string({description: 'N:M of --format nm', default: '2:4'}),
    out: Flags.string({description: 'output folder (gguf: output file)', required: true}),
    overwrite: Flags.boolean({description: 'replace a non-empty --out'}),
  }

  async run(): Promise<void> {
    const dir = await resolveModel(this.args.model, this.log_)
    const {format, out, overwrite} = this.flags
    if (format === 'onnx') {
      const r = exportOnnx(dir, out, {dtype: this.flags.dtype as OnnxDtype, blockSize: this.flags['block-size'], overwrite, log: this.log_})
      this.emit({model: this.args.model, format, out, ...r},
        [`wrote ${out}/${r.file}: ${r.nodes} nodes, ${(r.weightBytes / 2 ** 20).toFixed(1)} MiB of weights${r.dtype === 'q4' ? ` (${r.groupLinears} linears from their own groups, ${r.rtnLinears} rounded to nearest)` : ''}`])
      return
    }
    if (format === 'gguf') {
      const r = exportGguf(dir, out, {type: this.flags.type as GgufType | undefined, overwrite, log: this.log_})
      this.emit({model: this.args.model, format, out, ...r},
        [`wrote ${out}: ${r.tensors} tensors, ${r.type}${r.type === 'q4_1' ? ` (${r.groupLinears} linears from their own groups, ${r.rtnLinears} rounded to nearest${r.inexactGroupLinears ? `, ${r.inexactGroupLinears} of them because f16 cannot hold their groups' scales exactly` : ''})` : ''}, ${(r.bytes / 2 ** 20).toFixed(1)} MiB`])
      return
    }
    if (format === 'nm' || format === 'bitmask') {
      const packing: Packing = format === 'nm' ? {format: 'nm', ...parseNm(this.flags.pattern)} : {format: 'bitmask'}
      const r = exportPacked(dir, packing, out, overwrite, this.log_)
      this.emit({model: this.args.model, format, out, ...r},
        [`wrote ${out}: ${r.tensors} linears as ${format === 'nm' ? this.flags.pattern : format} (${(100 * r.sparsity).toFixed(2)}% zeros, ${(r.bytes / 2 ** 20).toFixed(1)} MiB of linear weights)`])
      return
    }
    const r = exportLayout(dir, format as 'sparse-bitmask' | 'sparse-24-bitmask', out, overwrite, this.log_)
    this.emit({model: this.args.model, format, out, ...r}, [`wrote ${out}: ${r.tensors} linears as ${format} (${(100 * r.sparsity).toFixed(2)}% zeros)`])
  }
}
