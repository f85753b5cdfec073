import {describe, it} from 'node:test'
import assert from 'node:assert/strict'

import {nativeKernels, refBackend} from '../../src/kernels/index.js'
import {randomNormal, seededRandom} from '../../src/util/random.js'

const nat = nativeKernels(), ref = refBackend
const rand = seededRandom(23)

/** Random weights with the cases that decide a rounding: zeros, an emptied block, halves, a constant block. */
function awkward(n: number): Float32Array {
  const x = randomNormal(n, rand, 0.05)
  for (let i = 0; i < n; i += 7) x[i] = 0
  x.fill(0, 0, Math.min(n, 32))
  if (n >= 96) x.fill(0.25, 64, 96)
  for (let i = 100; i < Math.min(n, 164); i++) x[i] = (i - 100) * 0.5 - 15
  return x
}

const both = <T extends ArrayBufferView>(make: () => T, run: (k: typeof nat, out: T) => void) => {
  const a = make(), b = make()
  run(ref, a)
  run(nat, b)
  assert.deepEqual(new Uint8Array(b.buffer), new Uint8Array(a.buffer))
}

describe('the exporters\' encoders equal their references byte for byte', () => {
  it('ggml q8_0 and q4_1 blocks', () => {
    for (const n of [32, 320, 32 * 1001]) {
      const x = awkward(n)
      both(() => new Uint8Array(n / 32 * 34), (k, out) => k.ggmlQ8_0(out, x))
      both(() => new Uint8Array(n / 32 * 20), (k, out) => k.ggmlQ4_1(out, x))
    }
  })

  it('q4_1 rounds x0 + 0.5 in float as ggml does: 0.5 − 2⁻²⁵ in a block spanning 0…15 is code 1', () => {
    const x = Float32Array.from({length: 32}, (_, j) => j % 16)
    x[1] = 0.5 - 2 ** -25
    for (const k of [ref, nat]) {
      const out = new Uint8Array(20)
      k.ggmlQ4_1(out, x)
      assert.equal(out[4 + 1] & 15, 1)
    }
  })

  it('MatMulNBits blocks by round-to-nearest, with a partial last block', () => {
    for (const [rows, cols, block] of [[3, 32, 16], [17, 200, 32], [64, 1024, 128]]) {
      const w = awkward(rows * cols), nb = Math.ceil(cols / block)
      const make = () => ({codes: new Uint8Array(rows * nb * block / 2), scales: new Float32Array(rows * nb), zeros: new Uint8Array(rows * Math.ceil(nb / 2))})
      const a = make(), b = make()
      ref.q4Blocks(a.codes, a.scales, a.zeros, w, rows, cols, block)
      nat.q4Blocks(b.codes, b.scales, b.zeros, w, rows, cols, block)
      assert.deepEqual(b, a)
    }
  })

  it('int32 packing of 2-, 4- and 8-bit codes and back, with a partial last word', () => {
    for (const [n, len, bits] of [[1, 8, 4], [5, 13, 4], [33, 192, 4], [7, 9, 8], [4, 31, 2]]) {
      const values = Uint8Array.from({length: n * len}, () => Math.floor(rand() * 2 ** bits))
      const words = Math.ceil(len * bits / 32)
      both(() => new Int32Array(n * words).fill(-1), (k, out) => k.packInt32(out, values, n, len, bits))
      const packed = new Int32Array(n * words)
      ref.packInt32(packed, values, n, len, bits)
      both(() => new Uint8Array(n * len), (k, out) => k.unpackInt32(out, packed, n, len, bits))
      const back = new Uint8Array(n * len)
      nat.unpackInt32(back, packed, n, len, bits)
      assert.deepEqual(back, values)
    }
  })

  it('float transposition', () => {
    for (const [rows, cols] of [[1, 1], [3, 70], [65, 33]]) {
      const w = randomNormal(rows * cols, rand)
      both(() => new Float32Array(rows * cols), (k, out) => k.transposeF32(out, w, rows, cols))
    }
  })
})
