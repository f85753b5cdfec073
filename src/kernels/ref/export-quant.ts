import {f32ToF16} from './convert.js'

// The exporters' encoders, as plain loops: the definitions the native ones (export_quant.cc) equal byte for byte.

const f = Math.fround
const half = (v: number) => { const h = new Uint16Array(1); f32ToF16(h, Float32Array.of(v)); return h[0] }
/** C's roundf: halves away from zero. */
const roundf = (v: number) => Math.sign(v) * Math.round(Math.abs(v))
const setU16 = (out: Uint8Array, at: number, v: number) => { out[at] = v & 255; out[at + 1] = v >> 8 }

/** ggml's quantize_row_q8_0_ref: blocks of 32 as an f16 scale amax/127 and 32 int8, in float32 arithmetic. */
export function ggmlQ8_0(out: Uint8Array, x: Float32Array): void {
  for (let b = 0; b < x.length / 32; b++) {
    let amax = 0
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[b * 32 + j]))
    const d = f(amax / 127), id = d ? f(1 / d) : 0
    setU16(out, b * 34, half(d))
    for (let j = 0; j < 32; j++) out[b * 34 + 2 + j] = roundf(f(x[b * 32 + j] * id)) & 255
  }
}

/** ggml's quantize_row_q4_1_ref: f16 d = (max − min)/15 and m = min, element j low and j + 16 high in byte j. */
export function ggmlQ4_1(out: Uint8Array, x: Float32Array): void {
  for (let b = 0; b < x.length / 32; b++) {
    let min = Infinity, max = -Infinity
    for (let j = 0; j < 32; j++) { min = Math.min(min, x[b * 32 + j]); max = Math.max(max, x[b * 32 + j]) }
    const d = f(f(max - min) / 15), id = d ? f(1 / d) : 0, at = b * 20
    setU16(out, at, half(d))
    setU16(out, at + 2, half(min))
    // (int8_t)(x0 + 0.5f): the sum is rounded to float before the truncation, as ggml computes it
    const code = (v: number) => Math.min(15, Math.trunc(f(f(f(v - min) * id) + 0.5)))
    for (let j = 0; j < 16; j++) out[at + 4 + j] = code(x[b * 32 + j]) | (code(x[b * 32 + j + 16]) << 4)
  }
}

/**
 * MatMulNBits blocks by round-to-nearest (in double), range stretched to include 0 so that zeros stay
 * exact; a block that pruning emptied is scale 0. codes, scales, zeros zeroed on entry.
 */
export function q4Blocks(codes: Uint8Array, scales: Float32Array, zeros: Uint8Array, w: Float32Array, rows: number, cols: number, block: number): void {
  const nb = Math.ceil(cols / block), zb = Math.ceil(nb / 2)
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < nb; b++) {
      const from = r * cols + b * block, n = Math.min(block, cols - b * block)
      let min = 0, max = 0
      for (let c = 0; c < n; c++) { min = Math.min(min, w[from + c]); max = Math.max(max, w[from + c]) }
      const scale = (max - min) / 15
      const zero = scale ? Math.min(15, Math.max(0, Math.round(-min / scale))) : 0
      scales[r * nb + b] = scale
      zeros[r * zb + (b >> 1)] |= zero << ((b & 1) * 4)
      if (!scale) continue
      for (let c = 0; c < n; c++) codes[(r * nb + b) * block / 2 + (c >> 1)] |= Math.min(15, Math.max(0, Math.round(w[from + c] / scale) + zero)) << ((c & 1) * 4)
    }
  }
}

/** values (n, len) of `bits`-bit unsigned integers, packed along each row into int32 words, the first in the lowest bits. */
export function packInt32(out: Int32Array, values: Uint8Array, n: number, len: number, bits: number): void {
  const per = 32 / bits, words = Math.ceil(len / per)
  out.fill(0, 0, n * words)
  for (let r = 0; r < n; r++) for (let j = 0; j < len; j++) out[r * words + Math.floor(j / per)] |= values[r * len + j] << ((j % per) * bits)
}

export function unpackInt32(out: Uint8Array, words: Int32Array, n: number, len: number, bits: number): void {
  const per = 32 / bits, w = Math.ceil(len / per), mask = (1 << bits) - 1
  for (let r = 0; r < n; r++) for (let j = 0; j < len; j++) out[r * len + j] = (words[r * w + Math.floor(j / per)] >>> ((j % per) * bits)) & mask
}

/** out (cols, rows) = w (rows, cols)ᵀ */
export function transposeF32(out: Float32Array, w: Float32Array, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = w[r * cols + c]
}
