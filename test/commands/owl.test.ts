import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import {existsSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {SafetensorsFile} from '../../src/model/safetensors/reader.js'
import {golden} from '../helpers/golden.js'
import {sparsify, tempDir} from '../helpers/cli.js'

const g = golden('llama')
const dir = tempDir()
const calib = path.join(dir, 'calib.json')
writeFileSync(calib, JSON.stringify(g.rows('calib_ids')))
const data = ['--calib', calib, '--nsamples', '4', '--seqlen', '32', '--eval', 'none']
const planData = data.slice(0, -2)
const owl = ['--owl', '--owl-m', '3', '--owl-lambda', '0.1']

const weights = (out: string) => readFileSync(path.join(out, 'model.safetensors'))

/** One `error:` line last on stderr, the exit code, and nothing at `out` (nor a work folder beside it). */
function expectRefused(args: string[], code: number, pattern: RegExp, out: string) {
  const r = sparsify([...args, '--quiet'])
  assert.equal(r.status, code, r.stderr)
  const lines = r.stderr.trim().split('\n')
  assert.equal(lines.length, 1, r.stderr)
  assert.match(lines[0], /^error: /)
  assert.match(lines[0], pattern)
  assert.equal(r.stdout, '')
  assert.equal(existsSync(out), false, `${out} was written`)
  assert.deepEqual(readdirSync(path.dirname(out)).filter((f) => f.includes(path.basename(out))), [])
}

describe('OWL plans', () => {
  it('`plan` then `prune --plan` gives the bytes of `prune --owl` (sparsegpt)', () => {
    const plan = path.join(dir, 'owl.json')
    assert.equal(sparsify(['plan', g.dir, ...owl, '--sparsity', '0.6', ...planData, '--out', plan]).status, 0)
    const a = path.join(dir, 'by-owl'), b = path.join(dir, 'by-plan')
    const ra = sparsify(['prune', g.dir, '--method', 'sparsegpt', '--sparsity', '0.6', ...owl, ...data, '--out', a, '--json'])
    assert.equal(ra.status, 0, ra.stderr)
    const rb = sparsify(['prune', g.dir, '--method', 'sparsegpt', '--plan', plan, ...data, '--out', b, '--json'])
    assert.equal(rb.status, 0, rb.stderr)
    assert.ok(weights(a).equals(weights(b)), 'identical checkpoints')
    const [ja, jb] = [JSON.parse(ra.stdout), JSON.parse(rb.stdout)]
    assert.deepEqual(jb.layer_sparsity, ja.layer_sparsity)
    assert.deepEqual(jb.outlier_ratio, ja.outlier_ratio)
    assert.deepEqual(ja.layer_sparsity, JSON.parse(readFileSync(plan, 'utf8')).layer_sparsity)
    assert.notEqual(ja.layer_sparsity[0], ja.layer_sparsity[1])
    assert.match(readFileSync(path.join(b, 'REPORT.md'), 'utf8'), /--plan /)
  })

  it('a hand-written plan is honoured block by block (unstructured and N:M)', () => {
    const plan = path.join(dir, 'hand.json')
    writeFileSync(plan, JSON.stringify({layer_sparsity: [0.25, 0.75]}))
    const r = sparsify(['prune', g.dir, '--method', 'wanda', '--plan', plan, ...data, '--out', path.join(dir, 'hand'), '--json'])
    assert.equal(r.status, 0, r.stderr)
    const report = JSON.parse(r.stdout)
    assert.deepEqual(report.sparsity.blocks.map((b: {sparsity: number}) => b.sparsity), [0.25, 0.75])
    assert.deepEqual(report.layer_sparsity, [0.25, 0.75])
    assert.equal(report.outlier_ratio, null)
    writeFileSync(plan, JSON.stringify({layer_pattern: ['1:4', '3:4']}))
    const out = path.join(dir, 'hand-nm')
    const n = sparsify(['prune', g.dir, '--method', 'magnitude', '--plan', plan, '--eval', 'none', '--out', out, '--json'])
    assert.equal(n.status, 0, n.stderr)
    assert.deepEqual(JSON.parse(n.stdout).sparsity.blocks.map((b: {sparsity: number}) => b.sparsity), [0.25, 0.75])
    const f = SafetensorsFile.open(path.join(out, 'model.safetensors'))
    const w = f.readF32('model.layers.1.mlp.down_proj.weight')
    for (let i = 0; i < w.length; i += 4) assert.equal(w.subarray(i, i + 4).filter((v) => v === 0).length, 3, `group ${i / 4}`)
  })

  it('sparsegpt --wbits quantizes inside the sweep at each block\'s own sparsity', () => {
    const plan = path.join(dir, 'quant-plan.json')
    writeFileSync(plan, JSON.stringify({layer_sparsity: [0.25, 0.75]}))
    const r = sparsify(['prune', g.dir, '--method', 'sparsegpt', '--wbits', '4', '--plan', plan, ...data, '--out', path.join(dir, 'quant'), '--json'])
    assert.equal(r.status, 0, r.stderr)
    const report = JSON.parse(r.stdout)
    assert.equal(report.quantization.bits, 4)
    assert.deepEqual(report.layer_sparsity, [0.25, 0.75])
    // Pruned weights are zero; a kept weight may also round to a zero code, so a block is at least as sparse as asked.
    report.sparsity.blocks.forEach((b: {sparsity: number}, i: number) => {
      assert.ok(b.sparsity >= report.layer_sparsity[i] && b.sparsity < report.layer_sparsity[i] + 0.05, `block ${i}: ${b.sparsity}`)
    })
  })

  it('magnitude with --owl takes its ratios from calibration, as the other methods do', () => {
    const plan = path.join(dir, 'm.json')
    const p = sparsify(['plan', g.dir, ...owl, '--sparsity', '0.6', ...planData, '--out', plan, '--json'])
    const r = sparsify(['prune', g.dir, '--method', 'magnitude', '--sparsity', '0.6', ...owl, ...data, '--out', path.join(dir, 'mag'), '--json'])
    assert.equal(r.status, 0, r.stderr)
    assert.deepEqual(JSON.parse(r.stdout).outlier_ratio, JSON.parse(p.stdout).outlier_ratio)
  })

  it('bad input: one line, exit 2 (3 for a missing plan), nothing written', () => {
    const out = path.join(tempDir(), 'out')
    const prune = ['prune', g.dir, '--method', 'wanda', ...data, '--out', out]
    const bad = (name: string, plan: unknown) => { const f = path.join(dir, name); writeFileSync(f, JSON.stringify(plan)); return f }
    expectRefused([...prune, '--plan', bad('short.json', {layer_sparsity: [0.5]})], 2, /has 1 blocks; the model has 2/, out)
    expectRefused([...prune, '--plan', bad('one.json', {layer_sparsity: [0.5, 1]})], 2, /block 1's sparsity 1 is outside \[0, 1\)/, out)
    expectRefused([...prune, '--plan', bad('neg.json', {layer_sparsity: [-0.1, 0.5]})], 2, /block 0's sparsity -0.1/, out)
    expectRefused([...prune, '--plan', bad('nm.json', {layer_pattern: ['4:4', '2:4']})], 2, /block 0's pattern "4:4"/, out)
    expectRefused([...prune, '--plan', bad('both.json', {layer_sparsity: [0.5, 0.5], layer_pattern: ['2:4', '2:4']})], 2, /exactly one of/, out)
    expectRefused([...prune, '--plan', path.join(dir, 'nowhere.json')], 3, /does not exist/, out)
    expectRefused([...prune, '--plan', bad('ok.json', {layer_sparsity: [0.5, 0.5]}), '--sparsity', '0.5'], 2, /--plan takes the place of --sparsity/, out)
    // λ = 0.2 around 0.9 pushes one of two blocks to 1.1: refused after the outlier pass, before anything is written.
    expectRefused([...prune, '--sparsity', '0.9', '--owl', '--owl-m', '3', '--owl-lambda', '0.2'], 2, /gives block \d a sparsity of 1\.1000, above 0\.99/, out)
    expectRefused(['plan', g.dir, '--owl', '--owl-m', '3', '--owl-lambda', '0.2', '--sparsity', '0.9', ...planData, '--out', out], 2, /above 0\.99/, out)
    expectRefused(['prune', g.dir, '--method', 'magnitude', '--sparsity', '0.5', '--owl', '--calib', 'none', '--eval', 'none', '--out', out], 2,
      /--owl counts outliers on calibration data/, out)
    expectRefused(['plan', g.dir, '--sparsity', '0.5', ...planData, '--out', out], 2, /needs --owl/, out)
    const gptq = ['prune', g.dir, '--method', 'gptq', '--wbits', '4', ...data, '--out', out]
    expectRefused([...gptq, '--owl'], 2, /--method gptq quantizes without pruning: --owl has no sparsity to allocate/, out)
    expectRefused([...gptq, '--plan', bad('ok.json', {layer_sparsity: [0.5, 0.5]})], 2, /--plan has no sparsity to allocate/, out)
    expectRefused([...prune, '--pattern', '2:4', '--owl', '--owl-m', '3', '--owl-lambda', '8'], 2, /zeros in every 4 inputs, outside 0 to 3/, out)
  })
})
