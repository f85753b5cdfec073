import {describe, it} from 'node:test'
import assert from 'node:assert/strict'

import type {SparseGptOpts, SweepQuant} from '../../src/kernels/backend.js'
import {nativeKernels} from '../../src/kernels/index.js'
import {refBackend as ref} from '../../src/kernels/ref/index.js'
import {findParams, quantApply, quantCode} from '../../src/kernels/ref/quant.js'
import {randomNormal, seededRandom} from '../../src/util/random.js'
import {assertClose} from '../helpers/assert-close.js'
import {randomHessian} from '../helpers/hessian.js'

const nat = nativeKernels()
const rand = seededRandom(31)

function quant(rows: number, cols: number, bits: number, groupsize: number, sym = false, scaleDtype: SweepQuant['scaleDtype'] = 'F32'): SweepQuant {
  const groups = groupsize > 0 ? Math.ceil(cols / groupsize) : 1
  return {bits, groupsize, sym, scaleDtype, scales: new Float32Array(rows * groups), zeros: new Float32Array(rows * groups)}
}

/** Runs one backend's sweep on a copy of w; returns the weights, mask and quantizer outputs. */
function sweep(k: typeof ref, w: Float32Array, u: Float32Array, h: Float32Array, rows: number, cols: number, o: SparseGptOpts) {
  const out = w.slice(), mask = new Uint8Array(rows * cols)
  const q = o.quant ? {...o.quant, scales: o.quant.scales.slice(), zeros: o.quant.zeros.slice()} : undefined
  k.sparsegptPrune(out, mask, u, h, rows, cols, {...o, quant: q})
  return {w: out, mask, q: q!}
}

describe('the quantizer of the OBS sweep (IST-DASLab quant.py)', () => {
  it('min-max with zero in range, half-to-even rounding, clamp after adding the zero point', () => {
    const p = findParams([-1, 0.5, 2, 3], null, 2, false)
    assert.equal(p.scale, Math.fround(4 / 3))
    assert.equal(p.zero, 1)   // round(0.75)
    assert.deepEqual([-1, 0.5, 2, 3].map((x) => quantCode(x, p, 2)), [0, 1, 3, 3])   // 2/scale = 1.5 rounds to 2
    assert.deepEqual([0.5, 1.5, 2.5, -0.5].map((x) => quantCode(x, {scale: 1, zero: 0}, 3)), [0, 2, 2, 0])
    assert.deepEqual(findParams([0, 0, 0], null, 4, false), {scale: Math.fround(2 / 15), zero: 7})   // all zero: range −1 … 1; 1/scale = 7.4999996 in float32
    assert.deepEqual(findParams([2, 5], null, 4, false), {scale: Math.fround(5 / 15), zero: 0})     // xmin = min(2, 0)
    assert.deepEqual(findParams([-1, 3], null, 2, true), {scale: 2, zero: 2})                       // sym: ±max|w|, zero 2^(b−1)
    assert.deepEqual(findParams([1, 3], null, 2, true), {scale: 1, zero: 2})                        // sym keeps xmin = 0 when no weight is negative
    assert.equal(quantApply(3, {scale: 1, zero: 2}, 2), 1)                                          // …so the top clamps
    assert.deepEqual(findParams([9, -4, 7], [1, 0, 0], 3, false), findParams([0, -4, 7], null, 3, false))   // skipped (pruned) count as 0
    assert.equal(quantApply(0, findParams([0.3, -0.7, 0.1], null, 3, false), 3), 0)                 // 0 is on the grid
  })

  for (const [label, groupsize, sym, dtype] of [['per row', 0, false, 'F32'], ['groups of 8', 8, false, 'F32'], ['sym, groups of 8', 8, true, 'F32'],
    ['groups of 8, bf16 scales', 8, false, 'BF16'], ['groups of 8, f16 scales', 8, false, 'F16']] as const) {
    it(`native equals the reference bit for bit when nothing propagates (identity Hessian): ${label}`, () => {
      const rows = 7, cols = 20
      const h = new Float32Array(cols * cols), u = new Float32Array(cols * cols)
      for (let j = 0; j < cols; j++) { h[j * cols + j] = 1; u[j * cols + j] = 1 }
      const w = randomNormal(rows * cols, rand, 0.05)
      const o: SparseGptOpts = {sparsity: -1, prunen: 0, prunem: 0, blocksize: 16, quant: quant(rows, cols, 3, groupsize, sym, dtype)}
      const a = sweep(ref, w, u, h, rows, cols, o), b = sweep(nat, w, u, h, rows, cols, o)
      assert.deepEqual(b.q.scales, a.q.scales)
      assert.deepEqual(b.q.zeros, a.q.zeros)
      assert.deepEqual(b.w, a.w)
      const groups = groupsize > 0 ? Math.ceil(cols / groupsize) : 1
      for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) {   // round to nearest: the weights' own codes
        const g = r * groups + (groupsize > 0 ? Math.floor(j / groupsize) : 0), p = {scale: a.q.scales[g], zero: a.q.zeros[g]}
        assert.equal(a.w[r * cols + j], quantApply(w[r * cols + j], p, 3))
        if (dtype !== 'F32') assert.equal(p.scale, Number(new Float32Array(new Uint32Array([new Uint32Array(Float32Array.of(p.scale).buffer)[0]]).buffer)[0]))
      }
    })
  }
})

/** Every group of every row holds at most 2^bits distinct values, each scale·(code − zero) of its parameters; pruned entries are 0. */
function checkGrid(w: Float32Array, mask: Uint8Array, q: SweepQuant, rows: number, cols: number): void {
  const gs = q.groupsize || cols, groups = Math.ceil(cols / gs)
  for (let r = 0; r < rows; r++) for (let g = 0; g < groups; g++) {
    const p = {scale: q.scales[r * groups + g], zero: q.zeros[r * groups + g]}, seen = new Set<number>()
    for (let j = g * gs; j < Math.min(cols, (g + 1) * gs); j++) {
      const v = w[r * cols + j]
      if (mask[r * cols + j]) assert.equal(v, 0, 'pruned weights are exactly 0')
      assert.equal(quantApply(v, p, q.bits), v, `row ${r} column ${j}: ${v} is on the grid`)
      seen.add(v)
    }
    assert.ok(seen.size <= 2 ** q.bits)
  }
}

/** The code of each weight under its group's parameters. */
function codes(w: Float32Array, q: SweepQuant, cols: number): number[] {
  const gs = q.groupsize || cols, groups = Math.ceil(cols / gs)
  return Array.from(w, (v, i) => { const g = Math.floor(i / cols) * groups + Math.floor((i % cols) / gs); return quantCode(v, {scale: q.scales[g], zero: q.zeros[g]}, q.bits) })
}

describe('GPTQ and SparseGPT\'s joint sweep: native against the reference', () => {
  const cases: [string, number, number, SparseGptOpts][] = [
    ['gptq w4 per row', 6, 40, {sparsity: -1, prunen: 0, prunem: 0, blocksize: 16, quant: quant(6, 40, 4, 0)}],
    ['gptq w3 g8 (groups start inside blocks)', 6, 40, {sparsity: -1, prunen: 0, prunem: 0, blocksize: 16, quant: quant(6, 40, 3, 8)}],
    ['gptq w4 g32 over blocks of 16 (groups span blocks)', 5, 72, {sparsity: -1, prunen: 0, prunem: 0, blocksize: 16, quant: quant(5, 72, 4, 32)}],
    ['gptq w4 g128, width 300 (a short last group)', 4, 300, {sparsity: -1, prunen: 0, prunem: 0, blocksize: 128, quant: quant(4, 300, 4, 128)}],
    ['gptq w8 sym g16', 4, 48, {sparsity: -1, prunen: 0, prunem: 0, blocksize: 16, quant: quant(4, 48, 8, 16, true)}],
    ['sparsegpt 50% + w4', 8, 48, {sparsity: 0.5, prunen: 0, prunem: 0, blocksize: 16, quant: quant(8, 48, 4, 0)}],
    ['sparsegpt 2:4 + w4', 8, 48, {sparsity: 0, prunen: 2, prunem: 4, blocksize: 16, quant: quant(8, 48, 4, 0)}],
    ['sparsegpt 50% + w4 g16 (our extension)', 8, 48, {sparsity: 0.5, prunen: 0, prunem: 0, blocksize: 16, quant: quant(8, 48, 4, 16)}],
    ['sparsegpt 2:4 + w3 g8, bf16 scales', 8, 48, {sparsity: 0, prunen: 2, prunem: 4, blocksize: 16, quant: quant(8, 48, 3, 8, false, 'BF16')}],
  ]
  for (const [label, rows, cols, o] of cases) {
    it(label, () => {
      const h = randomHessian(rand, cols, 3 * cols, [1])
      const u = new Float32Array(cols * cols)
      assert.equal(ref.sparsegptFactor(u, h, cols, 0.01), 0)
      const w = randomNormal(rows * cols, rand)
      const a = sweep(ref, w, u, h, rows, cols, o), b = sweep(nat, w, u, h, rows, cols, o)
      for (const s of [a, b]) checkGrid(s.w, s.mask, s.q, rows, cols)
      assert.deepEqual(b.mask, a.mask, 'masks')
      assertClose(b.q.scales, a.q.scales, {atol: 1e-6, rtol: 1e-4}, 'scales')
      assert.deepEqual(b.q.zeros, a.q.zeros, 'zero points')
      // float32 sums in another order can move a weight across a rounding boundary: allow a rare code one step off
      const ca = codes(a.w, a.q, cols), cb = codes(b.w, b.q, cols)
      let off = 0
      for (let i = 0; i < w.length; i++) if (ca[i] !== cb[i]) { off++; assert.equal(Math.abs(ca[i] - cb[i]), 1) }
      assert.ok(off <= Math.ceil(w.length / 100), `${off} of ${w.length} codes differ`)
      const dead = Array.from({length: rows}, (_, r) => b.w[r * cols + 1])
      assert.deepEqual(dead, new Array(rows).fill(0), 'a dead input\'s weights are 0')
      if (o.prunen) for (let g = 0; g < w.length; g += 4) assert.ok(b.w.subarray(g, g + 4).filter((v) => v === 0).length >= 2, '2:4 kept under quantization')
      if (o.sparsity > 0) assert.ok(b.w.filter((v) => v === 0).length >= o.sparsity * w.length)
    })
  }

  it('groups read W as the block starts, not the block\'s compensated copy (spec §14)', () => {
    // Groups of 8 inside blocks of 16: the second group's parameters differ from those of its final, compensated values.
    const rows = 6, cols = 32, h = randomHessian(rand, cols, 96)
    const u = new Float32Array(cols * cols)
    ref.sparsegptFactor(u, h, cols, 0.01)
    const w = randomNormal(rows * cols, rand)
    const o: SparseGptOpts = {sparsity: -1, prunen: 0, prunem: 0, blocksize: 16, quant: quant(rows, cols, 3, 8)}
    const b = sweep(nat, w, u, h, rows, cols, o)
    // group 1 (columns 8–15) of row 0: the weights before any column of the block was swept, i.e. the input itself
    assert.deepEqual(findParams(w.subarray(8, 16), null, 3, false), {scale: b.q.scales[1], zero: b.q.zeros[1]})
  })
})
