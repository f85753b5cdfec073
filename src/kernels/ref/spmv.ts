import type {Values} from '../backend.js'
import {bf16ToF32} from './convert.js'
import {gqsaUnpack} from './gqsa.js'

const floats = (v: Values): Float32Array => {
  if (v instanceof Float32Array) return v
  const f = new Float32Array(v.length)
  bf16ToF32(f, v)
  return f
}

/** y (tokens, rows) = x (tokens, cols) · Wᵀ with W given densely. */
function multiply(y: Float32Array, w: Float32Array, x: Float32Array, tokens: number, rows: number, cols: number): void {
  for (let t = 0; t < tokens; t++) {
    for (let r = 0; r < rows; r++) {
      let s = 0
      for (let c = 0; c < cols; c++) s += w[r * cols + c] * x[t * cols + c]
      y[t * rows + r] = s
    }
  }
}

export function matmulDense(y: Float32Array, w: Values, x: Float32Array, tokens: number, rows: number, cols: number): void {
  multiply(y, floats(w), x, tokens, rows, cols)
}

const posStride = (cols: number, n: number, m: number) => Math.ceil(cols / m * n / 2)
const nibble = (pos: Uint8Array, i: number) => (pos[i >> 1] >> ((i & 1) * 4)) & 15

export function packNm(vals: Float32Array, pos: Uint8Array, w: Float32Array, rows: number, cols: number, n: number, m: number): number {
  const perRow = cols / m * n, stride = posStride(cols, n, m)
  pos.fill(0, 0, rows * stride)
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < cols / m; g++) {
      const base = r * cols + g * m
      const nz = Array.from({length: m}, (_, j) => j).filter((j) => w[base + j] !== 0)
      if (nz.length > n) return base
      const kept = [...nz, ...Array.from({length: m}, (_, j) => j).filter((j) => !nz.includes(j)).slice(0, n - nz.length)].sort((a, b) => a - b)
      kept.forEach((j, i) => {
        const slot = g * n + i
        vals[r * perRow + slot] = w[base + j] === 0 ? 0 : w[base + j]
        pos[r * stride + (slot >> 1)] |= j << ((slot & 1) * 4)
      })
    }
  }
  return -1
}

export function unpackNm(out: Float32Array, vals: Float32Array, pos: Uint8Array, rows: number, cols: number, n: number, m: number): void {
  const perRow = cols / m * n, stride = posStride(cols, n, m)
  out.fill(0, 0, rows * cols)
  for (let r = 0; r < rows; r++) {
    for (let s = 0; s < perRow; s++) out[r * cols + Math.floor(s / n) * m + nibble(pos.subarray(r * stride), s)] += vals[r * perRow + s]
  }
}

export function nm24Blocks(pos: Uint8Array, rows: number, cols: number, toBlocks: boolean): void {
  const groups = cols / 4
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b + 16 <= groups; b += 16) {
      const p = pos.subarray(r * groups + b, r * groups + b + 16), slot = new Uint8Array(32)
      // slot s: kept value s of the block; file order pairs 2g, 2g+1 in byte g, block order i, 16 + i in byte i
      for (let j = 0; j < 16; j++) {
        const [a, c] = toBlocks ? [2 * j, 2 * j + 1] : [j, 16 + j]
        slot[a] = p[j] & 15
        slot[c] = p[j] >> 4
      }
      for (let j = 0; j < 16; j++) p[j] = toBlocks ? slot[j] | (slot[16 + j] << 4) : slot[2 * j] | (slot[2 * j + 1] << 4)
    }
  }
}

export function matmulNm(y: Float32Array, vals: Values, pos: Uint8Array, x: Float32Array, tokens: number, rows: number, cols: number, n: number, m: number): void {
  const w = new Float32Array(rows * cols), filePos = pos.slice()
  if (n === 2 && m === 4) nm24Blocks(filePos, rows, cols, false)
  unpackNm(w, floats(vals), filePos, rows, cols, n, m)
  multiply(y, w, x, tokens, rows, cols)
}

export function matmulBitmask(y: Float32Array, vals: Values, mask: Uint8Array, offsets: BigInt64Array, x: Float32Array, tokens: number, rows: number, cols: number): void {
  const v = floats(vals), w = new Float32Array(rows * cols), bpr = Math.ceil(cols / 8)
  for (let r = 0; r < rows; r++) {
    let k = Number(offsets[r])
    for (let c = 0; c < cols; c++) if (mask[r * bpr + (c >> 3)] & (1 << (c & 7))) w[r * cols + c] = v[k++]
  }
  multiply(y, w, x, tokens, rows, cols)
}

export function matmulGqsa(y: Float32Array, rowPtr: Int32Array, col: Uint16Array, pairs: Uint8Array, scales: Float32Array, offsetZeros: Float32Array,
  x: Float32Array, tokens: number, rows: number, cols: number, group: number): void {
  const w = new Float32Array(rows * cols)
  gqsaUnpack(w, rowPtr, col, pairs, scales, offsetZeros, rows, cols, group)
  multiply(y, w, x, tokens, rows, cols)
}
