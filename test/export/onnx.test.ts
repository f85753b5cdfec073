import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import {readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {sparsify, tempDir, TINY_LLAMA} from '../helpers/cli.js'
import {goldenWithTokenizer} from '../helpers/clients.js'
import {golden} from '../helpers/golden.js'
import {SafetensorsFile} from '../../src/model/safetensors/reader.js'
import {writeSafetensors} from '../../src/model/safetensors/writer.js'
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

function perplexity(dir: string, engine: string, seqlen = 128): number {
  const r = sparsify(['eval', dir, '--engine', engine, '--dataset', 'brown', '--seqlen', String(seqlen), '--nsamples', '8', '--json', '--quiet'])
  assert.equal(r.status, 0, r.stderr)
  return JSON.parse(r.stdout).perplexity
}

const vocabOf = (dir: string) => JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')).vocab_size

/** Golden `name` with a tokenizer, its tensors renamed by `rename` and its config edited. */
function goldenVariant(name: string, rename: (t: string) => string, edit: (cfg: Record<string, any>) => Record<string, any>): string {
  const dir = goldenWithTokenizer(golden(name).dir, vocabOf(golden(name).dir)), file = path.join(dir, 'model.safetensors')
  const src = SafetensorsFile.open(file)
  const tensors = [...src.tensors.values()].map((t) => ({name: rename(t.name), dtype: 'F32' as const, shape: t.shape, data: new Uint8Array(src.readF32(t.name).buffer)}))
  src.close()
  writeSafetensors(file, tensors)
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(edit(JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')))))
  return dir
}

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

  // Sequences of 48 tokens: past Gemma 2/3's sliding window (16), within OPT's learned positions (64).
  for (const name of ['llama', 'qwen2', 'qwen3', 'gemma', 'gemma2', 'gemma3', 'phi3', 'opt']) {
    it(`golden ${name}: transformers.js continues as sparsify generate does; onnxruntime's perplexity is the engine's`, async () => {
      const dir = goldenWithTokenizer(golden(name).dir, vocabOf(golden(name).dir))
      const folder = exportOnnx(dir, 'fp32')
      const want = generate(dir, 'abcde', 16)
      assert.ok(want.length >= 4, `only ${want.length} tokens before EOS`)
      const ids = await transformersJsTokenize(folder, 'abcde')
      assert.deepEqual(await transformersJsGenerate(folder, ids, 16).then((t) => t.slice(0, want.length)), want)
      const native = perplexity(dir, 'native', 48), onnx = perplexity(folder, 'onnxruntime', 48)
      assert.ok(Math.abs(onnx - native) / native < 1e-4, `onnxruntime ${onnx} vs native ${native}`)
    })
  }

  it('OPT stored without `model.` and Phi-3 with LongRoPE: transformers.js continues as sparsify generate does; onnxruntime\'s perplexity is the engine\'s', async () => {
    const opt = goldenVariant('opt', (t) => t.replace(/^model\./, ''), (c) => c)
    // original context 32: sequences of 48 take the long factors, of 16 the short ones, both with the attention factor
    const phi3 = goldenVariant('phi3', (t) => t, (c) => ({...c, original_max_position_embeddings: 32,
      rope_scaling: {type: 'longrope', short_factor: [1, 1.5, 2, 3, 4, 5], long_factor: [2, 4, 8, 16, 32, 64]}}))
    for (const dir of [opt, phi3]) {
      const folder = exportOnnx(dir, 'fp32'), want = generate(dir, 'abcde', 16)
      assert.deepEqual(await transformersJsGenerate(folder, await transformersJsTokenize(folder, 'abcde'), 16).then((t) => t.slice(0, want.length)), want)
      for (const seqlen of [16, 48]) {
        const native = perplexity(dir, 'native', seqlen), onnx = perplexity(folder, 'onnxruntime', seqlen)
        assert.ok(Math.abs(onnx - native) / native < 1e-4, `${dir} ${seqlen}: onnxruntime ${onnx} vs native ${native}`)
      }
    }
  })

  for (const name of ['mixtral', 'qwen3_moe']) {
    it(`golden ${name} (no transformers.js class): onnxruntime generates as sparsify generate does, and its perplexity is the engine's`, () => {
      const dir = goldenWithTokenizer(golden(name).dir, vocabOf(golden(name).dir))
      const r = sparsify(['export', dir, '--format', 'onnx', '--out', path.join(out, name), '--json'])
      assert.equal(r.status, 0, r.stderr)
      assert.equal(JSON.parse(r.stdout).transformersJs, false)
      assert.match(r.stderr, new RegExp(`transformers.js 3.8 has no ${name} model class`))
      const folder = path.join(out, name), want = generate(dir, 'abcde', 16)
      assert.deepEqual(generate(folder, 'abcde', 16, 'onnxruntime'), want)
      const native = perplexity(dir, 'native', 48), onnx = perplexity(folder, 'onnxruntime', 48)
      assert.ok(Math.abs(onnx - native) / native < 1e-4, `onnxruntime ${onnx} vs native ${native}`)
    })
  }

  it('Gemma 3 with its vision tower: the text model is exported as Gemma3ForCausalLM; transformers.js and onnxruntime run it as the engine does', async () => {
    const dir = goldenVariant('gemma3', (t) => `language_model.${t}`, (c) => ({architectures: ['Gemma3ForConditionalGeneration'], model_type: 'gemma3',
      torch_dtype: 'float32', text_config: {...c, architectures: undefined}, vision_config: {hidden_size: 4}}))
    const folder = exportOnnx(dir, 'fp32'), cfg = JSON.parse(readFileSync(path.join(folder, 'config.json'), 'utf8'))
    assert.deepEqual([cfg.architectures, cfg.model_type, cfg.vocab_size, cfg.text_config], [['Gemma3ForCausalLM'], 'gemma3_text', 256, undefined])
    const want = generate(dir, 'abcde', 16)
    assert.deepEqual(await transformersJsGenerate(folder, await transformersJsTokenize(folder, 'abcde'), 16).then((t) => t.slice(0, want.length)), want)
    const native = perplexity(dir, 'native', 48), onnx = perplexity(folder, 'onnxruntime', 48)
    assert.ok(Math.abs(onnx - native) / native < 1e-4, `onnxruntime ${onnx} vs native ${native}`)
  })

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

  it('q4 of the new families: Phi-3\'s fused projections and Gemma 2 load in transformers.js and generate as onnxruntime does; Mixtral in onnxruntime', async () => {
    for (const name of ['phi3', 'gemma2']) {
      const dir = goldenWithTokenizer(golden(name).dir, vocabOf(golden(name).dir))
      const folder = exportOnnx(dir, 'q4')
      const got = await transformersJsGenerate(folder, await transformersJsTokenize(folder, 'abcde'), 8)
      assert.equal(got.length, 8)
      assert.deepEqual(generate(folder, 'abcde', 8, 'onnxruntime'), got)
    }
    const mixtral = exportOnnx(goldenWithTokenizer(golden('mixtral').dir, vocabOf(golden('mixtral').dir)), 'q4')
    assert.equal(generate(mixtral, 'abcde', 8, 'onnxruntime').length, 8)
  })
})
