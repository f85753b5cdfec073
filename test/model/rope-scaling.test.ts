import {describe, it} from 'node:test'
import assert from 'node:assert/strict'

import {parseConfig} from '../../src/model/config.js'
import {inverseFrequencies} from '../../src/model/rope-tables.js'

const base = {architectures: ['LlamaForCausalLM'], vocab_size: 8, hidden_size: 128, intermediate_size: 8, num_hidden_layers: 1,
  num_attention_heads: 2, num_key_value_heads: 2, rope_theta: 500000}

describe('rope_scaling as transformers computes it', () => {
  it('linear divides every frequency by the factor', () => {
    const plain = inverseFrequencies(parseConfig(base))
    const linear = inverseFrequencies(parseConfig({...base, rope_scaling: {type: 'linear', factor: 4}}))
    plain.forEach((f, i) => assert.ok(Math.abs(linear[i] - f / 4) <= 1e-7 * f))
  })

  it('llama3 keeps high frequencies, divides low ones by the factor and blends in between (Llama-3.2 settings)', () => {
    const cfg = parseConfig({...base, rope_scaling: {rope_type: 'llama3', factor: 32, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192}})
    const plain = inverseFrequencies(parseConfig(base)), scaled = inverseFrequencies(cfg)
    let kept = 0, divided = 0, blended = 0
    plain.forEach((f, i) => {
      const wavelen = (2 * Math.PI) / f
      if (wavelen < 8192 / 4) { assert.equal(scaled[i], f); kept++ }
      else if (wavelen > 8192 / 1) { assert.ok(Math.abs(scaled[i] - f / 32) <= 1e-6 * f); divided++ }
      else {
        const smooth = (8192 / wavelen - 1) / (4 - 1)
        assert.ok(Math.abs(scaled[i] - ((1 - smooth) * f / 32 + smooth * f)) <= 1e-6 * f)
        assert.ok(scaled[i] < f && scaled[i] > f / 32)
        blended++
      }
    })
    assert.ok(kept > 0 && divided > 0 && blended > 0, `${kept} kept, ${blended} blended, ${divided} divided`)
  })

  it('refuses scalings it does not implement', () => {
    assert.throws(() => parseConfig({...base, rope_scaling: {rope_type: 'yarn', factor: 4}}), /rope_scaling type "yarn" is not supported/)
  })
})
