import {after, describe, it} from 'node:test'
import assert from 'node:assert/strict'
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {readGgufFileInfo} from 'node-llama-cpp'

import {exportGguf} from '../../src/export/gguf/export.js'
import {SafetensorsFile} from '../../src/model/safetensors/reader.js'
import {writeSafetensors} from '../../src/model/safetensors/writer.js'
import {stderrLogger} from '../../src/util/log.js'
import {expectError, sparsify, tempDir} from '../helpers/cli.js'
import {agreement, argmax, engineProbabilities, goldenWithTokenizer} from '../helpers/clients.js'
import {golden, goldenPath} from '../helpers/golden.js'
import {assertBlockMetadata, ggufMetadata, llamaCppProbabilities} from '../helpers/llama-cpp.js'

const out = tempDir('sparsify-gguf-families-')

/** A golden with a tokenizer, its config.json changed by `patch` (null deletes a key). */
function goldenCopy(name: string, patch: Record<string, unknown> = {}): {dir: string; cfg: Record<string, any>} {
  const base = JSON.parse(readFileSync(path.join(goldenPath(name), 'config.json'), 'utf8'))
  const dir = goldenWithTokenizer(golden(name).dir, base.vocab_size)
  const cfg = {...base, ...patch}
  for (const [k, v] of Object.entries(patch)) if (v === null) delete cfg[k]
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(cfg))
  return {dir, cfg}
}

/** The gemma3 golden as the text model of a Gemma3ForConditionalGeneration checkpoint (no vision tower: not read). */
function asMultimodal(dir: string, cfg: Record<string, any>): void {
  const file = path.join(dir, 'model.safetensors'), st = SafetensorsFile.open(file)
  const tensors = [...st.tensors.keys()].map((name) => ({name: `language_model.${name}`, dtype: 'F32' as const, shape: st.entry(name).shape,
    data: new Uint8Array(st.readF32(name).buffer)}))
  st.close()
  writeSafetensors(file, tensors)
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify({architectures: ['Gemma3ForConditionalGeneration'], model_type: 'gemma3',
    text_config: {...cfg, architectures: undefined}, tie_word_embeddings: cfg.tie_word_embeddings}))
}

function exportF32(dir: string, name: string): string {
  const file = path.join(out, `${name}.gguf`)
  const r = sparsify(['export', dir, '--format', 'gguf', '--type', 'f32', '--out', file, '--overwrite', '--quiet', '--json'])
  assert.equal(r.status, 0, r.stderr)
  return file
}

/** The keys llama.cpp reads for each golden's family beyond the common ones, as config.json states them. */
const EXTRA: Record<string, (cfg: Record<string, any>) => Record<string, unknown>> = {
  phi3: (c) => (c.rope_scaling ? {context_length: c.original_max_position_embeddings, 'rope.scaling.original_context_length': c.original_max_position_embeddings,
    'rope.scaling.attn_factor': Math.sqrt(1 + Math.log(c.max_position_embeddings / c.original_max_position_embeddings) / Math.log(c.original_max_position_embeddings))} : {}),
  mixtral: (c) => ({expert_count: c.num_local_experts, expert_used_count: c.num_experts_per_tok}),
  qwen3_moe: (c) => ({expert_count: c.num_experts, expert_used_count: c.num_experts_per_tok, expert_feed_forward_length: c.moe_intermediate_size}),
  gemma2: (c) => ({'attention.sliding_window': c.sliding_window, attn_logit_softcapping: c.attn_logit_softcapping,
    final_logit_softcapping: c.final_logit_softcapping}),
  gemma3: (c) => ({'attention.sliding_window': c.sliding_window, 'attention.sliding_window_pattern': c.sliding_window_pattern,
    'rope.freq_base_swa': c.rope_local_base_freq, final_logit_softcapping: c.final_logit_softcapping ?? undefined, 'rope.scaling.type': c.rope_scaling.rope_type, 'rope.scaling.factor': c.rope_scaling.factor}),
}

/** What each golden is in llama.cpp: its arch, and the config.json changes (none where llama.cpp runs the golden as it is). */
const FAMILIES: {golden: string; arch: string; patch?: Record<string, unknown>; multimodal?: boolean}[] = [
  {golden: 'gemma', arch: 'gemma'},
  {golden: 'gemma2', arch: 'gemma2'},
  {golden: 'gemma3', arch: 'gemma3'},
  // Every layer but the last sliding, a local RoPE base of its own and a strong final cap: keys llama.cpp reads for Gemma 3.
  {golden: 'gemma3', arch: 'gemma3', patch: {layer_types: null, sliding_window_pattern: 3, rope_local_base_freq: 5000, final_logit_softcapping: 0.5}},
  {golden: 'gemma3', arch: 'gemma3', multimodal: true},
  {golden: 'phi3', arch: 'phi3'},
  // LongRoPE for 256 positions from 128: within 128, the short factors and an attention factor of sqrt(1 + ln 2 / ln 128).
  {golden: 'phi3', arch: 'phi3', patch: {rope_scaling: {type: 'longrope', short_factor: [1, 1.5, 2, 2.5, 3, 3.5], long_factor: [2, 3, 4, 5, 6, 7]},
    max_position_embeddings: 256, original_max_position_embeddings: 128}},
  {golden: 'mixtral', arch: 'llama'},
  // llama.cpp's qwen3moe has no dense blocks: the golden's first block alone (its block 1 is dense).
  {golden: 'qwen3_moe', arch: 'qwen3moe', patch: {num_hidden_layers: 1, mlp_only_layers: []}},
]

/**
 * Positions where llama.cpp's most likely token is not the engine's, unless the engine's probabilities of the two
 * are within 1e-5: random goldens have exact ties (gemma3: 2.5e-7 apart at one position) that f32 rounding breaks
 * either way.
 */
function topDisagreements(got: Float32Array[], want: Float32Array[]): number {
  return got.filter((p, t) => want[t][argmax(p)] < want[t][argmax(want[t])] - 1e-5).length
}

const dig = (o: any, key: string) => key.split('.').reduce((a, k) => a?.[k], o)

describe('GGUF export of the later families runs in llama.cpp (node-llama-cpp, offline)', () => {
  const figures: string[] = []
  after(() => { console.log(`# GGUF f32 agreement with the engine\n${figures.map((f) => `#   ${f}`).join('\n')}`) })

  for (const f of FAMILIES) {
    it(`golden ${f.golden}${f.patch ? ` with ${Object.keys(f.patch).join(', ')} changed` : ''}${f.multimodal ? ' as Gemma3ForConditionalGeneration' : ''}: f32 within 1e-3 with the same top token everywhere; metadata equals config.json`, async () => {
      const {dir, cfg} = goldenCopy(f.golden, f.patch)
      if (f.multimodal) asMultimodal(dir, cfg)
      const rows = golden(f.golden).rows('eval_ids')
      const want = rows.flatMap((ids) => engineProbabilities(dir, ids))
      const file = exportF32(dir, `${f.golden}-${FAMILIES.indexOf(f)}`)
      const got = await llamaCppProbabilities(file, rows, want[0].length)
      const a = agreement(got, want), differ = topDisagreements(got, want)
      figures.push(`${f.golden}${f.patch ? ' (changed)' : ''}${f.multimodal ? ' (multimodal)' : ''}: max |Δp| ${a.maxAbs.toExponential(2)}, ` +
        `top ${(100 * a.top).toFixed(1)}% of ${want.length} positions (${differ} beyond ties)`)
      assert.ok(a.maxAbs < 1e-3, `max |Δp| ${a.maxAbs}`)
      assert.equal(differ, 0, `top token differs at ${differ} positions`)

      const m = await ggufMetadata(file) as Record<string, any>
      assert.equal(m.general.architecture, f.arch)
      const k = m[f.arch]
      assertBlockMetadata(k, cfg)
      for (const [key, v] of Object.entries(EXTRA[f.golden]?.(cfg) ?? {})) {
        assert.equal(dig(k, key), typeof v === 'number' ? Math.fround(v) : v, key)
      }
    })
  }
})

describe('GGUF stacked experts in the requested type', () => {
  for (const type of ['q8_0', 'q4_1'] as const) {
    // A random golden's near-flat distributions flip under 4-bit rounding more than a trained model's (gguf.test.ts: 85% for goldens).
    it(`mixtral ${type}: expert stacks (experts, rows, cols) in ${type}, router f32; loads, top token ≥ ${type === 'q8_0' ? 95 : 85}%`, async () => {
      const {dir, cfg} = goldenCopy('mixtral')
      const file = path.join(out, `mixtral-${type}.gguf`)
      exportGguf(dir, file, {type, overwrite: true, log: stderrLogger({quiet: true})})
      const tensors = (await readGgufFileInfo(file)).fullTensorInfo!
      const byName = new Map(tensors.map((t) => [t.name, t]))
      const stack = byName.get('blk.1.ffn_down_exps.weight')!
      assert.deepEqual(stack.dimensions.map(Number), [cfg.intermediate_size, cfg.hidden_size, cfg.num_local_experts])
      assert.equal(stack.ggmlType, {q8_0: 8, q4_1: 3}[type])
      assert.equal(byName.get('blk.1.ffn_gate_inp.weight')!.ggmlType, 0)
      const rows = golden('mixtral').rows('eval_ids')
      const want = rows.flatMap((ids) => engineProbabilities(dir, ids))
      const a = agreement(await llamaCppProbabilities(file, rows, want[0].length), want)
      console.log(`# mixtral ${type}: max |Δp| ${a.maxAbs.toExponential(2)}, top ${(100 * a.top).toFixed(1)}% of ${want.length} positions`)
      assert.ok(a.top >= (type === 'q8_0' ? 0.95 : 0.85), `top ${a.top}`)
    })
  }
})

describe('GGUF export refuses what llama.cpp would run differently, writing nothing', () => {
  const refused = (name: string, patch: Record<string, unknown>, pattern: RegExp) => {
    const {dir} = goldenCopy(name, patch)
    const file = path.join(out, `refused-${name}.gguf`)
    expectError(['export', dir, '--format', 'gguf', '--out', file], 5, pattern)
    assert.ok(!existsSync(file))
  }

  it('Gemma 2 whose sliding layers are not the even ones, or without softcapping', () => {
    refused('gemma2', {layer_types: ['full_attention', 'sliding_attention']}, /Gemma2ForCausalLM: its sliding-window layers .* not a pattern llama\.cpp runs/)
    refused('gemma2', {layer_types: ['full_attention', 'full_attention']}, /Gemma2ForCausalLM: its sliding-window layers/)
    refused('gemma2', {attn_logit_softcapping: null}, /Gemma2ForCausalLM: attn_logit_softcapping or final_logit_softcapping is null/)
  })

  it('Qwen3-MoE with dense blocks, or without renormalised top-k weights', () => {
    refused('qwen3_moe', {}, /Qwen3MoeForCausalLM: some blocks are dense \(mlp_only_layers/)
    refused('qwen3_moe', {mlp_only_layers: [], num_hidden_layers: 1, norm_topk_prob: false}, /Qwen3MoeForCausalLM: norm_topk_prob is false/)
  })

  it('OPT: llama.cpp has no such architecture', () => {
    refused('opt', {}, /OPTForCausalLM cannot be exported to GGUF yet/)
  })

  it('Gemma 3 whose sliding layers are not periodic', () => {
    refused('gemma3', {layer_types: ['full_attention', 'sliding_attention']}, /Gemma3ForCausalLM: its sliding-window layers .* not a pattern llama\.cpp runs/)
  })
})
