import {describe, it} from 'node:test'
import assert from 'node:assert/strict'

import {gqsaHeldParams, gqsaPairBytes, nativeKernels, refBackend} from '../../src/kernels/index.js'
import {randomNormal, seededRandom} from '../../src/util/random.js'
import {assertClose} from '../helpers/assert-close.js'

const nat = nativeKernels(), ref = refBackend
const rand = seededRandom(41)

/** H = (2/T)·XᵀX of random inputs, and its damped inverse factor U. */
function factor(cols: number, tokens: number): {h: Float32Array; u: Float32Array} {
  const x = randomNormal(tokens * cols, rand)
  const h = new Float32Array(cols * cols)
  ref.gemm(h, x, x, cols, cols, tokens, {transA: true})
  for (let i = 0; i < h.length; i++) h[i] *= 2 / tokens
  const u = new Float32Array(cols * cols)
  assert.equal(nat.sparsegptFactor(u, h, cols, 0.01), 0)
  return {h, u}
}

describe('GQSA kernels equal their references', () => {
  it('group saliency: the OBS loss of pruning each group', () => {
    for (const [rows, cols, g] of [[3, 16, 4], [5, 96, 16], [2, 64, 32]]) {
      const {u} = factor(cols, 3 * cols), w = randomNormal(rows * cols, rand)
      const a = new Float32Array(rows * cols / g), b = new Float32Array(rows * cols / g)
      ref.gqsaSaliency(a, w, u, rows, cols, g); nat.gqsaSaliency(b, w, u, rows, cols, g)
      assertClose(b, a, {atol: 1e-6, rtol: 1e-4}, `${rows}x${cols}/${g}`)
    }
  })

  it('the sweep: exact group sparsity, codes in range, weights equal to the codes\' dequantization, close to the unbatched reference', () => {
    for (const [rows, cols, g, bits] of [[7, 48, 16, 4], [4, 272, 16, 4], [5, 64, 8, 2]]) {
      const {h, u} = factor(cols, 4 * cols), w = randomNormal(rows * cols, rand), groups = cols / g
      const pruned = Uint8Array.from({length: rows * groups}, () => (rand() < 0.5 ? 1 : 0))
      const run = (k: typeof nat) => {
        const out = {w: w.slice(), codes: new Uint8Array(rows * cols), s: new Float32Array(rows * groups), z: new Float32Array(rows * groups)}
        k.gqsaSweep(out.w, pruned, u, h, rows, cols, g, bits, out.codes, out.s, out.z)
        return out
      }
      const a = run(ref), b = run(nat)
      for (let i = 0; i < rows * cols; i++) {
        const G = Math.floor(i / g)
        if (pruned[G]) assert.ok(b.w[i] === 0 && b.codes[i] === 0)
        assert.ok(b.codes[i] < 2 ** bits)
      }
      const deq = new Float32Array(rows * cols)
      nat.gqsaDequant(deq, b.codes, b.s, b.z, pruned, rows, cols, g)
      assert.deepEqual(deq, b.w)
      // lazy batched float32 vs column-at-a-time float64: rounding decisions may differ at a few ties
      const differ = b.codes.filter((c, i) => c !== a.codes[i]).length
      assert.ok(differ <= 0.02 * rows * cols, `${differ} codes differ`)
      assertClose(b.s, a.s, {atol: 1e-4, rtol: 2e-2}, 'scales')
    }
  })

  it('fake quantization, its straight-through gradients, dequantization, unpacking, scale gradients and the MSE gradient', () => {
    const rows = 6, cols = 48, g = 16, groups = rows * cols / g
    const w = randomNormal(rows * cols, rand, 0.1), dwq = randomNormal(rows * cols, rand)
    const s = Float32Array.from({length: groups}, () => 0.01 + 0.02 * rand()), z = Float32Array.from({length: groups}, () => Math.floor(rand() * 16))
    const pruned = Uint8Array.from({length: groups}, (_, i) => i % 3 === 0 ? 1 : 0)
    const both = (fn: (k: typeof nat) => Float32Array[]) => { const a = fn(ref), b = fn(nat); a.forEach((x, i) => assertClose(b[i], x, {atol: 1e-5, rtol: 1e-4})) }
    both((k) => { const wq = new Float32Array(rows * cols), c = new Uint8Array(rows * cols); k.gqsaFakeQuant(wq, w, s, z, pruned, rows, cols, g, 4, c); return [wq, Float32Array.from(c)] })
    both((k) => {
      const dw = new Float32Array(rows * cols), ds = new Float32Array(groups), dz = new Float32Array(groups)
      k.gqsaFakeQuantBackward(dw, ds, dz, dwq, w, s, z, pruned, rows, cols, g, 4)
      return [dw, ds, dz]
    })
    const codes = Uint8Array.from({length: rows * cols}, () => Math.floor(rand() * 16))
    both((k) => { const o = new Float32Array(rows * cols); k.gqsaDequant(o, codes, s, z, pruned, rows, cols, g); return [o] })
    both((k) => { const ds = new Float32Array(groups); k.gqsaScaleGrad(ds, dwq, codes, z, pruned, rows, cols, g); return [ds] })
    const rowPtr = Int32Array.of(0, 2, 2, 3, 6, 6, 7), col = Uint16Array.of(0, 2, 1, 0, 1, 2, 2)
    const pairs = Uint8Array.from({length: gqsaPairBytes(7, g)}, () => Math.floor(rand() * 256)), held = gqsaHeldParams(s.subarray(0, 7), z.subarray(0, 7))
    both((k) => { const o = new Float32Array(rows * cols); k.gqsaUnpack(o, rowPtr, col, pairs, held.scales, held.offsetZeros, rows, cols, g); return [o] })
    const out = randomNormal(1000, rand), target = randomNormal(1000, rand)
    const da = new Float32Array(1000), db = new Float32Array(1000)
    assert.ok(Math.abs(nat.mseGrad(db, out, target) - ref.mseGrad(da, out, target)) < 1e-9)
    assertClose(db, da, {atol: 1e-9, rtol: 1e-6})
  })

  it('a straight-through gradient step on the scale follows finite differences where no code changes', () => {
    // ŵ = s·(q − z) with q fixed near the optimum: ∂Σŵ·d/∂s = Σ d·(q − z) − Σ d·w/s (the rounding passes the identity).
    const w = Float32Array.of(0.011, -0.02, 0.033, 0.004), d = Float32Array.of(1, 1, 1, 1)
    const s = Float32Array.of(0.01), z = Float32Array.of(8), none = new Uint8Array(1)
    const dw = new Float32Array(4), ds = new Float32Array(1), dz = new Float32Array(1)
    nat.gqsaFakeQuantBackward(dw, ds, dz, d, w, s, z, none, 1, 4, 4, 4)
    const q = [1, -2, 3, 0]   // round(w/s)
    const expect = q.reduce((a, v) => a + v, 0) - [...w].reduce((a, v) => a + v / 0.01, 0)
    assert.ok(Math.abs(ds[0] - expect) < 1e-4, `${ds[0]} vs ${expect}`)
    assert.deepEqual([...dw], [1, 1, 1, 1])
  })
})
