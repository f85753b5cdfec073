import {mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {kernels} from '../../kernels/index.js'
import type {Family} from '../../model/arch/families.js'
import {readConfig} from '../../model/config.js'
import {Model} from '../../model/model.js'
import {usage} from '../../util/errors.js'
import type {Logger} from '../../util/log.js'
import {VERSION} from '../../version.js'
import {copyCompanionFiles} from '../../model/companion-files.js'
import {intoFolder} from '../folder-writes.js'
import {onnxFamily, type OnnxFamily} from './families.js'
import {sourceTensors} from '../source.js'
import {buildDecoder, type LinearWriter} from './decoder.js'
import {ExternalData, GraphBuilder} from './graph.js'
import {encodeModel} from './proto.js'
import {groupsQ4, quantizeQ4} from './q4.js'

export const ONNX_DTYPES = ['fp32', 'fp16', 'q4'] as const
export type OnnxDtype = (typeof ONNX_DTYPES)[number]

/** transformers.js's file-name suffix for each dtype. */
const SUFFIX: Record<OnnxDtype, string> = {fp32: '', fp16: '_fp16', q4: '_q4'}

export interface OnnxExport {
  dtype: OnnxDtype
  file: string
  nodes: number
  weightBytes: number
  /** q4: linears written from their own groups (GQSA, GPTQ) as they are, and by round-to-nearest */
  groupLinears: number
  rtnLinears: number
  /** False where transformers.js has no model class for the family (the folder runs in onnxruntime). */
  transformersJs: boolean
}

/** (rows, cols) → (cols, rows): MatMul multiplies activations (…, in) by (in, out). */
function transposed(w: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(w.length)
  kernels().transposeF32(t, w, rows, cols)
  return t
}

/**
 * Writes `dir` as a folder transformers.js loads as it is: config.json (with its
 * transformers.js_config), tokenizer and generation files, onnx/model<suffix>.onnx and the
 * weights beside it in onnx/model<suffix>.onnx_data.
 */
export function exportOnnx(dir: string, out: string, opts: {dtype: OnnxDtype; blockSize: number; overwrite?: boolean; log: Logger}): OnnxExport {
  if (opts.blockSize < 16 || (opts.blockSize & (opts.blockSize - 1)) !== 0) {
    throw usage(`--block-size ${opts.blockSize} is not a power of two ≥ 16`, 'MatMulNBits takes blocks of 16, 32, 64, 128, …')
  }
  const family = onnxFamily(readConfig(dir))
  const model = Model.load(dir)
  let result: OnnxExport | undefined
  try {
    if (family.onnxruntimeOnly) opts.log.info(`note: ${family.onnxruntimeOnly}; the export runs in onnxruntime (sparsify eval/generate --engine onnxruntime)`)
    const weights = sourceTensors(model)
    intoFolder(out, opts.overwrite ?? false, (work) => {
      mkdirSync(path.join(work, 'onnx'))
      const file = `model${SUFFIX[opts.dtype]}.onnx`
      const data = new ExternalData(path.join(work, 'onnx', `${file}_data`))
      const counts = {groups: 0, rtn: 0}
      let done = 0
      const linear = linearWriter(opts.dtype, opts.blockSize, counts, () => opts.log.step('writing linears', ++done, weights.filter((w) => w.shape.length === 2).length))
      const g = new GraphBuilder(data)
      let io
      try {
        io = buildDecoder(g, model.cfg, weights, linear, family.positionStart ?? 0)
      } finally {
        data.close()
      }
      const bytes = encodeModel({
        opsets: [{domain: '', version: 17}, {domain: 'com.microsoft', version: 1}],
        producer: `sparsify ${VERSION}`,
        graph: {name: 'decoder', nodes: g.nodes, initializers: g.initializers, ...io},
      })
      writeFileSync(path.join(work, 'onnx', file), bytes)
      copyCompanionFiles(dir, work)
      writeConfig(dir, work, opts.dtype, family, model.cfg.family)
      writeFileSync(path.join(work, 'README.md'), readme(dir, opts.dtype, opts.blockSize, counts, family))
      const weightBytes = g.initializers.reduce((a, t) => a + (t.data instanceof Uint8Array ? t.data.length : t.data.length), 0)
      result = {dtype: opts.dtype, file: `onnx/${file}`, nodes: g.nodes.length, weightBytes, groupLinears: counts.groups, rtnLinears: counts.rtn,
        transformersJs: !family.onnxruntimeOnly}
    })
  } finally {
    model.close()
  }
  return result!
}

function linearWriter(dtype: OnnxDtype, block: number, counts: {groups: number; rtn: number}, tick: () => void): LinearWriter {
  return (g, x, w, exact = false) => {
    tick()
    const [rows, cols] = w.shape
    // Linears outside the blocks (the head, OPT-350m's project_in/out) stay float, as the head always has.
    if (dtype === 'q4' && !exact && w.layer !== null) {
      const groups = w.groups()
      const own = groups && groupsQ4(groups, rows, cols)
      const q = own || quantizeQ4(w.load(), rows, cols, block)
      if (own) counts.groups++
      else counts.rtn++
      const nb = Math.ceil(cols / q.block)
      return g.op('MatMulNBits', [x,
        g.weight(`${w.name}.q4`, 'uint8', [rows, nb, q.block / 2], q.codes),
        g.weight(`${w.name}.scales`, 'float', [rows, nb], q.scales),
        g.weight(`${w.name}.zero_points`, 'uint8', [rows * Math.ceil(nb / 2)], q.zeros)],
      {K: cols, N: rows, bits: 4, block_size: q.block, accuracy_level: 0}, 'com.microsoft')
    }
    const t = transposed(w.load(), rows, cols)
    if (dtype !== 'fp16' || exact) return g.op('MatMul', [x, g.weight(w.name, 'float', [cols, rows], t)])
    const half = new Uint16Array(t.length)
    kernels().f32ToF16(half, t)
    return g.op('MatMul', [x, g.op('Cast', [g.weight(w.name, 'float16', [cols, rows], half)], {to: 1})])
  }
}

/** The input's config.json (its text model's, for a multimodal one), less our packing, with the model_type and transformers.js_config that transformers.js reads. */
function writeConfig(dir: string, work: string, dtype: OnnxDtype, family: OnnxFamily, arch: Family): void {
  const raw = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8'))
  // A multimodal checkpoint's text model stands alone: its config with the values its config class defaults to.
  const cfg = family.textArchitecture
    ? {...arch.defaults, ...raw[arch.textConfig!], architectures: [family.textArchitecture], torch_dtype: raw.torch_dtype}
    : raw
  delete cfg.quantization_config
  cfg.model_type = family.modelType // transformers.js picks its model class by it
  cfg['transformers.js_config'] = {dtype, use_external_data_format: true}
  writeFileSync(path.join(work, 'config.json'), `${JSON.stringify(cfg, null, 2)}\n`)
}

function readme(dir: string, dtype: OnnxDtype, block: number, counts: {groups: number; rtn: number}, family: OnnxFamily): string {
  const how = dtype === 'fp32' ? 'float32 weights.'
    : dtype === 'fp16' ? 'float16 linear weights (head included, MoE routers float32), cast to float32 in the graph; embeddings, norms, activations and the KV cache stay float32.'
      : `decoder linears as com.microsoft.MatMulNBits, 4-bit asymmetric blocks along the input dimension: ${counts.groups} from the checkpoint's own groups (GQSA, or GPTQ's codes, scales and zero points) as they are, ${counts.rtn} by round-to-nearest in blocks of ${block} (range including 0, so pruned weights stay exact zeros). Embeddings, the head (and OPT-350m's project_in/project_out) and MoE routers are float32.`
  const title = `# ${path.basename(path.resolve(dir))}: ONNX (${dtype})\n\n` +
    (family.textArchitecture ? `The text model only, as ${family.textArchitecture}: the vision tower is not exported.\n\n` : '')
  if (family.onnxruntimeOnly) {
    return `${title}Exported by sparsify ${VERSION} for onnxruntime: ${how}\n\nNot loadable by transformers.js (${family.onnxruntimeOnly}); ` +
      'the graph takes the inputs transformers.js feeds other decoders (input_ids, attention_mask, position_ids, past_key_values.*).\n\n' +
      '```sh\nsparsify generate ./this-folder --engine onnxruntime --prompt "…"\n```\n'
  }
  return `${title}Exported by sparsify ${VERSION} for transformers.js and onnxruntime: ${how}\n\n` +
    '```js\nimport {pipeline} from \'@huggingface/transformers\'\nconst generate = await pipeline(\'text-generation\', \'./this-folder\')\n```\n'
}
