import {describe, it} from 'node:test'
import assert from 'node:assert/strict'

import {nativeKernels} from '../../src/kernels/index.js'
import {refBackend} from '../../src/kernels/ref/index.js'
import {sparsegpt} from '../../src/methods/sparsegpt.js'
import type {LinearNotes, PruneContext} from '../../src/methods/types.js'
import {randomNormal, seededRandom} from '../../src/util/random.js'
import {SparsifyError} from '../../src/util/errors.js'
import {reportMarkdown} from '../../src/report/write.js'
import {sparsify, tempDir, TINY_LLAMA} from '../helpers/cli.js'

const ROWS = 16, COLS = 32, N = 64

/**
 * H = (2/N)·XᵀX of calibration inputs whose columns 3 and 7 are identical, so H is singular along
 * v = (e3 − e7)/√2; then −β·vvᵀ, β = `beta` × the mean diagonal, as float32 rounding of such a
 * Hessian can leave it: indefinite by more than the default damping when beta > 0.01.
 */
function singularHessian(beta: number): Float32Array {
  const x = randomNormal(N * COLS, seededRandom(5))
  for (let t = 0; t < N; t++) x[t * COLS + 7] = x[t * COLS + 3]
  const h = new Float64Array(COLS * COLS)
  for (let t = 0; t < N; t++) for (let i = 0; i < COLS; i++) for (let j = 0; j < COLS; j++) h[i * COLS + j] += (2 / N) * x[t * COLS + i] * x[t * COLS + j]
  let mean = 0
  for (let j = 0; j < COLS; j++) mean += h[j * COLS + j] / COLS
  const b = (beta * mean) / 2
  h[3 * COLS + 3] -= b; h[7 * COLS + 7] -= b; h[3 * COLS + 7] += b; h[7 * COLS + 3] += b
  return Float32Array.from(h)
}

function context(hessian: Float32Array, kernels: PruneContext['kernels'], notes: LinearNotes): PruneContext {
  const stats = {nseq: N, scaler: new Float32Array(COLS), sumMetric: new Float32Array(COLS), variance: new Float32Array(COLS), hessian}
  return {name: 'mlp.down_proj', layer: 1, weight: randomNormal(ROWS * COLS, seededRandom(9)), rows: ROWS, cols: COLS, stats, gradnorm: null,
    target: {kind: 'unstructured', sparsity: 0.5}, kernels, notes}
}

describe('SparseGPT damping retry (issue 13, item 4)', () => {
  for (const [label, k] of [['native', nativeKernels()], ['ref', refBackend]] as const) {
    it(`${label}: a Hessian indefinite beyond 1% damping is factored with 10% and the linear says so`, () => {
      const h = singularHessian(0.05)
      const u = new Float32Array(COLS * COLS)
      assert.notEqual(k.sparsegptFactor(u, h, COLS, 0.01), 0, 'the default damping must fail on this Hessian')
      const notes: LinearNotes = {}
      const ctx = context(h, k, notes)
      const mask = sparsegpt.prune(ctx)
      assert.equal(notes.percdamp, 0.1)
      assert.ok(mask.reduce((a, v) => a + v, 0) >= (ROWS * COLS) / 2)
      assert.ok(ctx.weight.every(Number.isFinite))
    })

    it(`${label}: needing 100× the default takes two retries`, () => {
      const notes: LinearNotes = {}
      sparsegpt.prune(context(singularHessian(0.5), k, notes))
      assert.equal(notes.percdamp, 1)
    })

    it(`${label}: a well-conditioned Hessian keeps the default and notes nothing`, () => {
      const notes: LinearNotes = {}
      sparsegpt.prune(context(singularHessian(0), k, notes))
      assert.deepEqual(notes, {})
    })

    it(`${label}: when no damping up to 10× the mean diagonal works, the clear error names the linear`, () => {
      const notes: LinearNotes = {}
      assert.throws(() => sparsegpt.prune(context(singularHessian(50), k, notes)), (e: unknown) =>
        e instanceof SparsifyError && /model\.layers\.1\.mlp\.down_proj is not positive definite even with damping 10 /.test(e.message))
    })
  }
})

describe('the damping in the report', () => {
  it('lists nothing on a well-conditioned run; REPORT.md has a table of the linears that needed more', () => {
    const r = sparsify(['prune', TINY_LLAMA, '--method', 'sparsegpt', '--sparsity', '0.5', '--calib', 'brown', '--nsamples', '2', '--seqlen', '32',
      '--eval', 'none', '--out', tempDir(), '--overwrite', '--json'])
    assert.equal(r.status, 0, r.stderr)
    const report = JSON.parse(r.stdout)
    assert.deepEqual(report.damping, [])
    assert.doesNotMatch(reportMarkdown(report), /## Damping/)
    const md = reportMarkdown({...report, damping: [{name: 'model.layers.1.mlp.down_proj.weight', percdamp: 0.1}]})
    assert.match(md, /## Damping\n[^#]*\| `model\.layers\.1\.mlp\.down_proj\.weight` \| 0\.1 \|/)
  })
})
