import {describe, it} from 'node:test'
import assert from 'node:assert/strict'

import {nativeKernels, refBackend} from '../../src/kernels/index.js'
import {randomNormal, seededRandom} from '../../src/util/random.js'
import {assertClose} from '../helpers/assert-close.js'
import {randomHessian} from '../helpers/hessian.js'

const nat = nativeKernels(), ref = refBackend
const rand = seededRandom(11)

describe('pruning kernels equal their references', () => {
  it('columnStats', () => {
    for (const [nseq, seq, cols] of [[1, 1, 1], [3, 17, 5], [2, 33, 65]]) {
      const x = randomNormal(nseq * seq * cols, rand, 2)
      const a = [new Float64Array(cols), new Float64Array(cols), new Float64Array(cols)]
      const b = [new Float64Array(cols), new Float64Array(cols), new Float64Array(cols)]
      ref.columnStats(a[0], a[1], a[2], x, nseq, seq, cols)
      nat.columnStats(b[0], b[1], b[2], x, nseq, seq, cols)
      for (let i = 0; i < 3; i++) assertClose(b[i], a[i], {atol: 1e-9, rtol: 1e-9}, `stat ${i}`)
    }
  })

  it('absScaled, selectRowK, selectNM, selectThreshold, applyMask (with ties)', () => {
    for (const [rows, cols] of [[1, 4], [7, 16], [33, 24]]) {
      const w = randomNormal(rows * cols, rand), scale = randomNormal(cols, rand).map(Math.abs)
      w[0] = w[1] = 0.5                 // a tie: the lower column must go first
      const sa = new Float32Array(rows * cols), sb = new Float32Array(rows * cols)
      ref.absScaled(sa, w, scale, rows, cols); nat.absScaled(sb, w, scale, rows, cols)
      assert.deepEqual(sb, sa)
      for (const k of [0, 1, cols >> 1, cols]) {
        const ma = new Uint8Array(rows * cols), mb = new Uint8Array(rows * cols)
        ref.selectRowK(ma, sa, rows, cols, k); nat.selectRowK(mb, sa, rows, cols, k)
        assert.deepEqual(mb, ma, `selectRowK k=${k}`)
      }
      for (const [n, m] of [[2, 4], [4, 8], [1, 2]].filter(([, m]) => cols % m === 0)) {
        const ma = new Uint8Array(rows * cols), mb = new Uint8Array(rows * cols)
        ref.selectNM(ma, sa, rows, cols, n, m); nat.selectNM(mb, sa, rows, cols, n, m)
        assert.deepEqual(mb, ma, `selectNM ${n}:${m}`)
      }
      const ma = new Uint8Array(rows * cols), mb = new Uint8Array(rows * cols)
      ref.selectThreshold(ma, sa, 3); nat.selectThreshold(mb, sa, 3)
      assert.deepEqual(mb, ma)
      const wa = w.slice(), wb = w.slice()
      ref.applyMask(wa, ma); nat.applyMask(wb, ma)
      assert.deepEqual(wb, wa)
    }
  })

  it('weightedSqDiff', () => {
    const [rows, cols] = [7, 33]
    const a = randomNormal(rows * cols, rand), b = randomNormal(rows * cols, rand), sc = randomNormal(cols, rand).map(Math.abs)
    assertClose(nat.weightedSqDiff(a, b, sc, rows, cols), ref.weightedSqDiff(a, b, sc, rows, cols), {atol: 1e-9, rtol: 1e-9})
  })

  it('sumF64 and countAbove: the same bits and counts, the threshold compared in double', () => {
    for (const n of [0, 1, 7, 65, 100003]) {
      const x = randomNormal(n, rand, 3)
      assert.equal(nat.sumF64(x), ref.sumF64(x))
      let plain = 0
      for (const v of x) plain += v
      assert.equal(nat.sumF64(x), plain)
      for (const t of [-1e9, -0.5, 0, 0.25, 2.5]) assert.equal(nat.countAbove(x, t), ref.countAbove(x, t))
    }
    // 1 + 2^-30 lies between the float32 neighbours 1 and 1 + 2^-23: only a double comparison tells it from 1.
    const ones = new Float32Array([1, 1, 1 + 2 ** -23])
    for (const k of [nat, ref]) {
      assert.equal(k.countAbove(ones, 1 + 2 ** -30), 1)
      assert.equal(k.countAbove(ones, 1), 1)
      assert.equal(k.countAbove(ones, 1 - 2 ** -30), 3)
    }
  })

  it('mirrorLower', () => {
    for (const n of [1, 5, 64, 65, 130]) {
      const h = randomNormal(n * n, rand), a = h.slice(), b = h.slice()
      ref.mirrorLower(a, n, 0.5); nat.mirrorLower(b, n, 0.5)
      assert.deepEqual(b, a)
    }
  })

  it('zeroStats', () => {
    for (const [rows, cols, m] of [[3, 8, 4], [5, 17, 0], [4, 16, 8], [2, 12, 4]]) {
      const x = randomNormal(rows * cols, rand)
      for (let i = 0; i < x.length; i += 2) x[i] = 0
      x[1] = 0
      assert.deepEqual(nat.zeroStats(x, rows, cols, m), ref.zeroStats(x, rows, cols, m))
    }
  })

  it('accumulateSquares and absMulAdd', () => {
    const n = 70001, g = randomNormal(n, rand), w = randomNormal(n, rand)
    const a = randomNormal(n, rand).map(Math.abs), b = a.slice()
    ref.accumulateSquares(a, g, 100); nat.accumulateSquares(b, g, 100)
    assertClose(b, a, {atol: 1e-6, rtol: 1e-6})
    ref.absMulAdd(a, w, g); nat.absMulAdd(b, w, g)
    assertClose(b, a, {atol: 1e-6, rtol: 1e-6})
  })

  it('sparsegpt: one factorisation and a triangular inverse equal the reference three factorisations', () => {
    for (const [rows, cols, opts, percdamp] of [
      [5, 8, {sparsity: 0.5, prunen: 0, prunem: 0, blocksize: 128}, 0.01],
      [9, 40, {sparsity: 0.6, prunen: 0, prunem: 0, blocksize: 16}, 0.01],
      [6, 48, {sparsity: 0, prunen: 2, prunem: 4, blocksize: 16}, 0.01],
      [3, 136, {sparsity: 0, prunen: 4, prunem: 8, blocksize: 128}, 0.05],
      [4, 300, {sparsity: 0.5, prunen: 0, prunem: 0, blocksize: 128}, 0.01],   // several 128-wide factor blocks
    ] as const) {
      const h = randomHessian(rand, cols, 3 * cols, [1, cols - 2])
      const ua = new Float32Array(cols * cols), ub = new Float32Array(cols * cols)
      assert.equal(ref.sparsegptFactor(ua, h, cols, percdamp), 0)
      assert.equal(nat.sparsegptFactor(ub, h, cols, percdamp), 0)
      assertClose(ub, ua, {atol: 1e-5, rtol: 1e-3}, `factor ${cols}`)
      const w = randomNormal(rows * cols, rand)
      const wa = w.slice(), wb = w.slice()
      const ma = new Uint8Array(rows * cols), mb = new Uint8Array(rows * cols)
      ref.sparsegptPrune(wa, ma, ua, h, rows, cols, opts)
      nat.sparsegptPrune(wb, mb, ua, h, rows, cols, opts)
      assert.deepEqual(mb, ma, `masks ${rows}x${cols}`)
      assertClose(wb, wa, {atol: 1e-4, rtol: 1e-3}, `weights ${rows}x${cols}`)
      for (let i = 0; i < w.length; i++) if (mb[i]) assert.equal(wb[i], 0)
    }
  })

  it('sparsegpt keeps the reference threshold quirk and reports a non-positive-definite Hessian', () => {
    const cols = 16, rows = 4
    const h = randomHessian(rand, cols, 64)
    const w = randomNormal(rows * cols, rand)
    const u = new Float32Array(cols * cols)
    assert.equal(nat.sparsegptFactor(u, h, cols, 0.01), 0)
    const none = w.slice(), m0 = new Uint8Array(rows * cols)
    nat.sparsegptPrune(none, m0, u, h, rows, cols, {sparsity: 0, prunen: 0, prunem: 0, blocksize: 8})
    // sparsity 0 still prunes each tile's minimum (the reference's ≤ quirk): one per 8-column tile of 4 rows
    assert.equal(m0.reduce((a, b) => a + b, 0), 2)
    // The target stays a double, as the reference's int(numel · sparsity): 32·(0.5 − 2⁻³⁰) floors to 15 (16 pruned with
    // the ≤), where a float32 sparsity (exactly 0.5) would give 16 (17 pruned). OWL's per-block sparsities are such doubles.
    for (const k of [nat, ref]) {
      const half = w.slice(), mh = new Uint8Array(rows * cols)
      k.sparsegptPrune(half, mh, u, h, rows, cols, {sparsity: 0.5 - 2 ** -30, prunen: 0, prunem: 0, blocksize: 8})
      assert.equal(mh.reduce((a, b) => a + b, 0), 2 * 16, k.name)
    }
    const bad = h.slice()
    bad[3 * cols + 3] = NaN
    assert.ok(nat.sparsegptFactor(u, bad, cols, 0.01) > 0)
    assert.ok(ref.sparsegptFactor(u, bad, cols, 0.01) > 0)
  })
})
