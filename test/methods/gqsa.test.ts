import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import {cpSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {SafetensorsFile} from '../../src/model/safetensors/reader.js'
import {interruptedRun, sparsify, tempDir, TINY_LLAMA} from '../helpers/cli.js'

/** The fixture compressed by GQSA on a little brown:train, without evaluation. */
function gqsa(flags: string[]): {out: string; report: Record<string, any>} {
  const out = path.join(tempDir(), 'gqsa')
  const r = sparsify(['prune', TINY_LLAMA, '--method', 'gqsa', '--calib', 'brown', '--nsamples', '16', '--seqlen', '128', '--eval', 'none', '--out', out, '--json', ...flags])
  assert.equal(r.status, 0, r.stderr)
  return {out, report: JSON.parse(r.stdout)}
}

const shapes: Record<string, [number, number]> = {
  'self_attn.q_proj': [192, 192], 'self_attn.k_proj': [64, 192], 'self_attn.v_proj': [64, 192], 'self_attn.o_proj': [192, 192],
  'mlp.gate_proj': [512, 192], 'mlp.up_proj': [512, 192], 'mlp.down_proj': [192, 512],
}

function readPacked(dir: string, layer: number, name: string) {
  const f = SafetensorsFile.open(path.join(dir, 'model.safetensors'))
  const p = `model.layers.${layer}.${name}.weight_`
  const rowPtr = new Int32Array(f.readBytes(`${p}row_ptr`).buffer)
  return {rowPtr, codes: f.readBytes(`${p}codes`), f}
}

/** The fixture's linears (a Llama block). */
const LINEARS = ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'self_attn.o_proj', 'mlp.gate_proj', 'mlp.up_proj', 'mlp.down_proj'] as const

describe('GQSA: group sparsity with 4-bit group quantization', () => {
  const packed = gqsa(['--format', 'gqsa'])

  it('prunes exactly the share of groups asked for, per layer by default, and stores 4-bit codes', () => {
    const cfg = JSON.parse(readFileSync(path.join(packed.out, 'config.json'), 'utf8'))
    assert.deepEqual(cfg.quantization_config, {quant_method: 'sparsify', format: 'gqsa', version: 1, bits: 4, group_size: 16})
    let unbalanced = false
    for (let layer = 0; layer < 4; layer++) {
      for (const name of LINEARS) {
        const [rows, cols] = shapes[name], groups = rows * cols / 16
        const {rowPtr, codes} = readPacked(packed.out, layer, name)
        assert.equal(rowPtr[rows], Math.round(groups / 2), `${layer} ${name}`)
        assert.equal(codes.length, rowPtr[rows] * 8)
        for (let r = 0; r < rows; r++) if (rowPtr[r + 1] - rowPtr[r] !== cols / 32) unbalanced = true
      }
    }
    assert.ok(unbalanced, 'a per-layer budget lets rows differ')
    assert.match(readFileSync(path.join(packed.out, 'REPORT.md'), 'utf8'), /## Block refinement \(BQPO\)/)
  })

  it('--group-budget row keeps the same number of groups in every row; --bits 2 keeps codes below 4', () => {
    const {out} = gqsa(['--format', 'gqsa', '--group-budget', 'row', '--bits', '2', '--bqpo-epochs', '0'])
    for (const name of LINEARS) {
      const [rows, cols] = shapes[name]
      const {rowPtr, codes} = readPacked(out, 2, name)
      for (let r = 0; r < rows; r++) assert.equal(rowPtr[r + 1] - rowPtr[r], cols / 32)
      for (const b of codes) assert.ok((b & 15) < 4 && b >> 4 < 4)
    }
  })

  it('decompress of the packed checkpoint equals the default dense output bit for bit', () => {
    const dense = gqsa([])
    const back = path.join(tempDir(), 'back')
    const d = sparsify(['decompress', packed.out, '--out', back])
    assert.equal(d.status, 0, d.stderr)
    const a = SafetensorsFile.open(path.join(dense.out, 'model.safetensors')), b = SafetensorsFile.open(path.join(back, 'model.safetensors'))
    for (const name of a.tensors.keys()) {
      assert.equal(b.entry(name).dtype, a.entry(name).dtype, name)
      assert.deepEqual(b.readBytes(name), a.readBytes(name), name)
    }
  })

  it('BQPO lowers every block\'s output MSE against its one-shot start', () => {
    const blocks = packed.report.refinement as {layer: number; mse_before: number; mse_after: number}[]
    assert.equal(blocks.length, 4)
    for (const b of blocks) assert.ok(b.mse_after < b.mse_before, `block ${b.layer}: ${b.mse_after} vs ${b.mse_before}`)
    const oneShot = gqsa(['--bqpo-epochs', '0']).report.refinement
    for (const b of oneShot) assert.equal(b.mse_after, b.mse_before)
  })

  it('E2E-OQP lowers the calibration loss by training only the scales; the packed and dense outputs still agree bit for bit', () => {
    const flags = ['--bqpo-epochs', '1', '--e2e-steps', '8']
    const dense = gqsa(flags), packedE2e = gqsa([...flags, '--format', 'gqsa'])
    const e = dense.report.e2e
    assert.equal(e.steps, 8)
    assert.ok(e.loss_after < e.loss_before, `${e.loss_after} vs ${e.loss_before}`)
    assert.deepEqual(packedE2e.report.e2e, e)
    assert.match(readFileSync(path.join(dense.out, 'REPORT.md'), 'utf8'), /E2E-OQP then trained the scales end to end for 8 steps/)
    const back = path.join(tempDir(), 'back')
    assert.equal(sparsify(['decompress', packedE2e.out, '--out', back]).status, 0)
    const a = SafetensorsFile.open(path.join(dense.out, 'model.safetensors')), b = SafetensorsFile.open(path.join(back, 'model.safetensors'))
    for (const name of a.tensors.keys()) assert.deepEqual(b.readBytes(name), a.readBytes(name), name)
  })

  it('an interrupted --format gqsa run resumes to the same bytes (finished blocks\' groups are kept in the work folder)', async () => {
    const dir = tempDir()
    const args = (out: string) => ['prune', TINY_LLAMA, '--method', 'gqsa', '--calib', 'brown', '--nsamples', '4', '--seqlen', '64', '--bqpo-epochs', '1',
      '--eval', 'none', '--format', 'gqsa', '--out', out]
    const whole = path.join(dir, 'whole'), out = path.join(dir, 'out')
    assert.equal(sparsify(args(whole)).status, 0)
    const {status, stderr} = await interruptedRun(args(out), /pruning with gqsa 2\//)
    assert.equal(status, 130, stderr)
    const resumed = sparsify([...args(out), '--resume'])
    assert.equal(resumed.status, 0, resumed.stderr)
    assert.match(resumed.stderr, /resuming after block \d+/)
    assert.deepEqual(readFileSync(path.join(out, 'model.safetensors')), readFileSync(path.join(whole, 'model.safetensors')))
  })

  it('the packed model generates text with the GQSA kernel', () => {
    const r = sparsify(['generate', packed.out, '--prompt', 'The jury said', '--max-new-tokens', '8', '--json'])
    assert.equal(r.status, 0, r.stderr)
    const g = JSON.parse(r.stdout)
    assert.equal(g.format, 'gqsa')
    assert.equal(g.tokens.length, 8)
  })

  it('a packed file whose zero is not an integer is refused with one line', () => {
    const bad = path.join(tempDir(), 'bad')
    cpSync(packed.out, bad, {recursive: true})
    const file = path.join(bad, 'model.safetensors'), bytes = readFileSync(file)
    const headerLen = Number(bytes.readBigUInt64LE(0)), header = JSON.parse(bytes.subarray(8, 8 + headerLen).toString('utf8'))
    const zeros = header['model.layers.1.mlp.up_proj.weight_zeros']
    bytes.writeUInt16LE(0x3800, 8 + headerLen + zeros.data_offsets[0] + 2 * 5)   // group 5's zero: 0.5
    writeFileSync(file, bytes)
    const r = sparsify(['eval', bad, '--dataset', 'brown', '--seqlen', '64', '--nsamples', '1'])
    assert.equal(r.status, 5, r.stderr)
    assert.match(r.stderr, /^error: model\.layers\.1\.mlp\.up_proj: group 5 has zero 0\.5, not an integer/m)
  })

  it('refuses what GQSA cannot do, with one line', () => {
    const out = path.join(tempDir(), 'never')
    const cases: [string[], RegExp][] = [
      [['--method', 'wanda', '--sparsity', '0.5', '--format', 'gqsa'], /--format gqsa needs --method gqsa/],
      [['--method', 'gqsa', '--pattern', '2:4'], /GQSA takes --sparsity/],
      [['--method', 'gqsa', '--group-size', '7'], /--group-size 7 must be even/],
      [['--method', 'gqsa', '--group-size', '10'], /not a multiple of --group-size 10/],
      [['--method', 'wanda', '--sparsity', '0.5', '--e2e-steps', '4'], /--e2e-steps trains GQSA's scales/],
    ]
    for (const [flags, message] of cases) {
      const r = sparsify(['prune', TINY_LLAMA, ...flags, '--calib', 'brown', '--nsamples', '2', '--seqlen', '32', '--eval', 'none', '--out', out])
      assert.equal(r.status, 2, r.stderr)
      assert.match(r.stderr, message)
      assert.equal(r.stderr.trim().split('\n').filter((l) => l.startsWith('error:')).length, 1)
    }
  })
})
