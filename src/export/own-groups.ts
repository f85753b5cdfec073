import {existsSync, readFileSync} from 'node:fs'
import path from 'node:path'

import {kernels} from '../kernels/index.js'
import type {Checkpoint} from '../model/safetensors/checkpoint.js'
import type {FloatDtype} from '../model/safetensors/dtypes.js'
import {readPackQuantized} from '../packed/pack-quantized.js'

/**
 * A linear as 4-bit affine groups along its input, w = scale·(code − zero): a GQSA checkpoint's
 * stored groups (rows list only their kept groups; the others are zero), a pack-quantized
 * checkpoint's codes, or the grid recovered from a quantized dense checkpoint.
 */
export interface QuantGroups {
  /** gqsa: float32 scales learned by GQSA; pack-quantized / recovered: GPTQ's, in the model's dtype */
  origin: 'gqsa' | 'pack-quantized' | 'recovered'
  group: number
  rowPtr: Int32Array
  colIdx: Uint16Array
  /** group k's codes at bytes k·group/2…, low nibble first */
  codes: Uint8Array
  scales: Float32Array
  zeros: Float32Array
}

/** The scheme sparsify.json records for a quantized dense output (prune --wbits without --format). */
export interface DenseQuantScheme {
  bits: number
  /** 0: one group per row */
  groupsize: number
  dtype: FloatDtype
}

export function denseQuantScheme(dir: string): DenseQuantScheme | null {
  const file = path.join(dir, 'sparsify.json')
  if (!existsSync(file)) return null
  const q = JSON.parse(readFileSync(file, 'utf8')).quantization
  if (!q || q.format !== 'dense' || q.bits > 4) return null
  return {bits: q.bits, groupsize: q.group_size ?? 0, dtype: q.scale_dtype}
}

/** Every group of every row present, codes nibble-packed. */
function grid(origin: QuantGroups['origin'], codes: Uint8Array, scales: Float32Array, zeros: Float32Array, rows: number, cols: number, group: number): QuantGroups {
  const per = cols / group
  return {
    origin, group, rowPtr: Int32Array.from({length: rows + 1}, (_, r) => r * per),
    colIdx: Uint16Array.from({length: rows * per}, (_, k) => k % per), codes, scales, zeros,
  }
}

/** Codes one per byte, two to a byte (element 2i low): int32 words of 4-bit codes are those bytes, little-endian. */
function nibbles(codes: Uint8Array): Uint8Array {
  const words = new Int32Array(Math.ceil(codes.length / 8))
  kernels().packInt32(words, codes, 1, codes.length, 4)
  return new Uint8Array(words.buffer, 0, codes.length / 2)
}

/** A pack-quantized linear's own codes, scales (in the model's dtype) and zero points; null for 8-bit codes. */
export function packQuantizedGroups(ck: Checkpoint, prefix: string, rows: number, cols: number): QuantGroups | null {
  const q = readPackQuantized(ck, prefix, rows, cols)
  return q.bits > 4 ? null : grid('pack-quantized', nibbles(q.codes), q.scales, q.zeros, rows, cols, q.groupsize || cols)
}

const gcd = (a: number, b: number): number => (b ? gcd(b, a % b) : a)

/**
 * A quantized dense linear as groups, only when every value reproduces exactly; else null (the exporter
 * rounds to nearest). A row whose width the group size does not divide ends with a shorter group, as the
 * reference quantizes it: the groups are written in units of gcd(group, width), each repeating its group's
 * scale and zero.
 */
export function recoverGroups(w: Float32Array, rows: number, cols: number, scheme: DenseQuantScheme): QuantGroups | null {
  const group = Math.min(scheme.groupsize || cols, cols), unit = gcd(group, cols)
  if (unit % 2 !== 0) return null
  const n = rows * cols / unit, codes = new Uint8Array(rows * cols / 2), scales = new Float32Array(n), zeros = new Float32Array(n)
  if (!kernels().recoverGroups(codes, scales, zeros, w, rows, cols, group, unit, scheme.dtype)) return null
  return grid('recovered', codes, scales, zeros, rows, cols, unit)
}
