import {gqsaFileParams, gqsaHeldParams, gqsaPairBytes, type Backend, type Values} from '../kernels/index.js'
import {invalidFormat} from '../util/errors.js'

/**
 * A linear weight in one of the engine's formats, as decoding multiplies by it (docs/formats.md):
 * dense values, N:M (kept values + 4-bit positions), bitmask (values, row bitmasks, row offsets),
 * or GQSA block-sparse rows of 4-bit groups.
 */
export type PackedWeight = DensePacked | NmPacked | BitmaskPacked | GqsaPacked

export interface DensePacked { format: 'dense'; values: Values }
/** N:M as docs/formats.md stores it, except that 2:4 positions are held in the block order the kernel reads (Backend.nm24Blocks). */
export interface NmPacked { format: 'nm'; n: number; m: number; values: Values; positions: Uint8Array }

const is24 = (p: {n: number; m: number}) => p.n === 2 && p.m === 4

/** An N:M weight's positions in the file's order. */
export function filePositions(k: Backend, p: NmPacked, rows: number, cols: number): Uint8Array {
  if (!is24(p)) return p.positions
  const pos = p.positions.slice()
  k.nm24Blocks(pos, rows, cols, false)
  return pos
}

/** N:M positions read from a file, in the order the kernel reads them (taken over: converted in place). */
export function kernelPositions(k: Backend, positions: Uint8Array, nm: {n: number; m: number}, rows: number, cols: number): Uint8Array {
  if (is24(nm)) k.nm24Blocks(positions, rows, cols, true)
  return positions
}
export interface BitmaskPacked { format: 'bitmask'; values: Values; mask: Uint8Array; offsets: BigInt64Array }
/**
 * GQSA as the kernel reads it, which differs from the file (docs/formats.md) in two ways that save the
 * kernel vector instructions, its bottleneck: the codes of groups 2i and 2i+1 share `group` bytes (byte j:
 * code j of the first in the low nibble, of the second in the high one), so one widening serves two groups;
 * and zeros are held as 2^23 + zero, so a code written into the mantissa of 2^23 minus it is code − zero
 * exactly, with no integer-to-float conversion. tensors.ts converts on read and write.
 */
export interface GqsaPacked {
  format: 'gqsa'
  bits: 4
  group: number
  rowPtr: Int32Array
  col: Uint16Array
  pairs: Uint8Array
  scales: Float32Array
  offsetZeros: Float32Array
}

export type ValueType = 'f32' | 'bf16'

function toValues(k: Backend, v: Float32Array, type: ValueType): Values {
  if (type === 'f32') return v
  const b = new Uint16Array(v.length)
  k.f32ToBf16(b, v)
  return b
}

function toFloats(k: Backend, v: Values): Float32Array {
  if (v instanceof Float32Array) return v
  const f = new Float32Array(v.length)
  k.bf16ToF32(f, v)
  return f
}

/** Packs a dense float32 weight; N:M refuses a weight with a group of more than N non-zeros, naming it. */
export function packDense(k: Backend, w: Float32Array, rows: number, cols: number, format: 'dense' | 'nm' | 'bitmask', type: ValueType,
  nm: {n: number; m: number} = {n: 2, m: 4}, name = 'weight'): PackedWeight {
  if (format === 'dense') return {format, values: toValues(k, w, type)}
  if (format === 'nm') {
    const {n, m} = nm
    if (cols % m !== 0) throw invalidFormat(`${name} has ${cols} columns, not a multiple of ${m}: it cannot be stored as ${n}:${m}`)
    const vals = new Float32Array(rows * cols / m * n), positions = new Uint8Array(rows * Math.ceil(cols / m * n / 2))
    const bad = k.packNm(vals, positions, w, rows, cols, n, m)
    if (bad >= 0) {
      throw invalidFormat(`${name} is not ${n}:${m} (row ${Math.floor(bad / cols)}, columns ${bad % cols}-${bad % cols + m - 1})`,
        `store it as bitmask, or prune it with --pattern ${n}:${m}`)
    }
    return {format, n, m, values: toValues(k, vals, type), positions: kernelPositions(k, positions, nm, rows, cols)}
  }
  const vals = new Float32Array(rows * cols), mask = new Uint8Array(rows * Math.ceil(cols / 8)), offsets = new BigInt64Array(rows)
  const nnz = k.packBitmask(vals, mask, offsets, w, rows, cols)
  return {format, values: toValues(k, vals.slice(0, nnz), type), mask, offsets}
}

/** The dense float32 (rows, cols) weight a packed one stands for. */
export function unpackWeight(k: Backend, p: PackedWeight, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols)
  switch (p.format) {
    case 'dense': return toFloats(k, p.values).slice(0, rows * cols)
    case 'nm': k.unpackNm(out, toFloats(k, p.values), filePositions(k, p, rows, cols), rows, cols, p.n, p.m); return out
    case 'bitmask': {
      const used = k.unpackBitmask(out, toFloats(k, p.values), p.mask, rows, cols)
      if (used !== p.values.length) throw invalidFormat(`the bitmask selects ${used < 0 ? 'more' : used} values but ${p.values.length} are stored`)
      return out
    }
    case 'gqsa': k.gqsaUnpack(out, p.rowPtr, p.col, p.pairs, p.scales, p.offsetZeros, rows, cols, p.group); return out
  }
}

/** y (tokens, rows) = x (tokens, cols) · Wᵀ with the format's own kernel. */
export function multiply(k: Backend, y: Float32Array, x: Float32Array, tokens: number, rows: number, cols: number, p: PackedWeight): void {
  switch (p.format) {
    case 'dense': return k.matmulDense(y, p.values, x, tokens, rows, cols)
    case 'nm': return k.matmulNm(y, p.values, p.positions, x, tokens, rows, cols, p.n, p.m)
    case 'bitmask': return k.matmulBitmask(y, p.values, p.mask, p.offsets, x, tokens, rows, cols)
    case 'gqsa': return k.matmulGqsa(y, p.rowPtr, p.col, p.pairs, p.scales, p.offsetZeros, x, tokens, rows, cols, p.group)
  }
}

function concatArrays<T extends Float32Array | Uint16Array | Uint8Array | Int32Array>(parts: T[]): T {
  const out = new (parts[0].constructor as new (n: number) => T)(parts.reduce((a, p) => a + p.length, 0))
  let at = 0
  for (const p of parts) { out.set(p as never, at); at += p.length }
  return out
}

/**
 * Weights of the same format and input width stacked along their output rows, as one weight: decoding
 * multiplies q, k and v (and gate and up) in one call, which streams better than three short ones.
 */
export function stackRows(k: Backend, parts: {p: PackedWeight; rows: number}[]): PackedWeight {
  const ps = parts.map((x) => x.p)
  const first = ps[0]
  if (ps.some((p) => p.format !== first.format)) throw new Error('stackRows: weights in different formats')
  switch (first.format) {
    case 'dense': return {format: 'dense', values: concatArrays(ps.map((p) => (p as DensePacked).values))}
    case 'nm': {
      const nm = ps as NmPacked[]
      return {...first, values: concatArrays(nm.map((p) => p.values)), positions: concatArrays(nm.map((p) => p.positions))}
    }
    case 'bitmask': {
      const bm = ps as BitmaskPacked[]
      const offsets = new BigInt64Array(parts.reduce((a, x) => a + x.rows, 0))
      let row = 0, base = 0n
      for (const p of bm) {
        for (let r = 0; r < p.offsets.length; r++) offsets[row++] = p.offsets[r] + base
        base += BigInt(p.values.length)
      }
      return {format: 'bitmask', values: concatArrays(bm.map((p) => p.values)), mask: concatArrays(bm.map((p) => p.mask)), offsets}
    }
    case 'gqsa': {
      // Pairs of groups would straddle two weights, so codes, scales and zeros go through the file's layout.
      const gq = ps as GqsaPacked[], g = (first as GqsaPacked).group
      const rows = parts.reduce((a, x) => a + x.rows, 0), rowPtr = new Int32Array(rows + 1)
      let row = 0, base = 0
      const codes: Uint8Array[] = [], scales: Float32Array[] = [], zeros: Float32Array[] = []
      gq.forEach((p, i) => {
        const nnzb = p.rowPtr[parts[i].rows]
        for (let r = 1; r <= parts[i].rows; r++) rowPtr[++row] = p.rowPtr[r] + base
        base += nnzb
        const c = new Uint8Array(nnzb * g / 2)
        k.gqsaGroupCodes(c, p.pairs, nnzb, g)
        codes.push(c)
        const f = gqsaFileParams(p.scales.subarray(0, nnzb), p.offsetZeros.subarray(0, nnzb))
        scales.push(f.scales)
        zeros.push(f.zeros)
      })
      const pairs = new Uint8Array(gqsaPairBytes(base, g))
      k.gqsaPairCodes(pairs, concatArrays(codes), base, g)
      return {format: 'gqsa', bits: 4, group: g, rowPtr, col: concatArrays(gq.map((p, i) => p.col.subarray(0, p.rowPtr[parts[i].rows]))), pairs,
        ...gqsaHeldParams(concatArrays(scales), concatArrays(zeros))}
    }
  }
}

/** Bytes the weight occupies in the engine's memory. */
export function packedBytes(p: PackedWeight): number {
  switch (p.format) {
    case 'dense': return p.values.byteLength
    case 'nm': return p.values.byteLength + p.positions.byteLength
    case 'bitmask': return p.values.byteLength + p.mask.byteLength + p.offsets.byteLength
    case 'gqsa': return p.rowPtr.byteLength + p.col.byteLength + p.pairs.byteLength + p.scales.byteLength + p.offsetZeros.byteLength
  }
}
