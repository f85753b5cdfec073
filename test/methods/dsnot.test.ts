import {describe, it} from 'node:test'
import assert from 'node:assert/strict'

import {nativeKernels} from '../../src/kernels/index.js'
import {dsnot, DSNOT_DEFAULTS} from '../../src/methods/dsnot.js'
import {wanda} from '../../src/methods/wanda.js'
import type {InputStats, PruneContext, SparsityTarget} from '../../src/methods/types.js'
import {randomNormal, seededRandom} from '../../src/util/random.js'

const k = nativeKernels()
const rand = seededRandom(21)

/** A q_proj-sized layer with statistics whose means are far from zero, so DSnoT has work to do. */
function layer(rows: number, cols: number, target: SparsityTarget): PruneContext {
  const stats: InputStats = {
    nseq: 8,
    scaler: randomNormal(cols, rand).map((v) => v * v + 0.1),
    sumMetric: randomNormal(cols, rand, 40),
    variance: randomNormal(cols, rand).map((v) => Math.abs(v) + 0.01),
    hessian: null,
  }
  return {name: 'self_attn.q_proj', layer: 0, weight: randomNormal(rows * cols, rand), rows, cols, stats, gradnorm: null, target, kernels: k, notes: {}}
}

describe('DSnoT invariants (spec §11)', () => {
  for (const target of [{kind: 'unstructured', sparsity: 0.5}, {kind: 'unstructured', sparsity: 0.6}, {kind: 'nm', n: 2, m: 4}, {kind: 'nm', n: 4, m: 8}] as SparsityTarget[]) {
    it(`${JSON.stringify(target)}: per-row sparsity unchanged, ≤ 50 swaps per row, kept values equal the dense ones`, () => {
      const ctx = layer(64, 256, target)
      const dense = ctx.weight.slice()
      const base = wanda.prune({...ctx, weight: dense.slice()})
      const mask = dsnot.prune(ctx)
      let rowsChanged = 0
      for (let r = 0; r < ctx.rows; r++) {
        let before = 0, after = 0, swaps = 0
        for (let j = 0; j < ctx.cols; j++) {
          const i = r * ctx.cols + j
          before += base[i]
          after += mask[i]
          if (base[i] && !mask[i]) swaps++
          if (!mask[i]) assert.equal(ctx.weight[i], dense[i], 'kept weights keep their dense value')
          else assert.equal(ctx.weight[i], 0)
        }
        assert.equal(after, before, `row ${r} sparsity`)
        assert.ok(swaps <= DSNOT_DEFAULTS.maxCycles, `row ${r}: ${swaps} swaps`)
        if (swaps > 0) rowsChanged++
        if (target.kind === 'nm') {
          for (let g = 0; g < ctx.cols; g += target.m) {
            let z = 0
            for (let j = g; j < g + target.m; j++) z += mask[r * ctx.cols + j]
            assert.equal(z, target.n, `row ${r} group ${g} keeps its ${target.n}:${target.m} pattern`)
          }
        }
      }
      assert.ok(rowsChanged > 0, 'DSnoT changed some masks (the test would prove nothing otherwise)')
    })
  }

  it('leaves MLP linears with the initial Wanda mask (skip_layer mlp)', () => {
    const ctx = {...layer(16, 64, {kind: 'unstructured', sparsity: 0.5}), name: 'mlp.up_proj' as const}
    const want = wanda.prune({...ctx, weight: ctx.weight.slice()})
    assert.deepEqual(dsnot.prune(ctx), want)
  })
})
