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

/**
 * A linear's own groups as Q4_1 blocks (32 divides the group): a kept group (scale s, integer zero z,
 * codes q) is w = s·q − z·s, i.e. d = s and m = −z·s in every block of the group; a group a row does
 * not list is d = m = 0. GPTQ's groups are taken only when d and m are exact in f16, so that the file
 * holds the quantized model bit for bit; GQSA's float32 scales are rounded to the nearest f16 (closer
 * to its model than re-quantizing). Null when the groups do not fit.
 */
export function groupsToQ4_1(rows: number, cols: number, g: QuantGroups): Uint8Array | null {
  if (g.group % 32 !== 0) return null
  const out = new Uint8Array(rows * cols / 32 * 20)
  return kernels().groupsQ4_1(out, g.rowPtr, g.colIdx, g.codes, g.scales, g.zeros, rows, cols, g.group, g.origin !== 'gqsa') ? out : null
}
