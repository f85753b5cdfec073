import type {Backend} from '../kernels/index.js'
import type {SparsityTarget} from './types.js'

/**
 * Wanda's selection (§3.2): unstructured prunes floor(C·s) per output row, N:M the n smallest
 * of every aligned group of m inputs. Ties go to the lower column, as a stable sort does.
 */
export function selectPerRow(k: Backend, score: Float32Array, rows: number, cols: number, target: SparsityTarget): Uint8Array {
  const mask = new Uint8Array(rows * cols)
  if (target.kind === 'nm') k.selectNM(mask, score, rows, cols, target.n, target.m)
  else k.selectRowK(mask, score, rows, cols, Math.floor(cols * target.sparsity))
  return mask
}

/** sqrt of Wanda's scaler_row: the per-input-channel activation norm over √N. */
export function activationNorms(scaler: Float32Array): Float32Array {
  return scaler.map(Math.sqrt)
}
