import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {SafetensorsFile} from '../../src/model/safetensors/reader.js'
import {sparsify, tempDir, TINY_LLAMA} from '../helpers/cli.js'

/** The fixture pruned by magnitude (no calibration: quick), stored as `format`. */
function pruneFixture(target: string[], format: string): string {
  const out = path.join(tempDir(), `pruned-${format}`)
  const r = sparsify(['prune', TINY_LLAMA, '--method', 'magnitude', ...target, '--eval', 'none', '--format', format, '--out', out])
  assert.equal(r.status, 0, r.stderr)
  return out
}

/** Every tensor of two checkpoints' model.safetensors, bit for bit. */
function assertSameWeights(a: string, b: string): void {
  const x = SafetensorsFile.open(path.join(a, 'model.safetensors')), y = SafetensorsFile.open(path.join(b, 'model.safetensors'))
  assert.deepEqual([...y.tensors.keys()].sort(), [...x.tensors.keys()].sort())
  for (const name of x.tensors.keys()) {
    assert.equal(y.entry(name).dtype, x.entry(name).dtype, name)
    assert.deepEqual(y.readBytes(name), x.readBytes(name), name)
  }
}

const dense24 = pruneFixture(['--pattern', '2:4'], 'dense')
const nm24 = pruneFixture(['--pattern', '2:4'], 'nm')

describe('sparsify\'s packed formats (prune --format, export, decompress, eval, generate)', () => {
  it('prune --format nm writes values and 4-bit positions, and decompresses to the dense run bit for bit', () => {
    const cfg = JSON.parse(readFileSync(path.join(nm24, 'config.json'), 'utf8'))
    assert.deepEqual(cfg.quantization_config, {quant_method: 'sparsify', format: 'nm', version: 1, n: 2, m: 4})
    const f = SafetensorsFile.open(path.join(nm24, 'model.safetensors'))
    assert.ok(!f.tensors.has('model.layers.0.mlp.up_proj.weight'))
    assert.deepEqual(f.entry('model.layers.0.mlp.up_proj.weight_values').shape, [512, 96])
    assert.equal(f.entry('model.layers.0.mlp.up_proj.weight_values').dtype, 'BF16')
    assert.deepEqual(f.entry('model.layers.0.mlp.up_proj.weight_positions').shape, [512, 48])
    assert.ok(existsSync(path.join(nm24, 'REPORT.md')) && existsSync(path.join(nm24, 'tokenizer.json')))
    assert.match(readFileSync(path.join(nm24, 'REPORT.md'), 'utf8'), /stores its decoder linears packed as `nm`/)
    const back = path.join(tempDir(), 'back')
    const d = sparsify(['decompress', nm24, '--out', back])
    assert.equal(d.status, 0, d.stderr)
    assertSameWeights(dense24, back)
    assert.equal(JSON.parse(readFileSync(path.join(back, 'config.json'), 'utf8')).quantization_config, undefined)
  })

  it('export --format bitmask of an unstructured run round-trips bit for bit', () => {
    const dense = pruneFixture(['--sparsity', '0.6'], 'dense')
    const packed = path.join(tempDir(), 'bm'), back = path.join(tempDir(), 'back')
    const e = sparsify(['export', dense, '--format', 'bitmask', '--out', packed, '--json'])
    assert.equal(e.status, 0, e.stderr)
    assert.equal(JSON.parse(e.stdout).tensors, 28)
    const f = SafetensorsFile.open(path.join(packed, 'model.safetensors'))
    assert.deepEqual(f.entry('model.layers.1.self_attn.k_proj.weight_bitmask').shape, [64, 24])
    assert.equal(f.entry('model.layers.1.self_attn.k_proj.weight_row_offsets').dtype, 'I64')
    assert.ok(sparsify(['decompress', packed, '--out', back]).status === 0)
    assertSameWeights(dense, back)
  })

  it('eval reads packed checkpoints directly, with the dense perplexity', () => {
    const ppl = (dir: string) => {
      const r = sparsify(['eval', dir, '--dataset', 'brown', '--seqlen', '64', '--nsamples', '4', '--json'])
      assert.equal(r.status, 0, r.stderr)
      return JSON.parse(r.stdout).perplexity
    }
    assert.equal(ppl(nm24), ppl(dense24))
  })

  it('generate decodes with the packed kernels and gives the tokens of float32 decoding', () => {
    const gen = (dir: string, format?: string) => {
      const r = sparsify(['generate', dir, '--prompt', 'The jury said', '--max-new-tokens', '12', '--json', ...(format ? ['--format', format] : [])])
      assert.equal(r.status, 0, r.stderr)
      return JSON.parse(r.stdout)
    }
    const f32 = gen(dense24, 'f32'), nm = gen(nm24), bitmask = gen(dense24, 'bitmask'), bf16 = gen(dense24, 'bf16')
    assert.equal(nm.format, 'nm')
    assert.ok(nm.linear_bytes < bf16.linear_bytes * 0.7, `${nm.linear_bytes} vs ${bf16.linear_bytes}`)
    for (const other of [nm, bitmask, bf16]) assert.deepEqual(other.tokens, f32.tokens, other.format)
  })

  it('refuses what a format cannot hold, with one line and nothing written', () => {
    const out = path.join(tempDir(), 'never')
    const notNm = sparsify(['export', TINY_LLAMA, '--format', 'nm', '--out', out])
    assert.equal(notNm.status, 5)
    assert.match(notNm.stderr, /^error: model\.layers\.0\.\S+\.weight is not 2:4 \(row 0/m)
    assert.ok(!existsSync(out))
    const unstructured = sparsify(['prune', TINY_LLAMA, '--method', 'magnitude', '--sparsity', '0.5', '--format', 'nm', '--eval', 'none', '--out', out])
    assert.equal(unstructured.status, 2)
    assert.match(unstructured.stderr, /--format nm needs an N:M --pattern/)
    const gqsa = sparsify(['generate', dense24, '--prompt', 'x', '--format', 'gqsa'])
    assert.equal(gqsa.status, 2)
    assert.match(gqsa.stderr, /--format gqsa needs a checkpoint written by/)
    assert.ok(!existsSync(out))
  })

  it('a corrupt packed file is an error, not a crash', () => {
    const bad = path.join(tempDir(), 'bad')
    assert.equal(sparsify(['export', dense24, '--format', 'nm', '--out', bad]).status, 0)
    const cfgFile = path.join(bad, 'config.json'), cfg = JSON.parse(readFileSync(cfgFile, 'utf8'))
    writeFileSync(cfgFile, JSON.stringify({...cfg, quantization_config: {...cfg.quantization_config, n: 3}}))
    const r = sparsify(['eval', bad, '--dataset', 'brown', '--seqlen', '64', '--nsamples', '1'])
    assert.equal(r.status, 5)
    assert.match(r.stderr, /^error: model\.layers\.0\.self_attn\.q_proj\.weight_values has shape \[192,96\], expected \[192,144\]/m)
  })
})
