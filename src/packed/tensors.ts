import {gqsaFileParams, gqsaHeldParams, gqsaPairBytes, kernels, type Backend, type Values} from '../kernels/index.js'
import type {Checkpoint} from '../model/safetensors/checkpoint.js'
import {numel, type Dtype, type FloatDtype} from '../model/safetensors/dtypes.js'
import {encodeFloats} from '../model/safetensors/writer.js'
import type {Encoded} from '../export/compressed-tensors.js'
import {invalidFormat} from '../util/errors.js'
import {filePositions, kernelPositions, type GqsaPacked, type PackedWeight} from './weight.js'

/** How a checkpoint's decoder linears are stored: config.json's quantization_config with quant_method "sparsify". */
export type Packing = {format: 'nm'; n: number; m: number} | {format: 'bitmask'} | {format: 'gqsa'; bits: 4; group: number}

export const PACKING_VERSION = 1

export function packingConfig(p: Packing): Record<string, unknown> {
  const base = {quant_method: 'sparsify', format: p.format, version: PACKING_VERSION}
  if (p.format === 'nm') return {...base, n: p.n, m: p.m}
  if (p.format === 'gqsa') return {...base, bits: p.bits, group_size: p.group}
  return base
}

/** The packing config.json declares, null for a dense checkpoint, an error for one we cannot read. */
export function parsePacking(raw: unknown, file: string): Packing | null {
  const q = raw as Record<string, unknown> | undefined
  if (!q || q.quant_method !== 'sparsify') return null
  const int = (key: string) => {
    const v = q[key]
    if (typeof v !== 'number' || !Number.isInteger(v)) throw invalidFormat(`${file}: quantization_config.${key} is missing or not an integer`)
    return v
  }
  if (int('version') > PACKING_VERSION) throw invalidFormat(`${file}: packing version ${q.version} is newer than this sparsify reads`, 'upgrade sparsify')
  if (q.format === 'nm') {
    const n = int('n'), m = int('m')
    if (!(m >= 1 && m <= 16 && n >= 1 && n <= m)) throw invalidFormat(`${file}: N:M packing ${n}:${m} is not supported (M ≤ 16)`)
    return {format: 'nm', n, m}
  }
  if (q.format === 'bitmask') return {format: 'bitmask'}
  if (q.format === 'gqsa') {
    const bits = int('bits'), group = int('group_size')
    if (bits !== 4) throw invalidFormat(`${file}: GQSA with ${bits}-bit codes is not supported`, 'the packed GQSA format stores 4-bit codes')
    if (group < 2 || group % 2 !== 0) throw invalidFormat(`${file}: GQSA group_size ${group} must be even`)
    return {format: 'gqsa', bits: 4, group}
  }
  throw invalidFormat(`${file}: packing format ${JSON.stringify(q.format)} is not supported`, 'supported: nm, bitmask, gqsa')
}

const bytesOf = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength)

/** One packed linear P as the tensors P.weight_* (docs/formats.md); float values in `dtype`. */
export function encodePacked(prefix: string, p: PackedWeight, rows: number, cols: number, dtype: FloatDtype, k: Backend): Encoded[] {
  const values = (v: Values, shape: number[]): Encoded => {
    const f = v instanceof Float32Array ? v : (() => { const o = new Float32Array(v.length); k.bf16ToF32(o, v); return o })()
    return {name: `${prefix}.weight_values`, dtype, shape, data: encodeFloats(f, dtype)}
  }
  switch (p.format) {
    case 'dense': throw new Error('dense weights are stored as P.weight')
    case 'nm': return [
      values(p.values, [rows, cols / p.m * p.n]),
      {name: `${prefix}.weight_positions`, dtype: 'U8', shape: [rows, Math.ceil(cols / p.m * p.n / 2)], data: filePositions(k, p, rows, cols)},
    ]
    case 'bitmask': return [
      values(p.values, [p.values.length]),
      {name: `${prefix}.weight_bitmask`, dtype: 'U8', shape: [rows, Math.ceil(cols / 8)], data: p.mask},
      {name: `${prefix}.weight_row_offsets`, dtype: 'I64', shape: [rows], data: bytesOf(p.offsets)},
    ]
    case 'gqsa': {
      const nnzb = p.rowPtr[rows]
      const half = (v: Float32Array) => encodeFloats(v, 'F16')
      const codes = new Uint8Array(nnzb * p.group / 2), {scales, zeros} = gqsaFileParams(p.scales, p.offsetZeros)
      k.gqsaGroupCodes(codes, p.pairs, nnzb, p.group)
      return [
        {name: `${prefix}.weight_row_ptr`, dtype: 'I32', shape: [rows + 1], data: bytesOf(p.rowPtr)},
        {name: `${prefix}.weight_col_idx`, dtype: 'I16', shape: [nnzb], data: bytesOf(p.col)},
        {name: `${prefix}.weight_codes`, dtype: 'U8', shape: [nnzb, p.group / 2], data: codes},
        {name: `${prefix}.weight_scales`, dtype: 'F16', shape: [nnzb], data: half(scales)},
        {name: `${prefix}.weight_zeros`, dtype: 'F16', shape: [nnzb], data: half(zeros)},
      ]
    }
  }
}

/** The names of P's packed tensors under a packing. */
export function packedNames(prefix: string, p: Packing): string[] {
  const parts = p.format === 'nm' ? ['values', 'positions'] : p.format === 'bitmask' ? ['values', 'bitmask', 'row_offsets']
    : ['row_ptr', 'col_idx', 'codes', 'scales', 'zeros']
  return parts.map((s) => `${prefix}.weight_${s}`)
}

/** Reads and validates packed linear P of shape (rows, cols): a corrupt file is an error here, not a crash in a kernel. */
export function readPacked(ck: Checkpoint, prefix: string, rows: number, cols: number, packing: Packing): PackedWeight {
  const t = (part: string, dtypes: Dtype[], shape: number[] | null) => {
    const name = `${prefix}.weight_${part}`
    const e = ck.entry(name)
    if (!dtypes.includes(e.dtype)) throw invalidFormat(`${name} is ${e.dtype}, expected ${dtypes.join(' or ')}`)
    if (shape && (e.shape.length !== shape.length || e.shape.some((d, i) => d !== shape[i]))) {
      throw invalidFormat(`${name} has shape [${e.shape}], expected [${shape}]`, 'config.json does not belong to these weights')
    }
    return {name, size: numel(e.shape)}
  }
  const floats = (name: string): Values => {
    const e = ck.entry(name)
    if (e.dtype === 'BF16') return new Uint16Array(ck.file(name).readBytes(name).buffer)
    return ck.readF32(name)
  }
  const bad = (what: string) => invalidFormat(`${prefix}: ${what}`, 'the packed checkpoint is corrupt; export it again')
  const floatTypes: Dtype[] = ['F32', 'BF16', 'F16']
  if (packing.format === 'nm') {
    const {n, m} = packing
    if (cols % m !== 0) throw bad(`${cols} columns are not a multiple of ${m}`)
    const v = t('values', floatTypes, [rows, cols / m * n]), pos = t('positions', ['U8'], [rows, Math.ceil(cols / m * n / 2)])
    const positions = ck.file(pos.name).readBytes(pos.name)
    for (let r = 0; r < rows; r++) {
      for (let s = 0; s < cols / m * n; s++) {
        const j = (positions[r * Math.ceil(cols / m * n / 2) + (s >> 1)] >> ((s & 1) * 4)) & 15
        if (j >= m) throw bad(`position ${j} is outside a group of ${m}`)
      }
    }
    return {format: 'nm', n, m, values: floats(v.name), positions: kernelPositions(kernels(), positions, {n, m}, rows, cols)}
  }
  if (packing.format === 'bitmask') {
    const mk = t('bitmask', ['U8'], [rows, Math.ceil(cols / 8)]), off = t('row_offsets', ['I64'], [rows]), v = t('values', floatTypes, null)
    const mask = ck.file(mk.name).readBytes(mk.name)
    const offsets = new BigInt64Array(ck.file(off.name).readBytes(off.name).buffer)
    let total = 0
    for (let r = 0; r < rows; r++) {
      if (offsets[r] !== BigInt(total)) throw bad(`row offset ${r} is ${offsets[r]}, but the rows before it keep ${total} values`)
      for (let b = 0; b < Math.ceil(cols / 8); b++) {
        const live = b === Math.ceil(cols / 8) - 1 && cols % 8 ? (1 << (cols % 8)) - 1 : 255
        if (mask[r * Math.ceil(cols / 8) + b] & ~live) throw bad('the bitmask marks columns beyond the last')
        let bits = mask[r * Math.ceil(cols / 8) + b]
        for (; bits; bits &= bits - 1) total++
      }
    }
    if (total !== v.size) throw bad(`the bitmask keeps ${total} values but ${v.size} are stored`)
    return {format: 'bitmask', values: floats(v.name), mask, offsets}
  }
  const g = packing.group
  if (cols % g !== 0) throw bad(`${cols} columns are not a multiple of the group size ${g}`)
  const rp = t('row_ptr', ['I32'], [rows + 1])
  const rowPtr = new Int32Array(ck.file(rp.name).readBytes(rp.name).buffer)
  const nnzb = rowPtr[rows]
  for (let r = 0; r < rows; r++) if (rowPtr[r] > rowPtr[r + 1] || rowPtr[0] !== 0) throw bad('row pointers are not increasing from 0')
  const ci = t('col_idx', ['I16'], [nnzb]), cd = t('codes', ['U8'], [nnzb, g / 2])
  t('scales', ['F16'], [nnzb]); t('zeros', ['F16'], [nnzb])
  const col = new Uint16Array(ck.file(ci.name).readBytes(ci.name).buffer)
  for (let r = 0; r < rows; r++) {
    for (let i = rowPtr[r]; i < rowPtr[r + 1]; i++) {
      if (col[i] >= cols / g || (i > rowPtr[r] && col[i] <= col[i - 1])) throw bad(`row ${r}: group indices must increase and stay below ${cols / g}`)
    }
  }
  const scales = ck.readF32(`${prefix}.weight_scales`), zeros = ck.readF32(`${prefix}.weight_zeros`)
  for (let k = 0; k < nnzb; k++) {
    if (!Number.isFinite(scales[k])) throw bad(`group ${k} has scale ${scales[k]}`)
    if (!Number.isInteger(zeros[k])) throw bad(`group ${k} has zero ${zeros[k]}, not an integer`)
  }
  const pairs = new Uint8Array(gqsaPairBytes(nnzb, g))
  kernels().gqsaPairCodes(pairs, ck.file(cd.name).readBytes(cd.name), nnzb, g)
  const packed: GqsaPacked = {format: 'gqsa', bits: 4, group: g, rowPtr, col, pairs, ...gqsaHeldParams(scales, zeros)}
  return packed
}
