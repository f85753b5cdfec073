import {describe, it} from 'node:test'
import assert from 'node:assert/strict'

import {forwardLogits, toBatch} from '../../src/model/engine/forward.js'
import {sharedPrefixLoglikelihoods, type PrefixGroup} from '../../src/model/engine/shared-prefix.js'
import {Model} from '../../src/model/model.js'
import {refBackend} from '../../src/kernels/index.js'
import {seededRandom} from '../../src/util/random.js'
import {golden} from '../helpers/golden.js'
import {TINY_LLAMA} from '../helpers/cli.js'

/** The naive definition: one full forward pass over prefix + continuation, log-softmax at every position that predicts a continuation token. */
function naive(model: Model, prefix: readonly number[], cont: readonly number[]): number {
  const ids = [...prefix, ...cont.slice(0, -1)]
  const V = model.cfg.vocabSize
  const logits = forwardLogits(model, toBatch([ids]))
  let ll = 0
  cont.forEach((t, j) => {
    const row = logits.subarray((prefix.length - 1 + j) * V, (prefix.length + j) * V)
    let mx = -Infinity
    for (const x of row) mx = Math.max(mx, x)
    let s = 0
    for (const x of row) s += Math.exp(x - mx)
    ll += row[t] - mx - Math.log(s)
  })
  return ll
}

function randomGroups(seed: number, vocab: number): PrefixGroup[] {
  const rand = seededRandom(seed)
  const ids = (n: number) => Array.from({length: n}, () => Math.floor(rand() * vocab))
  return Array.from({length: 6}, (_, i) => ({
    prefix: ids(1 + Math.floor(rand() * 20)),
    // Continuations of 1 token (nothing of their own is fed), and longer ones of different lengths.
    conts: Array.from({length: 1 + (i % 4)}, (_, j) => ids(j === 0 ? 1 : 2 + Math.floor(rand() * 9))),
  }))
}

describe('loglikelihoods with each context computed once', () => {
  for (const [label, dir] of [['the trained fixture (Llama)', TINY_LLAMA], ['the golden Qwen3 (q/k norms)', golden('qwen3').dir], ['the golden Qwen2 (biases)', golden('qwen2').dir]] as const) {
    it(`equal one full forward pass per continuation: ${label}`, () => {
      const model = Model.load(dir)
      const groups = randomGroups(7, model.cfg.vocabSize)
      for (const tokensPerPass of [1, 40, 4096]) {
        const got = sharedPrefixLoglikelihoods(model, groups, {tokensPerPass})
        groups.forEach((g, i) => g.conts.forEach((c, j) => {
          const want = naive(model, g.prefix, c)
          assert.ok(Math.abs(got[i][j] - want) < 1e-3 * Math.max(1, Math.abs(want)), `group ${i} continuation ${j}, ${tokensPerPass} tokens a pass: ${got[i][j]} vs ${want}`)
        }))
      }
      model.close()
    })
  }

  it('the reference kernels give the same loglikelihoods as the native ones', () => {
    const model = Model.load(TINY_LLAMA)
    const groups = randomGroups(3, model.cfg.vocabSize).slice(0, 3)
    const a = sharedPrefixLoglikelihoods(model, groups)
    const b = sharedPrefixLoglikelihoods(model, groups, {kernels: refBackend})
    a.forEach((row, i) => row.forEach((x, j) => assert.ok(Math.abs(x - b[i][j]) < 1e-3 * Math.max(1, Math.abs(x)), `${x} vs ${b[i][j]}`)))
    model.close()
  })

  it('reports progress per pass and refuses an empty prefix', () => {
    const model = Model.load(TINY_LLAMA)
    const seen: number[] = []
    sharedPrefixLoglikelihoods(model, randomGroups(5, 100), {tokensPerPass: 30, onGroups: (d) => seen.push(d)})
    assert.equal(seen.at(-1), 6)
    assert.ok(seen.length > 1 && seen.every((d, i) => i === 0 || d > seen[i - 1]))
    assert.throws(() => sharedPrefixLoglikelihoods(model, [{prefix: [], conts: [[1]]}]), /prefix/)
    model.close()
  })
})
