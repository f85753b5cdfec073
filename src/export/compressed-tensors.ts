import type {FloatDtype} from '../model/safetensors/dtypes.js'
import type {TensorSpec} from '../model/safetensors/writer.js'
import {kernels} from '../kernels/index.js'
import {invalidFormat} from '../util/errors.js'

/** The legacy compressed-tensors sparse layouts (its sparse_bitmask and sparse_24_bitmask compressors), an opt-in export profile. */
export type SparseLayout = 'sparse-bitmask' | 'sparse-24-bitmask'

export interface Encoded extends TensorSpec {
  data: Uint8Array
}

const i64 = (values: number[]) => new Uint8Array(BigInt64Array.from(values.map(BigInt)).buffer)

/**
 * One 2-D weight P.weight (rows, cols) as P.shape, P.compressed, P.bitmask (+ P.row_offsets),
 * packed by the native kernels. `encode` turns float32 values into the weight's own dtype.
 */
export function compressWeight(prefix: string, w: Float32Array, rows: number, cols: number, dtype: FloatDtype, layout: SparseLayout,
  encode: (v: Float32Array) => Uint8Array): Encoded[] {
  const k = kernels()
  const bytesPerRow = Math.ceil(cols / 8)
  const bitmask = new Uint8Array(rows * bytesPerRow)
  if (layout === 'sparse-bitmask') {
    const values = new Float32Array(rows * cols), offsets = new BigInt64Array(rows)
    const nnz = k.packBitmask(values, bitmask, offsets, w, rows, cols)   // W != 0: −0.0 is dropped, NaN kept
    return [
      {name: `${prefix}.shape`, dtype: 'I64', shape: [2], data: i64([rows, cols])},
      {name: `${prefix}.compressed`, dtype, shape: [nnz], data: encode(values.subarray(0, nnz))},
      {name: `${prefix}.bitmask`, dtype: 'U8', shape: [rows, bytesPerRow], data: bitmask},
      {name: `${prefix}.row_offsets`, dtype: 'I64', shape: [rows], data: new Uint8Array(offsets.buffer)},
    ]
  }
  if (cols % 4 !== 0) throw invalidFormat(`${prefix}.weight has ${cols} columns, not a multiple of 4: sparse-24-bitmask cannot hold it`)
  const values = new Float32Array(rows * cols / 2)
  // The layout keeps the top two |w| of each group: a group that is not 2:4 would be pruned silently.
  const bad = k.pack24(values, bitmask, w, rows, cols)
  if (bad >= 0) {
    const r = Math.floor(bad / cols), g = bad % cols
    const nz = [0, 1, 2, 3].filter((j) => w[bad + j] !== 0).length
    throw invalidFormat(`${prefix}.weight is not 2:4 (row ${r}, columns ${g}-${g + 3} hold ${nz} non-zeros)`,
      'export it as sparse-bitmask, or prune it with --pattern 2:4 first')
  }
  return [
    {name: `${prefix}.shape`, dtype: 'I64', shape: [2, 1], data: i64([rows, cols])},
    {name: `${prefix}.compressed`, dtype, shape: [rows, cols / 2], data: encode(values)},
    {name: `${prefix}.bitmask`, dtype: 'U8', shape: [rows, bytesPerRow], data: bitmask},
  ]
}

/** Inverse of compressWeight: the dense (rows, cols) float32 weight from its compressed values and bitmask. */
export function decompressWeight(values: Float32Array, bitmask: Uint8Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols)
  const used = kernels().unpackBitmask(out, values, bitmask, rows, cols)
  if (used !== values.length) throw invalidFormat(`the bitmask selects ${used < 0 ? 'more' : used} values but ${values.length} are stored`)
  return out
}
