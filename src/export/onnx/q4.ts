import type {GqsaGroups} from '../source.js'

/** A linear as com.microsoft.MatMulNBits takes it: (N = rows, K = cols), blocks of `block` along K. */
export interface Q4Weight {
  block: number
  /** uint8 (N, ⌈K/block⌉, block/2): element 2j in the low nibble of byte j, 2j+1 in the high one */
  codes: Uint8Array
  /** (N, ⌈K/block⌉) */
  scales: Float32Array
  /** uint8 (N, ⌈⌈K/block⌉/2⌉): block 2i's zero point in the low nibble, 2i+1's in the high one */
  zeros: Uint8Array
}

const blocksOf = (cols: number, block: number) => Math.ceil(cols / block)

function empty(rows: number, cols: number, block: number): Q4Weight {
  const nb = blocksOf(cols, block)
  return {block, codes: new Uint8Array(rows * nb * block / 2), scales: new Float32Array(rows * nb), zeros: new Uint8Array(rows * Math.ceil(nb / 2))}
}

function setZero(q: Q4Weight, nb: number, r: number, b: number, z: number): void {
  q.zeros[r * Math.ceil(nb / 2) + (b >> 1)] |= z << ((b & 1) * 4)
}

function setCode(q: Q4Weight, nb: number, r: number, b: number, j: number, c: number): void {
  q.codes[(r * nb + b) * q.block / 2 + (j >> 1)] |= c << ((j & 1) * 4)
}

/**
 * Asymmetric round-to-nearest per block, its range stretched to include 0 (as onnxruntime's own
 * 4-bit quantizer does) so that zeros stay exact: a block that pruning emptied is scale 0.
 * w (rows, cols) row-major; a last partial block is padded with zeros.
 */
export function quantizeQ4(w: Float32Array, rows: number, cols: number, block: number): Q4Weight {
  const q = empty(rows, cols, block), nb = blocksOf(cols, block)
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < nb; b++) {
      const from = b * block, to = Math.min(cols, from + block)
      let min = 0, max = 0
      for (let c = from; c < to; c++) { min = Math.min(min, w[r * cols + c]); max = Math.max(max, w[r * cols + c]) }
      const scale = (max - min) / 15
      const zero = scale ? Math.min(15, Math.max(0, Math.round(-min / scale))) : 0
      q.scales[r * nb + b] = scale
      setZero(q, nb, r, b, zero)
      if (!scale) continue
      for (let c = from; c < to; c++) setCode(q, nb, r, b, c - from, Math.min(15, Math.max(0, Math.round(w[r * cols + c] / scale) + zero)))
    }
  }
  return q
}

/**
 * GQSA groups as MatMulNBits blocks, exactly (block = group size): w = scale·(code − zero), so the
 * stored codes, scales and zeros carry over; pruned groups are scale 0. Null when a zero point falls
 * outside 0…15 (MatMulNBits' uint8 zero points are 4-bit).
 */
export function gqsaQ4(groups: GqsaGroups, rows: number, cols: number): Q4Weight | null {
  const {group, rowPtr, colIdx, codes, scales, zeros} = groups
  for (const z of zeros) if (z < 0 || z > 15) return null
  const q = empty(rows, cols, group), nb = blocksOf(cols, group)
  for (let r = 0; r < rows; r++) {
    for (let k = rowPtr[r]; k < rowPtr[r + 1]; k++) {
      const b = colIdx[k]
      q.scales[r * nb + b] = scales[k]
      setZero(q, nb, r, b, zeros[k])
      q.codes.set(codes.subarray(k * group / 2, (k + 1) * group / 2), (r * nb + b) * group / 2)
    }
  }
  return q
}
