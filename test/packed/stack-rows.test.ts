import {describe, it} from 'node:test'
import assert from 'node:assert/strict'

import {gqsaHeldParams, gqsaPairBytes, nativeKernels} from '../../src/kernels/index.js'
import {packDense, stackRows, unpackWeight, type PackedWeight} from '../../src/packed/weight.js'
import {randomNormal, seededRandom} from '../../src/util/random.js'

const k = nativeKernels(), rand = seededRandom(8), cols = 128

/** A GQSA weight with random groups kept (so a part can end on an odd group), in the kernel's form. */
function randomGqsa(rows: number): PackedWeight {
  const group = 16, rowPtr = new Int32Array(rows + 1), col: number[] = []
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < cols / group; g++) if (rand() < 0.45) col.push(g)
    rowPtr[r + 1] = col.length
  }
  const nnzb = col.length, codes = Uint8Array.from({length: nnzb * group / 2}, () => Math.floor(rand() * 256))
  const pairs = new Uint8Array(gqsaPairBytes(nnzb, group))
  k.gqsaPairCodes(pairs, codes, nnzb, group)
  const held = gqsaHeldParams(Float32Array.from({length: nnzb}, () => 0.01 + rand() / 10), Float32Array.from({length: nnzb}, () => Math.floor(rand() * 16)))
  return {format: 'gqsa', bits: 4, group, rowPtr, col: Uint16Array.from(col), pairs, ...held}
}

/** A weight with 2 of every 4 columns zero, so every format can hold it. */
function sparse24(rows: number): Float32Array {
  const w = randomNormal(rows * cols, rand)
  for (let i = 0; i < w.length; i += 4) { const z = Math.floor(rand() * 3); w[i + z] = 0; w[i + z + 1] = 0 }
  return w
}

describe('stacking packed weights along their rows (decoding multiplies q/k/v and gate/up at once)', () => {
  const sizes = [5, 3, 4]
  const makers: Record<string, (rows: number) => PackedWeight> = {
    'dense f32': (r) => packDense(k, sparse24(r), r, cols, 'dense', 'f32'),
    'dense bf16': (r) => packDense(k, sparse24(r), r, cols, 'dense', 'bf16'),
    'nm 2:4 bf16': (r) => packDense(k, sparse24(r), r, cols, 'nm', 'bf16'),
    'bitmask f32': (r) => packDense(k, sparse24(r), r, cols, 'bitmask', 'f32'),
    'gqsa': randomGqsa,
  }
  for (const [label, make] of Object.entries(makers)) {
    it(`${label}: the stacked weight unpacks to the parts one above the other, bit for bit`, () => {
      const parts = sizes.map((rows) => ({p: make(rows), rows}))
      const want = new Float32Array(sizes.reduce((a, r) => a + r, 0) * cols)
      let at = 0
      for (const {p, rows} of parts) { want.set(unpackWeight(k, p, rows, cols), at); at += rows * cols }
      const got = unpackWeight(k, stackRows(k, parts), want.length / cols, cols)
      assert.ok(got.every((v, i) => Object.is(v, want[i])))
    })
  }
})
