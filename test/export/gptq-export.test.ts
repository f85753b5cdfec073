import {before, describe, it} from 'node:test'
import assert from 'node:assert/strict'
import path from 'node:path'

import {permuteRows} from '../../src/export/gguf/export.js'
import {GGUF_FAMILIES} from '../../src/export/gguf/families.js'
import {sourceTensors} from '../../src/export/source.js'
import {Model} from '../../src/model/model.js'
import {decodeFloats, encodeFloats} from '../../src/model/safetensors/writer.js'
import {dequantize, readPackQuantized} from '../../src/packed/pack-quantized.js'
import {sparsify, tempDir, TINY_LLAMA} from '../helpers/cli.js'
import {readGgufQuantized, readOnnxQ4} from '../helpers/read-exports.js'

const out = tempDir('sparsify-gptq-export-')

function run(args: string[]): Record<string, any> {
  const r = sparsify([...args, '--quiet', '--json'])
  assert.equal(r.status, 0, r.stderr)
  return JSON.parse(r.stdout)
}

function prune(name: string, flags: string[]): string {
  const dir = path.join(out, name)
  run(['prune', TINY_LLAMA, '--method', 'gptq', '--wbits', '4', ...flags, '--calib', 'brown', '--nsamples', '4', '--seqlen', '64', '--eval', 'none', '--out', dir])
  return dir
}

const perplexity = (dir: string, engine: string) =>
  run(['eval', dir, '--engine', engine, '--dataset', 'brown', '--seqlen', '128', '--nsamples', '8']).perplexity as number

const bf16 = (v: Float32Array) => decodeFloats(encodeFloats(v, 'BF16'), 'BF16')

/** Bit for bit (an index and both values on the first difference). */
function sameBits(got: Float32Array, want: Float32Array, what: string): void {
  const a = new Uint32Array(got.buffer, got.byteOffset, got.length), b = new Uint32Array(want.buffer, want.byteOffset, want.length)
  assert.equal(a.length, b.length, what)
  const i = a.findIndex((x, k) => x !== b[k])
  assert.equal(i, -1, `${what}: value ${i} is ${got[i]}, want ${want[i]}`)
}

/** The decoder linears of a checkpoint: the values it holds (in its dtype) and, when pack-quantized, scale·(code − zero) in float32. */
function linears(dir: string): {name: string; key: string; layer: number; rows: number; cols: number; stored: Float32Array; exact: Float32Array | null}[] {
  const model = Model.load(dir)
  try {
    return sourceTensors(model).filter((t) => t.layer !== null && t.shape.length === 2).map((t) => {
      const prefix = t.name.replace(/\.weight$/, ''), [rows, cols] = t.shape
      const packed = model.ckpt.has(`${prefix}.weight_packed`)
      return {name: t.name, key: t.key, layer: t.layer!, rows, cols, stored: t.load(), exact: packed ? dequantize(readPackQuantized(model.ckpt, prefix, rows, cols), 'F32') : null}
    })
  } finally {
    model.close()
  }
}

function checkOnnx(dir: string, folder: string): void {
  const got = readOnnxQ4(folder)
  for (const l of linears(dir)) {
    const w = got.get(l.name)!
    sameBits(bf16(w), l.stored, `${l.name} (ONNX q4, in bf16)`)
    if (l.exact) sameBits(w, l.exact, `${l.name} (ONNX q4 = scale·(code − zero))`)
  }
}

async function checkGguf(dir: string, file: string): Promise<void> {
  const got = await readGgufQuantized(file), heads: Record<string, number> = {'self_attn.q_proj.weight': 6, 'self_attn.k_proj.weight': 2}
  for (const l of linears(dir)) {
    const w = got.get(`blk.${l.layer}.${GGUF_FAMILIES.LlamaForCausalLM.block[l.key]}`)!
    const order = (v: Float32Array) => heads[l.key] ? new Float32Array(permuteRows(new Uint8Array(v.slice().buffer), l.rows, heads[l.key]).buffer) : v
    sameBits(bf16(w), order(l.stored), `${l.name} (GGUF q4_1, in bf16)`)
    if (l.exact) sameBits(w, order(l.exact), `${l.name} (GGUF q4_1 = scale·(code − zero))`)
  }
}

describe('GPTQ checkpoints export to ONNX q4 and GGUF q4_1 with their own groups', () => {
  let packed32: string, dense128: string, sym128: string
  before(() => {
    packed32 = prune('w4-g32-sym-packed', ['--groupsize', '32', '--sym', '--format', 'pack-quantized'])
    dense128 = prune('w4-g128', ['--groupsize', '128'])
    sym128 = prune('w4-g128-sym', ['--groupsize', '128', '--sym'])
  })

  it('pack-quantized g32: both files hold scale·(code − zero) exactly; onnxruntime\'s perplexity equals the engine\'s to 1e-4', async () => {
    const folder = path.join(out, 'pq32-onnx'), file = path.join(out, 'pq32.gguf')
    const o = run(['export', packed32, '--format', 'onnx', '--dtype', 'q4', '--out', folder])
    const g = run(['export', packed32, '--format', 'gguf', '--type', 'q4_1', '--out', file])
    assert.deepEqual([o.groupLinears, o.rtnLinears, g.groupLinears, g.rtnLinears], [28, 0, 28, 0])
    checkOnnx(packed32, folder)
    await checkGguf(packed32, file)
    const native = perplexity(packed32, 'native'), onnx = perplexity(folder, 'onnxruntime')
    assert.ok(Math.abs(onnx - native) / native < 1e-4, `onnxruntime ${onnx} vs native ${native}`)
  })

  it('dense g128 (groups of 128 then 64 on 192 columns): codes recovered exactly; onnxruntime\'s perplexity equals the engine\'s to 1e-4', () => {
    const folder = path.join(out, 'd128-onnx')
    const o = run(['export', dense128, '--format', 'onnx', '--dtype', 'q4', '--out', folder])
    assert.deepEqual([o.groupLinears, o.rtnLinears], [28, 0])
    checkOnnx(dense128, folder)
    const native = perplexity(dense128, 'native'), onnx = perplexity(folder, 'onnxruntime')
    assert.ok(Math.abs(onnx - native) / native < 1e-4, `onnxruntime ${onnx} vs native ${native}`)
  })

  it('GGUF q4_1 takes asymmetric groups only where f16 holds −zero·scale exactly, and says how many it rounded', async () => {
    const g = run(['export', dense128, '--format', 'gguf', '--type', 'q4_1', '--out', path.join(out, 'd128.gguf')])
    assert.equal(g.groupLinears + g.rtnLinears, 28)
    assert.equal(g.inexactGroupLinears, g.rtnLinears)
    console.log(`# asymmetric g128 → q4_1: ${g.groupLinears} linears from their groups, ${g.rtnLinears} rounded (−zero·scale not an f16)`)
    const file = path.join(out, 'sym128.gguf')
    const s = run(['export', sym128, '--format', 'gguf', '--type', 'q4_1', '--out', file])
    assert.deepEqual([s.groupLinears, s.rtnLinears], [28, 0])
    await checkGguf(sym128, file)
  })
})
