import type {FloatDtype} from '../../model/safetensors/dtypes.js'
import {bf16ToF32, f16ToF32, f32ToBf16, f32ToF16} from './convert.js'

// The exporters' own-group kernels, as plain loops: the definitions the native ones (own_groups.cc) equal byte for byte.

const HALVES = {BF16: {to: f32ToBf16, from: bf16ToF32}, F16: {to: f32ToF16, from: f16ToF32}}

/** v's bit pattern in the dtype (nearest even), and back. */
function toBits(v: number, dtype: FloatDtype): number {
  if (dtype === 'F32') return new Uint32Array(Float32Array.of(v).buffer)[0]
  const h = new Uint16Array(1)
  HALVES[dtype].to(h, Float32Array.of(v))
  return h[0]
}

function fromBits(bits: number, dtype: FloatDtype): number {
  if (dtype === 'F32') return new Float32Array(Uint32Array.of(bits).buffer)[0]
  const out = new Float32Array(1)
  HALVES[dtype].from(out, Uint16Array.of(bits))
  return out[0]
}

const roundTo = (v: number, dtype: FloatDtype) => fromBits(toBits(v, dtype), dtype)

/** The dtype's representable values next to s (s itself first); the bit patterns wrap as the dtype's width does. */
function nearScales(s: number, dtype: FloatDtype): number[] {
  const bits = toBits(s, dtype), mask = dtype === 'F32' ? 0xffffffff : 0xffff
  return [0, -1, 1].map((d) => fromBits(((bits + d) & mask) >>> 0, dtype))
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
    if (k.every((x, i) => roundTo(Math.fround(scale * x), dtype) === v[i])) return {scale, zero, codes: Uint8Array.from(k, (x) => x + zero)}
  }
  return null
}

/**
 * w (rows, cols), the dequantized output of a quantizer with groups of `group` along each row (a shorter
 * last one when group does not divide cols), as its grid: codes nibble-packed (element 2i low, 2i + 1 high),
 * scales and zeros per `unit` columns (unit divides group and cols, and is even). False, with the outputs
 * partly written, as soon as a group's values do not come back exactly.
 */
export function recoverGroups(codes: Uint8Array, scales: Float32Array, zeros: Float32Array, w: Float32Array, rows: number, cols: number, group: number,
  unit: number, dtype: FloatDtype): boolean {
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c += group) {
      const from = r * cols + c, to = from + Math.min(group, cols - c)
      const got = recoverGroup(w.subarray(from, to), dtype)
      if (!got) return false
      scales.fill(got.scale, from / unit, to / unit)
      zeros.fill(got.zero, from / unit, to / unit)
      for (let i = 0; i < to - from; i += 2) codes[(from + i) / 2] = got.codes[i] | (got.codes[i + 1] << 4)
    }
  }
  return true
}

/** JavaScript's number → int32 of a zero point read as an integer (NaN is 0). */
const zeroCode = (z: number) => z | 0

/**
 * Groups (rowPtr, colIdx: each row's kept groups; gcodes nibble-packed) as MatMulNBits blocks of `block`
 * (which divides group): codes, scales and zeros zeroed on entry; a group of several blocks repeats its scale
 * and zero. False when a zero point falls outside 0…15.
 */
export function groupsQ4(codes: Uint8Array, scales: Float32Array, zeros: Uint8Array, rowPtr: Int32Array, colIdx: Uint16Array, gcodes: Uint8Array,
  gscales: Float32Array, gzeros: Float32Array, rows: number, cols: number, group: number, block: number): boolean {
  for (const z of gzeros) if (z < 0 || z > 15) return false
  const nb = Math.ceil(cols / block), zb = Math.ceil(nb / 2), per = group / block
  for (let r = 0; r < rows; r++) {
    for (let k = rowPtr[r]; k < rowPtr[r + 1]; k++) {
      for (let j = 0; j < per; j++) {
        const b = colIdx[k] * per + j
        scales[r * nb + b] = gscales[k]
        zeros[r * zb + (b >> 1)] |= zeroCode(gzeros[k]) << ((b & 1) * 4)
        codes.set(gcodes.subarray((k * group + j * block) / 2, (k * group + (j + 1) * block) / 2), (r * nb + b) * block / 2)
      }
    }
  }
  return true
}

const half = (v: number) => toBits(v, 'F16')
const f16Exact = (v: number) => fromBits(half(v), 'F16') === v

/**
 * Groups as ggml Q4_1 blocks (32 divides group): d = scale and m = −zero·scale in f16 in every block of a kept
 * group, element j low and j + 16 high in byte j; out zeroed on entry (d = m = 0 where a row lists no group).
 * False when a zero point falls outside 0…15, or, when `exact`, a d or m is not an f16 value.
 */
export function groupsQ4_1(out: Uint8Array, rowPtr: Int32Array, colIdx: Uint16Array, codes: Uint8Array, scales: Float32Array, zeros: Float32Array,
  rows: number, cols: number, group: number, exact: boolean): boolean {
  for (let k = 0; k < scales.length; k++) {
    if (zeros[k] < 0 || zeros[k] > 15) return false
    if (exact && !(f16Exact(scales[k]) && f16Exact(-zeros[k] * scales[k]))) return false
  }
  const per = group / 32, perRow = cols / 32, view = new DataView(out.buffer, out.byteOffset, out.byteLength)
  for (let r = 0; r < rows; r++) {
    for (let k = rowPtr[r]; k < rowPtr[r + 1]; k++) {
      for (let b = 0; b < per; b++) {
        const at = (r * perRow + colIdx[k] * per + b) * 20, base = k * group + b * 32
        view.setUint16(at, half(scales[k]), true)
        view.setUint16(at + 2, half(-zeros[k] * scales[k]), true)
        const code = (i: number) => (codes[(base + i) >> 1] >> ((i & 1) * 4)) & 15
        for (let j = 0; j < 16; j++) out[at + 4 + j] = code(j) | (code(j + 16) << 4)
      }
    }
  }
  return true
}
