import {describe, it} from 'node:test'
import assert from 'node:assert/strict'

import {Model} from '../../src/model/model.js'
import {forwardLogits, sequenceLosses, toBatch} from '../../src/model/engine/forward.js'
import {refBackend} from '../../src/kernels/index.js'
import {GOLDEN_MODELS, golden} from '../helpers/golden.js'
import {relativeError} from '../helpers/assert-close.js'

describe('forward pass matches the PyTorch goldens', () => {
  for (const name of GOLDEN_MODELS) {
    it(`${name}: eval logits to 1e-4 relative, and the losses`, () => {
      const g = golden(name)
      const model = Model.load(g.dir)
      const batch = toBatch(g.rows('eval_ids'))
      const logits = forwardLogits(model, batch)
      const want = g.expected.readF32('eval_logits')
      const err = relativeError(logits, want)
      assert.ok(err < 1e-4, `relative error ${err}`)
      // Each row separately as well, so an error in one sequence cannot hide in the norm.
      const V = model.cfg.vocabSize
      for (let r = 0; r < batch.n * batch.seq; r++) {
        const e = relativeError(logits.subarray(r * V, (r + 1) * V), want.subarray(r * V, (r + 1) * V))
        assert.ok(e < 1e-4, `row ${r}: relative error ${e}`)
      }
      const losses = sequenceLosses(model, batch)
      const mean = losses.reduce((a, b) => a + b, 0) / losses.length
      assert.ok(Math.abs(mean - g.json.loss_eval) / g.json.loss_eval < 1e-5, `loss ${mean} vs ${g.json.loss_eval}`)
      const calib0 = sequenceLosses(model, toBatch(g.rows('calib_ids').slice(0, 1)))[0]
      assert.ok(Math.abs(calib0 - g.json.loss_calib0) / g.json.loss_calib0 < 1e-5, `calib loss ${calib0} vs ${g.json.loss_calib0}`)
    })

    it(`${name}: the TypeScript reference kernels give the same logits`, () => {
      const g = golden(name)
      const model = Model.load(g.dir)
      const batch = toBatch(g.rows('eval_ids').slice(0, 1))
      const logits = forwardLogits(model, batch, {kernels: refBackend})
      const want = g.expected.readF32('eval_logits').subarray(0, logits.length)
      assert.ok(relativeError(logits, want) < 1e-4)
    })
  }
})
