import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import {copyFileSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {golden} from '../helpers/golden.js'
import {sparsify, tempDir} from '../helpers/cli.js'

const g = golden('llama')
const evalIds = path.join(tempDir(), 'eval.json')
writeFileSync(evalIds, JSON.stringify(g.rows('eval_ids')))

/** The golden llama's weights under another config.json. */
function withConfig(edit: (cfg: Record<string, unknown>) => Record<string, unknown>): string {
  const dir = tempDir()
  copyFileSync(path.join(g.dir, 'model.safetensors'), path.join(dir, 'model.safetensors'))
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(edit(JSON.parse(readFileSync(path.join(g.dir, 'config.json'), 'utf8')))))
  return dir
}

describe('MistralForCausalLM', () => {
  it('is the Llama block: the same weights give the same perplexity', () => {
    const dir = withConfig((c) => ({...c, architectures: ['MistralForCausalLM'], model_type: 'mistral', sliding_window: 4096}))
    const r = sparsify(['eval', dir, '--dataset', evalIds, '--json'])
    assert.equal(r.status, 0, r.stderr)
    assert.ok(Math.abs(JSON.parse(r.stdout).perplexity - g.json.ppl_eval) / g.json.ppl_eval < 1e-4)
  })

  it('refuses sequences longer than its sliding window (the engine attends to the whole causal past)', () => {
    const dir = withConfig((c) => ({...c, architectures: ['MistralForCausalLM'], model_type: 'mistral', sliding_window: 16}))
    const e = sparsify(['eval', dir, '--dataset', evalIds])
    assert.equal(e.status, 2)
    assert.match(e.stderr, /error: seqlen 32 exceeds the model's attention window of 16/)
    const p = sparsify(['prune', dir, '--method', 'wanda', '--sparsity', '0.5', '--calib', evalIds, '--nsamples', '2', '--seqlen', '32', '--eval', 'none', '--out', path.join(tempDir(), 'o')])
    assert.equal(p.status, 2)
    assert.match(p.stderr, /error: --seqlen 32 exceeds the model's attention window of 16/)
  })
})
