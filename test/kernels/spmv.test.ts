import {describe, it} from 'node:test'
import assert from 'node:assert/strict'

import {nativeKernels, refBackend} from '../../src/kernels/index.js'
import {randomNormal, seededRandom} from '../../src/util/random.js'
import {assertClose} from '../helpers/assert-close.js'

const nat = nativeKernels(), ref = refBackend
const rand = seededRandom(17)

describe('decode GEMV kernels equal their references', () => {
  it('dense float32 and bf16, odd sizes', () => {
    for (const [rows, cols] of [[1, 1], [3, 17], [65, 33], [7, 129]]) {
      const w = randomNormal(rows * cols, rand), x = randomNormal(cols, rand)
      const wb = new Uint16Array(rows * cols)
      nat.f32ToBf16(wb, w)
      const a = new Float32Array(rows), b = new Float32Array(rows)
      ref.gemvF32(a, w, x, rows, cols); nat.gemvF32(b, w, x, rows, cols)
      assertClose(b, a, {atol: 1e-5, rtol: 1e-5}, 'f32')
      ref.gemvBf16(a, wb, x, rows, cols); nat.gemvBf16(b, wb, x, rows, cols)
      assertClose(b, a, {atol: 1e-5, rtol: 1e-5}, 'bf16')
    }
  })

  it('2:4 packing (groups with two, one and no non-zeros) and its GEMV', () => {
    for (const [rows, cols] of [[1, 4], [5, 36], [33, 128]]) {
      const w = randomNormal(rows * cols, rand), x = randomNormal(cols, rand)
      // Groups with two non-zeros (positions 1 and 3), with one (position 3), and with none, in turn.
      for (let g = 0; g < rows * cols; g += 4) {
        const mode = (g / 4) % 3
        w[g] = 0
        w[g + 2] = 0
        if (mode >= 1) w[g + 1] = 0
        if (mode === 2) w[g + 3] = 0
      }
      const va = new Uint16Array(rows * cols / 2), vb = new Uint16Array(rows * cols / 2)
      const ia = new Uint8Array(rows * cols / 4), ib = new Uint8Array(rows * cols / 4)
      assert.equal(nat.packNm24(vb, ib, w, rows, cols), -1)
      assert.equal(ref.packNm24(va, ia, w, rows, cols), -1)
      assert.deepEqual([vb, ib], [va, ia])
      const a = new Float32Array(rows), b = new Float32Array(rows)
      ref.gemvNm24(a, va, ia, x, rows, cols); nat.gemvNm24(b, vb, ib, x, rows, cols)
      assertClose(b, a, {atol: 1e-5, rtol: 1e-5}, 'nm24')
      // and it is the dense product of the bf16-rounded weights
      const wb = new Uint16Array(rows * cols), dense = new Float32Array(rows)
      nat.f32ToBf16(wb, w)
      ref.gemvBf16(dense, wb, x, rows, cols)
      assertClose(b, dense, {atol: 1e-5, rtol: 1e-5}, 'nm24 vs dense')
    }
    const bad = Float32Array.of(1, 2, 3, 0)
    assert.equal(nat.packNm24(new Uint16Array(2), new Uint8Array(1), bad, 1, 4), 0)
  })
})
