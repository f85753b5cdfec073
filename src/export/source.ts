import {kernels} from '../kernels/index.js'
import type {ModelConfig} from '../model/config.js'
import type {Model} from '../model/model.js'
import type {Checkpoint} from '../model/safetensors/checkpoint.js'
import {blockPrefix, LINEARS, linearShape} from '../model/weights.js'
import {readPacked} from '../packed/tensors.js'
import {unpackWeight} from '../packed/weight.js'
import {invalidFormat} from '../util/errors.js'

/** A GQSA linear as docs/formats.md stores it (codes low nibble first, float scales and integer zeros). */
export interface GqsaGroups {
  group: number
  rowPtr: Int32Array
  colIdx: Uint16Array
  codes: Uint8Array
  scales: Float32Array
  zeros: Float32Array
}

/** One parameter of the model, read only when an exporter asks for it. */
export interface SourceTensor {
  /** Hugging Face name, e.g. model.layers.0.self_attn.q_proj.weight */
  name: string
  /** the block it belongs to, or null outside the blocks */
  layer: number | null
  /** Hugging Face suffix within the block (e.g. self_attn.q_proj.weight), else the whole name */
  key: string
  /** (out, in) for linears */
  shape: number[]
  load(): Float32Array
  /** The stored GQSA groups of a packed linear, else null. */
  groups(): GqsaGroups | null
}

/**
 * The model's parameters in llama.cpp's order (embeddings, each block, final norm, head), dense
 * float32 on demand. A checkpoint whose blocks differ in shape from config.json (per-layer widths,
 * e.g. after structured pruning) is refused here, before anything is written.
 */
export function sourceTensors(model: Model): SourceTensor[] {
  const {ckpt, cfg} = model
  const plain = (name: string, layer: number | null, key: string): SourceTensor => ({
    name, layer, key, shape: ckpt.entry(name).shape, load: () => ckpt.readF32(name), groups: () => null,
  })
  const out: SourceTensor[] = [plain('model.embed_tokens.weight', null, 'model.embed_tokens.weight')]
  for (let l = 0; l < cfg.layers; l++) out.push(...blockTensors(ckpt, cfg, l, plain))
  out.push(plain('model.norm.weight', null, 'model.norm.weight'))
  if (!cfg.tieEmbeddings) out.push(plain('lm_head.weight', null, 'lm_head.weight'))
  return out
}

const NORMS = ['input_layernorm.weight', 'self_attn.q_norm.weight', 'self_attn.k_norm.weight', 'post_attention_layernorm.weight']

function blockTensors(ckpt: Checkpoint, cfg: ModelConfig, l: number,
  plain: (name: string, layer: number, key: string) => SourceTensor): SourceTensor[] {
  const p = blockPrefix(l), out: SourceTensor[] = []
  for (const key of NORMS) if (ckpt.has(p + key)) out.push(plain(p + key, l, key))
  for (const lin of LINEARS) {
    const [rows, cols] = linearShape(cfg, lin), name = `${p}${lin}.weight`
    if (ckpt.has(name)) {
      const got = ckpt.entry(name).shape
      if (got[0] !== rows || got[1] !== cols) {
        throw invalidFormat(`${name} is [${got}] but config.json implies [${rows},${cols}]: blocks of different widths cannot be exported`,
          'export a checkpoint whose blocks all have the shapes config.json states')
      }
      out.push(plain(name, l, `${lin}.weight`))
    } else {
      const packing = cfg.packing
      if (!packing) throw invalidFormat(`checkpoint has no tensor ${name}`, `is it a ${cfg.arch} checkpoint?`)
      const prefix = p + lin
      out.push({
        name, layer: l, key: `${lin}.weight`, shape: [rows, cols],
        load: () => unpackWeight(kernels(), readPacked(ckpt, prefix, rows, cols, packing), rows, cols),
        groups: () => packing.format === 'gqsa' ? readGroups(ckpt, prefix, rows, cols, packing.group) : null,
      })
    }
    if (ckpt.has(`${p}${lin}.bias`)) out.push(plain(`${p}${lin}.bias`, l, `${lin}.bias`))
  }
  return out
}

function readGroups(ckpt: Checkpoint, prefix: string, rows: number, cols: number, group: number): GqsaGroups {
  readPacked(ckpt, prefix, rows, cols, {format: 'gqsa', bits: 4, group}) // validates the stored groups
  const bytes = (part: string) => ckpt.file(`${prefix}.weight_${part}`).readBytes(`${prefix}.weight_${part}`)
  return {
    group,
    rowPtr: new Int32Array(bytes('row_ptr').slice().buffer),
    colIdx: new Uint16Array(bytes('col_idx').slice().buffer),
    codes: bytes('codes'),
    scales: ckpt.readF32(`${prefix}.weight_scales`),
    zeros: ckpt.readF32(`${prefix}.weight_zeros`),
  }
}
