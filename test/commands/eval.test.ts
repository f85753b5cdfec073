import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import {copyFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {SafetensorsFile} from '../../src/model/safetensors/reader.js'
import {encodeFloats, writeSafetensors} from '../../src/model/safetensors/writer.js'
import {GOLDEN_MODELS, golden} from '../helpers/golden.js'
import {sparsify, tempDir, TINY_LLAMA} from '../helpers/cli.js'

function evalIdsFile(model: string): string {
  const file = path.join(tempDir(), `${model}-eval.json`)
  writeFileSync(file, JSON.stringify(golden(model).rows('eval_ids')))
  return file
}

describe('sparsify eval', () => {
  for (const model of GOLDEN_MODELS) {
    it(`reproduces the golden perplexity of ${model} through the CLI`, () => {
      const g = golden(model)
      const r = sparsify(['eval', g.dir, '--dataset', evalIdsFile(model), '--seqlen', '32', '--json'])
      assert.equal(r.status, 0, r.stderr)
      const out = JSON.parse(r.stdout)
      assert.deepEqual(Object.keys(out).sort(), ['dataset', 'model', 'nsamples', 'perplexity', 'seconds', 'seqlen', 'tokens'])
      assert.equal(out.seqlen, 32)
      assert.equal(out.nsamples, 2)
      assert.equal(out.tokens, 64)
      const rel = Math.abs(out.perplexity - g.json.ppl_eval) / g.json.ppl_eval
      assert.ok(rel < 1e-4, `perplexity ${out.perplexity} vs golden ${g.json.ppl_eval}`)
    })
  }

  it('evaluates a bf16 copy written by our writer within bf16 rounding of the fp32 result', () => {
    const g = golden('qwen2')
    const dir = tempDir()
    copyFileSync(path.join(g.dir, 'config.json'), path.join(dir, 'config.json'))
    const src = SafetensorsFile.open(path.join(g.dir, 'model.safetensors'))
    writeSafetensors(path.join(dir, 'model.safetensors'), [...src.tensors.values()].map((t) => ({
      name: t.name, dtype: 'BF16' as const, shape: t.shape, data: encodeFloats(src.readF32(t.name), 'BF16'),
    })))
    assert.equal(SafetensorsFile.open(path.join(dir, 'model.safetensors')).entry('model.norm.weight').dtype, 'BF16')
    const r = sparsify(['eval', dir, '--dataset', evalIdsFile('qwen2'), '--json'])
    assert.equal(r.status, 0, r.stderr)
    const ppl = JSON.parse(r.stdout).perplexity
    const rel = Math.abs(ppl - g.json.ppl_eval) / g.json.ppl_eval
    assert.ok(rel > 0 && rel < 1e-2, `bf16 perplexity ${ppl} vs fp32 ${g.json.ppl_eval}`)
  })

  it('prints a human summary on stdout and progress on stderr', () => {
    const r = sparsify(['eval', golden('llama').dir, '--dataset', evalIdsFile('llama'), '--threads', '1'])
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout, /^perplexity\s+376\.94/m)
    assert.match(r.stdout, /tokens\/s/)
    assert.match(r.stderr, /evaluating blocks 2\/2/)
  })

  it('evaluates the bundled fixture on the bundled brown test split', () => {
    const r = sparsify(['eval', TINY_LLAMA, '--dataset', 'brown', '--seqlen', '128', '--nsamples', '4', '--json'])
    assert.equal(r.status, 0, r.stderr)
    const out = JSON.parse(r.stdout)
    assert.equal(out.dataset, 'brown:test')
    assert.equal(out.nsamples, 4)
    assert.equal(out.tokens, 512)
    assert.ok(Number.isFinite(out.perplexity) && out.perplexity > 1)
  })

  it('lists the exit codes in --help', () => {
    const r = sparsify(['eval', '--help'])
    assert.equal(r.status, 0)
    for (const code of ['0  success', '1  runtime error', '2  usage error', '3  model or data not found', '5  invalid checkpoint']) {
      assert.ok(r.stdout.includes(code), `--help lacks "${code}"`)
    }
  })
})
