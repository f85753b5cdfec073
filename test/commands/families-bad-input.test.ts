import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import {copyFileSync, existsSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {SafetensorsFile} from '../../src/model/safetensors/reader.js'
import {writeSafetensors} from '../../src/model/safetensors/writer.js'
import {golden} from '../helpers/golden.js'
import {sparsify, tempDir} from '../helpers/cli.js'

/** A copy of golden `name` with config.json edited and tensors dropped where `keep` says no. */
function edited(name: string, edit: (c: Record<string, any>) => void, keep: (t: string) => boolean = () => true): string {
  const g = golden(name), dir = tempDir()
  const c = JSON.parse(readFileSync(path.join(g.dir, 'config.json'), 'utf8'))
  edit(c)
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(c))
  const src = SafetensorsFile.open(path.join(g.dir, 'model.safetensors'))
  if ([...src.tensors.keys()].every(keep)) copyFileSync(path.join(g.dir, 'model.safetensors'), path.join(dir, 'model.safetensors'))
  else writeSafetensors(path.join(dir, 'model.safetensors'), [...src.tensors.values()].filter((t) => keep(t.name)).map((t) => ({...t, data: src.readBytes(t.name)})))
  return dir
}

/** prune refuses with exit 5 and one `error:` line matching `pattern`, and writes nothing. */
function refusedPrune(dir: string, pattern: RegExp): void {
  const out = path.join(tempDir(), 'out')
  const r = sparsify(['prune', dir, '--method', 'magnitude', '--sparsity', '0.5', '--eval', 'none', '--out', out])
  assert.equal(r.status, 5, r.stderr)
  const lines = r.stderr.trim().split('\n')
  assert.equal(lines.length, 1, r.stderr)
  assert.match(lines[0], /^error: /)
  assert.match(lines[0], pattern)
  assert.ok(!existsSync(out), 'nothing written')
}

describe('bad input to the architecture table', () => {
  it('a config that mixes features the family does not have: one line naming the field, exit 5', () => {
    refusedPrune(edited('llama', (c) => { c.attn_logit_softcapping = 30 }), /attn_logit_softcapping is set/)
    refusedPrune(edited('phi3', (c) => { c.layer_types = ['sliding_attention', 'full_attention'] }), /layer_types is set/)
  })

  it('an unknown rope_scaling type', () => {
    refusedPrune(edited('phi3', (c) => { c.rope_scaling = {type: 'su', short_factor: [1], long_factor: [1]} }), /rope_scaling type "su" is not supported/)
  })

  it('a missing expert tensor', () => {
    refusedPrune(edited('mixtral', () => {}, (t) => t !== 'model.layers.1.block_sparse_moe.experts.3.w2.weight'),
      /no tensor model\.layers\.1\.block_sparse_moe\.experts\.3\.w2\.weight/)
  })

  it('a Gemma config whose hidden_act and hidden_activation disagree', () => {
    refusedPrune(edited('gemma', (c) => { c.hidden_act = 'relu' }), /hidden_act "relu" disagrees with hidden_activation "gelu_pytorch_tanh"/)
  })

  it('num_experts_per_tok above the expert count, and an OPT whose word_embed_proj_dim needs projections the checkpoint lacks', () => {
    refusedPrune(edited('qwen3_moe', (c) => { c.num_experts_per_tok = 5 }), /num_experts_per_tok 5 exceeds num_experts 4/)
    refusedPrune(edited('opt', (c) => { c.word_embed_proj_dim = 32 }), /no tensor model\.decoder\.project_in\.weight/)
  })
})
