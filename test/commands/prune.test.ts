import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import {copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {SafetensorsFile} from '../../src/model/safetensors/reader.js'
import {writeSafetensors} from '../../src/model/safetensors/writer.js'
import {writeRandomLlama} from '../../fixtures/gen/random-model.js'
import {golden} from '../helpers/golden.js'
import {brownDocuments} from '../../src/data/brown.js'
import {sparsify, tempDir, TINY_LLAMA} from '../helpers/cli.js'

/** A bf16 Llama split into two shards with an index, a tokenizer, and a stray sparsity_config. */
function shardedModel(): string {
  const src = tempDir(), dir = tempDir()
  writeRandomLlama(src, {vocab: 4096, hidden: 64, intermediate: 128, layers: 3, heads: 4, kvHeads: 2, maxPositions: 256}, {seed: 9, dtype: 'BF16'})
  const f = SafetensorsFile.open(path.join(src, 'model.safetensors'))
  const names = [...f.tensors.keys()]
  const shards = [names.filter((n) => !/layers\.[12]\./.test(n) && n !== 'lm_head.weight'), names.filter((n) => /layers\.[12]\./.test(n) || n === 'lm_head.weight')]
  const weightMap: Record<string, string> = {}
  shards.forEach((list, i) => {
    const file = `model-0000${i + 1}-of-00002.safetensors`
    writeSafetensors(path.join(dir, file), list.map((n) => ({...f.entry(n), data: f.readBytes(n)})), {format: 'pt'})
    for (const n of list) weightMap[n] = file
  })
  writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({metadata: {total_size: 0}, weight_map: weightMap}))
  const cfg = JSON.parse(readFileSync(path.join(src, 'config.json'), 'utf8'))
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify({...cfg, sparsity_config: {format: 'dense'}}))
  for (const t of ['tokenizer.json', 'tokenizer_config.json', 'generation_config.json']) copyFileSync(path.join(TINY_LLAMA, t), path.join(dir, t))
  return dir
}

describe('sparsify prune output', () => {
  it('mirrors names, dtypes, shapes and sharding; copies config (less sparsity_config) and tokenizer; stamps provenance', () => {
    const model = shardedModel()
    const out = path.join(tempDir(), 'pruned')
    const r = sparsify(['prune', model, '--method', 'sparsegpt', '--pattern', '2:4', '--calib', 'brown', '--nsamples', '4', '--seqlen', '64', '--eval', 'none', '--out', out, '--json'])
    assert.equal(r.status, 0, r.stderr)
    const report = JSON.parse(r.stdout)
    assert.equal(report.sparsity.overall, 0.5)
    assert.equal(report.evaluation, null)
    assert.deepEqual(readdirSync(out).sort(), ['README.md', 'REPORT.md', 'config.json', 'generation_config.json', 'model-00001-of-00002.safetensors',
      'model-00002-of-00002.safetensors', 'model.safetensors.index.json', 'sparsify-chart.svg', 'sparsify-report.json', 'sparsify.json', 'tokenizer.json', 'tokenizer_config.json'])
    for (const shard of ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']) {
      const a = SafetensorsFile.open(path.join(model, shard)), b = SafetensorsFile.open(path.join(out, shard))
      assert.deepEqual([...b.tensors.keys()].sort(), [...a.tensors.keys()].sort())
      for (const [name, t] of a.tensors) {
        assert.equal(b.entry(name).dtype, t.dtype)
        assert.deepEqual(b.entry(name).shape, t.shape)
        const isLinear = /layers\.\d+\.(self_attn|mlp)\.\w+_proj\.weight$/.test(name)
        if (!isLinear) assert.deepEqual(b.readBytes(name), a.readBytes(name), `${name} copied byte for byte`)
      }
      assert.equal(b.metadata.format, 'pt')
      assert.equal(b.metadata['sparsify.method'], 'sparsegpt')
      assert.equal(b.metadata['sparsify.target'], '2:4')
      assert.equal(b.metadata['sparsify.calibration'], 'brown:train')
      assert.equal(b.metadata['sparsify.seed'], '0')
    }
    const cfg = JSON.parse(readFileSync(path.join(out, 'config.json'), 'utf8'))
    assert.equal(cfg.sparsity_config, undefined)
    assert.equal(cfg.architectures[0], 'LlamaForCausalLM')
    const card = readFileSync(path.join(out, 'README.md'), 'utf8')
    assert.match(card, /^---\nbase_model: .+\ntags:\n- sparsify\n/)
    assert.match(card, /datasets:\n- brown:train/)
    assert.doesNotMatch(card, /base_model_relation/)
    assert.match(card, /sparsify prune .* --method sparsegpt --pattern 2:4/)
    // 2:4 in every group of every pruned linear
    const w = SafetensorsFile.open(path.join(out, 'model-00002-of-00002.safetensors')).readF32('model.layers.2.mlp.down_proj.weight')
    for (let g = 0; g < w.length; g += 4) assert.ok(w.subarray(g, g + 4).filter((v) => v === 0).length >= 2)
    // the pruned checkpoint evaluates
    const e = sparsify(['eval', out, '--dataset', 'brown', '--seqlen', '64', '--nsamples', '2', '--json'])
    assert.equal(e.status, 0, e.stderr)
  })

  it('is deterministic: the same inputs and seed give byte-identical files (the reports differ only in timings, RSS and speed measurements)', () => {
    const dir = tempDir(), out = path.join(dir, 'out'), text = path.join(dir, 'eval.txt')
    writeFileSync(text, brownDocuments('test').slice(0, 2).join('\n'))
    const runs: string[] = []
    for (const threads of ['1', '2']) {
      const r = sparsify(['prune', TINY_LLAMA, '--method', 'dsnot', '--sparsity', '0.5', '--calib', 'brown', '--nsamples', '4', '--seqlen', '64',
        '--eval', text, '--out', out, '--threads', threads])
      assert.equal(r.status, 0, r.stderr)
      runs.push(path.join(dir, `run${threads}`))
      renameSync(out, runs.at(-1)!)
    }
    const [a, b] = runs
    // Identical also across thread counts: kernels partition outputs, never reductions.
    for (const f of readdirSync(a)) {
      if (f === 'sparsify-report.json' || f === 'REPORT.md') continue
      assert.deepEqual(readFileSync(path.join(a, f)), readFileSync(path.join(b, f)), f)
    }
    const strip = (f: string) => { const r = JSON.parse(readFileSync(f, 'utf8')); delete r.timings_seconds; delete r.peak_rss_bytes; delete r.speed; return r }
    assert.deepEqual(strip(path.join(a, 'sparsify-report.json')), strip(path.join(b, 'sparsify-report.json')))
  })

  it('--skip leaves matching linears dense, and the report says so', () => {
    const out = path.join(tempDir(), 'skip')
    const r = sparsify(['prune', TINY_LLAMA, '--method', 'magnitude', '--sparsity', '0.5', '--skip', 'mlp\\.down_proj', '--eval', 'none', '--out', out, '--json'])
    assert.equal(r.status, 0, r.stderr)
    const rep = JSON.parse(r.stdout)
    const down = rep.sparsity.linears.filter((l: {name: string}) => l.name.includes('down_proj'))
    assert.equal(down.length, 4)
    for (const l of down) { assert.equal(l.skipped, true); assert.equal(l.sparsity, 0) }
    assert.match(readFileSync(path.join(out, 'REPORT.md'), 'utf8'), /dense \(skipped\)/)
  })
})

describe('sparsify prune refuses bad input, leaving nothing in --out', () => {
  const g = golden('llama')
  const calib = path.join(tempDir(), 'calib.json')
  writeFileSync(calib, JSON.stringify(g.rows('calib_ids')))
  const base = ['prune', g.dir, '--calib', calib, '--nsamples', '4', '--seqlen', '32', '--eval', 'none']

  function refused(args: string[], code: number, pattern: RegExp, out = path.join(tempDir(), 'out')) {
    const r = sparsify([...args, '--out', out])
    assert.equal(r.status, code, r.stderr)
    const errLines = r.stderr.trim().split('\n').filter((l) => l.startsWith('error:'))
    assert.equal(errLines.length, 1, r.stderr)
    assert.match(errLines[0], pattern)
    assert.doesNotMatch(r.stderr, /\n\s+at /)
    assert.ok(!existsSync(out) || readdirSync(out).length === 0 || readdirSync(out).includes('keep.txt'), 'no output written')
    assert.deepEqual(readdirSync(path.dirname(out)).filter((f) => f.includes('.sparsify-')), [], 'work folder removed')
  }

  it('sparsity out of range, both or neither of --sparsity/--pattern', () => {
    refused([...base, '--method', 'wanda', '--sparsity', '1'], 2, /--sparsity must be a number of at least 0 and below 1, got 1$/)
    refused([...base, '--method', 'wanda', '--sparsity', '-0.1'], 2, /--sparsity must be a number of at least 0 and below 1, got -0\.1$/)
    refused([...base, '--method', 'wanda'], 2, /exactly one of --sparsity and --pattern/)
  })
  it('N:M that does not divide the input width, or N ≥ M', () => {
    refused([...base, '--method', 'wanda', '--pattern', '2:7'], 2, /M = 7 does not divide the input width 64/)
    refused([...base, '--method', 'wanda', '--pattern', '4:4'], 2, /N must be at least 1 and below M/)
  })
  it('--out existing and non-empty, unless --overwrite', () => {
    const out = path.join(tempDir(), 'full')
    mkdirSync(out)
    writeFileSync(path.join(out, 'keep.txt'), 'mine')
    refused([...base, '--method', 'wanda', '--sparsity', '0.5'], 2, /exists and is not empty .*--overwrite/, out)
    assert.equal(readFileSync(path.join(out, 'keep.txt'), 'utf8'), 'mine')
    const r = sparsify([...base, '--method', 'wanda', '--sparsity', '0.5', '--out', out, '--overwrite'])
    assert.equal(r.status, 0, r.stderr)
    assert.ok(!existsSync(path.join(out, 'keep.txt')))
  })
  /** A copy of the golden llama with one tensor's float32 values edited. */
  function edited(tensor: string, edit: (values: Float32Array) => void): string {
    const dir = tempDir()
    copyFileSync(path.join(g.dir, 'config.json'), path.join(dir, 'config.json'))
    const f = SafetensorsFile.open(path.join(g.dir, 'model.safetensors'))
    writeSafetensors(path.join(dir, 'model.safetensors'), [...f.tensors.values()].map((t) => {
      const data = f.readBytes(t.name)
      if (t.name === tensor) edit(new Float32Array(data.buffer))
      return {...t, data}
    }))
    return dir
  }

  it('a checkpoint with NaN or Inf weights', () => {
    const dir = edited('model.layers.1.mlp.up_proj.weight', (v) => { v[17] = NaN })
    refused(['prune', dir, '--calib', calib, '--nsamples', '4', '--seqlen', '32', '--eval', 'none', '--method', 'magnitude', '--sparsity', '0.5'], 5,
      /model\.layers\.1\.mlp\.up_proj\.weight contains NaN or Inf/)
  })
  it('a Hessian that stays non-positive-definite after damping', () => {
    // Enormous (finite) v_proj weights overflow the attention output to Inf: H = XᵀX of o_proj's input is not finite.
    const dir = edited('model.layers.0.self_attn.v_proj.weight', (v) => v.fill(3e38))
    refused(['prune', dir, '--calib', calib, '--nsamples', '4', '--seqlen', '32', '--eval', 'none', '--method', 'sparsegpt', '--sparsity', '0.5'], 1,
      /Hessian of model\.layers\.0\.self_attn\.o_proj is not positive definite/)
  })
  it('unknown method and too few calibration rows', () => {
    refused([...base, '--method', 'obc', '--sparsity', '0.5'], 2, /Expected --method=obc to be one of/)
    refused(['prune', g.dir, '--calib', calib, '--nsamples', '5', '--seqlen', '32', '--eval', 'none', '--method', 'wanda', '--sparsity', '0.5'], 2, /fewer than --nsamples 5/)
  })
})
