import {kernels} from '../kernels/index.js'
import type {ModelConfig} from '../model/config.js'
import type {Model} from '../model/model.js'
import type {Checkpoint} from '../model/safetensors/checkpoint.js'
import {blockTensors as layoutOf, globalNames, layerPrefix, normName, routerName} from '../model/arch/layout.js'
import type {NormSlot} from '../model/arch/families.js'
import {readPacked} from '../packed/tensors.js'
import {unpackWeight} from '../packed/weight.js'
import {invalidFormat} from '../util/errors.js'
import {isPackQuantized, readPackQuantizedDense} from '../packed/pack-quantized.js'
import {denseQuantScheme, packQuantizedGroups, recoverGroups, type DenseQuantScheme, type QuantGroups} from './own-groups.js'

/** One parameter of the model, read only when an exporter asks for it. */
export interface SourceTensor {
  /** Hugging Face name, e.g. model.layers.0.self_attn.q_proj.weight */
  name: string
  /** the block it belongs to, or null outside the blocks */
  layer: number | null
  /** Hugging Face suffix within the block (e.g. self_attn.q_proj.weight), else the whole name */
  key: string
  /** The expert it belongs to (its key then starts with the family's experts prefix and this number), else null. */
  expert: number | null
  /** (out, in) for linears */
  shape: number[]
  load(): Float32Array
  /** The linear's own 4-bit groups (GQSA, pack-quantized, or exactly recovered from a quantized dense output), else null. */
  groups(): QuantGroups | null
}

/**
 * The model's parameters in llama.cpp's order (embeddings, each block, final norm, head), dense
 * float32 on demand. A checkpoint whose blocks differ in shape from config.json (per-layer widths,
 * e.g. after structured pruning) is refused here, before anything is written.
 */
export function sourceTensors(model: Model): SourceTensor[] {
  const {ckpt, cfg} = model
  const plain = (name: string, layer: number | null, key: string): SourceTensor => ({
    name, layer, key, expert: null, shape: ckpt.entry(name).shape, load: () => ckpt.readF32(name), groups: () => null,
  })
  // Outside the blocks, keys are Llama's names whatever the family stores (OPT's model.decoder.*, Gemma 3's text model under language_model.).
  const names = globalNames(cfg)
  const out: SourceTensor[] = [plain(names.embed, null, 'model.embed_tokens.weight')]
  if (names.positions) out.push(plain(names.positions, null, 'model.embed_positions.weight'))
  if (names.projectIn) out.push(plain(names.projectIn, null, 'model.project_in.weight'))
  const scheme = denseQuantScheme(model.dir)
  for (let l = 0; l < cfg.layers; l++) out.push(...blockTensors(ckpt, cfg, l, plain, scheme))
  if (cfg.finalNorm) out.push(plain(`${names.finalNorm}.weight`, null, 'model.norm.weight'))
  if (cfg.finalNorm && ckpt.has(`${names.finalNorm}.bias`)) out.push(plain(`${names.finalNorm}.bias`, null, 'model.norm.bias'))
  if (names.projectOut) out.push(plain(names.projectOut, null, 'model.project_out.weight'))
  if (!cfg.tieEmbeddings) out.push(plain(names.head, null, 'lm_head.weight'))
  return out
}

function blockTensors(ckpt: Checkpoint, cfg: ModelConfig, l: number,
  plain: (name: string, layer: number, key: string) => SourceTensor, scheme: DenseQuantScheme | null): SourceTensor[] {
  const p = layerPrefix(cfg, l), out: SourceTensor[] = []
  for (const slot of Object.keys(cfg.family.norms) as NormSlot[]) {
    for (const part of ['weight', 'bias']) {
      const name = `${normName(cfg, l, slot)}.${part}`
      if (ckpt.has(name)) out.push(plain(name, l, name.slice(p.length)))
    }
  }
  if (cfg.moe?.sparse[l]) {
    const router = `${routerName(cfg, l)}.weight`
    out.push(plain(router, l, router.slice(p.length)))
  }
  for (const t of layoutOf(cfg, l)) {
    const {rows, cols} = t, lin = t.name.slice(p.length), name = `${t.name}.weight`
    if (ckpt.has(name)) {
      const got = ckpt.entry(name).shape
      if (got[0] !== rows || got[1] !== cols) {
        throw invalidFormat(`${name} is [${got}] but config.json implies [${rows},${cols}]: blocks of different widths cannot be exported`,
          'export a checkpoint whose blocks all have the shapes config.json states')
      }
      const dense = {...plain(name, l, `${lin}.weight`), expert: t.expert}
      out.push(scheme ? {...dense, groups: () => recoverGroups(dense.load(), rows, cols, scheme)} : dense)
    } else if (isPackQuantized(ckpt, t.name)) {
      const prefix = t.name
      out.push({
        name, layer: l, key: `${lin}.weight`, expert: t.expert, shape: [rows, cols],
        load: () => readPackQuantizedDense(ckpt, prefix, rows, cols), groups: () => packQuantizedGroups(ckpt, prefix, rows, cols),
      })
    } else {
      const packing = cfg.packing
      if (!packing) throw invalidFormat(`checkpoint has no tensor ${name}`, `is it a ${cfg.arch} checkpoint?`)
      const prefix = t.name
      out.push({
        name, layer: l, key: `${lin}.weight`, expert: t.expert, shape: [rows, cols],
        load: () => unpackWeight(kernels(), readPacked(ckpt, prefix, rows, cols, packing), rows, cols),
        groups: () => packing.format === 'gqsa' ? readGroups(ckpt, prefix, rows, cols, packing.group) : null,
      })
    }
    if (ckpt.has(`${p}${lin}.bias`)) out.push(plain(`${p}${lin}.bias`, l, `${lin}.bias`))
  }
  return out
}

function readGroups(ckpt: Checkpoint, prefix: string, rows: number, cols: number, group: number): QuantGroups {
  readPacked(ckpt, prefix, rows, cols, {format: 'gqsa', bits: 4, group}) // validates the stored groups
  const bytes = (part: string) => ckpt.file(`${prefix}.weight_${part}`).readBytes(`${prefix}.weight_${part}`)
  return {
    origin: 'gqsa',
    group,
    rowPtr: new Int32Array(bytes('row_ptr').slice().buffer),
    colIdx: new Uint16Array(bytes('col_idx').slice().buffer),
    codes: bytes('codes'),
    scales: ckpt.readF32(`${prefix}.weight_scales`),
    zeros: ckpt.readF32(`${prefix}.weight_zeros`),
  }
}
