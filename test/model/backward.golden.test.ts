import {describe, it} from 'node:test'
import assert from 'node:assert/strict'

import {headBackward, lossAndGradients, namedGradients} from '../../src/model/engine/backward.js'
import {ParamStore} from '../../src/model/params.js'
import {kernels} from '../../src/kernels/index.js'
import {randomNormal, seededRandom} from '../../src/util/random.js'
import {toBatch} from '../../src/model/engine/forward.js'
import {Model} from '../../src/model/model.js'
import {writeRandomLlama} from '../../fixtures/gen/random-model.js'
import {GOLDEN_MODELS, golden} from '../helpers/golden.js'
import {assertClose, relativeError} from '../helpers/assert-close.js'
import {tempDir} from '../helpers/cli.js'

describe('backward pass', () => {
  for (const name of GOLDEN_MODELS) {
    it(`${name}: every parameter's gradient matches grad0.* to 1e-4 relative`, () => {
      const g = golden(name)
      const model = Model.load(g.dir)
      const {loss, grads} = namedGradients(model, toBatch(g.rows('calib_ids').slice(0, 1)))
      assert.ok(Math.abs(loss - g.json.loss_calib0) / g.json.loss_calib0 < 1e-5)
      const expected = [...g.expected.tensors.keys()].filter((t) => t.startsWith('grad0.'))
      assert.equal(expected.length, model.ckpt.names().length, 'a golden gradient for every parameter')
      for (const t of expected) {
        const p = t.slice('grad0.'.length)
        const got = grads.get(p)
        assert.ok(got, `no gradient for ${p}`)
        const want = g.expected.readF32(t)
        // OPT's k_proj bias adds the same q·b to every score of a row, which the softmax cancels: its gradient is 0 up to rounding.
        if (want.every((v) => Math.abs(v) < 1e-7)) {
          assert.ok(got.every((v) => Math.abs(v) < 1e-7), `${p}: an analytically zero gradient`)
          continue
        }
        const err = relativeError(got, want)
        assert.ok(err < 1e-4, `${p}: relative error ${err}`)
      }
    })
  }

  for (const name of ['gemma2', 'llama']) {
    it(`${name}: the head's backward in vocabulary tiles equals one tile of the whole vocabulary${name === 'gemma2' ? ' (final softcap)' : ''}`, () => {
      const model = Model.load(golden(name).dir)
      const {hidden, vocabSize} = model.cfg
      const rand = seededRandom(3), batch = toBatch([[1, 7, 3, 9, 2], [4, 4, 8, 0, 5]])
      const x = randomNormal(batch.n * batch.seq * hidden, rand)
      const whole = headBackward(kernels(), model, batch, x, true, vocabSize)
      const tiled = headBackward(kernels(), model, batch, x, true, Math.floor(vocabSize / 3) - 1)
      assert.ok(Math.abs(tiled.loss - whole.loss) < 1e-5 * whole.loss)
      assertClose(tiled.dx, whole.dx, {atol: 1e-7, rtol: 1e-4}, 'dx')
      assertClose(tiled.dHead!, whole.dHead!, {atol: 1e-7, rtol: 1e-4}, 'dHead')
    })
  }

  it('agrees with central finite differences on a fresh random model', () => {
    const dir = tempDir()
    writeRandomLlama(dir, {vocab: 64, hidden: 16, intermediate: 24, layers: 2, heads: 4, kvHeads: 2, maxPositions: 32}, {seed: 5})
    const params = ParamStore.fromModel(Model.load(dir))
    // Weights well above the N(0, 0.02) init, so that the loss is far from flat in every direction.
    const rand = seededRandom(8)
    for (const [name, t] of params.tensors) if (!name.includes('norm')) for (let i = 0; i < t.length; i++) t[i] = (rand() - 0.5) * 0.8
    const batch = toBatch([[3, 17, 9, 40, 2, 33, 8, 61], [5, 5, 12, 0, 63, 21, 7, 30]])
    const {grads} = namedGradients(params, batch)
    const loss = () => lossAndGradients(params, batch, () => {}).loss
    const probes: [string, number][] = [['model.layers.0.self_attn.q_proj.weight', 5], ['model.layers.0.self_attn.k_proj.weight', 40],
      ['model.layers.1.mlp.down_proj.weight', 100], ['model.layers.1.mlp.gate_proj.weight', 9], ['model.layers.0.input_layernorm.weight', 3],
      ['model.norm.weight', 7], ['lm_head.weight', 200], ['model.embed_tokens.weight', 17 * 16 + 2]]
    for (const [name, index] of probes) {
      const t = params.get(name), v = t[index], eps = 1e-2
      t[index] = v + eps; const up = loss()
      t[index] = v - eps; const down = loss()
      t[index] = v
      const numeric = (up - down) / (2 * eps), analytic = grads.get(name)![index]
      assert.ok(Math.abs(analytic) > 1e-4, `${name}[${index}] has a usable gradient`)
      assert.ok(Math.abs(numeric - analytic) <= 0.02 * Math.abs(analytic) + 1e-5, `${name}[${index}]: analytic ${analytic}, numeric ${numeric}`)
    }
  })
})
