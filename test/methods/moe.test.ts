import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import {readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {kernels, type Backend} from '../../src/kernels/index.js'
import {METHODS} from '../../src/methods/index.js'
import {pruneSequential} from '../../src/methods/sequential.js'
import {Model} from '../../src/model/model.js'
import {golden} from '../helpers/golden.js'
import {sparsify, tempDir} from '../helpers/cli.js'

describe('mixture of experts', () => {
  it('experts in groups of one (a statistics budget of one expert) give the golden SparseGPT weights; tokens per expert', async () => {
    const g = golden('qwen3_moe')
    const model = Model.load(g.dir)
    const got = new Map<string, Float32Array>()
    let attentionCalls = 0
    const counting = {...kernels(), attention(...a: Parameters<Backend['attention']>) { attentionCalls++; kernels().attention(...a) }}
    const {experts} = await pruneSequential({model, method: METHODS.sparsegpt, targets: Array(model.cfg.layers).fill({kind: 'unstructured', sparsity: 0.5}), samples: g.rows('calib_ids'),
      expertStatsBytes: 1, kernels: counting, onBlockDone(_l, w) { for (const t of w.tensors) got.set(`${t.name}.weight`, t.weight.slice()) }})
    // Per mixture block 4 expert groups + the rest, then the pruned block's rerun; the dense block 1 takes one pass and its rerun.
    assert.equal(attentionCalls, 2 * (5 + 1) + 2)
    for (const name of g.json.pruned_weights as string[]) {
      const want = g.expected.readF32(`sparsegpt_50.${name}`), have = got.get(name)!
      for (let i = 0; i < want.length; i++) assert.ok(Math.abs(want[i] - have[i]) <= 1e-4 && (want[i] === 0) === (have[i] === 0), name)
    }
    // Blocks 0 and 2 are mixtures; every expert saw tokens, 4·32 tokens·top-2 in all.
    assert.deepEqual(experts.map((e) => e.layer), [0, 2])
    for (const e of experts) assert.equal(e.tokens.reduce((a, b) => a + b, 0), 4 * 32 * 2)
    assert.deepEqual(experts.map((e) => e.unreached), [[], []])
  })

  it('an expert no calibration token reaches is pruned by magnitude per row and named in the report', () => {
    // Two calibration tokens, each routed to 2 of 4 experts: some expert of each block gets none.
    const g = golden('mixtral'), calib = path.join(tempDir(), 'calib.json'), out = path.join(tempDir(), 'out')
    writeFileSync(calib, JSON.stringify([[5, 9]]))
    const r = sparsify(['prune', g.dir, '--method', 'wanda', '--sparsity', '0.5', '--calib', calib, '--nsamples', '1', '--seqlen', '2', '--eval', 'none', '--out', out, '--json'])
    assert.equal(r.status, 0, r.stderr)
    const report = JSON.parse(r.stdout), md = readFileSync(path.join(out, 'REPORT.md'), 'utf8')
    const dense = Model.load(g.dir), pruned = Model.load(out)
    for (const b of report.experts as {layer: number; tokens: number[]; unreached: number[]}[]) {
      assert.equal(b.tokens.reduce((a, n) => a + n, 0), 2 * 2)
      assert.deepEqual(b.unreached, b.tokens.flatMap((n, e) => (n === 0 ? [e] : [])))
      assert.ok(b.unreached.length > 0)
      assert.match(md, new RegExp(`Block ${b.layer} — not reached: ${b.unreached.join(', ')}`))
      for (const e of b.unreached) {
        for (const role of ['gate', 'up', 'down'] as const) {
          const want = dense.block(b.layer).experts[e][role]!, have = pruned.block(b.layer).experts[e][role]!.weight
          for (let row = 0; row < want.out; row++) {
            const w = Array.from(want.weight.subarray(row * want.in, (row + 1) * want.in))
            const cut = w.map(Math.abs).sort((a, c) => a - c)[want.in / 2 - 1]
            for (let j = 0; j < want.in; j++) assert.equal(have[row * want.in + j] === 0, Math.abs(w[j]) <= cut, `${e} ${role} ${row}`)
          }
        }
      }
    }
  })
})
