import {f16ToF32, f32ToF16} from './convert.js'

/** C's nearbyint: halves to even (Math.round sends them up). */
const rint = (x: number) => {
  const r = Math.round(x)
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r
}
const f = Math.fround

function half(x: number): number {
  const h = new Uint16Array(1), out = new Float32Array(1)
  f32ToF16(h, Float32Array.of(x))
  f16ToF32(out, h)
  return out[0]
}

function params(v: ArrayLike<number>, bits: number): {s: number; z: number} {
  let mn = v[0], mx = v[0]
  for (let j = 1; j < v.length; j++) { mn = Math.min(mn, v[j]); mx = Math.max(mx, v[j]) }
  const s = half(Math.min(1e4, Math.max(f(1e-4), f(f(mx - mn) / ((1 << bits) - 1)))))
  return {s, z: Math.min(2048, Math.max(-2048, rint(f(-mn / s))))}
}

const code = (w: number, s: number, z: number, bits: number) => Math.min((1 << bits) - 1, Math.max(0, rint(f(w / s)) + z))

export function gqsaSaliency(score: Float32Array, w: Float32Array, u: Float32Array, rows: number, cols: number, group: number): void {
  for (let r = 0; r < rows; r++) {
    for (let G = 0; G < cols / group; G++) {
      const c0 = G * group, e: number[] = []
      let s = 0
      for (let i = 0; i < group; i++) {
        let acc = w[r * cols + c0 + i]
        for (let k = 0; k < i; k++) acc -= e[k] * u[(c0 + k) * cols + c0 + i]
        e.push(acc / u[(c0 + i) * cols + c0 + i])
        s += e[i] * e[i]
      }
      score[r * (cols / group) + G] = s
    }
  }
}

/** The sweep without lazy batching: every column's error reaches all later columns at once. */
export function gqsaSweep(w: Float32Array, pruned: Uint8Array, u: Float32Array, h: Float32Array, rows: number, cols: number, group: number, bits: number,
  codes: Uint8Array, scales: Float32Array, zeros: Float32Array): void {
  const groups = cols / group
  for (let c = 0; c < cols; c++) if (h[c * cols + c] === 0) for (let r = 0; r < rows; r++) w[r * cols + c] = 0
  for (let r = 0; r < rows; r++) {
    const row = Float64Array.from(w.subarray(r * cols, (r + 1) * cols))
    let s = 0, z = 0
    for (let j = 0; j < cols; j++) {
      const G = Math.floor(j / group), drop = pruned[r * groups + G] !== 0
      if (j % group === 0) {
        ;({s, z} = drop ? {s: 0, z: 0} : params(Float32Array.from(row.subarray(j, j + group)), bits))
        scales[r * groups + G] = s
        zeros[r * groups + G] = z
      }
      const q = drop ? 0 : code(f(row[j]), s, z, bits)
      const dq = drop ? 0 : f(s * (q - z))
      const e = (row[j] - dq) / u[j * cols + j]
      row[j] = dq
      codes[r * cols + j] = q
      for (let k = j + 1; k < cols; k++) row[k] -= e * u[j * cols + k]
    }
    w.set(row, r * cols)
  }
}

export function gqsaFakeQuant(wq: Float32Array, w: Float32Array, scales: Float32Array, zeros: Float32Array, pruned: Uint8Array,
  rows: number, cols: number, group: number, bits: number, codes: Uint8Array | null): void {
  for (let i = 0; i < rows * cols; i++) {
    const k = Math.floor(i / group), s = scales[k], z = rint(zeros[k])
    const q = pruned[k] ? 0 : code(w[i], s, z, bits)
    wq[i] = pruned[k] ? 0 : s * (q - z)
    if (codes) codes[i] = q
  }
}

export function gqsaFakeQuantBackward(dw: Float32Array, ds: Float32Array, dz: Float32Array, dwq: Float32Array, w: Float32Array, scales: Float32Array,
  zeros: Float32Array, pruned: Uint8Array, rows: number, cols: number, group: number, bits: number): void {
  const qmax = (1 << bits) - 1
  ds.fill(0, 0, rows * cols / group)
  dz.fill(0, 0, rows * cols / group)
  for (let i = 0; i < rows * cols; i++) {
    const k = Math.floor(i / group), s = scales[k], z = rint(zeros[k])
    if (pruned[k]) { dw[i] = 0; continue }
    const t = rint(f(w[i] / s)) + z, inside = t >= 0 && t <= qmax, q = Math.min(qmax, Math.max(0, t))
    dw[i] = inside ? dwq[i] : 0
    ds[k] += dwq[i] * (inside ? q - z - f(w[i] / s) : q - z)
    dz[k] += dwq[i] * (inside ? 0 : -s)
  }
}

export function gqsaDequant(w: Float32Array, codes: Uint8Array, scales: Float32Array, zeros: Float32Array, pruned: Uint8Array, rows: number, cols: number, group: number): void {
  for (let i = 0; i < rows * cols; i++) {
    const k = Math.floor(i / group)
    w[i] = pruned[k] ? 0 : scales[k] * (codes[i] - zeros[k])
  }
}

export function gqsaScaleGrad(ds: Float32Array, dw: Float32Array, codes: Uint8Array, zeros: Float32Array, pruned: Uint8Array, rows: number, cols: number, group: number): void {
  ds.fill(0, 0, rows * cols / group)
  for (let i = 0; i < rows * cols; i++) {
    const k = Math.floor(i / group)
    if (!pruned[k]) ds[k] += dw[i] * (codes[i] - zeros[k])
  }
}

export function mseGrad(d: Float32Array, out: Float32Array, target: Float32Array): number {
  let s = 0
  for (let i = 0; i < out.length; i++) {
    const diff = Math.fround(out[i] - target[i])
    s += diff * diff
    d[i] = 2 * diff / out.length
  }
  return s / out.length
}

/** The bytes of the pair layout (Backend.matmulGqsa) for nnzb groups: one `group`-byte block per two groups. */
export const gqsaPairBytes = (nnzb: number, group: number) => Math.ceil(nnzb / 2) * group

/** The GQSA kernel form's offset (Backend.matmulGqsa): zeros are held as 2^23 + zero (·16 in odd groups). */
export const GQSA_OFFSET = 2 ** 23

/** Code j of group k in the pair layout. */
export const gqsaCode = (pairs: Uint8Array, k: number, group: number, j: number) => (pairs[(k >> 1) * group + j] >> ((k & 1) * 4)) & 15

/** Code j of group k as the kernel holds it: as it sits in its byte, c in an even group, 16·c in an odd one. */
const heldCode = (pairs: Uint8Array, k: number, group: number, j: number) => pairs[(k >> 1) * group + j] & (k & 1 ? 0xf0 : 0x0f)

/** Per-group scales and zeros as the kernel holds them: s and 2^23 + z in even groups, s/16 and 2^23 + 16z in odd ones. */
export function gqsaHeldParams(scales: Float32Array, zeros: Float32Array): {scales: Float32Array; offsetZeros: Float32Array} {
  return {
    scales: scales.map((s, k) => (k & 1 ? s / 16 : s)),
    offsetZeros: zeros.map((z, k) => GQSA_OFFSET + (k & 1 ? 16 * z : z)),
  }
}

/** The inverse of gqsaHeldParams. */
export function gqsaFileParams(scales: Float32Array, offsetZeros: Float32Array): {scales: Float32Array; zeros: Float32Array} {
  return {
    scales: scales.map((s, k) => (k & 1 ? s * 16 : s)),
    zeros: offsetZeros.map((z, k) => (k & 1 ? (z - GQSA_OFFSET) / 16 : z - GQSA_OFFSET)),
  }
}

export function gqsaUnpack(out: Float32Array, rowPtr: Int32Array, col: Uint16Array, pairs: Uint8Array, scales: Float32Array, offsetZeros: Float32Array,
  rows: number, cols: number, group: number): void {
  out.fill(0, 0, rows * cols)
  for (let r = 0; r < rows; r++) {
    for (let k = rowPtr[r]; k < rowPtr[r + 1]; k++) {
      for (let j = 0; j < group; j++) out[r * cols + col[k] * group + j] = scales[k] * (heldCode(pairs, k, group, j) - (offsetZeros[k] - GQSA_OFFSET))
    }
  }
}

export function gqsaPairCodes(pairs: Uint8Array, codes: Uint8Array, nnzb: number, group: number): void {
  pairs.fill(0, 0, gqsaPairBytes(nnzb, group))
  for (let k = 0; k < nnzb; k++) {
    for (let j = 0; j < group; j++) pairs[(k >> 1) * group + j] |= ((codes[k * group / 2 + (j >> 1)] >> ((j & 1) * 4)) & 15) << ((k & 1) * 4)
  }
}

export function gqsaGroupCodes(codes: Uint8Array, pairs: Uint8Array, nnzb: number, group: number): void {
  for (let k = 0; k < nnzb; k++) {
    for (let j = 0; j < group; j += 2) codes[k * group / 2 + j / 2] = gqsaCode(pairs, k, group, j) | (gqsaCode(pairs, k, group, j + 1) << 4)
  }
}
