import {describe, it} from 'node:test'
import assert from 'node:assert/strict'

import {nativeKernels, refBackend} from '../../src/kernels/index.js'
import type {FloatDtype} from '../../src/model/safetensors/dtypes.js'
import {decodeFloats, encodeFloats} from '../../src/model/safetensors/writer.js'
import {randomNormal, seededRandom} from '../../src/util/random.js'

const nat = nativeKernels(), ref = refBackend
const rand = seededRandom(41)
const int = (n: number) => Math.floor(n * rand())
const inDtype = (v: Float32Array, dtype: FloatDtype) => decodeFloats(encodeFloats(v, dtype), dtype)

/** One group of `kind`: a grid dtype(scale·(code − zero)) with a dtype scale, or one of the cases recovery must refuse or take apart. */
function group(n: number, dtype: FloatDtype, kind: string): Float32Array {
  const scale = inDtype(Float32Array.of((0.0005 + 0.05 * rand()) * (kind === 'tiny' ? 2 ** -12 : 1)), dtype)[0], zero = int(16)
  const v = inDtype(Float32Array.from({length: n}, () => Math.fround(scale * (int(16) - zero))), dtype)
  const at = int(n)
  if (kind === 'zeros') v.fill(0)
  else if (kind === 'constant') v.fill(v[at])
  else if (kind === 'dense') v.set(inDtype(randomNormal(n, rand, 0.02), dtype))
  else if (kind === 'few levels') v.set(inDtype(Float32Array.from({length: n}, (_, i) => [0.013, -0.002, 0.041][i % 3]), dtype))
  else if (kind === 'nan') v[at] = NaN
  else if (kind === 'inf') v[at] = -Infinity
  else if (kind === 'nudged' && v[at]) {
    const bits = new Uint8Array(encodeFloats(v.subarray(at, at + 1), dtype))
    bits[0] ^= 1
    v[at] = decodeFloats(bits, dtype)[0]
  }
  return v
}

const GRID = ['grid', 'grid', 'grid', 'zeros', 'constant', 'tiny']
const REFUSED = ['dense', 'few levels', 'nan', 'inf', 'nudged']

/** rows × cols of groups along each row (a shorter last one when `grp` does not divide cols), each of a kind drawn from `kinds`. */
function weights(rows: number, cols: number, grp: number, dtype: FloatDtype, kinds: string[]): Float32Array {
  const w = new Float32Array(rows * cols)
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c += grp) w.set(group(Math.min(grp, cols - c), dtype, kinds[int(kinds.length)]), r * cols + c)
  return w
}

const gcd = (a: number, b: number): number => (b ? gcd(b, a % b) : a)

function recoverBoth(w: Float32Array, rows: number, cols: number, grp: number, dtype: FloatDtype): boolean {
  const unit = gcd(grp, cols), make = () => ({codes: new Uint8Array(rows * cols / 2), scales: new Float32Array(rows * cols / unit), zeros: new Float32Array(rows * cols / unit)})
  const a = make(), b = make()
  const ok = ref.recoverGroups(a.codes, a.scales, a.zeros, w, rows, cols, grp, unit, dtype)
  assert.equal(nat.recoverGroups(b.codes, b.scales, b.zeros, w, rows, cols, grp, unit, dtype), ok)
  if (ok) assert.deepEqual(b, a)
  return ok
}

/** Groups listed by row as a GQSA checkpoint holds them: some rows keep a few of their slots, in order. */
function listing(rows: number, slots: number, grp: number, zeroOf: () => number) {
  const rowPtr = new Int32Array(rows + 1), cols: number[] = []
  for (let r = 0; r < rows; r++) {
    for (let s = 0; s < slots; s++) if (r % 3 === 0 || rand() < 0.6) cols.push(s)
    rowPtr[r + 1] = cols.length
  }
  const n = cols.length
  return {
    rowPtr, colIdx: Uint16Array.from(cols), codes: Uint8Array.from({length: n * grp / 2}, () => int(256)),
    scales: Float32Array.from({length: n}, () => (rand() < 0.5 ? inDtype(Float32Array.of(0.02 * rand()), 'F16')[0] : 0.02 * rand())),
    zeros: Float32Array.from({length: n}, zeroOf),
  }
}

describe('the own-group kernels equal their references byte for byte', () => {
  it('recovers grids of bf16, f16 and f32 scales, with shorter last groups, as the reference does', () => {
    for (const dtype of ['BF16', 'F16', 'F32'] as const) {
      for (const [rows, cols, grp] of [[3, 64, 32], [5, 192, 128], [4, 200, 64], [2, 96, 96], [33, 512, 128]]) {
        assert.ok(recoverBoth(weights(rows, cols, grp, dtype, GRID), rows, cols, grp, dtype), `${dtype} ${rows}×${cols}/${grp}`)
      }
    }
  })

  it('refuses the groups the reference refuses: dense values, a value a step off, NaN, infinity, more than 4 bits of levels', () => {
    let refused = 0
    for (const dtype of ['BF16', 'F16', 'F32'] as const) {
      for (let t = 0; t < 60; t++) {
        const [rows, cols, grp] = [[1, 32, 32], [2, 48, 32], [3, 128, 64]][t % 3]
        if (!recoverBoth(weights(rows, cols, grp, dtype, [...GRID, ...REFUSED]), rows, cols, grp, dtype)) refused++
      }
    }
    assert.ok(refused > 30 && refused < 180, `${refused} of 180 refused`)
  })

  it('copies listed groups into MatMulNBits blocks, several blocks to a group, refusing zero points outside 0…15', () => {
    for (const [rows, slots, grp, block] of [[7, 3, 128, 128], [5, 4, 256, 128], [9, 3, 48, 16], [4, 5, 64, 64]]) {
      for (const zeroOf of [() => int(16), () => 15 * rand(), () => (rand() < 0.05 ? 16 : int(16))]) {
        const g = listing(rows, slots, grp, zeroOf), cols = slots * grp, nb = Math.ceil(cols / block)
        const make = () => ({codes: new Uint8Array(rows * nb * block / 2), scales: new Float32Array(rows * nb), zeros: new Uint8Array(rows * Math.ceil(nb / 2))})
        const a = make(), b = make()
        const ok = ref.groupsQ4(a.codes, a.scales, a.zeros, g.rowPtr, g.colIdx, g.codes, g.scales, g.zeros, rows, cols, grp, block)
        assert.equal(nat.groupsQ4(b.codes, b.scales, b.zeros, g.rowPtr, g.colIdx, g.codes, g.scales, g.zeros, rows, cols, grp, block), ok)
        assert.deepEqual(b, a)
      }
    }
  })

  it('copies listed groups into ggml Q4_1 blocks, refusing scales f16 cannot hold only when asked to', () => {
    let exactTaken = 0
    for (const [rows, slots, grp] of [[6, 4, 32], [5, 2, 64], [3, 3, 96]]) {
      for (const exact of [false, true]) {
        for (const [zeroOf, f16Scales] of [[() => int(16), false], [() => 0, true], [() => int(16), true], [() => (rand() < 0.05 ? -1 : int(16)), false]] as const) {
          const g = listing(rows, slots, grp, zeroOf), cols = slots * grp
          if (f16Scales) g.scales.set(inDtype(g.scales, 'F16'))
          const a = new Uint8Array(rows * cols / 32 * 20), b = new Uint8Array(a.length)
          const ok = ref.groupsQ4_1(a, g.rowPtr, g.colIdx, g.codes, g.scales, g.zeros, rows, cols, grp, exact)
          assert.equal(nat.groupsQ4_1(b, g.rowPtr, g.colIdx, g.codes, g.scales, g.zeros, rows, cols, grp, exact), ok)
          assert.deepEqual(b, a)
          if (ok && exact) exactTaken++
        }
      }
    }
    assert.ok(exactTaken >= 3, `${exactTaken} exact listings taken`)
  })

  it('throws on a listing that points outside the shapes rather than writing past them', () => {
    const g = listing(2, 2, 32, () => 3)
    g.colIdx[0] = 2
    assert.throws(() => nat.groupsQ4_1(new Uint8Array(2 * 64 / 32 * 20), g.rowPtr, g.colIdx, g.codes, g.scales, g.zeros, 2, 64, 32, false), RangeError)
    assert.throws(() => nat.groupsQ4(new Uint8Array(64), new Float32Array(4), new Uint8Array(2), g.rowPtr, g.colIdx, g.codes, g.scales, g.zeros, 2, 64, 32, 32), RangeError)
  })
})
