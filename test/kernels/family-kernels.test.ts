import {describe, it} from 'node:test'
import assert from 'node:assert/strict'

import {ACTIVATIONS} from '../../src/kernels/backend.js'
import {nativeKernels, refBackend} from '../../src/kernels/index.js'
import {randomNormal, seededRandom} from '../../src/util/random.js'
import {assertClose} from '../helpers/assert-close.js'

const nat = nativeKernels(), ref = refBackend
const rand = seededRandom(41)

/** The kernels the Gemma, Phi-3 and OPT families added: native against reference, forward and backward. */
describe('family kernels equal their references', () => {
  it('actMul and its backward, every activation, gated and plain', () => {
    const n = 70001
    const g = randomNormal(n, rand, 3), u = randomNormal(n, rand), d = randomNormal(n, rand)
    for (const act of ACTIVATIONS) {
      for (const up of [u, null]) {
        const a = new Float32Array(n), b = new Float32Array(n)
        ref.actMul(act, a, g, up); nat.actMul(act, b, g, up)
        assertClose(b, a, {atol: 1e-6, rtol: 1e-5}, `${act} forward`)
        const A = [new Float32Array(n), new Float32Array(n)], B = [new Float32Array(n), new Float32Array(n)]
        ref.actMulBackward(act, A[0], up && A[1], d, g, up); nat.actMulBackward(act, B[0], up && B[1], d, g, up)
        assertClose(B[0], A[0], {atol: 1e-5, rtol: 1e-4}, `${act} dgate`)
        assertClose(B[1], A[1], {atol: 1e-6, rtol: 1e-5}, `${act} dup`)
      }
    }
    // silu through actMul is the engine's siluMul
    const a = new Float32Array(n), b = new Float32Array(n)
    nat.actMul('silu', a, g, u); nat.siluMul(b, g, u)
    assertClose(a, b, {atol: 0, rtol: 0})
  })

  it('gelu_tanh is torch\'s tanh approximation', () => {
    const out = new Float32Array(1)
    nat.actMul('gelu_tanh', out, Float32Array.of(1), null)
    // torch.nn.functional.gelu(torch.tensor(1.), approximate='tanh') = 0.8411920070648193
    assert.ok(Math.abs(out[0] - 0.841192) < 1e-6, String(out[0]))
  })

  it('layernorm and its backward', () => {
    for (const [rows, dim] of [[1, 2], [3, 17], [70, 64]]) {
      const x = randomNormal(rows * dim, rand, 2), w = randomNormal(dim, rand), b = randomNormal(dim, rand), dy = randomNormal(rows * dim, rand)
      const want = new Float32Array(rows * dim), got = new Float32Array(rows * dim)
      ref.layernorm(want, x, w, b, rows, dim, 1e-5); nat.layernorm(got, x, w, b, rows, dim, 1e-5)
      assertClose(got, want, {atol: 1e-5, rtol: 1e-5}, 'layernorm')
      const da = new Float32Array(rows * dim), db = new Float32Array(rows * dim)
      const dwa = new Float32Array(dim), dba = new Float32Array(dim), dwb = new Float32Array(dim), dbb = new Float32Array(dim)
      ref.layernormBackward(da, dwa, dba, dy, x, w, rows, dim, 1e-5); nat.layernormBackward(db, dwb, dbb, dy, x, w, rows, dim, 1e-5)
      assertClose(db, da, {atol: 1e-5, rtol: 1e-4}, 'dx')
      assertClose(dwb, dwa, {atol: 1e-5, rtol: 1e-4}, 'dw')
      assertClose(dbb, dba, {atol: 1e-5, rtol: 1e-4}, 'db')
    }
  })

  it('softcap, its backward, and scaleInplace', () => {
    const x = randomNormal(5000, rand, 20), d = randomNormal(5000, rand)
    const a = x.slice(), b = x.slice()
    ref.softcap(a, 5); nat.softcap(b, 5)
    assertClose(b, a, {atol: 1e-6, rtol: 1e-5}, 'softcap')
    assert.ok(b.every((v) => Math.abs(v) <= 5))
    const ga = d.slice(), gb = d.slice()
    ref.softcapBackward(ga, a, 5); nat.softcapBackward(gb, b, 5)
    assertClose(gb, ga, {atol: 1e-6, rtol: 1e-4}, 'softcapBackward')
    const sa = x.slice(), sb = x.slice()
    ref.scaleInplace(sa, 8); nat.scaleInplace(sb, 8)
    assertClose(sb, sa, {atol: 0, rtol: 0}, 'scaleInplace')
  })

  it('partial rotary: rope on the first rot dims, the rest untouched', () => {
    const [tokens, seq, heads, hd, rot] = [34, 17, 3, 16, 12]
    const angles = randomNormal(seq * rot / 2, rand, 3), x = randomNormal(tokens * heads * hd, rand)
    const cos = angles.map(Math.cos), sin = angles.map(Math.sin)
    const a = x.slice(), b = x.slice()
    ref.rope(a, cos, sin, tokens, seq, heads, hd, rot); nat.rope(b, cos, sin, tokens, seq, heads, hd, rot)
    assertClose(b, a, {atol: 1e-5, rtol: 1e-5}, 'rope')
    for (let t = 0; t < tokens * heads; t++) for (let i = rot; i < hd; i++) assert.equal(b[t * hd + i], x[t * hd + i])
    ref.ropeBackward(a, cos, sin, tokens, seq, heads, hd, rot); nat.ropeBackward(b, cos, sin, tokens, seq, heads, hd, rot)
    assertClose(b, a, {atol: 1e-5, rtol: 1e-5}, 'ropeBackward')
    assertClose(b, x, {atol: 1e-4, rtol: 1e-4}, 'the backward undoes the rotation')
  })

  it('sliding-window and softcapped attention: forward, cached and backward', () => {
    for (const mask of [{window: 5}, {softcap: 2}, {window: 3, softcap: 1.5}]) {
      for (const [batch, seq, nh, nkv, hd] of [[1, 1, 1, 1, 4], [2, 17, 4, 2, 8], [1, 70, 2, 1, 5]]) {
        const rows = batch * seq, scale = 0.4
        const q = randomNormal(rows * nh * hd, rand, 2), k = randomNormal(rows * nkv * hd, rand, 2), v = randomNormal(rows * nkv * hd, rand)
        const want = new Float32Array(rows * nh * hd), got = new Float32Array(rows * nh * hd)
        ref.attention(want, q, k, v, batch, seq, nh, nkv, hd, scale, mask); nat.attention(got, q, k, v, batch, seq, nh, nkv, hd, scale, mask)
        assertClose(got, want, {atol: 1e-5, rtol: 1e-4}, `attention ${JSON.stringify(mask)}`)
        // The cache gives the same as the whole sequence: the last 3 queries over their prefix.
        const n = Math.min(3, seq), past = seq - n, qs = nh * hd, cached = new Float32Array(n * qs)
        nat.attentionCached(cached, q.subarray(past * qs, seq * qs), k, v, n, past, nh, nkv, hd, scale, mask)
        assertClose(cached, want.subarray(past * qs, seq * qs), {atol: 1e-5, rtol: 1e-4}, 'cached')
        const dout = randomNormal(rows * nh * hd, rand)
        const A = [new Float32Array(rows * nh * hd), new Float32Array(rows * nkv * hd), new Float32Array(rows * nkv * hd)]
        const B = [new Float32Array(rows * nh * hd), randomNormal(rows * nkv * hd, rand), randomNormal(rows * nkv * hd, rand)]
        ref.attentionBackward(A[0], A[1], A[2], dout, q, k, v, batch, seq, nh, nkv, hd, scale, mask)
        nat.attentionBackward(B[0], B[1], B[2], dout, q, k, v, batch, seq, nh, nkv, hd, scale, mask)
        for (let i = 0; i < 3; i++) assertClose(B[i], A[i], {atol: 1e-5, rtol: 1e-4}, ['dq', 'dk', 'dv'][i])
      }
    }
  })
})
