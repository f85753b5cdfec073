import {kernels} from '../../kernels/index.js'
import type {QuantGroups} from '../own-groups.js'

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

/**
 * Asymmetric round-to-nearest per block, its range stretched to include 0 (as onnxruntime's own
 * 4-bit quantizer does) so that zeros stay exact: a block that pruning emptied is scale 0.
 * w (rows, cols) row-major; a last partial block is padded with zeros.
 */
export function quantizeQ4(w: Float32Array, rows: number, cols: number, block: number): Q4Weight {
  const q = empty(rows, cols, block)
  kernels().q4Blocks(q.codes, q.scales, q.zeros, w, rows, cols, block)
  return q
}

/** MatMulNBits' block for groups of `group`: the largest power of two dividing it, at most 128; 0 when below 16. */
export function blockFor(group: number): number {
  const b = Math.min(128, group & -group)
  return b >= 16 ? b : 0
}

/**
 * A linear's own groups as MatMulNBits blocks, exactly: w = scale·(code − zero), so the codes, scales
 * and zeros carry over (a group of several blocks repeats its scale and zero); groups a row does not
 * list are scale 0. Null when no block size fits or a zero point falls outside 0…15 (4-bit zero points).
 */
export function groupsQ4(groups: QuantGroups, rows: number, cols: number): Q4Weight | null {
  const {group, rowPtr, colIdx, codes, scales, zeros} = groups, block = blockFor(group)
  if (!block) return null
  const q = empty(rows, cols, block)
  return kernels().groupsQ4(q.codes, q.scales, q.zeros, rowPtr, colIdx, codes, scales, zeros, rows, cols, group, block) ? q : null
}
