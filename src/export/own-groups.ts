import {existsSync, readFileSync} from 'node:fs'
import path from 'node:path'

import type {Checkpoint} from '../model/safetensors/checkpoint.js'
import type {FloatDtype} from '../model/safetensors/dtypes.js'
import {decodeFloats, encodeFloats} from '../model/safetensors/writer.js'
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

/** Every group of every row present, codes (rows, cols) one per byte. */
function grid(origin: QuantGroups['origin'], codes: Uint8Array, scales: Float32Array, zeros: Float32Array, rows: number, cols: number, group: number): QuantGroups {
  const per = cols / group, nibbles = new Uint8Array(codes.length / 2)
  for (let i = 0; i < nibbles.length; i++) nibbles[i] = codes[2 * i] | (codes[2 * i + 1] << 4)
  return {
    origin, group, rowPtr: Int32Array.from({length: rows + 1}, (_, r) => r * per),
    colIdx: Uint16Array.from({length: rows * per}, (_, k) => k % per), codes: nibbles, scales, zeros,
  }
}

/** A pack-quantized linear's own codes, scales (in the model's dtype) and zero points; null for 8-bit codes. */
export function packQuantizedGroups(ck: Checkpoint, prefix: string, rows: number, cols: number): QuantGroups | null {
  const q = readPackQuantized(ck, prefix, rows, cols)
  return q.bits > 4 ? null : grid('pack-quantized', q.codes, q.scales, q.zeros, rows, cols, q.groupsize || cols)
}

const roundTo = (v: Float32Array, dtype: FloatDtype) => decodeFloats(encodeFloats(v, dtype), dtype)

/** The dtype's representable values next to s (s itself first). */
function nearScales(s: number, dtype: FloatDtype): number[] {
  const bits = encodeFloats(Float32Array.of(s), dtype), step = (d: number) => {
    const b = dtype === 'F32' ? Uint32Array.of(new Uint32Array(bits.slice().buffer)[0] + d) : Uint16Array.of(new Uint16Array(bits.slice().buffer)[0] + d)
    return decodeFloats(new Uint8Array(b.buffer), dtype)[0]
  }
  return [step(0), step(-1), step(1)]
}

/**
 * One group's grid from its dequantized values: steps k from the smallest gap between distinct values
 * (0 included: GPTQ's range always holds it) and the smallest value, the scale from the largest step, then every value is checked
 * to come back bit for bit as scale·k rounded to the model's dtype. Null when the values are not such a grid.
 */
function recoverGroup(v: Float32Array, dtype: FloatDtype): {scale: number; zero: number; codes: Uint8Array} | null {
  const levels = [...new Set([0, ...v])].sort((a, b) => a - b)
  if (levels.length === 1) return {scale: 0, zero: 0, codes: new Uint8Array(v.length)}
  if (levels.length > 16) return null
  let gap = Infinity, small = Infinity
  for (let i = 1; i < levels.length; i++) gap = Math.min(gap, levels[i] - levels[i - 1])
  for (const x of levels) if (x) small = Math.min(small, Math.abs(x))
  // Rounding to the dtype blurs the gaps between large steps; the smallest value is one or two steps, sharply.
  const step = small / Math.round(small / gap), k = Float32Array.from(v, (x) => Math.round(x / step))
  let top = 0
  for (let i = 0; i < v.length; i++) if (Math.abs(k[i]) > Math.abs(k[top])) top = i
  const kmin = Math.min(0, ...k), kmax = Math.max(0, ...k)
  if (kmax - kmin > 15) return null
  // Any zero in [−kmin, 15 − kmax] is exact; the one with the most trailing zero bits keeps −zero·scale
  // within f16's 11 bits more often (Q4_1's m).
  let zero = -kmin
  if (zero) for (let z = zero; z <= 15 - kmax; z++) if ((z & -z) > (zero & -zero)) zero = z
  for (const scale of nearScales(Math.fround(v[top] / k[top]), dtype)) {
    if (!(scale > 0)) continue
    const back = roundTo(k.map((x) => scale * x), dtype)
    if (back.every((x, i) => x === v[i])) return {scale, zero, codes: Uint8Array.from(k, (x) => x + zero)}
  }
  return null
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
  const n = rows * cols / unit, codes = new Uint8Array(rows * cols), scales = new Float32Array(n), zeros = new Float32Array(n)
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c += group) {
      const from = r * cols + c, to = from + Math.min(group, cols - c)
      const got = recoverGroup(w.subarray(from, to), scheme.dtype)
      if (!got) return null
      scales.fill(got.scale, from / unit, to / unit)
      zeros.fill(got.zero, from / unit, to / unit)
      codes.set(got.codes, from)
    }
  }
  return grid('recovered', codes, scales, zeros, rows, cols, unit)
}
