import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import {readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {refBackend} from '../../src/kernels/index.js'
import {numpyMean, owlSparsities, owlZeros, roundHalfEven} from '../../src/methods/owl.js'
import {BlockScratch, runBlock} from '../../src/model/engine/block.js'
import {Model} from '../../src/model/model.js'
import {SafetensorsFile} from '../../src/model/safetensors/reader.js'
import {ropeTables} from '../../src/model/rope-tables.js'
import type {BlockWeights, InputName} from '../../src/model/weights.js'
import {golden} from '../helpers/golden.js'
import {sparsify, tempDir} from '../helpers/cli.js'

/**
 * OWL's phase A by hand on the golden Llama: the dense blocks run one after the other on the four
 * calibration rows (the engine is checked against the golden logits elsewhere); Wanda's statistic
 * (1/N)·Σ x² per input column in plain double loops; every score |W|·sqrt(scaler) of all seven
 * linears pooled; the percentage strictly above M × their mean.
 */
function handOutlierRatios(dir: string, ids: number[][], m: number): number[] {
  const model = Model.load(dir)
  const cfg = model.cfg, H = cfg.hidden, n = ids.length, seq = ids[0].length
  const x = new Float32Array(n * seq * H)
  const table = model.embeddings()
  ids.flat().forEach((id, t) => x.set(table.subarray(id * H, (id + 1) * H), t * H))
  const ratios: number[] = []
  let w: BlockWeights | undefined
  for (let layer = 0; layer < cfg.layers; layer++) {
    w = model.block(layer, w)
    const sumsq = new Map<InputName, Float64Array>()
    runBlock(refBackend, cfg, w, x, n, seq, ropeTables(cfg, seq), new BlockScratch(cfg, n * seq), (input, act, rows) => {
      const cols = act.length / rows
      const acc = sumsq.get(input) ?? new Float64Array(cols)
      for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) acc[j] += act[r * cols + j] ** 2
      sumsq.set(input, acc)
    })
    const scores: number[] = []
    for (const t of w.tensors) {
      const acc = sumsq.get(t.input)!
      const norm = Array.from(acc, (v) => Math.fround(Math.sqrt(Math.fround(v / n))))
      for (let i = 0; i < t.rows * t.cols; i++) scores.push(Math.fround(Math.abs(t.weight[i]) * norm[i % t.cols]))
    }
    const mean = scores.reduce((a, b) => a + b, 0) / scores.length
    ratios.push((100 * scores.filter((s) => s > m * mean).length) / scores.length)
  }
  model.close()
  return ratios
}

/**
 * Phase B by hand, as §13 writes it (in that order of operations: at floor(cols·s_i) one ulp matters):
 * r = (r − min)·(1/(max − min)·2λ); r = r − mean(r) + (1 − s); s_i = 1 − r_i, 0.01 if ≤ 0.
 */
function handSparsities(ratios: number[], s: number, lambda: number): number[] {
  const lo = Math.min(...ratios), hi = Math.max(...ratios)
  const scaled = ratios.map((r) => (r - lo) * ((1 / (hi - lo)) * lambda * 2))
  const mean = scaled.reduce((a, b) => a + b, 0) / scaled.length
  return scaled.map((v) => 1 - (v - mean + (1 - s))).map((x) => (x <= 0 ? 0.01 : x))
}

describe('OWL', () => {
  const g = golden('llama')
  const dir = tempDir()
  const calib = path.join(dir, 'calib.json')
  writeFileSync(calib, JSON.stringify(g.rows('calib_ids')))
  const data = ['--calib', calib, '--nsamples', '4', '--seqlen', '32']
  const ratios = handOutlierRatios(g.dir, g.rows('calib_ids'), 3)
  /** Wanda with OWL (M = 3) on the golden Llama: the report, and the output folder. */
  const pruneOwl = (name: string, target: string[], lambda: number) => {
    const out = path.join(dir, name)
    const r = sparsify(['prune', g.dir, '--method', 'wanda', ...target, '--owl', '--owl-m', '3', '--owl-lambda', String(lambda), ...data,
      '--eval', 'none', '--out', out, '--json'])
    assert.equal(r.status, 0, r.stderr)
    return {report: JSON.parse(r.stdout), out}
  }

  it('outlier ratios and per-block sparsities of the golden Llama equal a hand computation (strict >, pooled scores, min-max, mean restored)', () => {
    const out = path.join(dir, 'plan.json')
    const r = sparsify(['plan', g.dir, '--owl', '--sparsity', '0.6', '--owl-m', '3', '--owl-lambda', '0.1', ...data, '--out', out, '--json'])
    assert.equal(r.status, 0, r.stderr)
    const plan = JSON.parse(readFileSync(out, 'utf8'))
    assert.ok(ratios[0] !== ratios[1] && ratios.every((x) => x > 0), `distinct ratios to scale: ${ratios}`)
    assert.deepEqual(plan.outlier_ratio, ratios)
    assert.deepEqual(plan.layer_sparsity, handSparsities(ratios, 0.6, 0.1))
    // Two blocks: the one with more outliers gets s − λ, the other s + λ.
    const more = ratios[0] > ratios[1] ? 0 : 1
    assert.ok(Math.abs(plan.layer_sparsity[more] - 0.5) < 1e-15 && Math.abs(plan.layer_sparsity[1 - more] - 0.7) < 1e-15)
    assert.deepEqual(JSON.parse(r.stdout).layer_sparsity, plan.layer_sparsity)
    assert.deepEqual({m: plan.owl_m, l: plan.owl_lambda, s: plan.sparsity, c: plan.calibration},
      {m: 3, l: 0.1, s: 0.6, c: {dataset: calib, nsamples: 4, seqlen: 32, seed: 0}})
  })

  it('prune --owl gives every block its own sparsity: Wanda prunes floor(cols·s_i) per row', () => {
    const {report, out} = pruneOwl('wanda-owl', ['--sparsity', '0.6'], 0.1)
    assert.deepEqual(report.outlier_ratio, ratios)
    const want = handSparsities(ratios, 0.6, 0.1)
    for (const l of report.sparsity.linears) {
      const layer = Number(/layers\.(\d+)\./.exec(l.name)![1])
      assert.equal(l.sparsity, Math.round((Math.floor(l.shape[1] * want[layer]) / l.shape[1]) * 1e6) / 1e6, l.name)
    }
    const md = readFileSync(path.join(out, 'REPORT.md'), 'utf8')
    assert.match(md, /\| block \| requested \| achieved \| outlier ratio \|/)
    assert.match(md, new RegExp(`\\| 0 \\| ${(100 * want[0]).toFixed(2)}% \\| [0-9.]+% \\| ${ratios[0].toFixed(3)}% \\|`))
    const svg = readFileSync(path.join(out, 'sparsify-chart.svg'), 'utf8')
    assert.match(svg, new RegExp(`block 1: ${ratios[1].toFixed(3)}% outliers`))
    assert.match(svg, new RegExp(`block 0: requested ${(100 * want[0]).toFixed(2)}%`))
  })

  it('equal outlier ratios give uniform sparsity (the reference divides by zero there)', () => {
    const r = sparsify(['plan', g.dir, '--owl', '--sparsity', '0.6', '--owl-m', '1000', ...data, '--out', path.join(dir, 'flat.json'), '--json'])
    assert.equal(r.status, 0, r.stderr)
    const plan = JSON.parse(r.stdout)
    assert.deepEqual(plan.outlier_ratio, [0, 0])
    assert.deepEqual(plan.layer_sparsity, [0.6, 0.6])
    assert.deepEqual(owlSparsities([1.5, 1.5, 1.5], 0.7, 0.08), [0.7, 0.7, 0.7].map((s) => 1 - (0 - 0 + (1 - s))))
    assert.deepEqual(owlZeros([2, 2], 2, 2), [2, 2])
  })

  it('N:M variant: ratios scaled into [0, λ], centred, rounded half to even, N_i = N − r_i', () => {
    assert.deepEqual([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.4999, 2.6].map(roundHalfEven), [0, 2, 2, -0, -2, -2, 0, 3])
    // Scaled [0, λ, λ, 0], centred ±λ/2: λ = 1 gives ±0.5 → 0, λ = 3 gives ±1.5 → ±2, λ = 5 gives ±2.5 → ±2 (half up would give 3).
    assert.deepEqual(owlZeros([0, 1, 1, 0], 4, 1), [4, 4, 4, 4])
    assert.deepEqual(owlZeros([0, 1, 1, 0], 4, 3), [6, 2, 2, 6])
    assert.deepEqual(owlZeros([0, 1, 1, 0], 4, 5), [6, 2, 2, 6])
    // Centred [−1, −0.5, 0.5, 1]: the halves go to 0 (numpy's rint), where half up would make them −0 and 1.
    assert.deepEqual(owlZeros([0, 0.25, 0.75, 1], 4, 2), [5, 4, 4, 3])
    // The reference's setting (λ = 2 on 4:8) gives counts in {3, 4, 5}; values as numpy 2.4 computes them.
    assert.deepEqual(owlZeros([0.2, 0.5, 0.8, 0.35, 0.65], 4, 2), [5, 4, 3, 5, 4])
  })

  it('prune --pattern 4:8 --owl: per-block N, every group of the block holding exactly N_i zeros', () => {
    const {report, out} = pruneOwl('nm-owl', ['--pattern', '4:8'], 2)
    // Two blocks: scaled {0, 2}, centred ±1: the block with more outliers prunes 3 of 8, the other 5.
    const want = ratios.map((x) => (x === Math.max(...ratios) ? '3:8' : '5:8'))
    assert.deepEqual(report.layer_pattern, want)
    assert.equal(report.layer_sparsity, undefined)
    for (const b of report.sparsity.blocks) assert.equal(b.sparsity, Number(want[b.layer][0]) / 8)
    const f = SafetensorsFile.open(path.join(out, 'model.safetensors'))
    for (const layer of [0, 1]) {
      const w = f.readF32(`model.layers.${layer}.mlp.down_proj.weight`)
      for (let i = 0; i < w.length; i += 8) assert.equal(w.subarray(i, i + 8).filter((v) => v === 0).length, Number(want[layer][0]))
    }
  })

  it('numpyMean is numpy\'s pairwise sum', () => {
    // 33 values whose pairwise sum differs from the left-to-right one in the last bit (numpy 2.4: 0.5330909090909092).
    const a = [0.397, 0.861, 0.232, 0.152, 0.926, 0.39, 0.015, 0.777, 0.159, 0.957, 0.043, 0.78, 0.824, 0.269, 0.595, 0.92, 0.388,
      0.788, 0.427, 0.728, 0.577, 0.964, 0.134, 0.366, 0.036, 0.495, 0.258, 0.672, 0.779, 0.855, 0.421, 0.833, 0.574]
    let plain = 0
    for (const v of a) plain += v
    assert.equal(numpyMean(a), 0.5330909090909092)
    assert.equal(plain / a.length, 0.5330909090909091)
  })
})
