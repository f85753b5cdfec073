import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import path from 'node:path'

import {sparsify, tempDir, TINY_LLAMA} from '../helpers/cli.js'
import {goldenWithTokenizer} from '../helpers/clients.js'
import {golden} from '../helpers/golden.js'
import {transformersJsGenerate, transformersJsTokenize} from '../helpers/transformers-js.js'

const out = tempDir('sparsify-onnx-')

function exportOnnx(dir: string, dtype: string, extra: string[] = []): string {
  const folder = path.join(out, `${path.basename(dir)}-${dtype}`)
  const r = sparsify(['export', dir, '--format', 'onnx', '--dtype', dtype, '--out', folder, '--overwrite', '--quiet', '--json', ...extra])
  assert.equal(r.status, 0, r.stderr)
  return folder
}

function generate(dir: string, prompt: string, n: number, engine = 'native'): number[] {
  const r = sparsify(['generate', dir, '--prompt', prompt, '--max-new-tokens', String(n), '--engine', engine, '--json', '--quiet'])
  assert.equal(r.status, 0, r.stderr)
  return JSON.parse(r.stdout).tokens
}

function perplexity(dir: string, engine: string): number {
  const r = sparsify(['eval', dir, '--engine', engine, '--dataset', 'brown', '--seqlen', '128', '--nsamples', '8', '--json', '--quiet'])
  assert.equal(r.status, 0, r.stderr)
  return JSON.parse(r.stdout).perplexity
}

const vocabOf = (dir: string) => JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')).vocab_size

describe('ONNX export runs in transformers.js and onnxruntime (offline)', () => {
  const prompt = 'The jury said that the city'
  const fixture = exportOnnx(TINY_LLAMA, 'fp32')

  it('the fixture: transformers.js tokenizes as we do, and its greedy continuation is sparsify generate\'s, token for token', async () => {
    const want = generate(TINY_LLAMA, prompt, 24)
    const ids = await transformersJsTokenize(fixture, prompt)
    const got = await transformersJsGenerate(fixture, ids, 24)
    assert.deepEqual(got.slice(0, want.length), want)
    assert.deepEqual(generate(fixture, prompt, 24, 'onnxruntime'), want)
  })

  for (const name of ['llama', 'qwen2', 'qwen3']) {
    it(`golden ${name}: transformers.js continues as sparsify generate does`, async () => {
      const dir = goldenWithTokenizer(golden(name).dir, vocabOf(golden(name).dir))
      const folder = exportOnnx(dir, 'fp32')
      const want = generate(dir, 'abcde', 16)
      assert.ok(want.length >= 4, `only ${want.length} tokens before EOS`)
      const ids = await transformersJsTokenize(folder, 'abcde')
      assert.deepEqual(await transformersJsGenerate(folder, ids, 16).then((t) => t.slice(0, want.length)), want)
    })
  }

  it('onnxruntime\'s perplexity of the fp32 export equals the native engine\'s to 1e-4 relative', () => {
    const native = perplexity(TINY_LLAMA, 'native'), onnx = perplexity(fixture, 'onnxruntime')
    assert.ok(Math.abs(onnx - native) / native < 1e-4, `onnxruntime ${onnx} vs native ${native}`)
  })

  it('q4 (MatMulNBits) and fp16 exports load in transformers.js and generate', async () => {
    for (const dtype of ['q4', 'fp16']) {
      const folder = exportOnnx(TINY_LLAMA, dtype)
      const cfg = JSON.parse(readFileSync(path.join(folder, 'config.json'), 'utf8'))
      assert.equal(cfg['transformers.js_config'].dtype, dtype)
      const got = await transformersJsGenerate(folder, await transformersJsTokenize(folder, prompt), 8)
      assert.equal(got.length, 8)
      assert.deepEqual(generate(folder, prompt, 8, 'onnxruntime'), got)
    }
  })
})
