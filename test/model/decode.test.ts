import {describe, it} from 'node:test'
import assert from 'node:assert/strict'

import {argmax, Decoder} from '../../src/model/engine/decode.js'
import {forwardLogits, toBatch} from '../../src/model/engine/forward.js'
import {Model} from '../../src/model/model.js'
import {ParamStore} from '../../src/model/params.js'
import {PackedStore} from '../../src/packed/store.js'
import {nativeKernels, refBackend} from '../../src/kernels/index.js'
import {randomNormal, seededRandom} from '../../src/util/random.js'
import {assertClose} from '../helpers/assert-close.js'
import {golden} from '../helpers/golden.js'
import {sparsify, TINY_LLAMA} from '../helpers/cli.js'

describe('incremental decoding with a KV cache', () => {
  it('attentionCached equals its reference', () => {
    const rand = seededRandom(4)
    for (const [n, past, nh, nkv, hd] of [[1, 0, 2, 1, 8], [3, 5, 4, 2, 16], [1, 40, 6, 3, 5]]) {
      const q = randomNormal(n * nh * hd, rand), kc = randomNormal((past + n) * nkv * hd, rand), vc = randomNormal((past + n) * nkv * hd, rand)
      const a = new Float32Array(n * nh * hd), b = new Float32Array(n * nh * hd)
      refBackend.attentionCached(a, q, kc, vc, n, past, nh, nkv, hd, 0.3)
      nativeKernels().attentionCached(b, q, kc, vc, n, past, nh, nkv, hd, 0.3)
      assertClose(b, a, {atol: 1e-5, rtol: 1e-4})
    }
  })

  for (const [label, dir] of [['the trained fixture', TINY_LLAMA], ['the golden Qwen3 (q/k norms)', golden('qwen3').dir]] as const) {
    it(`greedy decoding with the cache gives the tokens of repeated full forward passes: ${label}`, () => {
      const model = Model.load(dir)
      const params = ParamStore.fromModel(model)
      const V = model.cfg.vocabSize
      const ids = [0, 17, 230, 41, 9]
      const cached: number[] = [], full: number[] = []
      const dec = new Decoder(params, ids.length + 12)
      let logits = dec.step(ids)
      const seq = [...ids]
      for (let i = 0; i < 12; i++) {
        const all = forwardLogits(params, toBatch([seq]))
        full.push(argmax(all.subarray((seq.length - 1) * V, seq.length * V)))
        assertClose(logits, all.subarray((seq.length - 1) * V, seq.length * V), {atol: 1e-4, rtol: 1e-3}, `step ${i}`)
        cached.push(argmax(logits))
        seq.push(full[i])
        logits = dec.step([full[i]])
      }
      assert.deepEqual(cached, full)
    })
  }

  it('decoding from the packed store (q/k/v and gate/up stacked) gives the logits of the plain weights: Llama, Qwen2 (biases), Qwen3', () => {
    for (const dir of [TINY_LLAMA, golden('qwen2').dir, golden('qwen3').dir]) {
      const model = Model.load(dir)
      const store = PackedStore.load(model, 'f32')
      assert.ok(store.block(0).fused, 'the store stacks the block\'s linears')
      const plain = new Decoder(ParamStore.fromModel(model), 16), packed = new Decoder(store, 16)
      for (const ids of [[3, 14, 15, 92, 65], [35], [89]]) assertClose(packed.step(ids), plain.step(ids), {atol: 1e-4, rtol: 1e-4}, dir)
    }
  })

  it('sparsify generate prints the continuation and its speed; --json gives the tokens', () => {
    const r = sparsify(['generate', TINY_LLAMA, '--prompt', 'The jury said', '--max-new-tokens', '8', '--json'])
    assert.equal(r.status, 0, r.stderr)
    const out = JSON.parse(r.stdout)
    assert.equal(out.tokens.length, 8)
    assert.ok(out.text.length > 0 && out.tokens_per_second > 0)
    const human = sparsify(['generate', TINY_LLAMA, '--prompt', 'The jury said', '--max-new-tokens', '8'])
    assert.equal(human.stdout.trim(), out.text.trim())
    assert.match(human.stderr, /8 tokens in [\d.]+ s \([\d.]+ tokens\/s/)
  })
})
