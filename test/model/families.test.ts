import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import {readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {argmax, Decoder} from '../../src/model/engine/decode.js'
import {forwardLogits, toBatch} from '../../src/model/engine/forward.js'
import {Model} from '../../src/model/model.js'
import {parseConfig} from '../../src/model/config.js'
import {inverseFrequencies, ropeTables} from '../../src/model/rope-tables.js'
import {ParamStore} from '../../src/model/params.js'
import {SafetensorsFile} from '../../src/model/safetensors/reader.js'
import {writeSafetensors} from '../../src/model/safetensors/writer.js'
import {PackedStore} from '../../src/packed/store.js'
import {assertClose, relativeError} from '../helpers/assert-close.js'
import {golden, NEW_FAMILIES} from '../helpers/golden.js'
import {sparsify, tempDir} from '../helpers/cli.js'

/** A copy of golden `name` with each tensor renamed by `rename` (null drops it), extra tensors, and config edited. */
function variant(name: string, rename: (t: string) => string | null, edit: (cfg: Record<string, any>) => Record<string, any>,
  extra: {name: string; shape: number[]; data: Float32Array}[] = []): string {
  const g = golden(name), dir = tempDir()
  const src = SafetensorsFile.open(path.join(g.dir, 'model.safetensors'))
  const tensors = [...src.tensors.values()].flatMap((t) => {
    const n = rename(t.name)
    return n === null ? [] : [{name: n, dtype: 'F32' as const, shape: t.shape, data: new Uint8Array(src.readF32(t.name).buffer)}]
  })
  writeSafetensors(path.join(dir, 'model.safetensors'), [...tensors, ...extra.map((e) => ({...e, dtype: 'F32' as const, data: new Uint8Array(e.data.buffer)}))])
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(edit(JSON.parse(readFileSync(path.join(g.dir, 'config.json'), 'utf8')))))
  return dir
}

describe('the architecture table\'s families', () => {
  for (const name of NEW_FAMILIES) {
    it(`${name}: greedy decoding with the KV cache gives the argmax of repeated full forward passes, past the sliding window`, () => {
      const model = Model.load(golden(name).dir)
      const V = model.cfg.vocabSize
      const seq = [5, 17, 40, 9, 33, 61, 8, 12, 90, 7]
      const dec = new Decoder(model, seq.length + 14)
      let logits = dec.step(seq)
      const cached: number[] = [], full: number[] = []
      for (let i = 0; i < 14; i++) {
        const all = forwardLogits(model, toBatch([seq])).subarray((seq.length - 1) * V, seq.length * V)
        assertClose(logits, all, {atol: 1e-4, rtol: 1e-3}, `step ${i}`)
        full.push(argmax(all))
        cached.push(argmax(logits))
        seq.push(full[i])
        logits = dec.step([full[i]])
      }
      assert.deepEqual(cached, full)
    })

    it(`${name}: decoding from the packed store (f32, and 2:4-pruned weights in nm and bitmask) gives the logits of the plain weights`, () => {
      const model = Model.load(golden(name).dir)
      const prune24 = (w: Float32Array) => { for (let i = 0; i < w.length; i += 4) { w[i] = 0; w[i + 2] = 0 } }
      const plain = new Decoder(ParamStore.fromModel(model), 16)
      const f32 = new Decoder(PackedStore.load(model, 'f32'), 16)
      for (const ids of [[3, 14, 15, 92, 65], [35]]) assertClose(f32.step(ids), plain.step(ids), {atol: 1e-4, rtol: 1e-4}, 'f32')
      const params = ParamStore.fromModel(model)
      for (let l = 0; l < model.cfg.layers; l++) for (const t of params.block(l).tensors) prune24(t.weight)
      for (const format of ['nm', 'bitmask'] as const) {
        const sparse = new Decoder(PackedStore.load(model, format, (w) => prune24(w)), 16), want = new Decoder(params, 16)
        for (const ids of [[3, 14, 15, 92, 65], [35]]) assertClose(sparse.step(ids), want.step(ids), {atol: 1e-4, rtol: 1e-4}, format)
      }
    })
  }

  it('longrope as transformers computes it: short factors up to original_max_position_embeddings, long beyond, cos and sin scaled', () => {
    const base = {architectures: ['Phi3ForCausalLM'], vocab_size: 8, hidden_size: 64, intermediate_size: 8, num_hidden_layers: 1, num_attention_heads: 4,
      partial_rotary_factor: 0.75, rope_theta: 10000, max_position_embeddings: 512, original_max_position_embeddings: 32,
      rope_scaling: {type: 'longrope', short_factor: [1, 2, 3, 4, 5, 6], long_factor: [10, 20, 30, 40, 50, 60]}}
    const cfg = parseConfig(base)
    assert.equal(cfg.rotaryDim, 12)
    const want = (ext: number[]) => ext.map((f, i) => Math.fround(1 / Math.fround(f * Math.fround(10000 ** Math.fround(2 * i / 12)))))
    assert.deepEqual(Array.from(inverseFrequencies(cfg, 32)), want(base.rope_scaling.short_factor))
    assert.deepEqual(Array.from(inverseFrequencies(cfg, 33)), want(base.rope_scaling.long_factor))
    // factor 512/32 = 16: cos and sin times sqrt(1 + ln 16 / ln 32) (1.3329…)
    const gain = Math.sqrt(1 + Math.log(16) / Math.log(32))
    assert.ok(Math.abs(ropeTables(cfg, 4).cos[0] - gain) < 1e-6)
    assert.ok(Math.abs(ropeTables(parseConfig({...base, rope_scaling: {...base.rope_scaling, attention_factor: 1}}), 4).cos[0] - 1) < 1e-7)
  })

  it('OPT checkpoints that name the decoder without `model.` give the same logits', () => {
    const dir = variant('opt', (t) => t.replace(/^model\./, ''), (c) => c)
    const g = golden('opt'), batch = toBatch(g.rows('eval_ids'))
    assert.ok(relativeError(forwardLogits(Model.load(dir), batch), g.expected.readF32('eval_logits')) < 1e-4)
    const r = sparsify(['prune', dir, '--method', 'wanda', '--sparsity', '0.5', '--calib', writeRows(g.rows('calib_ids')), '--nsamples', '4', '--seqlen', '32',
      '--eval', 'none', '--out', path.join(tempDir(), 'out'), '--json'])
    assert.equal(r.status, 0, r.stderr)
    assert.ok(JSON.parse(r.stdout).sparsity.linears.every((l: {name: string}) => l.name.startsWith('decoder.layers.')))
  })

  it('Gemma3ForConditionalGeneration: the language model is pruned to the golden weights, the vision tower copied through unchanged', () => {
    const vision = {name: 'vision_tower.vision_model.embeddings.patch_embedding.weight', shape: [4, 3], data: Float32Array.from({length: 12}, (_, i) => i / 7)}
    const dir = variant('gemma3', (t) => `language_model.${t}`, (c) => ({architectures: ['Gemma3ForConditionalGeneration'], model_type: 'gemma3',
      torch_dtype: 'float32', text_config: {...c, architectures: undefined}, vision_config: {hidden_size: 4}}), [vision])
    const g = golden('gemma3'), out = path.join(tempDir(), 'out')
    const r = sparsify(['prune', dir, '--method', 'wanda', '--sparsity', '0.5', '--calib', writeRows(g.rows('calib_ids')), '--nsamples', '4', '--seqlen', '32',
      '--eval', writeRows(g.rows('eval_ids')), '--out', out, '--json'])
    assert.equal(r.status, 0, r.stderr)
    const report = JSON.parse(r.stdout)
    assert.ok(Math.abs(report.evaluation.dense_perplexity - g.json.ppl_eval) / g.json.ppl_eval < 1e-4)
    const got = SafetensorsFile.open(path.join(out, 'model.safetensors'))
    assert.deepEqual(Array.from(got.readF32(vision.name)), Array.from(vision.data))
    for (const w of g.json.pruned_weights as string[]) {
      const want = g.expected.readF32(`wanda_50.${w}`), have = got.readF32(`language_model.${w}`)
      for (let i = 0; i < want.length; i++) assert.ok(Math.abs(want[i] - have[i]) <= 1e-4 && (want[i] === 0) === (have[i] === 0), w)
    }
  })
})

function writeRows(rows: number[][]): string {
  const file = path.join(tempDir(), 'ids.json')
  writeFileSync(file, JSON.stringify(rows))
  return file
}

