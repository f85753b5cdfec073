import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import {existsSync, readdirSync, readFileSync} from 'node:fs'
import path from 'node:path'

import {SafetensorsFile} from '../../src/model/safetensors/reader.js'
import {sparsify, tempDir, TINY_LLAMA} from '../helpers/cli.js'

const CALIB = ['--calib', 'brown', '--nsamples', '4', '--seqlen', '64', '--eval', 'none', '--quiet']
const json = (file: string) => JSON.parse(readFileSync(file, 'utf8'))

function prune(args: string[]): {out: string; report: Record<string, any>} {
  const out = path.join(tempDir(), 'out')
  const r = sparsify(['prune', TINY_LLAMA, ...args, ...CALIB, '--out', out, '--json'])
  assert.equal(r.status, 0, r.stderr)
  return {out, report: JSON.parse(r.stdout)}
}

/** Every decoder linear of a checkpoint: name and float32 values. */
function linears(dir: string): Map<string, {w: Float32Array; rows: number; cols: number}> {
  const f = SafetensorsFile.open(path.join(dir, 'model.safetensors'))
  const out = new Map<string, {w: Float32Array; rows: number; cols: number}>()
  for (const n of f.tensors.keys()) {
    if (!/^model\.layers\.\d+\..*_proj\.weight$/.test(n)) continue
    out.set(n, {w: f.readF32(n), rows: f.entry(n).shape[0], cols: f.entry(n).shape[1]})
  }
  f.close()
  return out
}

/** The largest number of distinct values in any group of `g` columns of any row. */
function mostDistinct(w: Float32Array, rows: number, cols: number, g: number): number {
  let most = 0
  for (let r = 0; r < rows; r++) {
    for (let c0 = 0; c0 < cols; c0 += g) most = Math.max(most, new Set(w.subarray(r * cols + c0, r * cols + Math.min(cols, c0 + g))).size)
  }
  return most
}

describe('prune --method gptq and sparsegpt --wbits (issue 18)', () => {
  const dense = prune(['--method', 'gptq', '--wbits', '4', '--groupsize', '64'])
  const packed = prune(['--method', 'gptq', '--wbits', '4', '--groupsize', '64', '--format', 'pack-quantized'])

  it('gptq w4 g64: the Hugging Face layout with at most 16 values per group, config.json as it was, the scheme recorded', () => {
    for (const [name, l] of linears(dense.out)) assert.ok(mostDistinct(l.w, l.rows, l.cols, 64) <= 16, name)
    assert.deepEqual(json(path.join(dense.out, 'config.json')), json(path.join(TINY_LLAMA, 'config.json')))
    const q = {bits: 4, group_size: 64, symmetric: false, scale_dtype: 'BF16', format: 'dense', bytes_per_weight: 2}
    assert.deepEqual(json(path.join(dense.out, 'sparsify.json')).quantization, q)
    assert.deepEqual(dense.report.quantization, q)
    assert.ok(dense.report.sparsity.linears.every((l: {rel_error: number}) => l.rel_error > 0 && l.rel_error < 0.1))
    assert.match(readFileSync(path.join(dense.out, 'REPORT.md'), 'utf8'), /## Quantization\n\n4-bit asymmetric weights, groups of 64 input columns/)
  })

  it('pack-quantized: compressed-tensors names, dtypes, shapes and config; no sparsity_config', () => {
    const cfg = json(path.join(packed.out, 'config.json'))
    const q = cfg.quantization_config
    assert.equal(q.quant_method, 'compressed-tensors')
    assert.equal(q.format, 'pack-quantized')
    assert.deepEqual(q.ignore, ['lm_head'])
    assert.equal(q.sparsity_config, undefined)
    assert.deepEqual(q.config_groups.group_0.targets, ['Linear'])
    assert.deepEqual({...q.config_groups.group_0.weights, observer_kwargs: undefined},
      {num_bits: 4, type: 'int', symmetric: false, strategy: 'group', group_size: 64, dynamic: false, actorder: null, block_structure: null,
        observer: 'minmax', observer_kwargs: undefined, scale_dtype: null, zp_dtype: null})
    const f = SafetensorsFile.open(path.join(packed.out, 'model.safetensors'))
    const p = 'model.layers.2.mlp.down_proj'
    assert.equal(f.tensors.has(`${p}.weight`), false)
    assert.deepEqual([`${p}.weight_packed`, `${p}.weight_scale`, `${p}.weight_zero_point`, `${p}.weight_shape`].map((n) => [f.entry(n).dtype, f.entry(n).shape]),
      [['I32', [192, 64]], ['BF16', [192, 8]], ['I32', [24, 8]], ['I64', [2]]])
    assert.deepEqual(f.readInts(`${p}.weight_shape`), [192, 512])
    assert.equal(f.entry('lm_head.weight').dtype, 'BF16')
    f.close()
    assert.ok(packed.report.quantization.bytes_per_weight < 0.6)
  })

  it('pack-quantized reads back as the dense output, bit for bit: decompress, eval, generate, inspect', () => {
    const back = path.join(tempDir(), 'back')
    assert.equal(sparsify(['decompress', packed.out, '--out', back]).status, 0)
    const a = linears(dense.out), b = linears(back)
    for (const [name, l] of a) assert.deepEqual(b.get(name)!.w, l.w, name)
    const ppl = (dir: string) => JSON.parse(sparsify(['eval', dir, '--dataset', 'brown', '--seqlen', '64', '--nsamples', '2', '--json']).stdout).perplexity
    assert.equal(ppl(packed.out), ppl(dense.out))
    const text = (dir: string) => sparsify(['generate', dir, '--prompt', 'The man', '--max-new-tokens', '6']).stdout
    assert.equal(text(packed.out), text(dense.out))
    const r = sparsify(['inspect', packed.out, '--json'])
    const info = JSON.parse(r.stdout)
    assert.equal(info.format, 'pack-quantized')
    assert.deepEqual(info.quantization, {bits: 4, group_size: 64, symmetric: false})
    assert.match(info.linears[0].dtype, /int4 g64/)
  })

  it('sparsegpt 2:4 + w4: 2:4 kept, each row one grid of 16 values, zero included', () => {
    const {out, report} = prune(['--method', 'sparsegpt', '--pattern', '2:4', '--wbits', '4'])
    for (const [name, l] of linears(out)) {
      assert.ok(mostDistinct(l.w, l.rows, l.cols, l.cols) <= 16, name)
      for (let g = 0; g < l.w.length; g += 4) assert.ok(l.w.subarray(g, g + 4).filter((v) => v === 0).length >= 2, name)
    }
    assert.ok(report.sparsity.overall >= 0.5)
    assert.equal(report.quantization.group_size, null)
  })

  it('gptq w8 sym per row with pack-quantized: no zero points, 8-bit words', () => {
    const {out} = prune(['--method', 'gptq', '--wbits', '8', '--sym', '--format', 'pack-quantized'])
    const f = SafetensorsFile.open(path.join(out, 'model.safetensors'))
    assert.equal(f.tensors.has('model.layers.0.self_attn.q_proj.weight_zero_point'), false)
    assert.deepEqual(f.entry('model.layers.0.self_attn.q_proj.weight_packed').shape, [192, 48])
    assert.deepEqual(f.entry('model.layers.0.self_attn.q_proj.weight_scale').shape, [192, 1])
    f.close()
    assert.equal(json(path.join(out, 'config.json')).quantization_config.config_groups.group_0.weights.strategy, 'channel')
  })
})

describe('quantization flags: bad input is one line, exit 2, nothing written', () => {
  const cases: [string[], RegExp][] = [
    [['--method', 'wanda', '--sparsity', '0.5', '--wbits', '4'], /--wbits quantizes inside the OBS sweep of gptq or sparsegpt, not wanda/],
    [['--method', 'gptq'], /--method gptq needs --wbits/],
    [['--method', 'gptq', '--wbits', '9'], /--wbits must be an integer from 2 to 8, got 9/],
    [['--method', 'sparsegpt', '--sparsity', '0.5', '--wbits', '1'], /--wbits must be an integer from 2 to 8, got 1/],
    [['--method', 'gptq', '--wbits', '4', '--groupsize', '0'], /--groupsize must be an integer of at least 1, got 0/],
    [['--method', 'gptq', '--wbits', '4', '--groupsize', '128', '--format', 'pack-quantized'], /--groupsize 128 does not divide the input width 192/],
    [['--method', 'gptq', '--wbits', '3', '--format', 'pack-quantized'], /pack-quantized stores 4- or 8-bit weights/],
    [['--method', 'sparsegpt', '--sparsity', '0.5', '--format', 'pack-quantized'], /--format pack-quantized stores quantized weights: it needs --wbits/],
    [['--method', 'sparsegpt', '--sparsity', '0.5', '--groupsize', '64'], /--groupsize sets up the quantizer: it needs --wbits/],
    [['--method', 'gptq', '--wbits', '4', '--sparsity', '0.5'], /--method gptq quantizes without pruning/],
  ]
  for (const [args, pattern] of cases) {
    it(args.join(' '), () => {
      const out = path.join(tempDir(), 'out')
      const r = sparsify(['prune', TINY_LLAMA, ...args, ...CALIB, '--out', out])
      assert.equal(r.status, 2, r.stderr)
      const lines = r.stderr.trim().split('\n').filter((l) => l.startsWith('error:'))
      assert.equal(lines.length, 1, r.stderr)
      assert.match(lines[0], pattern)
      assert.equal(existsSync(out), false)
      assert.deepEqual(readdirSync(path.dirname(out)), [])
    })
  }
})
