import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {compressWeight, decompressWeight} from '../../src/export/compressed-tensors.js'
import {SafetensorsFile} from '../../src/model/safetensors/reader.js'
import {encodeFloats} from '../../src/model/safetensors/writer.js'
import {golden} from '../helpers/golden.js'
import {nativeKernels, refBackend} from '../../src/kernels/index.js'
import {randomNormal, seededRandom} from '../../src/util/random.js'
import {sparsify, tempDir} from '../helpers/cli.js'

const g = golden('llama')
const ids = path.join(tempDir(), 'ids.json')
writeFileSync(ids, JSON.stringify(g.rows('calib_ids')))

function pruned(flags: string[]): string {
  const out = path.join(tempDir(), 'pruned')
  const r = sparsify(['prune', g.dir, '--method', 'sparsegpt', ...flags, '--calib', ids, '--nsamples', '4', '--seqlen', '32', '--eval', 'none', '--out', out])
  assert.equal(r.status, 0, r.stderr)
  return out
}

describe('compressed-tensors sparse layouts (export and decompress)', () => {
  it('the spec worked example: row [a,0,b,0, 0,c,d,0] → bitmask 0x65, values [a,b,c,d], shape [[1],[8]]', () => {
    const w = Float32Array.of(1.5, 0, -2, 0, 0, 3, 4.25, -0)
    const parts = compressWeight('m.layers.0.mlp.up_proj', w, 1, 8, 'BF16', 'sparse-24-bitmask', (v) => encodeFloats(v, 'BF16'))
    const by = Object.fromEntries(parts.map((p) => [p.name.split('.').at(-1), p]))
    assert.deepEqual([...by.bitmask.data], [0x65])
    assert.deepEqual(by.shape.shape, [2, 1])
    assert.deepEqual([...new BigInt64Array(by.shape.data.buffer)], [1n, 8n])
    assert.deepEqual(by.compressed.shape, [1, 4])
    assert.deepEqual([...new Uint16Array(by.compressed.data.buffer)], [...new Uint16Array(encodeFloats(Float32Array.of(1.5, -2, 3, 4.25), 'BF16').buffer)])
  })

  it('sparse-24-bitmask of a golden 2:4 run reads back to the same weights, and stores +0.0', () => {
    const dense = pruned(['--pattern', '2:4'])
    const ct = path.join(tempDir(), 'ct'), back = path.join(tempDir(), 'back')
    const e = sparsify(['export', dense, '--format', 'sparse-24-bitmask', '--out', ct, '--json'])
    assert.equal(e.status, 0, e.stderr)
    assert.equal(JSON.parse(e.stdout).tensors, 14)
    const cfg = JSON.parse(readFileSync(path.join(ct, 'config.json'), 'utf8'))
    assert.equal(cfg.quantization_config.sparsity_config.format, 'sparse-24-bitmask')
    assert.equal(cfg.quantization_config.sparsity_config.sparsity_structure, '2:4')
    const f = SafetensorsFile.open(path.join(ct, 'model.safetensors'))
    assert.equal(f.metadata.format, 'pt')
    assert.ok(!f.tensors.has('model.layers.0.mlp.up_proj.weight'))
    assert.deepEqual(f.entry('model.layers.0.mlp.up_proj.compressed').shape, [160, 32])
    assert.deepEqual(f.entry('model.layers.0.mlp.up_proj.bitmask').shape, [160, 8])
    assert.ok(!new Float32Array(f.readBytes('model.layers.0.mlp.up_proj.compressed').buffer).some((v) => Object.is(v, -0)))
    const d = sparsify(['decompress', ct, '--out', back])
    assert.equal(d.status, 0, d.stderr)
    const a = SafetensorsFile.open(path.join(dense, 'model.safetensors')), b = SafetensorsFile.open(path.join(back, 'model.safetensors'))
    assert.deepEqual([...b.tensors.keys()].sort(), [...a.tensors.keys()].sort())
    for (const name of a.tensors.keys()) {
      const x = a.readF32(name), y = b.readF32(name)
      assert.deepEqual(y.map((v) => v + 0), x.map((v) => v + 0), name)   // equal up to the sign of zero
    }
    assert.equal(JSON.parse(readFileSync(path.join(back, 'config.json'), 'utf8')).quantization_config, undefined)
  })

  it('refuses a checkpoint that is not 2:4 for sparse-24-bitmask, and takes it as sparse-bitmask, bit for bit back', () => {
    const dense = pruned(['--sparsity', '0.5'])
    const no = path.join(tempDir(), 'no')
    const r = sparsify(['export', dense, '--format', 'sparse-24-bitmask', '--out', no])
    assert.equal(r.status, 5)
    assert.match(r.stderr, /error: model\.layers\.\d\.\w+\.\w+_proj\.weight is not 2:4 \(row \d+, columns \d+-\d+ hold [34] non-zeros\)/)
    assert.ok(!existsSync(no))
    const ct = path.join(tempDir(), 'ct'), back = path.join(tempDir(), 'back')
    assert.equal(sparsify(['export', dense, '--format', 'sparse-bitmask', '--out', ct]).status, 0)
    const f = SafetensorsFile.open(path.join(ct, 'model.safetensors'))
    const offsets = f.readInts('model.layers.1.self_attn.o_proj.row_offsets')
    assert.equal(offsets[0], 0)
    assert.ok(offsets.every((o, i) => i === 0 || o >= offsets[i - 1]))
    assert.equal(sparsify(['decompress', ct, '--out', back]).status, 0)
    const a = SafetensorsFile.open(path.join(dense, 'model.safetensors')), b = SafetensorsFile.open(path.join(back, 'model.safetensors'))
    for (const name of a.tensors.keys()) assert.deepEqual(b.readBytes(name), a.readBytes(name), name)
  })

  it('decompressWeight checks the count of values against the bitmask', () => {
    assert.throws(() => decompressWeight(Float32Array.of(1, 2, 3), Uint8Array.of(0x03), 1, 8), /selects 2 values but 3 are stored/)
    assert.throws(() => decompressWeight(Float32Array.of(1), Uint8Array.of(0x03), 1, 8), /selects more values but 1 are stored/)
  })

  it('the native packers equal their references, odd widths included', () => {
    const rand = seededRandom(12)
    for (const [rows, cols] of [[3, 12], [5, 17], [2, 64]]) {
      const w = randomNormal(rows * cols, rand)
      for (let i = 0; i < w.length; i += 3) w[i] = 0
      w[1] = -0
      const a = {v: new Float32Array(rows * cols), b: new Uint8Array(rows * Math.ceil(cols / 8)), o: new BigInt64Array(rows)}
      const b = {v: new Float32Array(rows * cols), b: new Uint8Array(rows * Math.ceil(cols / 8)), o: new BigInt64Array(rows)}
      assert.equal(nativeKernels().packBitmask(b.v, b.b, b.o, w, rows, cols), refBackend.packBitmask(a.v, a.b, a.o, w, rows, cols))
      assert.deepEqual(b, a)
      const da = new Float32Array(rows * cols), db = new Float32Array(rows * cols)
      refBackend.unpackBitmask(da, a.v, a.b, rows, cols); nativeKernels().unpackBitmask(db, b.v, b.b, rows, cols)
      assert.deepEqual(db, da)
      if (cols % 4 === 0) {
        for (let r = 0; r < rows; r++) for (let g = 0; g < cols; g += 4) { w[r * cols + g + 1] = 0; w[r * cols + g + 2] = 0 }
        const v1 = new Float32Array(rows * cols / 2), v2 = new Float32Array(rows * cols / 2)
        const m1 = new Uint8Array(rows * Math.ceil(cols / 8)), m2 = new Uint8Array(rows * Math.ceil(cols / 8))
        assert.equal(nativeKernels().pack24(v2, m2, w, rows, cols), refBackend.pack24(v1, m1, w, rows, cols))
        assert.deepEqual([v2, m2], [v1, m1])
      }
    }
  })
})
