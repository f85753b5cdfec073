import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import path from 'node:path'

import {Checkpoint} from '../../src/model/safetensors/checkpoint.js'
import {writeSafetensors} from '../../src/model/safetensors/writer.js'
import {dequantize, encodePackQuantized, readPackQuantized, type QuantizedLinear} from '../../src/packed/pack-quantized.js'
import {seededRandom} from '../../src/util/random.js'
import {tempDir} from '../helpers/cli.js'

function linear(rows: number, cols: number, bits: number, groupsize: number, sym: boolean): QuantizedLinear {
  const rand = seededRandom(rows * cols + bits), groups = groupsize ? cols / groupsize : 1
  return {bits, groupsize, sym, rows, cols,
    codes: Uint8Array.from({length: rows * cols}, () => Math.floor(rand() * 2 ** bits)),
    scales: Float32Array.from({length: rows * groups}, () => Math.fround(0.01 + rand() * 0.1)),
    zeros: Float32Array.from({length: rows * groups}, () => (sym ? 2 ** (bits - 1) : Math.floor(rand() * 2 ** bits)))}
}

function roundTrip(q: QuantizedLinear, dtype: 'F32' | 'BF16' = 'F32'): {back: QuantizedLinear; ck: Checkpoint} {
  const dir = tempDir()
  writeSafetensors(path.join(dir, 'model.safetensors'), encodePackQuantized('p', q, dtype))
  const ck = Checkpoint.open(dir)
  return {back: readPackQuantized(ck, 'p', q.rows, q.cols), ck}
}

describe('compressed-tensors pack-quantized layout', () => {
  it('packs codes into int32 words lowest bits first, and zero points down the rows', () => {
    const q: QuantizedLinear = {bits: 4, groupsize: 8, sym: false, rows: 9, cols: 16,
      codes: Uint8Array.from({length: 9 * 16}, (_, i) => i % 16), scales: new Float32Array(18).fill(1),
      zeros: Float32Array.from({length: 18}, (_, i) => Math.floor(i / 2) % 16)}
    const t = Object.fromEntries(encodePackQuantized('p', q, 'F32').map((e) => [e.name.slice(2), e]))
    const words = new Int32Array(t.weight_packed.data.slice().buffer)
    assert.deepEqual([...words.subarray(0, 2)], [0x76543210, 0xfedcba98 | 0])
    assert.deepEqual(t.weight_zero_point.shape, [2, 2])
    const zp = new Int32Array(t.weight_zero_point.data.slice().buffer)
    assert.deepEqual([...zp], [0x76543210, 0x76543210, 8, 8])   // rows 0–7 in word 0 of each group, row 8 alone in word 1
    assert.deepEqual(new BigInt64Array(t.weight_shape.data.slice().buffer), BigInt64Array.of(9n, 16n))
  })

  for (const [bits, groupsize, sym, rows, cols] of [[4, 32, false, 13, 64], [4, 0, false, 8, 40], [8, 16, false, 5, 48], [8, 0, true, 6, 20], [4, 8, true, 3, 24]] as const) {
    it(`round trip, ${bits}-bit ${groupsize ? `groups of ${groupsize}` : 'per row'}${sym ? ' symmetric' : ''}, ${rows} × ${cols}: codes, scales, zeros and weights bit for bit`, () => {
      const q = linear(rows, cols, bits, groupsize, sym)
      const {back, ck} = roundTrip(q)
      assert.deepEqual(back, q)
      assert.deepEqual(dequantize(back, 'F32'), dequantize(q, 'F32'))
      assert.equal(ck.has('p.weight_zero_point'), !sym)
      ck.close()
    })
  }

  it('scales in bf16 are read back as stored, and the weights are rounded to bf16 as a bf16 loader computes them', () => {
    const q = linear(4, 32, 4, 16, false)
    q.scales = q.scales.map((s) => new Float32Array(new Uint32Array([new Uint32Array(Float32Array.of(s).buffer)[0] & 0xffff0000]).buffer)[0])   // bf16-exact
    const {back, ck} = roundTrip(q, 'BF16')
    assert.deepEqual(back.scales, q.scales)
    const w = dequantize(back, 'BF16')
    for (let i = 0; i < w.length; i++) assert.equal(new Uint32Array(Float32Array.of(w[i]).buffer)[0] & 0xffff, 0)
    ck.close()
  })
})
