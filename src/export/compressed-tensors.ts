import type {FloatDtype} from '../model/safetensors/dtypes.js'
import type {TensorSpec} from '../model/safetensors/writer.js'
import {invalidFormat} from '../util/errors.js'

/** The legacy compressed-tensors sparse layouts (../shared/specs/formats.md), an opt-in export profile. */
export type SparseLayout = 'sparse-bitmask' | 'sparse-24-bitmask'

export interface Encoded extends TensorSpec {
  data: Uint8Array
}

const i64 = (values: number[]) => new Uint8Array(BigInt64Array.from(values.map(BigInt)).buffer)

/**
 * One 2-D weight P.weight (rows, cols) as P.shape, P.compressed, P.bitmask (+ P.row_offsets).
 * `encode` turns float32 values into the weight's own dtype. Zeros are stored as +0.0.
 */
export function compressWeight(prefix: string, w: Float32Array, rows: number, cols: number, dtype: FloatDtype, layout: SparseLayout,
  encode: (v: Float32Array) => Uint8Array): Encoded[] {
  const bytesPerRow = Math.ceil(cols / 8)
  const bitmask = new Uint8Array(rows * bytesPerRow)
  const kept: number[] = []
  const setBit = (r: number, c: number) => { bitmask[r * bytesPerRow + (c >> 3)] |= 1 << (c & 7) }
  if (layout === 'sparse-bitmask') {
    const offsets: number[] = []
    for (let r = 0; r < rows; r++) {
      offsets.push(kept.length)
      for (let c = 0; c < cols; c++) {
        const v = w[r * cols + c]
        if (v !== 0) { setBit(r, c); kept.push(v) }   // W != 0: −0.0 is dropped, NaN kept
      }
    }
    return [
      {name: `${prefix}.shape`, dtype: 'I64', shape: [2], data: i64([rows, cols])},
      {name: `${prefix}.compressed`, dtype, shape: [kept.length], data: encode(Float32Array.from(kept))},
      {name: `${prefix}.bitmask`, dtype: 'U8', shape: [rows, bytesPerRow], data: bitmask},
      {name: `${prefix}.row_offsets`, dtype: 'I64', shape: [rows], data: i64(offsets)},
    ]
  }
  if (cols % 4 !== 0) throw invalidFormat(`${prefix}.weight has ${cols} columns, not a multiple of 4: sparse-24-bitmask cannot hold it`)
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < cols; g += 4) {
      const group = [0, 1, 2, 3].map((j) => w[r * cols + g + j])
      if (group.filter((v) => v !== 0).length > 2) {
        // The layout keeps the top two |w| of each group: a group that is not 2:4 would be pruned silently.
        throw invalidFormat(`${prefix}.weight is not 2:4 (row ${r}, columns ${g}-${g + 3} hold ${group.filter((v) => v !== 0).length} non-zeros)`,
          'export it as sparse-bitmask, or prune it with --pattern 2:4 first')
      }
      const top = [0, 1, 2, 3].sort((a, b) => Math.abs(group[b]) - Math.abs(group[a]) || a - b).slice(0, 2).sort((a, b) => a - b)
      for (const j of top) { setBit(r, g + j); kept.push(group[j] === 0 ? 0 : group[j]) }
    }
  }
  return [
    {name: `${prefix}.shape`, dtype: 'I64', shape: [2, 1], data: i64([rows, cols])},
    {name: `${prefix}.compressed`, dtype, shape: [rows, cols / 2], data: encode(Float32Array.from(kept, (v) => v + 0))},
    {name: `${prefix}.bitmask`, dtype: 'U8', shape: [rows, cols / 8], data: bitmask},
  ]
}

/** Inverse of compressWeight: the dense (rows, cols) float32 weight from its compressed values and bitmask. */
export function decompressWeight(values: Float32Array, bitmask: Uint8Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols)
  const bytesPerRow = Math.ceil(cols / 8)
  let k = 0
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      if (bitmask[r * bytesPerRow + (c >> 3)] & (1 << (c & 7))) out[r * cols + c] = values[k++]
    }
  }
  if (k !== values.length) throw invalidFormat(`bitmask selects ${k} values but ${values.length} are stored`)
  return out
}
