import {describe, it} from 'node:test'
import assert from 'node:assert/strict'

import {comparePerplexity, perplexity} from '../../src/eval/perplexity.js'
import {percentile, tokenStats} from '../../src/eval/token-stats.js'
import {forwardLogits, toBatch} from '../../src/model/engine/forward.js'
import {Model} from '../../src/model/model.js'
import {ParamStore} from '../../src/model/params.js'
import {refBackend} from '../../src/kernels/index.js'
import {seededRandom} from '../../src/util/random.js'
import {TINY_LLAMA} from '../helpers/cli.js'

const rand = seededRandom(21)
const chunks = (vocab: number) => Array.from({length: 3}, () => Array.from({length: 24}, () => Math.floor(rand() * vocab)))

/** Per position: log-softmax rows of the full logits, the plain way. */
function logSoftmaxRows(model: ParamStore | Model, ids: number[][]): Float64Array[] {
  const V = model.cfg.vocabSize, logits = forwardLogits(model, toBatch(ids))
  const rows: Float64Array[] = []
  for (let r = 0; r < logits.length / V; r++) {
    const row = logits.subarray(r * V, (r + 1) * V)
    const mx = row.reduce((a, b) => Math.max(a, b), -Infinity)
    const lse = Math.log(row.reduce((a, b) => a + Math.exp(b - mx), 0)) + mx
    rows.push(Float64Array.from(row, (x) => x - lse))
  }
  return rows
}

describe('perplexity error bars and KL divergence against a base model', () => {
  const model = Model.load(TINY_LLAMA)
  const ids = chunks(model.cfg.vocabSize)
  // A perturbed copy stands in for a pruned model: every decoder weight scaled by 0.9.
  const other = ParamStore.fromModel(model)
  for (const [name, t] of other.tensors) if (name.includes('layers.') && name.endsWith('proj.weight')) t.forEach((x, i) => { t[i] = 0.9 * x })

  it('the standard error is the sample standard deviation of the token losses over √n, the interval exp(nll ± se)', () => {
    const lp = logSoftmaxRows(model, ids)
    const nll: number[] = []
    ids.forEach((row, c) => row.slice(1).forEach((t, p) => nll.push(-lp[c * 24 + p][t])))
    const n = nll.length, mean = nll.reduce((a, b) => a + b, 0) / n
    const se = Math.sqrt(nll.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1)) / Math.sqrt(n)
    const r = perplexity(model, ids)
    assert.equal(r.scored_tokens, 69)
    assert.ok(Math.abs(r.nll - mean) < 1e-4 && Math.abs(r.nll_stderr - se) < 1e-5, `${r.nll} ± ${r.nll_stderr} vs ${mean} ± ${se}`)
    assert.ok(Math.abs(r.perplexity - Math.exp(mean)) / Math.exp(mean) < 1e-4)
    const rel = (x: number, y: number) => Math.abs(x - y) / y
    assert.ok(rel(r.interval[0], Math.exp(mean - se)) < 1e-4 && rel(r.interval[1], Math.exp(mean + se)) < 1e-4, `${r.interval}`)
    assert.ok(Math.abs(r.perplexity_stderr - r.perplexity * r.nll_stderr) < 1e-9)
  })

  it('KL, its percentiles, same top token and RMS Δp equal the plain computation from both models\' full softmax', () => {
    const a = logSoftmaxRows(model, ids), b = logSoftmaxRows(other, ids)
    const kl: number[] = []
    let same = 0, dp2 = 0
    ids.forEach((row, c) => row.slice(1).forEach((t, p) => {
      const pa = a[c * 24 + p], pb = b[c * 24 + p]
      kl.push(pa.reduce((s, x, v) => s + Math.exp(x) * (x - pb[v]), 0))
      const top = (r: Float64Array) => r.indexOf(Math.max(...r))
      same += top(pa) === top(pb) ? 1 : 0
      dp2 += (Math.exp(pb[t]) - Math.exp(pa[t])) ** 2
    }))
    const sorted = [...kl].sort((x, y) => x - y), n = kl.length
    // tokenStats takes any weight source (the perturbed copy is in memory); comparePerplexity wraps it for checkpoints.
    const r = tokenStats(model, other, ids, {maxActivationBytes: 24 * model.cfg.hidden * 4 * 2})
    const close = (x: number, y: number, what: string) => assert.ok(Math.abs(x - y) < 1e-4 * Math.max(1, Math.abs(y)), `${what}: ${x} vs ${y}`)
    assert.ok(r.kld && r.other)
    close(r.kld.mean, kl.reduce((s, x) => s + x, 0) / n, 'mean')
    close(r.kld.max, sorted[n - 1], 'max')
    close(r.kld.median, sorted[(n - 1) / 2], 'median')
    close(r.kld.p99, sorted[67] + (sorted[68] - sorted[67]) * (0.99 * 68 - 67), '99th percentile')
    close(r.kld.same_top, same / n, 'same top')
    close(r.kld.rms_dp, Math.sqrt(dp2 / n), 'RMS Δp')
    close(r.base.perplexity, perplexity(model, ids).perplexity, 'base perplexity')
    close(r.other.perplexity, tokenStats(other, null, ids).base.perplexity, 'other perplexity')
    const self = comparePerplexity(model, model, ids, {kernels: refBackend})
    assert.ok(Math.abs(self.kld.max) < 1e-5 && self.kld.same_top === 1 && self.kld.rms_dp === 0)
  })

  it('percentile interpolates between order statistics as numpy does', () => {
    assert.equal(percentile(Float32Array.of(1, 2, 3, 4), 0.5), 2.5)
    assert.ok(Math.abs(percentile(Float32Array.of(0, 10), 0.99) - 9.9) < 1e-12)
    assert.equal(percentile(Float32Array.of(7), 0.99), 7)
  })
})
