import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import {copyFileSync, readdirSync, writeFileSync} from 'node:fs'
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
      assert.deepEqual(Object.keys(out).sort(), ['dataset', 'engine', 'interval', 'model', 'nll', 'nll_stderr', 'nsamples', 'perplexity', 'perplexity_stderr',
        'scored_tokens', 'seconds', 'seqlen', 'tokens'])
      assert.equal(out.scored_tokens, 62)
      assert.ok(out.interval[0] < out.perplexity && out.perplexity < out.interval[1])
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

  /** A copy of the bundled fixture with one tensor's values edited (and stored back in its BF16). */
  function fixtureWith(tensor: string, edit: (values: Float32Array) => void): string {
    const dir = tempDir()
    for (const f of readdirSync(TINY_LLAMA)) if (f !== 'model.safetensors') copyFileSync(path.join(TINY_LLAMA, f), path.join(dir, f))
    const src = SafetensorsFile.open(path.join(TINY_LLAMA, 'model.safetensors'))
    writeSafetensors(path.join(dir, 'model.safetensors'), [...src.tensors.values()].map((t) => {
      if (t.name !== tensor) return {...t, data: src.readBytes(t.name)}
      const values = src.readF32(t.name)
      edit(values)
      return {...t, data: encodeFloats(values, t.dtype as 'BF16')}
    }))
    src.close()
    return dir
  }

  /** exit 5, nothing on stdout, and the last stderr line (after progress) the only error. */
  function refusedAsDamaged(args: string[], pattern: RegExp): void {
    const r = sparsify(args)
    assert.equal(r.status, 5, r.stderr)
    assert.equal(r.stdout, '', 'no "perplexity": null')
    const errors = r.stderr.split('\n').filter((l) => l.startsWith('error: '))
    assert.equal(errors.length, 1, r.stderr)
    assert.match(errors[0], pattern)
    assert.equal(r.stderr.trimEnd().split('\n').at(-1), errors[0])
  }

  const brown = ['--dataset', 'brown', '--seqlen', '64', '--nsamples', '2', '--json']
  it('a NaN or Inf weight is an error naming the tensor (exit 5), wherever it is', () => {
    refusedAsDamaged(['eval', fixtureWith('model.layers.2.mlp.down_proj.weight', (v) => { v[1234] = NaN }), ...brown],
      /^error: model\.layers\.2\.mlp\.down_proj\.weight contains NaN or Inf values \(the checkpoint is damaged/)
    refusedAsDamaged(['eval', fixtureWith('model.layers.0.input_layernorm.weight', (v) => { v[3] = -Infinity }), ...brown],
      /^error: model\.layers\.0\.input_layernorm\.weight contains NaN or Inf/)
    refusedAsDamaged(['eval', fixtureWith('model.norm.weight', (v) => { v[0] = Infinity }), ...brown], /^error: model\.norm\.weight contains NaN or Inf/)
    // A row of a token the text never uses still marks the checkpoint as damaged.
    refusedAsDamaged(['eval', fixtureWith('model.embed_tokens.weight', (v) => { v[v.length - 1] = NaN }), ...brown],
      /^error: model\.embed_tokens\.weight contains NaN or Inf/)
  })

  it('finite weights whose activations overflow float32 give an error naming the chunk (exit 5)', () => {
    refusedAsDamaged(['eval', fixtureWith('model.layers.0.self_attn.v_proj.weight', (v) => v.fill(3e38)), ...brown],
      /^error: evaluation chunk 0 \(of 2, counted from 0\) has a non-finite loss \(NaN\)/)
  })

  it('prune refuses a damaged checkpoint at its dense evaluation, before pruning anything', () => {
    const out = path.join(tempDir(), 'o')
    refusedAsDamaged(['prune', fixtureWith('model.norm.weight', (v) => { v[5] = NaN }), '--method', 'magnitude', '--sparsity', '0.5',
      '--eval', 'brown', '--seqlen', '64', '--out', out], /^error: model\.norm\.weight contains NaN or Inf/)
  })

  it('lists the exit codes in --help', () => {
    const r = sparsify(['eval', '--help'])
    assert.equal(r.status, 0)
    for (const code of ['0  success', '1  runtime error', '2  usage error', '3  model or data not found', '5  invalid checkpoint']) {
      assert.ok(r.stdout.includes(code), `--help lacks "${code}"`)
    }
  })
})
