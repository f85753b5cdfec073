import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {fileURLToPath} from 'node:url'

import {nativeKernels, refBackend, setThreads} from '../../src/kernels/index.js'
import {randomNormal, seededRandom} from '../../src/util/random.js'
import {assertClose} from '../helpers/assert-close.js'

const SIZES = [1, 2, 3, 5, 7, 8, 15, 16, 17, 31, 33, 63, 65, 129]
const nat = nativeKernels()
const ref = refBackend
const rand = seededRandom(7)
const pick = () => SIZES[Math.floor(rand() * SIZES.length)]

describe('native kernels equal their references', () => {
  it('gemm, every transpose, accumulate and bias, odd sizes and strides', () => {
    for (let trial = 0; trial < 60; trial++) {
      const m = pick(), n = pick(), k = trial === 0 ? 300 : pick()   // 300 crosses the K blocking
      const transA = trial % 2 === 1, transB = trial % 4 >= 2
      const pad = trial % 3
      const lda = (transA ? m : k) + pad, ldb = (transB ? k : n) + pad, ldc = n + pad
      const a = randomNormal((transA ? k : m) * lda, rand), b = randomNormal((transB ? n : k) * ldb, rand)
      const bias = trial % 5 === 0 ? randomNormal(n, rand) : null
      const accumulate = trial % 7 === 0
      const c0 = randomNormal(m * ldc, rand)
      const want = c0.slice(), got = c0.slice()
      const opts = {transA, transB, accumulate, bias, lda, ldb, ldc}
      ref.gemm(want, a, b, m, n, k, opts)
      nat.gemm(got, a, b, m, n, k, opts)
      assertClose(got, want, {atol: 1e-4, rtol: 1e-4}, `gemm ${m}x${n}x${k} ${JSON.stringify({transA, transB, accumulate, pad})}`)
    }
  })

  it('gemm beyond one 4096 packing panel in rows and in columns', () => {
    for (const [m, n, k, transB] of [[5000, 3, 7, false], [2, 4100, 9, true], [4097, 4099, 2, true]] as const) {
      const a = randomNormal(m * k, rand), b = randomNormal(n * k, rand), bias = randomNormal(n, rand)
      const want = new Float32Array(m * n), got = new Float32Array(m * n)
      ref.gemm(want, a, b, m, n, k, {transB, bias})
      nat.gemm(got, a, b, m, n, k, {transB, bias})
      assertClose(got, want, {atol: 1e-4, rtol: 1e-4}, `gemm ${m}x${n}x${k}`)
    }
  })

  it('gemm gives identical bits for any thread count', () => {
    const m = 129, n = 257, k = 300
    const a = randomNormal(m * k, rand), b = randomNormal(n * k, rand)
    const one = new Float32Array(m * n), two = new Float32Array(m * n)
    setThreads(1); nat.gemm(one, a, b, m, n, k, {transB: true})
    setThreads(2); nat.gemm(two, a, b, m, n, k, {transB: true})
    assert.deepEqual(one, two)
  })

  it('gemm on every instruction set this CPU has (portable, avx2, avx512)', () => {
    const script = fileURLToPath(new URL('./gemm-isa-check.js', import.meta.url))
    for (const isa of ['portable', 'avx2', 'avx512']) {
      const r = spawnSync(process.execPath, [script], {env: {...process.env, SPARSIFY_ISA: isa}, encoding: 'utf8'})
      assert.equal(r.status, 0, r.stderr)
      const {maxRelErr} = JSON.parse(r.stdout)
      assert.ok(maxRelErr < 1e-5, `${isa}: relative error ${maxRelErr}`)
    }
  })

  it('rmsnorm', () => {
    for (const [rows, dim] of [[1, 1], [3, 17], [65, 33], [7, 129]]) {
      const x = randomNormal(rows * dim, rand), w = randomNormal(dim, rand)
      const want = new Float32Array(rows * dim), got = new Float32Array(rows * dim)
      ref.rmsnorm(want, x, w, rows, dim, 1e-5)
      nat.rmsnorm(got, x, w, rows, dim, 1e-5)
      assertClose(got, want, {atol: 1e-5, rtol: 1e-5}, `rmsnorm ${rows}x${dim}`)
    }
  })

  it('rope', () => {
    for (const [tokens, seq, heads, hd] of [[5, 5, 1, 2], [34, 17, 3, 16], [65, 65, 2, 10]]) {
      const cos = randomNormal(seq * hd / 2, rand), sin = randomNormal(seq * hd / 2, rand)
      const x = randomNormal(tokens * heads * hd, rand)
      const want = x.slice(), got = x.slice()
      ref.rope(want, cos, sin, tokens, seq, heads, hd)
      nat.rope(got, cos, sin, tokens, seq, heads, hd)
      assertClose(got, want, {atol: 1e-5, rtol: 1e-5}, 'rope')
    }
  })

  it('siluMul and addInplace', () => {
    for (const n of [1, 7, 65, 100003]) {
      const g = randomNormal(n, rand, 3), u = randomNormal(n, rand)
      const want = new Float32Array(n), got = new Float32Array(n)
      ref.siluMul(want, g, u); nat.siluMul(got, g, u)
      assertClose(got, want, {atol: 1e-6, rtol: 1e-5}, 'siluMul')
      const x1 = g.slice(), x2 = g.slice()
      ref.addInplace(x1, u); nat.addInplace(x2, u)
      assertClose(x2, x1, {atol: 0, rtol: 0}, 'addInplace')
    }
  })

  it('causal grouped-query attention', () => {
    for (const [batch, seq, nh, nkv, hd] of [[1, 1, 1, 1, 4], [2, 17, 4, 2, 8], [1, 65, 6, 3, 7], [3, 130, 2, 1, 16]]) {
      const rows = batch * seq
      const q = randomNormal(rows * nh * hd, rand), k = randomNormal(rows * nkv * hd, rand), v = randomNormal(rows * nkv * hd, rand)
      const want = new Float32Array(rows * nh * hd), got = new Float32Array(rows * nh * hd)
      const scale = 1 / Math.sqrt(hd)
      ref.attention(want, q, k, v, batch, seq, nh, nkv, hd, scale)
      nat.attention(got, q, k, v, batch, seq, nh, nkv, hd, scale)
      assertClose(got, want, {atol: 1e-5, rtol: 1e-4}, `attention ${[batch, seq, nh, nkv, hd]}`)
    }
  })

  it('nllRows', () => {
    for (const [rows, vocab] of [[1, 2], [17, 33], [5, 1000]]) {
      const logits = randomNormal(rows * vocab, rand, 4)
      const targets = Int32Array.from({length: rows}, () => Math.floor(rand() * vocab))
      const want = new Float32Array(rows), got = new Float32Array(rows)
      ref.nllRows(want, logits, targets, rows, vocab)
      nat.nllRows(got, logits, targets, rows, vocab)
      assertClose(got, want, {atol: 1e-5, rtol: 1e-5}, 'nllRows')
    }
    assert.throws(() => nat.nllRows(new Float32Array(1), new Float32Array(4), Int32Array.of(9), 1, 4), /outside the vocabulary/)
  })

  it('float conversions: bf16 and f16 both ways, every 16-bit pattern', () => {
    const all = Uint16Array.from({length: 65536}, (_, i) => i)
    for (const [to, name] of [['bf16ToF32', 'bf16'], ['f16ToF32', 'f16']] as const) {
      const want = new Float32Array(65536), got = new Float32Array(65536)
      ref[to](want, all); nat[to](got, all)
      // Bit for bit, except that a NaN's payload may be quieted on its way through a JS number.
      const g = new Uint32Array(got.buffer), w = new Uint32Array(want.buffer)
      for (let i = 0; i < 65536; i++) {
        if (Number.isNaN(want[i])) assert.ok(Number.isNaN(got[i]), `${name} ${i}: NaN expected`)
        else assert.equal(g[i], w[i], `${name} → f32 at pattern ${i.toString(16)}`)
      }
    }
    const xs = new Float32Array([...randomNormal(5000, rand, 100), ...randomNormal(2000, rand, 1e-5), ...randomNormal(2000, rand, 1e-7),
      65504, 65519, 65520, 1e6, -0, 0, Infinity, -Infinity, NaN, 2 ** -24, 3 * 2 ** -26, 1.00048828125, 1.00146484375])
    for (const from of ['f32ToBf16', 'f32ToF16'] as const) {
      const want = new Uint16Array(xs.length), got = new Uint16Array(xs.length)
      ref[from](want, xs); nat[from](got, xs)
      assert.deepEqual(got, want, from)
    }
  })
})
