import {bf16ToF32, f32ToBf16} from './convert.js'

export function gemvF32(y: Float32Array, w: Float32Array, x: Float32Array, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    let s = 0
    for (let c = 0; c < cols; c++) s += w[r * cols + c] * x[c]
    y[r] = s
  }
}

export function gemvBf16(y: Float32Array, w: Uint16Array, x: Float32Array, rows: number, cols: number): void {
  const f = new Float32Array(rows * cols)
  bf16ToF32(f, w)
  gemvF32(y, f, x, rows, cols)
}

export function packNm24(vals: Uint16Array, idx: Uint8Array, w: Float32Array, rows: number, cols: number): number {
  const groups = cols / 4
  const one = new Uint16Array(1)
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < groups; g++) {
      const base = r * cols + 4 * g
      const nz = [0, 1, 2, 3].filter((j) => w[base + j] !== 0)
      if (nz.length > 2) return base
      const kept = nz.length === 2 ? nz : nz.length === 1 ? [nz[0], nz[0] === 0 ? 1 : 0].sort((a, b) => a - b) : [0, 1]
      kept.forEach((j, t) => { f32ToBf16(one, Float32Array.of(w[base + j])); vals[(r * groups + g) * 2 + t] = one[0] })
      idx[r * groups + g] = kept[0] | (kept[1] << 2)
    }
  }
  return -1
}

export function gemvNm24(y: Float32Array, vals: Uint16Array, idx: Uint8Array, x: Float32Array, rows: number, cols: number): void {
  const groups = cols / 4
  const v = new Float32Array(vals.length)
  bf16ToF32(v, vals)
  for (let r = 0; r < rows; r++) {
    let s = 0
    for (let g = 0; g < groups; g++) {
      const i = idx[r * groups + g], k = (r * groups + g) * 2
      s += v[k] * x[4 * g + (i & 3)] + v[k + 1] * x[4 * g + ((i >> 2) & 3)]
    }
    y[r] = s
  }
}
