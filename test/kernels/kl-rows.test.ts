import {describe, it} from 'node:test'
import assert from 'node:assert/strict'

import {nativeKernels, refBackend} from '../../src/kernels/index.js'
import {randomNormal, seededRandom} from '../../src/util/random.js'
import {assertClose} from '../helpers/assert-close.js'

describe('klRows: KL divergence of two rows of logits, and whether their top tokens agree', () => {
  const rand = seededRandom(11)

  it('native equals the reference at sizes around the vector widths', () => {
    for (const [rows, vocab] of [[1, 2], [3, 7], [17, 33], [5, 1000], [2, 4097]]) {
      const base = randomNormal(rows * vocab, rand, 3)
      const other = base.map((x) => x + (rand() - 0.5))
      // Make one row's top tokens agree for sure and another's differ.
      const want = new Float32Array(rows), got = new Float32Array(rows)
      const sameWant = new Uint8Array(rows), sameGot = new Uint8Array(rows)
      refBackend.klRows(want, sameWant, base, other, rows, vocab)
      nativeKernels().klRows(got, sameGot, base, other, rows, vocab)
      assertClose(got, want, {atol: 1e-6, rtol: 1e-4}, `klRows ${rows}×${vocab}`)
      assert.deepEqual(sameGot, sameWant)
    }
  })

  it('by hand: zero for equal rows (and for a shift of all logits), log 2 − ½·log 3 … for a known pair', () => {
    const kl = new Float32Array(2), same = new Uint8Array(2)
    // Row 0: equal up to a constant shift. Row 1: p = (½, ½) from logits (0, 0); q = (¼, ¾) from (0, log 3).
    const base = Float32Array.of(1, 2, 3, 0, 0), other = Float32Array.of(11, 12, 13, 0, Math.log(3))
    nativeKernels().klRows(kl.subarray(0, 1), same.subarray(0, 1), base.subarray(0, 3), other.subarray(0, 3), 1, 3)
    nativeKernels().klRows(kl.subarray(1), same.subarray(1), base.subarray(3), other.subarray(3), 1, 2)
    assert.ok(Math.abs(kl[0]) < 1e-6)
    // ½·log(½/¼) + ½·log(½/¾) = ½·log 2 + ½·log(2/3)
    assert.ok(Math.abs(kl[1] - (0.5 * Math.log(2) + 0.5 * Math.log(2 / 3))) < 1e-6)
    assert.deepEqual([...same], [1, 0], 'a tie goes to the first index: 0 for (0, 0), 1 for (0, log 3)')
  })
})
