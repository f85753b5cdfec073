import {copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {INDEX_FILE, Checkpoint} from '../model/safetensors/checkpoint.js'
import type {TensorEntry} from '../model/safetensors/header.js'
import type {SafetensorsFile} from '../model/safetensors/reader.js'
import {isFloatDtype, numel, type FloatDtype} from '../model/safetensors/dtypes.js'
import {encodeFloats, writeSafetensors} from '../model/safetensors/writer.js'
import {copyCompanionFiles} from '../model/companion-files.js'
import {kernels} from '../kernels/index.js'
import {readConfig, type ModelConfig} from '../model/config.js'
import {linearShape, type LinearName} from '../model/weights.js'
import {encodePacked, packingConfig, parsePacking, readPacked, type Packing} from '../packed/tensors.js'
import {packDense, unpackWeight} from '../packed/weight.js'
import {invalidFormat, usage} from '../util/errors.js'
import type {Logger} from '../util/log.js'
import {decompressPackQuantized, isPackQuantizedConfig} from './pack-quantized.js'
import {compressWeight, decompressWeight, type Encoded, type SparseLayout} from './compressed-tensors.js'

const LINEAR_WEIGHT = /^(model\.layers\.\d+\.(?:self_attn|mlp)\.\w+_proj)\.weight$/
const LINEAR_PART = /^(model\.layers\.\d+\.(?:self_attn|mlp)\.\w+_proj)\.(shape|compressed|bitmask|row_offsets)$/

/** Python's json.dump(indent=2, sort_keys=True), which compressed-tensors writes config.json with. */
function sortedJson(value: unknown): string {
  const sort = (v: unknown): unknown => Array.isArray(v) ? v.map(sort)
    : v && typeof v === 'object' ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sort((v as Record<string, unknown>)[k])])) : v
  return JSON.stringify(sort(value), null, 2)
}

/** Builds `out` through a work folder beside it, renamed into place when complete. */
export function intoFolder(out: string, overwrite: boolean, build: (work: string) => void): void {
  const target = path.resolve(out)
  if (existsSync(target) && readdirSync(target).length > 0 && !overwrite) throw usage(`--out ${out} exists and is not empty`, 'choose another folder, or pass --overwrite')
  const work = path.join(path.dirname(target), `.${path.basename(target)}.sparsify-export`)
  rmSync(work, {recursive: true, force: true})
  mkdirSync(work, {recursive: true})
  try {
    build(work)
    rmSync(target, {recursive: true, force: true})
    renameSync(work, target)
  } catch (err) {
    rmSync(work, {recursive: true, force: true})
    throw err
  }
}

/** Rewrites each shard with `transform`, keeping shard names, and the index's weight_map to match. */
export function rewriteShards(ck: Checkpoint, work: string, transform: (file: string) => Encoded[]): void {
  const weightMap: Record<string, string> = {}
  for (const f of ck.files) {
    const name = path.basename(f.path)
    const tensors = transform(f.path)
    writeSafetensors(path.join(work, name), tensors, {...f.metadata, format: 'pt'})
    for (const t of tensors) weightMap[t.name] = name
  }
  const index = path.join(ck.dir, INDEX_FILE)
  if (existsSync(index)) {
    const idx = JSON.parse(readFileSync(index, 'utf8'))
    writeFileSync(path.join(work, INDEX_FILE), `${JSON.stringify({...idx, weight_map: weightMap}, null, 2)}\n`)
  }
}

/** rewriteShards one tensor at a time: `map` returns what replaces it (none: drop it), or undefined to copy it. */
function mapTensors(ck: Checkpoint, work: string, map: (t: TensorEntry, src: SafetensorsFile) => Encoded | Encoded[] | null | undefined): void {
  rewriteShards(ck, work, (file) => {
    const src = ck.files.find((f) => f.path === file)!
    return [...src.tensors.values()].flatMap((t) => {
      const r = map(t, src)
      return r === undefined ? [{...t, data: src.readBytes(t.name)}] : r ?? []
    })
  })
}

/** A float 2-D decoder linear weight: its prefix, dense values and zero count; null for any other tensor. */
function linearWeight(t: TensorEntry, src: SafetensorsFile): {prefix: string; w: Float32Array; zeros: number} | null {
  const m = LINEAR_WEIGHT.exec(t.name)
  if (!m || t.shape.length !== 2 || !isFloatDtype(t.dtype)) return null
  const w = src.readF32(t.name)
  return {prefix: m[1], w, zeros: kernels().zeroStats(w, t.shape[0], t.shape[1], 0)[0]}
}

/** A checkpoint's decoder linears in a compressed-tensors sparse layout (other tensors unchanged). */
export function exportLayout(dir: string, layout: SparseLayout, out: string, overwrite: boolean, log: Logger): {sparsity: number; tensors: number} {
  const ck = Checkpoint.open(dir)
  let zeros = 0, total = 0, compressed = 0
  const count = ck.names().filter((n) => LINEAR_WEIGHT.test(n)).length
  intoFolder(out, overwrite, (work) => {
    mapTensors(ck, work, (t, src) => {
      const lw = linearWeight(t, src)
      if (!lw) return undefined
      zeros += lw.zeros
      total += lw.w.length
      log.step(`compressing (${layout})`, ++compressed, count)
      const dtype = t.dtype as FloatDtype
      return compressWeight(lw.prefix, lw.w, t.shape[0], t.shape[1], dtype, layout, (v) => encodeFloats(v, dtype))
    })
    const cfg = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8'))
    cfg.quantization_config = {
      quant_method: 'compressed-tensors', version: '0.9.1', transform_config: {},
      sparsity_config: {format: layout, global_sparsity: total ? zeros / total : 0, ignore: ['lm_head'],
        sparsity_structure: layout === 'sparse-24-bitmask' ? '2:4' : 'unstructured', targets: ['Linear']},
    }
    writeFileSync(path.join(work, 'config.json'), `${sortedJson(cfg)}\n`)
    copyCompanionFiles(dir, work)
  })
  ck.close()
  return {sparsity: total ? zeros / total : 0, tensors: compressed}
}

const PACKED_PART = /^(model\.layers\.(\d+)\.((?:self_attn|mlp)\.\w+_proj))\.weight_(values|positions|bitmask|row_offsets|row_ptr|col_idx|codes|scales|zeros)$/

/** Any checkpoint back to plain dense safetensors: sparsify's packings and the compressed-tensors sparse layouts are expanded. */
export function decompress(dir: string, out: string, overwrite: boolean): {tensors: number} {
  const cfg = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8'))
  if (parsePacking(cfg.quantization_config, 'config.json')) return decompressPacked(dir, cfg, readConfig(dir), out, overwrite)
  if (isPackQuantizedConfig(cfg)) return decompressPackQuantized(dir, cfg, out, overwrite)
  const format = cfg.quantization_config?.sparsity_config?.format
  if (format && format !== 'dense' && format !== 'sparse-bitmask' && format !== 'sparse-24-bitmask') {
    throw invalidFormat(`${dir}: sparsity format ${format} is not supported`, 'supported: sparse-bitmask, sparse-24-bitmask, dense')
  }
  const ck = Checkpoint.open(dir)
  let expanded = 0
  intoFolder(out, overwrite, (work) => {
    mapTensors(ck, work, (t, src) => {
      const m = LINEAR_PART.exec(t.name)
      if (!m) return undefined
      if (m[2] !== 'compressed') return null
      const p = m[1]
      const [rows, cols] = ck.file(`${p}.shape`).readInts(`${p}.shape`)
      const dense = decompressWeight(src.readF32(`${p}.compressed`), ck.file(`${p}.bitmask`).readBytes(`${p}.bitmask`), rows, cols)
      if (numel([rows, cols]) !== dense.length) throw invalidFormat(`${p}: shape and bitmask disagree`)
      expanded++
      return {name: `${p}.weight`, dtype: t.dtype, shape: [rows, cols], data: encodeFloats(dense, t.dtype as FloatDtype)}
    })
    if (cfg.quantization_config?.sparsity_config && !cfg.quantization_config.config_groups) delete cfg.quantization_config
    else if (cfg.quantization_config) delete cfg.quantization_config.sparsity_config
    writeFileSync(path.join(work, 'config.json'), `${JSON.stringify(cfg, null, 2)}\n`)
    copyCompanionFiles(dir, work)
  })
  ck.close()
  return {tensors: expanded}
}

const TORCH_DTYPES: Record<string, FloatDtype> = {float32: 'F32', bfloat16: 'BF16', float16: 'F16'}

/** sparsify's own packings back to P.weight: N:M and bitmask values keep their dtype; GQSA is dequantized to torch_dtype. */
function decompressPacked(dir: string, cfg: Record<string, unknown>, model: ModelConfig, out: string, overwrite: boolean): {tensors: number} {
  const packing = model.packing!
  const ck = Checkpoint.open(dir), k = kernels()
  let expanded = 0
  intoFolder(out, overwrite, (work) => {
    mapTensors(ck, work, (t) => {
      const m = PACKED_PART.exec(t.name)
      if (!m) return undefined
      if (m[4] !== (packing.format === 'gqsa' ? 'row_ptr' : 'values')) return null
      const [rows, cols] = linearShape(model, m[3] as LinearName)
      const dense = unpackWeight(k, readPacked(ck, m[1], rows, cols, packing), rows, cols)
      const dtype = packing.format === 'gqsa' ? TORCH_DTYPES[model.torchDtype ?? 'float32'] ?? 'F32' : t.dtype as FloatDtype
      expanded++
      return {name: `${m[1]}.weight`, dtype, shape: [rows, cols], data: encodeFloats(dense, dtype)}
    })
    delete cfg.quantization_config
    writeFileSync(path.join(work, 'config.json'), `${JSON.stringify(cfg, null, 2)}\n`)
    copyCompanionFiles(dir, work)
  })
  ck.close()
  return {tensors: expanded}
}

/**
 * A dense checkpoint's decoder linears in one of sparsify's packings (docs/formats.md), other tensors
 * unchanged. Values keep the weight's dtype. GQSA codes cannot be recovered from dense weights: for that
 * packing, `prune --method gqsa --format gqsa` passes the linears' tensors as `stored`.
 */
export function exportPacked(dir: string, packing: Packing, out: string, overwrite: boolean, log: Logger,
  stored?: (prefix: string) => Encoded[]): {sparsity: number; tensors: number; bytes: number} {
  if (packing.format === 'gqsa' && !stored) throw usage('GQSA packing is written by `sparsify prune --method gqsa --format gqsa`', 'dense weights do not carry the GQSA codes and scales')
  const model = readConfig(dir)
  if (model.packing) throw usage(`${dir} is already packed (${model.packing.format})`, 'run `sparsify decompress` first')
  const ck = Checkpoint.open(dir), k = kernels()
  const total = ck.names().filter((n) => LINEAR_WEIGHT.test(n)).length
  let zeros = 0, weights = 0, packedCount = 0, bytes = 0
  intoFolder(out, overwrite, (work) => {
    mapTensors(ck, work, (t, src) => {
      const lw = linearWeight(t, src)
      if (!lw) return undefined
      const [rows, cols] = t.shape
      zeros += lw.zeros
      weights += lw.w.length
      log.step(`packing (${packing.format})`, ++packedCount, total)
      const encoded = stored ? stored(lw.prefix)
        : encodePacked(lw.prefix, packDense(k, lw.w, rows, cols, packing.format as 'nm' | 'bitmask', t.dtype === 'BF16' ? 'bf16' : 'f32',
          packing.format === 'nm' ? packing : undefined, t.name), rows, cols, t.dtype as FloatDtype, k)
      bytes += encoded.reduce((a, e) => a + e.data.byteLength, 0)
      return encoded
    })
    const cfg = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8'))
    cfg.quantization_config = packingConfig(packing)
    writeFileSync(path.join(work, 'config.json'), `${JSON.stringify(cfg, null, 2)}\n`)
    copyCompanionFiles(dir, work)
    copyReportFiles(dir, work)
  })
  ck.close()
  return {sparsity: weights ? zeros / weights : 0, tensors: packedCount, bytes}
}

/** A prune run's report files, carried into its packed output. */
export function copyReportFiles(from: string, to: string): void {
  for (const f of ['sparsify.json', 'sparsify-report.json', 'REPORT.md', 'README.md', 'sparsify-chart.svg']) {
    if (existsSync(path.join(from, f))) copyFileSync(path.join(from, f), path.join(to, f))
  }
}

/** Replaces some float tensors of the checkpoint in `dir` in place (same shards, names, dtypes), file by file through a temporary copy. */
export function replaceTensors(dir: string, replacement: (name: string) => Float32Array | undefined): void {
  const ck = Checkpoint.open(dir)
  const tmp = path.join(dir, '.sparsify-rewrite')
  rmSync(tmp, {recursive: true, force: true})
  mkdirSync(tmp)
  try {
    rewriteShards(ck, tmp, (file) => {
      const src = ck.files.find((f) => f.path === file)!
      return [...src.tensors.values()].map((t) => {
        const v = replacement(t.name)
        return v ? {...t, data: encodeFloats(v, t.dtype as FloatDtype)} : {...t, data: src.readBytes(t.name)}
      })
    })
  } finally {
    ck.close()
  }
  for (const f of readdirSync(tmp)) renameSync(path.join(tmp, f), path.join(dir, f))
  rmSync(tmp, {recursive: true, force: true})
}
