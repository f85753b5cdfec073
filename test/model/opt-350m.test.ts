import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import {writeFileSync} from 'node:fs'
import path from 'node:path'

import {argmax, Decoder} from '../../src/model/engine/decode.js'
import {namedGradients} from '../../src/model/engine/backward.js'
import {forwardLogits, toBatch} from '../../src/model/engine/forward.js'
import {Model} from '../../src/model/model.js'
import {ParamStore} from '../../src/model/params.js'
import {SafetensorsFile} from '../../src/model/safetensors/reader.js'
import {writeSafetensors} from '../../src/model/safetensors/writer.js'
import {randomNormal, seededRandom} from '../../src/util/random.js'
import {PackedStore} from '../../src/packed/store.js'
import {assertClose} from '../helpers/assert-close.js'
import {sparsify, tempDir} from '../helpers/cli.js'
import {goldenWithTokenizer} from '../helpers/clients.js'
import {readOnnxQ4} from '../helpers/read-exports.js'
import {transformersJsGenerate, transformersJsTokenize} from '../helpers/transformers-js.js'

/** OPT-350m's shape in small: word embeddings narrower than the decoder, post-norm blocks, no final norm, tied head (vocabulary wide enough for a byte-level tokenizer). */
const CFG = {architectures: ['OPTForCausalLM'], model_type: 'opt', vocab_size: 272, hidden_size: 32, word_embed_proj_dim: 16, ffn_dim: 64,
  num_hidden_layers: 2, num_attention_heads: 4, max_position_embeddings: 64, do_layer_norm_before: false, activation_function: 'relu',
  enable_bias: true, layer_norm_elementwise_affine: true, tie_word_embeddings: true, torch_dtype: 'float32', bos_token_id: 2, eos_token_id: 2, pad_token_id: 1}
const V = CFG.vocab_size, H = CFG.hidden_size, E = CFG.word_embed_proj_dim, F = CFG.ffn_dim

/** The tensors OPT-350m stores (no model.decoder.final_layer_norm), random. */
function opt350mTensors(): Map<string, {shape: number[]; data: Float32Array}> {
  const rand = seededRandom(350), t = new Map<string, {shape: number[]; data: Float32Array}>()
  const add = (name: string, shape: number[], std: number, mean = 0) =>
    t.set(name, {shape, data: randomNormal(shape.reduce((a, b) => a * b, 1), rand, std).map((v) => v + mean)})
  add('model.decoder.embed_tokens.weight', [V, E], 0.5)
  add('model.decoder.embed_positions.weight', [CFG.max_position_embeddings + 2, H], 0.3)
  add('model.decoder.project_in.weight', [H, E], 0.3)
  add('model.decoder.project_out.weight', [E, H], 0.3)
  for (let l = 0; l < CFG.num_hidden_layers; l++) {
    const p = `model.decoder.layers.${l}.`
    for (const proj of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) { add(`${p}self_attn.${proj}.weight`, [H, H], 0.25); add(`${p}self_attn.${proj}.bias`, [H], 0.1) }
    for (const norm of ['self_attn_layer_norm', 'final_layer_norm']) { add(`${p}${norm}.weight`, [H], 0.1, 1); add(`${p}${norm}.bias`, [H], 0.1) }
    add(`${p}fc1.weight`, [F, H], 0.2); add(`${p}fc1.bias`, [F], 0.1)
    add(`${p}fc2.weight`, [H, F], 0.15); add(`${p}fc2.bias`, [H], 0.1)
  }
  return t
}

function writeCheckpoint(tensors: Map<string, {shape: number[]; data: Float32Array}>): string {
  const dir = tempDir()
  writeSafetensors(path.join(dir, 'model.safetensors'), [...tensors].map(([name, {shape, data}]) => ({name, dtype: 'F32' as const, shape, data: new Uint8Array(data.buffer)})))
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(CFG))
  return dir
}

/**
 * OPTForCausalLM written plainly from modeling_opt.py in float64: token embeddings → project_in, plus learned positions
 * (row p + 2); each block with do_layer_norm_before false: x = LN(x + out_proj(attn(q·hd^-0.5, k, v))), x = LN(x + fc2(relu(fc1(x))));
 * no final norm; project_out; the tied head. Returns the mean next-token loss and the last position's logits.
 */
function reference(t: Map<string, {data: Float32Array | Float64Array}>, ids: number[]): {loss: number; last: Float64Array} {
  const w = (name: string) => t.get(`model.decoder.${name}`)!.data
  const lin = (x: Float64Array, name: string, rows: number, bias = true) => Float64Array.from({length: rows}, (_, r) => {
    const W = w(`${name}.weight`)
    let s = bias ? w(`${name}.bias`)[r] : 0
    for (let c = 0; c < x.length; c++) s += W[r * x.length + c] * x[c]
    return s
  })
  const ln = (x: Float64Array, name: string) => {
    const mean = x.reduce((a, v) => a + v, 0) / x.length, varc = x.reduce((a, v) => a + (v - mean) ** 2, 0) / x.length
    return x.map((v, i) => ((v - mean) / Math.sqrt(varc + 1e-5)) * w(`${name}.weight`)[i] + w(`${name}.bias`)[i])
  }
  const T = ids.length, nh = CFG.num_attention_heads, hd = H / nh
  const emb = w('embed_tokens.weight'), pos = w('embed_positions.weight')
  let x = ids.map((id, p) => lin(Float64Array.from(emb.subarray(id * E, (id + 1) * E)), 'project_in', H, false).map((v, i) => v + pos[(p + 2) * H + i]))
  for (let l = 0; l < CFG.num_hidden_layers; l++) {
    const p = `layers.${l}.`
    const q = x.map((h) => lin(h, `${p}self_attn.q_proj`, H).map((v) => v / Math.sqrt(hd)))
    const k = x.map((h) => lin(h, `${p}self_attn.k_proj`, H)), v = x.map((h) => lin(h, `${p}self_attn.v_proj`, H))
    x = x.map((h, i) => {
      const ctx = new Float64Array(H)
      for (let j = 0; j < nh; j++) {
        const s = Array.from({length: i + 1}, (_, u) => { let d = 0; for (let c = 0; c < hd; c++) d += q[i][j * hd + c] * k[u][j * hd + c]; return d })
        const top = Math.max(...s), e = s.map((z) => Math.exp(z - top)), z = e.reduce((a, b) => a + b, 0)
        for (let u = 0; u <= i; u++) for (let c = 0; c < hd; c++) ctx[j * hd + c] += (e[u] / z) * v[u][j * hd + c]
      }
      const o = lin(ctx, `${p}self_attn.out_proj`, H)
      return ln(h.map((a, c) => a + o[c]), `${p}self_attn_layer_norm`)
    })
    x = x.map((h) => {
      const m = lin(lin(h, `${p}fc1`, F).map((a) => Math.max(0, a)), `${p}fc2`, H)
      return ln(h.map((a, c) => a + m[c]), `${p}final_layer_norm`)
    })
  }
  const logits = x.map((h) => {
    const y = lin(h, 'project_out', E, false)
    return Float64Array.from({length: V}, (_, r) => { let s = 0; for (let c = 0; c < E; c++) s += emb[r * E + c] * y[c]; return s })
  })
  let loss = 0
  for (let i = 0; i < T - 1; i++) {
    const top = Math.max(...logits[i]), z = logits[i].reduce((a, v) => a + Math.exp(v - top), 0)
    loss += Math.log(z) + top - logits[i][ids[i + 1]]
  }
  return {loss: loss / (T - 1), last: logits[T - 1]}
}

describe('OPT-350m: word_embed_proj_dim ≠ hidden (project_in, project_out) and post-norm blocks without a final norm', () => {
  const tensors = opt350mTensors()
  const dir = writeCheckpoint(tensors)
  const ids = [2, 45, 7, 88, 13, 60, 31, 5, 77, 19]

  it('logits equal a plain float64 OPT forward written from modeling_opt.py, at every position', () => {
    const model = Model.load(dir)
    assert.equal(model.cfg.embedDim, E)
    assert.equal(model.cfg.preNorm, false)
    const logits = forwardLogits(model, toBatch([ids]))
    for (let T = 2; T <= ids.length; T++) {
      const want = reference(tensors, ids.slice(0, T)).last, got = logits.subarray((T - 1) * V, T * V)
      const scale = Math.max(...want.map(Math.abs))
      want.forEach((v, i) => assert.ok(Math.abs(got[i] - v) <= 1e-4 * scale, `position ${T - 1}, logit ${i}: ${got[i]} vs ${v}`))
    }
  })

  it('the gradient (GBLM\'s backward) equals central finite differences of the float64 reference loss', () => {
    const {loss, grads} = namedGradients(ParamStore.fromModel(Model.load(dir)), toBatch([ids]))
    assert.ok(Math.abs(loss - reference(tensors, ids).loss) < 1e-5)
    // Deep (layer 0's fc1: through both post-norms of both blocks, project_out, the head) and shallow, and the tied
    // embeddings (head and project_in paths both).
    for (const name of ['model.decoder.layers.0.fc1.weight', 'model.decoder.layers.1.self_attn.q_proj.weight', 'model.decoder.layers.0.self_attn.v_proj.weight',
      'model.decoder.embed_tokens.weight']) {
      const g = grads.get(name)!, top = [...g.keys()].sort((a, b) => Math.abs(g[b]) - Math.abs(g[a])).slice(0, 4)
      for (const i of top) {
        const plus = new Map(tensors), minus = new Map(tensors), h = 1e-4
        const at = (d: number) => { const c = Float64Array.from(tensors.get(name)!.data); c[i] += d; return {data: c} }
        plus.set(name, {...at(h), shape: []} as never)
        minus.set(name, {...at(-h), shape: []} as never)
        const fd = (reference(plus, ids).loss - reference(minus, ids).loss) / (2 * h)
        assert.ok(Math.abs(fd - g[i]) <= 2e-3 * Math.abs(fd) + 1e-6, `${name}[${i}]: engine ${g[i]}, finite differences ${fd}`)
      }
    }
    assert.ok(!grads.has('model.decoder.final_layer_norm.weight'))
  })

  it('decoding with the KV cache gives the logits and tokens of full forward passes (and the packed store those of the plain weights)', () => {
    const model = Model.load(dir), dec = new Decoder(ParamStore.fromModel(model), 20)
    const packed = new Decoder(PackedStore.load(model, 'bitmask'), 20), plain = new Decoder(ParamStore.fromModel(model), 20)
    for (const part of [ids.slice(0, 5), [ids[5]], [ids[6]]]) assertClose(packed.step(part), plain.step(part), {atol: 1e-4, rtol: 1e-4})
    const seq = ids.slice(0, 4)
    let logits = dec.step(seq)
    for (let i = 0; i < 8; i++) {
      const want = reference(tensors, seq).last
      want.forEach((v, j) => assert.ok(Math.abs(logits[j] - v) <= 1e-4 * Math.max(1, Math.abs(v)), `step ${i}`))
      const next = argmax(logits)
      seq.push(next)
      logits = dec.step([next])
    }
  })

  it('prune with wanda, sparsegpt and gblm: decoder linears pruned, project_in/out and embeddings copied byte for byte', () => {
    const calib = path.join(tempDir(), 'calib.json')
    writeFileSync(calib, JSON.stringify(Array.from({length: 4}, (_, s) => Array.from({length: 16}, (_, j) => (s * 37 + j * 11 + 2) % V))))
    const input = SafetensorsFile.open(path.join(dir, 'model.safetensors'))
    for (const method of ['wanda', 'sparsegpt', 'gblm']) {
      const out = path.join(tempDir(), method)
      const r = sparsify(['prune', dir, '--method', method, '--sparsity', '0.5', '--calib', calib, '--nsamples', '4', '--seqlen', '16',
        '--eval', calib, '--out', out, '--json'])
      assert.equal(r.status, 0, r.stderr)
      const report = JSON.parse(r.stdout)
      assert.equal(report.sparsity.linears.length, 12)
      for (const l of report.sparsity.linears) assert.ok(l.sparsity >= 0.5 && l.sparsity < 0.502, `${method}: ${l.name} ${l.sparsity}`)
      assert.ok(Number.isFinite(report.evaluation.pruned_perplexity))
      const got = SafetensorsFile.open(path.join(out, 'model.safetensors'))
      for (const name of ['model.decoder.project_in.weight', 'model.decoder.project_out.weight', 'model.decoder.embed_tokens.weight', 'model.decoder.embed_positions.weight']) {
        assert.deepEqual(got.readBytes(name), input.readBytes(name), `${method}: ${name}`)
      }
    }
    const shown = sparsify(['inspect', dir, '--json'])
    assert.equal(shown.status, 0, shown.stderr)
    const linears = JSON.parse(shown.stdout).linears.map((l: {name: string}) => l.name)
    assert.equal(linears.length, 12)
    assert.ok(!linears.some((n: string) => n.includes('project_')), 'the projections are not decoder linears')
  })

  it('ONNX export (project_in, post-norm blocks, project_out): transformers.js continues as sparsify generate does; onnxruntime\'s perplexity is the engine\'s', async () => {
    const withTokenizer = goldenWithTokenizer(dir, V), folder = path.join(tempDir(), 'onnx')
    const r = sparsify(['export', withTokenizer, '--format', 'onnx', '--out', folder, '--quiet', '--json'])
    assert.equal(r.status, 0, r.stderr)
    const run = (args: string[]) => {
      const got = sparsify([...args, '--json', '--quiet'])
      assert.equal(got.status, 0, got.stderr)
      return JSON.parse(got.stdout)
    }
    const want = run(['generate', withTokenizer, '--prompt', 'abcde', '--max-new-tokens', '16']).tokens
    assert.ok(want.length >= 4, `only ${want.length} tokens before EOS`)
    const got = await transformersJsGenerate(folder, await transformersJsTokenize(folder, 'abcde'), 16)
    assert.deepEqual(got.slice(0, want.length), want)
    const ppl = (model: string, engine: string) => run(['eval', model, '--engine', engine, '--dataset', 'brown', '--seqlen', '48', '--nsamples', '8']).perplexity
    const native = ppl(withTokenizer, 'native'), onnx = ppl(folder, 'onnxruntime')
    assert.ok(Math.abs(onnx - native) / native < 1e-4, `onnxruntime ${onnx} vs native ${native}`)
    // q4 writes the decoder linears as MatMulNBits; project_in/out stay float32, as the head does.
    for (const dtype of ['q4', 'fp16']) {
      const d = path.join(tempDir(), dtype)
      run(['export', withTokenizer, '--format', 'onnx', '--dtype', dtype, '--out', d])
      if (dtype === 'q4') {
        const q4 = [...readOnnxQ4(d).keys()]
        assert.equal(q4.length, 12)
        assert.ok(q4.every((n) => n.includes('.layers.')), q4.join(', '))
      }
      const tokens = await transformersJsGenerate(d, await transformersJsTokenize(d, 'abcde'), 8)
      assert.equal(tokens.length, 8)
      assert.deepEqual(run(['generate', d, '--prompt', 'abcde', '--max-new-tokens', '8', '--engine', 'onnxruntime']).tokens, tokens)
    }
  })
})
