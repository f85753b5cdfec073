import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import {writeFileSync} from 'node:fs'
import path from 'node:path'

import {SafetensorsFile} from '../../src/model/safetensors/reader.js'
import {golden, NEW_FAMILIES} from '../helpers/golden.js'
import {sparsify, tempDir} from '../helpers/cli.js'

function calibFile(name: string): string {
  const file = path.join(tempDir(), 'calib.json')
  writeFileSync(file, JSON.stringify(golden(name).rows('calib_ids')))
  return file
}

const prune = (name: string, out: string, flags: string[]) => sparsify(['prune', golden(name).dir, ...flags, '--calib', calibFile(name), '--nsamples', '4', '--seqlen', '32',
  '--eval', 'none', '--out', out, '--json'])

describe('every command on the architecture table\'s families', () => {
  for (const name of NEW_FAMILIES) {
    it(`${name}: DSnoT prunes every stored linear to its target; GQSA writes its packing, which inspect reads`, () => {
      const g = golden(name), weights = g.json.pruned_weights as string[]
      const d = prune(name, path.join(tempDir(), 'dsnot'), ['--method', 'dsnot', '--sparsity', '0.5'])
      assert.equal(d.status, 0, d.stderr)
      const report = JSON.parse(d.stdout)
      assert.deepEqual(report.sparsity.linears.map((l: {name: string}) => l.name), weights)
      for (const l of report.sparsity.linears) assert.equal(l.sparsity, 0.5, l.name)
      const out = path.join(tempDir(), 'gqsa')
      const q = prune(name, out, ['--method', 'gqsa', '--format', 'gqsa', '--bqpo-epochs', '1'])
      assert.equal(q.status, 0, q.stderr)
      const i = sparsify(['inspect', out, '--json'])
      assert.equal(i.status, 0, i.stderr)
      const info = JSON.parse(i.stdout)
      assert.equal(info.format, 'gqsa')
      assert.deepEqual(info.linears.map((l: {name: string}) => l.name), weights)
    })
  }

  for (const name of ['phi3', 'opt', 'mixtral']) {
    it(`${name}: export --format bitmask and decompress give back every tensor with its name, dtype, shape and values`, () => {
      const g = golden(name), packed = path.join(tempDir(), 'packed'), back = path.join(tempDir(), 'back')
      const e = sparsify(['export', g.dir, '--format', 'bitmask', '--out', packed, '--json'])
      assert.equal(e.status, 0, e.stderr)
      assert.equal(JSON.parse(e.stdout).tensors, g.json.pruned_weights.length)
      assert.equal(sparsify(['decompress', packed, '--out', back]).status, 0)
      const a = SafetensorsFile.open(path.join(g.dir, 'model.safetensors')), b = SafetensorsFile.open(path.join(back, 'model.safetensors'))
      assert.deepEqual([...b.tensors.keys()].sort(), [...a.tensors.keys()].sort())
      for (const t of a.tensors.values()) {
        assert.equal(b.entry(t.name).dtype, t.dtype)
        assert.deepEqual(b.entry(t.name).shape, t.shape)
        assert.deepEqual(b.readF32(t.name), a.readF32(t.name), t.name)
      }
    })
  }
})
