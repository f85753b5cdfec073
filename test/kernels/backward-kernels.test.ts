import {describe, it} from 'node:test'

import {nativeKernels, refBackend} from '../../src/kernels/index.js'
import {randomNormal, seededRandom} from '../../src/util/random.js'
import {assertClose} from '../helpers/assert-close.js'

const nat = nativeKernels(), ref = refBackend
const rand = seededRandom(31)

describe('backward kernels equal their references', () => {
  it('rmsnormBackward', () => {
    for (const [rows, dim] of [[1, 1], [3, 17], [70, 33]]) {
      const x = randomNormal(rows * dim, rand), w = randomNormal(dim, rand), dy = randomNormal(rows * dim, rand)
      const a = new Float32Array(rows * dim), b = new Float32Array(rows * dim)
      const dwa = randomNormal(dim, rand), dwb = dwa.slice()
      ref.rmsnormBackward(a, dwa, dy, x, w, rows, dim, 1e-5)
      nat.rmsnormBackward(b, dwb, dy, x, w, rows, dim, 1e-5)
      assertClose(b, a, {atol: 1e-5, rtol: 1e-4}, 'dx')
      assertClose(dwb, dwa, {atol: 1e-5, rtol: 1e-4}, 'dw')
    }
  })

  it('ropeBackward', () => {
    const [tokens, seq, heads, hd] = [34, 17, 3, 16]
    const cos = randomNormal(seq * hd / 2, rand), sin = randomNormal(seq * hd / 2, rand), g = randomNormal(tokens * heads * hd, rand)
    const a = g.slice(), b = g.slice()
    ref.ropeBackward(a, cos, sin, tokens, seq, heads, hd)
    nat.ropeBackward(b, cos, sin, tokens, seq, heads, hd)
    assertClose(b, a, {atol: 1e-6, rtol: 1e-5})
  })

  it('siluMulBackward', () => {
    const n = 1001
    const g = randomNormal(n, rand, 3), u = randomNormal(n, rand), d = randomNormal(n, rand)
    const a = [new Float32Array(n), new Float32Array(n)], b = [new Float32Array(n), new Float32Array(n)]
    ref.siluMulBackward(a[0], a[1], d, g, u)
    nat.siluMulBackward(b[0], b[1], d, g, u)
    assertClose(b[0], a[0], {atol: 1e-6, rtol: 1e-5}, 'dgate')
    assertClose(b[1], a[1], {atol: 1e-6, rtol: 1e-5}, 'dup')
  })

  it('attentionBackward (grouped-query, odd sizes)', () => {
    for (const [batch, seq, nh, nkv, hd] of [[1, 1, 1, 1, 4], [2, 17, 4, 2, 8], [1, 33, 6, 3, 5]]) {
      const rows = batch * seq
      const q = randomNormal(rows * nh * hd, rand), k = randomNormal(rows * nkv * hd, rand), v = randomNormal(rows * nkv * hd, rand)
      const dout = randomNormal(rows * nh * hd, rand)
      const A = [new Float32Array(rows * nh * hd), new Float32Array(rows * nkv * hd), new Float32Array(rows * nkv * hd)]
      const B = [new Float32Array(rows * nh * hd), randomNormal(rows * nkv * hd, rand), randomNormal(rows * nkv * hd, rand)]
      ref.attentionBackward(A[0], A[1], A[2], dout, q, k, v, batch, seq, nh, nkv, hd, 1 / Math.sqrt(hd))
      nat.attentionBackward(B[0], B[1], B[2], dout, q, k, v, batch, seq, nh, nkv, hd, 1 / Math.sqrt(hd))
      for (let i = 0; i < 3; i++) assertClose(B[i], A[i], {atol: 1e-5, rtol: 1e-4}, ['dq', 'dk', 'dv'][i])
    }
  })

  it('adamwStep', () => {
    const n = 40001, g = randomNormal(n, rand)
    const o = {lr: 1e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, step: 3}
    const pa = randomNormal(n, rand), ma = randomNormal(n, rand, 0.01), va = randomNormal(n, rand, 0.01).map(Math.abs)
    const pb = pa.slice(), mb = ma.slice(), vb = va.slice()
    ref.adamwStep(pa, g, ma, va, o); nat.adamwStep(pb, g, mb, vb, o)
    assertClose(pb, pa, {atol: 1e-6, rtol: 1e-5}, 'p')
    assertClose(mb, ma, {atol: 1e-7, rtol: 1e-5}, 'm')
    assertClose(vb, va, {atol: 1e-7, rtol: 1e-5}, 'v')
  })

  it('lseTile and xentTileBackward, tile by tile, give the whole rows’ loss and softmax − onehot', () => {
    const [rows, vocab, cols] = [7, 50, 16]
    const logits = randomNormal(rows * vocab, rand, 3), t = Int32Array.from({length: rows}, () => Math.floor(rand() * vocab))
    const scale = Float32Array.from({length: rows}, (_, r) => (r === 3 ? 0 : 0.25))
    const tileOf = (c0: number, m: number) => Float32Array.from({length: rows * m}, (_, i) => logits[Math.floor(i / m) * vocab + c0 + (i % m)])
    const run = (k: typeof ref) => {
      const mx = new Float32Array(rows).fill(-Infinity), sum = new Float32Array(rows), zt = new Float32Array(rows), grad = new Float32Array(rows * vocab)
      for (let c0 = 0; c0 < vocab; c0 += cols) k.lseTile(mx, sum, zt, tileOf(c0, Math.min(cols, vocab - c0)), t, c0, rows, Math.min(cols, vocab - c0))
      const lse = mx.map((m, r) => m + Math.log(sum[r]))
      for (let c0 = 0; c0 < vocab; c0 += cols) {
        const m = Math.min(cols, vocab - c0), tile = tileOf(c0, m)
        k.xentTileBackward(tile, lse, t, scale, c0, rows, m)
        tile.forEach((v, i) => { grad[Math.floor(i / m) * vocab + c0 + (i % m)] = v })
      }
      return {loss: lse.map((l, r) => l - zt[r]), grad}
    }
    const a = run(ref), b = run(nat)
    assertClose(b.loss, a.loss, {atol: 1e-5, rtol: 1e-5}, 'loss')
    assertClose(b.grad, a.grad, {atol: 1e-7, rtol: 1e-5}, 'grad')
    // Against the whole rows: nllRows, and softmax − onehot written out.
    const whole = new Float32Array(rows)
    ref.nllRows(whole, logits, t, rows, vocab)
    assertClose(a.loss, whole, {atol: 1e-5, rtol: 1e-5}, 'loss of whole rows')
    const want = new Float32Array(rows * vocab)
    for (let r = 0; r < rows; r++) {
      const row = logits.subarray(r * vocab, (r + 1) * vocab), lse = whole[r] + row[t[r]]
      for (let j = 0; j < vocab; j++) want[r * vocab + j] = scale[r] * (Math.exp(row[j] - lse) - (j === t[r] ? 1 : 0))
    }
    assertClose(a.grad, want, {atol: 1e-6, rtol: 1e-4}, 'softmax − onehot')
  })

})
