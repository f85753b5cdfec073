import {describe, it} from 'node:test'
import assert from 'node:assert/strict'

import {dequantize, encodePackQuantized, packQuantizedConfig, type QuantizedLinear} from '../../src/packed/pack-quantized.js'

// Vectors derived by hand from compressed-tensors' documented semantics (vllm-project/compressed-tensors at
// ac8e2ba8, src/compressed_tensors/compressors/pack_quantized/{helpers,base}.py): codes are signed intB,
// offset by 2^(B−1) before packing; element i of a row sits at bits B·i… of the row's int32 words (lowest
// first); zero points are packed the same way down the rows (packed_dim=0); w = scale·(q − z).

const offset = (signed: number[], bits: number) => Uint8Array.from(signed, (v) => v + 2 ** (bits - 1))
const words = (e: {data: Uint8Array}) => [...new Int32Array(e.data.slice().buffer)]
const byName = (q: QuantizedLinear) => Object.fromEntries(encodePackQuantized('m', q, 'F32').map((e) => [e.name.slice(2), e]))

describe('pack-quantized against compressed-tensors\' own semantics', () => {
  it('4-bit rows of their test_repack_4bit: [1…7, 0] → 0x8FEDCBA9, [−1…−8] → 0x01234567', () => {
    const codes = offset([1, 2, 3, 4, 5, 6, 7, 0, -1, -2, -3, -4, -5, -6, -7, -8], 4)
    const t = byName({bits: 4, groupsize: 0, sym: true, rows: 2, cols: 8, codes, scales: new Float32Array(2).fill(1), zeros: new Float32Array(2).fill(8)})
    assert.deepEqual(words(t.weight_packed), [0x8fedcba9 | 0, 0x01234567])
    assert.deepEqual(t.weight_packed.shape, [2, 1])
    assert.equal(t.weight_zero_point, undefined)   // symmetric: no zero point, as _remove_symmetric_zp drops it
  })

  it('8-bit rows of their test_repack_8bit: four codes per word, offset 128', () => {
    const codes = offset([10, 15, 20, 25, 30, 35, 40, 45, -10, -20, -30, -40, -50, -60, -70, -80], 8)
    const t = byName({bits: 8, groupsize: 0, sym: true, rows: 2, cols: 8, codes, scales: new Float32Array(2).fill(1), zeros: new Float32Array(2).fill(128)})
    assert.deepEqual(words(t.weight_packed), [0x99948f8a | 0, 0xada8a39e | 0, 0x58626c76, 0x303a444e])
    assert.deepEqual(t.weight_packed.shape, [2, 2])
  })

  it('asymmetric zero points packed down the rows: I32 [⌈rows·B/32⌉, groups], rows 0–7 in word 0', () => {
    const rows = 9, zs = Array.from({length: rows}, (_, r) => [r - 4, 3 - r]).flat()   // signed, (rows, 2 groups)
    const q: QuantizedLinear = {bits: 4, groupsize: 8, sym: false, rows, cols: 16, codes: new Uint8Array(rows * 16).fill(8),
      scales: Float32Array.from({length: rows * 2}, (_, i) => 0.5 + i), zeros: Float32Array.from(zs, (z) => z + 8)}
    const t = byName(q)
    assert.equal(t.weight_zero_point.dtype, 'I32')
    assert.deepEqual(t.weight_zero_point.shape, [2, 2])
    assert.deepEqual(words(t.weight_zero_point), [0xba987654 | 0, 0x456789ab, 12, 3])
    assert.deepEqual(t.weight_scale.shape, [rows, 2])
    assert.deepEqual([t.weight_shape.dtype, [...new BigInt64Array(t.weight_shape.data.slice().buffer)]], ['I64', [9n, 16n]])
    // signed code 0 in row r, group 0: w = scale·(0 − (r − 4))
    const w = dequantize(q, 'F32')
    for (let r = 0; r < rows; r++) assert.equal(w[r * 16], Math.fround(q.scales[r * 2] * (4 - r)))
  })

  it('quantization_config has the fields of an llm-compressor W4A16 checkpoint written with compressed-tensors ≥ 0.13', () => {
    const c = packQuantizedConfig({bits: 4, groupsize: 128, sym: true}) as any
    // Field set of real configs (e.g. a Qwen3.5 GPTQ W4A16 g128 config.json, compressed-tensors' README example).
    assert.deepEqual(Object.keys(c).sort(), ['config_groups', 'format', 'global_compression_ratio', 'ignore', 'kv_cache_scheme', 'quant_method',
      'quantization_status', 'version'])
    assert.deepEqual(Object.keys(c.config_groups.group_0).sort(), ['format', 'input_activations', 'output_activations', 'targets', 'weights'])
    assert.deepEqual(Object.keys(c.config_groups.group_0.weights).sort(), ['actorder', 'block_structure', 'dynamic', 'group_size', 'num_bits', 'observer',
      'observer_kwargs', 'scale_dtype', 'strategy', 'symmetric', 'type', 'zp_dtype'])
    assert.deepEqual([c.format, c.config_groups.group_0.format, c.quant_method, c.quantization_status], ['pack-quantized', 'pack-quantized', 'compressed-tensors', 'compressed'])
    assert.deepEqual(c.config_groups.group_0.weights, {num_bits: 4, type: 'int', symmetric: true, strategy: 'group', group_size: 128, dynamic: false,
      actorder: null, block_structure: null, observer: 'minmax', observer_kwargs: {}, scale_dtype: null, zp_dtype: null})
    const channel = packQuantizedConfig({bits: 8, groupsize: 0, sym: false}) as any
    assert.deepEqual([channel.config_groups.group_0.weights.strategy, channel.config_groups.group_0.weights.group_size], ['channel', null])
  })
})
