import {kernels} from '../../kernels/index.js'
import {GGML_TYPES, type GgmlType} from './file.js'

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
    case 'q8_0': return blocks(values, type, q8_0Block)
    case 'q4_1': return blocks(values, type, q4_1Block)
  }
}

type BlockEncoder = (out: DataView, at: number, x: Float32Array) => void

function blocks(values: Float32Array, type: 'q8_0' | 'q4_1', encode: BlockEncoder): Uint8Array {
  const {block, bytes} = GGML_TYPES[type]
  if (values.length % block !== 0) throw new Error(`${type}: ${values.length} values are not whole blocks of ${block}`)
  const out = new Uint8Array(values.length / block * bytes)
  const view = new DataView(out.buffer)
  for (let b = 0; b < values.length / block; b++) encode(view, b * bytes, values.subarray(b * block, (b + 1) * block))
  return out
}

const half = new Uint16Array(1), single = new Float32Array(1)
/** float32 → IEEE half with round-to-nearest-even, as ggml's GGML_FP32_TO_FP16 */
export function f16(v: number): number {
  single[0] = v
  kernels().f32ToF16(half, single)
  return half[0]
}

const q8_0Block: BlockEncoder = (out, at, x) => {
  let amax = 0
  for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[j]))
  const d = Math.fround(amax / 127), id = d ? Math.fround(1 / d) : 0
  out.setUint16(at, f16(d), true)
  for (let j = 0; j < 32; j++) out.setInt8(at + 2 + j, roundf(Math.fround(x[j] * id)))
}

const q4_1Block: BlockEncoder = (out, at, x) => {
  let min = Infinity, max = -Infinity
  for (let j = 0; j < 32; j++) { min = Math.min(min, x[j]); max = Math.max(max, x[j]) }
  const d = Math.fround((max - min) / 15), id = d ? Math.fround(1 / d) : 0
  out.setUint16(at, f16(d), true)
  out.setUint16(at + 2, f16(min), true)
  for (let j = 0; j < 16; j++) {
    const lo = Math.min(15, Math.trunc(Math.fround(Math.fround(x[j] - min) * id) + 0.5))
    const hi = Math.min(15, Math.trunc(Math.fround(Math.fround(x[j + 16] - min) * id) + 0.5))
    out.setUint8(at + 4 + j, lo | (hi << 4))
  }
}

/**
 * A GQSA linear with groups of 32 as Q4_1 blocks, exactly: a kept group (scale s, integer zero z,
 * codes q) is w = s·q − z·s, i.e. d = s and m = −z·s; a pruned group is d = m = 0.
 * (rows, cols) weight; codes low nibble first as docs/formats.md stores them.
 */
export function gqsaToQ4_1(rows: number, cols: number, rowPtr: Int32Array, colIdx: Uint16Array, codes: Uint8Array,
  scales: Float32Array, zeros: Float32Array): Uint8Array {
  const perRow = cols / 32, out = new Uint8Array(rows * perRow * 20), view = new DataView(out.buffer)
  for (let r = 0; r < rows; r++) {
    for (let k = rowPtr[r]; k < rowPtr[r + 1]; k++) {
      const at = (r * perRow + colIdx[k]) * 20
      view.setUint16(at, f16(scales[k]), true)
      view.setUint16(at + 2, f16(-zeros[k] * scales[k]), true)
      for (let j = 0; j < 16; j++) {
        const code = (i: number) => (codes[k * 16 + (i >> 1)] >> ((i & 1) * 4)) & 15
        out[at + 4 + j] = code(j) | (code(j + 16) << 4)
      }
    }
  }
  return out
}

/** C's roundf: halves away from zero (Math.round takes them up). */
const roundf = (v: number) => Math.sign(v) * Math.round(Math.abs(v))
