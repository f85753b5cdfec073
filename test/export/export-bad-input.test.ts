import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import {copyFileSync, existsSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {SafetensorsFile} from '../../src/model/safetensors/reader.js'
import {writeSafetensors} from '../../src/model/safetensors/writer.js'
import {expectError, tempDir, TINY_LLAMA} from '../helpers/cli.js'
import {goldenWithTokenizer} from '../helpers/clients.js'
import {golden} from '../helpers/golden.js'

/**
 * The golden llama with block 1's MLP narrowed to 120 of its 160 channels (as structured pruning by
 * another tool leaves it): config.json still states one intermediate_size.
 */
function perLayerWidths(): string {
  const src = goldenWithTokenizer(golden('llama').dir, 320)
  const dir = tempDir('sparsify-widths-')
  for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) copyFileSync(path.join(src, f), path.join(dir, f))
  const file = SafetensorsFile.open(path.join(src, 'model.safetensors'))
  const tensors = [...file.tensors.values()].map((t) => {
    let data = file.readF32(t.name), shape = t.shape
    if (/layers\.1\.mlp\.(gate|up)_proj/.test(t.name)) { shape = [120, 64]; data = data.slice(0, 120 * 64) }
    if (/layers\.1\.mlp\.down_proj/.test(t.name)) { shape = [64, 120]; data = Float32Array.from({length: 64 * 120}, (_, i) => data[Math.floor(i / 120) * 160 + (i % 120)]) }
    return {name: t.name, dtype: 'F32' as const, shape, data: new Uint8Array(data.buffer)}
  })
  file.close()
  writeSafetensors(path.join(dir, 'model.safetensors'), tensors)
  return dir
}

describe('export to GGUF and ONNX refuses bad input with one line and a documented exit code', () => {
  const out = tempDir('sparsify-export-bad-')

  it('blocks of different widths: refused (5) by both exporters, and nothing is written', () => {
    const dir = perLayerWidths()
    expectError(['export', dir, '--format', 'gguf', '--out', path.join(out, 'w.gguf')], 5, /layers\.1\.mlp\.gate_proj.*\[120,64\].*blocks of different widths/)
    expectError(['export', dir, '--format', 'onnx', '--out', path.join(out, 'w-onnx')], 5, /blocks of different widths/)
    assert.ok(!existsSync(path.join(out, 'w.gguf')) && !existsSync(path.join(out, 'w-onnx')))
  })

  it('GGUF without tokenizer.json (3), with a SentencePiece-style tokenizer (5), over an existing file (2)', () => {
    expectError(['export', golden('llama').dir, '--format', 'gguf', '--out', path.join(out, 'g.gguf')], 3, /no tokenizer\.json/)
    const spm = tempDir()
    for (const f of ['config.json', 'model.safetensors']) copyFileSync(path.join(TINY_LLAMA, f), path.join(spm, f))
    const tok = JSON.parse(readFileSync(path.join(TINY_LLAMA, 'tokenizer.json'), 'utf8'))
    tok.model.byte_fallback = true
    writeFileSync(path.join(spm, 'tokenizer.json'), JSON.stringify(tok))
    expectError(['export', spm, '--format', 'gguf', '--out', path.join(out, 's.gguf')], 5, /SentencePiece-style/)
    const existing = path.join(out, 'exists.gguf')
    writeFileSync(existing, 'keep')
    expectError(['export', TINY_LLAMA, '--format', 'gguf', '--out', existing], 2, /exists/)
    assert.equal(readFileSync(existing, 'utf8'), 'keep')
  })

  it('ONNX q4 blocks that MatMulNBits cannot take (2); onnxruntime on a folder without an export (3); --format with onnxruntime (2)', () => {
    expectError(['export', TINY_LLAMA, '--format', 'onnx', '--dtype', 'q4', '--block-size', '24', '--out', path.join(out, 'b')], 2, /power of two/)
    expectError(['eval', TINY_LLAMA, '--engine', 'onnxruntime', '--dataset', 'brown'], 3, /no onnx\/model\*\.onnx/)
    expectError(['generate', TINY_LLAMA, '--engine', 'onnxruntime', '--format', 'f32', '--prompt', 'x'], 2, /--format/)
  })
})
