import {kernels} from '../../kernels/index.js'
import {GGML_TYPES, type GgmlType} from './file.js'
import type {QuantGroups} from '../own-groups.js'

/**
 * Rows of float32 values as ggml blocks, following ggml's reference quantizers
 * (quantize_row_q8_0_ref, quantize_row_q4_1_ref): the same rounding, so a file equals what
 * llama.cpp's own tools would write from these values.
 */
export function encodeGgml(values: Float32Array, type: GgmlType): Uint8Array {
  switch (type) {
    case 'f32': return new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength))
    case 'f16': case 'bf16': {
      const out = new Uint16Array(values.length)
      if (type === 'f16') kernels().f32ToF16(out, values)
      else kernels().f32ToBf16(out, values)
      return new Uint8Array(out.buffer)
    }
    case 'q8_0': case 'q4_1': {
      const {block, bytes} = GGML_TYPES[type]
      if (values.length % block !== 0) throw new Error(`${type}: ${values.length} values are not whole blocks of ${block}`)
      const out = new Uint8Array(values.length / block * bytes)
      if (type === 'q8_0') kernels().ggmlQ8_0(out, values)
      else kernels().ggmlQ4_1(out, values)
      return out
    }
  }
}

const half = new Uint16Array(1), single = new Float32Array(1)
/** float32 → IEEE half with round-to-nearest-even, as ggml's GGML_FP32_TO_FP16 */
export function f16(v: number): number {
  single[0] = v
  kernels().f32ToF16(half, single)
  return half[0]
}

/** Whether v (a real number) is an f16 value. */
const f16Exact = (v: number) => {
  const out = new Float32Array(1)
  kernels().f16ToF32(out, Uint16Array.of(f16(v)))
  return out[0] === v
}

/**
 * A linear's own groups as Q4_1 blocks (32 divides the group): a kept group (scale s, integer zero z,
 * codes q) is w = s·q − z·s, i.e. d = s and m = −z·s in every block of the group; a group a row does
 * not list is d = m = 0. GPTQ's groups are taken only when d and m are exact in f16, so that the file
 * holds the quantized model bit for bit; GQSA's float32 scales are rounded to the nearest f16 (closer
 * to its model than re-quantizing). Null when the groups do not fit.
 */
export function groupsToQ4_1(rows: number, cols: number, g: QuantGroups): Uint8Array | null {
  const {group, rowPtr, colIdx, codes, scales, zeros} = g, per = group / 32
  if (group % 32 !== 0) return null
  for (let k = 0; k < scales.length; k++) {
    if (zeros[k] < 0 || zeros[k] > 15) return null
    if (g.origin !== 'gqsa' && !(f16Exact(scales[k]) && f16Exact(-zeros[k] * scales[k]))) return null
  }
  const perRow = cols / 32, out = new Uint8Array(rows * perRow * 20), view = new DataView(out.buffer)
  for (let r = 0; r < rows; r++) {
    for (let k = rowPtr[r]; k < rowPtr[r + 1]; k++) {
      for (let b = 0; b < per; b++) {
        const at = (r * perRow + colIdx[k] * per + b) * 20, base = k * group + b * 32
        view.setUint16(at, f16(scales[k]), true)
        view.setUint16(at + 2, f16(-zeros[k] * scales[k]), true)
        const code = (i: number) => (codes[(base + i) >> 1] >> ((i & 1) * 4)) & 15
        for (let j = 0; j < 16; j++) out[at + 4 + j] = code(j) | (code(j + 16) << 4)
      }
    }
  }
  return out
}
