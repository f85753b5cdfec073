import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import path from 'node:path'

import {golden} from '../helpers/golden.js'
import {sparsify, tempDir, TINY_LLAMA} from '../helpers/cli.js'

describe('sparsify inspect', () => {
  it('describes a dense checkpoint', () => {
    const r = sparsify(['inspect', golden('qwen2').dir, '--json'])
    assert.equal(r.status, 0, r.stderr)
    const out = JSON.parse(r.stdout)
    assert.equal(out.architecture, 'Qwen2ForCausalLM')
    assert.deepEqual(out.dtypes, ['F32'])
    assert.equal(out.files, 1)
    assert.equal(out.sparsity, 0)
    assert.equal(out.pattern, null)
    assert.equal(out.linears.length, 14)
    assert.ok(out.parameters > 0 && out.bytes_on_disk > out.parameters * 4)
  })

  it('finds the sparsity and the N:M pattern of our pruned output', () => {
    const out = path.join(tempDir(), 'p')
    const p = sparsify(['prune', TINY_LLAMA, '--method', 'wanda', '--pattern', '2:4', '--calib', 'brown', '--nsamples', '2', '--seqlen', '64', '--eval', 'none', '--out', out])
    assert.equal(p.status, 0, p.stderr)
    const r = sparsify(['inspect', out, '--json'])
    assert.equal(r.status, 0, r.stderr)
    const info = JSON.parse(r.stdout)
    assert.equal(info.sparsity, 0.5)
    assert.equal(info.pattern, '2:4')
    assert.deepEqual(info.dtypes, ['BF16'])
    const human = sparsify(['inspect', out])
    assert.match(human.stdout, /decoder linears: 50\.00% zeros, every one 2:4/)
    assert.match(human.stdout, /model\.layers\.0\.mlp\.down_proj\.weight .* 2:4/)
  })

  it('reports unstructured sparsity without a pattern, and refuses a missing model', () => {
    const out = path.join(tempDir(), 'u')
    assert.equal(sparsify(['prune', TINY_LLAMA, '--method', 'magnitude', '--sparsity', '0.5', '--eval', 'none', '--out', out]).status, 0)
    const info = JSON.parse(sparsify(['inspect', out, '--json']).stdout)
    assert.ok(Math.abs(info.sparsity - 0.5) < 0.01)
    assert.equal(info.pattern, null)
    const bad = sparsify(['inspect', '/nonexistent'])
    assert.equal(bad.status, 3)
  })
})
