import {describe, it} from 'node:test'
import assert from 'node:assert/strict'

import {recoverGroups} from '../../src/export/own-groups.js'
import {decodeFloats, encodeFloats} from '../../src/model/safetensors/writer.js'

const bf16 = (v: Float32Array) => decodeFloats(encodeFloats(v, 'BF16'), 'BF16')

/** rows × cols of bf16(scale·(code − zero)) with bf16 scales, groups of `group` (a shorter last one when it does not divide). */
function quantized(rows: number, cols: number, group: number, seed: number) {
  let s = seed
  const rand = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32)
  const w = new Float32Array(rows * cols), scales: number[] = []
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c += group) {
      const scale = bf16(Float32Array.of(0.001 + 0.02 * rand()))[0], zero = Math.floor(16 * rand())
      scales.push(scale)
      for (let j = c; j < Math.min(cols, c + group); j++) w[r * cols + j] = Math.fround(scale * (Math.floor(16 * rand()) - zero))
    }
  }
  return {w: bf16(w), scales}
}

describe('codes recovered from a quantized dense linear', () => {
  it('a grid of bf16 scales comes back exactly, including a shorter last group, in units of gcd(group, width)', () => {
    const {w} = quantized(6, 192, 128, 7)
    const g = recoverGroups(w, 6, 192, {bits: 4, groupsize: 128, dtype: 'BF16'})
    if (!g) throw new Error('not recovered')
    assert.equal(g.group, 64)
    for (let k = 0; k < g.scales.length; k++) {
      for (let j = 0; j < 64; j++) {
        const code: number = (g.codes[(k * 64 + j) >> 1] >> ((j & 1) * 4)) & 15
        assert.equal(bf16(Float32Array.of(g.scales[k] * (code - g.zeros[k])))[0], w[k * 64 + j])
      }
    }
  })

  it('refuses values that are not such a grid: one value a bf16 step away, or plain dense weights', () => {
    const {w} = quantized(4, 64, 32, 3)
    const i = w.findIndex((v) => v > 0.05)
    const nudged = new Uint16Array(encodeFloats(w, 'BF16').slice().buffer)
    nudged[i] += 1
    assert.equal(recoverGroups(decodeFloats(new Uint8Array(nudged.buffer), 'BF16'), 4, 64, {bits: 4, groupsize: 32, dtype: 'BF16'}), null)
    const dense = bf16(Float32Array.from({length: 256}, (_, k) => Math.sin(k * 0.37) * 0.05))
    assert.equal(recoverGroups(dense, 4, 64, {bits: 4, groupsize: 32, dtype: 'BF16'}), null)
  })
})
