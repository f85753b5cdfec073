import {after, before, describe, it} from 'node:test'
import assert from 'node:assert/strict'
import {copyFileSync, readFileSync} from 'node:fs'
import path from 'node:path'

import {loadDataset} from '../../src/data/dataset.js'
import {exportGguf as writeGguf, type GgufType} from '../../src/export/gguf/export.js'
import {GGUF_FAMILIES, GGUF_GLOBAL_NAMES} from '../../src/export/gguf/families.js'
import {SafetensorsFile} from '../../src/model/safetensors/reader.js'
import {writeSafetensors} from '../../src/model/safetensors/writer.js'
import {TextTokenizer} from '../../src/model/tokenizer.js'
import {stderrLogger} from '../../src/util/log.js'
import {sparsify, tempDir, TINY_LLAMA} from '../helpers/cli.js'
import {agreement, engineProbabilities, goldenWithTokenizer} from '../helpers/clients.js'
import {golden, goldenPath} from '../helpers/golden.js'
import {assertBlockMetadata, ggufMetadata, llamaCppProbabilities} from '../helpers/llama-cpp.js'
import {GGML_Q4_1, GGML_Q8_0, readGgufQuantized} from '../helpers/read-exports.js'

const out = tempDir('sparsify-gguf-')
const quietLogger = stderrLogger({quiet: true})

/** The CLI for the first export of each model, the library (same code, no process start) for the rest. */
function exportGguf(dir: string, type: string): string {
  const file = path.join(out, `${path.basename(dir)}-${type}.gguf`)
  if (type === 'f32') {
    const r = sparsify(['export', dir, '--format', 'gguf', '--type', type, '--out', file, '--overwrite', '--quiet', '--json'])
    assert.equal(r.status, 0, r.stderr)
    assert.equal(JSON.parse(r.stdout).type, type)
  } else {
    writeGguf(dir, file, {type: type as GgufType, overwrite: true, log: quietLogger})
  }
  return file
}

/**
 * The first 250 tokens of the brown test split, tokenized as the engine does. Not 256: node-llama-cpp
 * 3.21 returns off probabilities (Δp ~1e-2 in f32) for the last token of a sequence whose length is
 * a multiple of 64, and only for it, whatever the model.
 */
async function fixtureIds(): Promise<number[]> {
  const data = await loadDataset('brown:test', 'eval')
  if (data.kind !== 'text') throw new Error('brown is text')
  return (await TextTokenizer.load(TINY_LLAMA).encode(data.documents.slice(0, 3).join('\n\n'))).slice(0, 250)
}

/** Each case's sequences: the goldens' eval rows one by one, as they were made. */
interface Case { name: string; dir: string; rows: number[][] }
const cases: Case[] = []

before(async () => {
  cases.push({name: 'tiny-llama fixture', dir: TINY_LLAMA, rows: [await fixtureIds()]})
  for (const g of ['llama', 'qwen2', 'qwen3']) {
    const gold = golden(g)
    const vocab = JSON.parse(readFileSync(path.join(goldenPath(g), 'config.json'), 'utf8')).vocab_size
    cases.push({name: `golden ${g}`, dir: goldenWithTokenizer(gold.dir, vocab), rows: gold.rows('eval_ids')})
  }
})

const engine = (c: Case) => c.rows.flatMap((ids) => engineProbabilities(c.dir, ids))
const llamaCpp = (c: Case, file: string, vocab: number) => llamaCppProbabilities(file, c.rows, vocab)

describe('GGUF export runs in llama.cpp (node-llama-cpp, offline)', () => {
  const figures: string[] = []
  after(() => { console.log(`# GGUF agreement with the engine\n${figures.map((f) => `#   ${f}`).join('\n')}`) })
  // The goldens are random weights with near-flat next-token distributions: rounding flips their top token more often
  // than a trained model's. The figures are printed; the fixture is held to the issue's bars for the quantized types.
  const bars = (c: Case) => c.dir === TINY_LLAMA ? {bf16Top: 0.99, q4Top: 0.95} : {bf16Top: 0.98, q4Top: 0.85}

  for (const name of ['tiny-llama fixture', 'golden llama', 'golden qwen2', 'golden qwen3']) {
    it(`${name}: f32 within 1e-3 with the same top token everywhere; bf16 within 1e-2, top ≥ 99%; q8_0 and q4_1 top ≥ 95%`, async () => {
      const c = cases.find((x) => x.name === name)!
      const want = engine(c), V = want[0].length, bar = bars(c)
      const run = async (type: string) => {
        const a = agreement(await llamaCpp(c, exportGguf(c.dir, type), V), want)
        figures.push(`${c.name} ${type}: max |Δp| ${a.maxAbs.toExponential(2)}, top ${(100 * a.top).toFixed(1)}% of ${want.length} positions`)
        return a
      }
      const f32 = await run('f32')
      assert.ok(f32.maxAbs < 1e-3, `${c.name} f32: max |Δp| ${f32.maxAbs}`)
      assert.equal(f32.top, 1, `${c.name} f32: top token differs at ${((1 - f32.top) * want.length).toFixed(0)} positions`)
      const bf16 = await run('bf16')
      assert.ok(bf16.maxAbs < 1e-2, `${c.name} bf16: max |Δp| ${bf16.maxAbs}`)
      assert.ok(bf16.top >= bar.bf16Top, `${c.name} bf16: top ${bf16.top}`)
      const q8 = await run('q8_0')
      assert.ok(q8.top >= 0.95, `${c.name} q8_0: top ${q8.top}`)
      const q4 = await run('q4_1')
      assert.ok(q4.top >= bar.q4Top, `${c.name} q4_1: top ${q4.top}`)
    })
  }

  // The quantized goldens' low top-token agreement is the rounding of the weights, not a wrong file: llama.cpp on the
  // q4_1 file is compared with the engine on the very weights the file holds (each block dequantized as ggml does).
  // Not to 1e-3: ggml multiplies q4_1 weights by activations rounded to 8 bits (q8_1), which on this golden's peaked
  // distributions costs what its q8_0 export shows (max |Δp| 3e-2).
  it('golden qwen3 q4_1: llama.cpp computes the file\'s own weights, up to its 8-bit rounding of activations', async () => {
    const c = cases.find((x) => x.name === 'golden qwen3')!
    const file = exportGguf(c.dir, 'q4_1')
    const block = Object.entries(GGUF_FAMILIES.Qwen3ForCausalLM.block), global = Object.entries(GGUF_GLOBAL_NAMES)
    const hfName = (g: string) => {
      const m = /^blk\.(\d+)\.(.+)$/.exec(g)
      return m ? `model.layers.${m[1]}.${block.find(([, v]) => v === m[2])![0]}` : global.find(([, v]) => v === g)![0]
    }
    const stored = new Map([...await readGgufQuantized(file, [GGML_Q4_1, GGML_Q8_0])].map(([g, w]) => [hfName(g), w]))
    const src = SafetensorsFile.open(path.join(c.dir, 'model.safetensors'))
    const linears = [...src.tensors.values()].filter((t) => t.shape.length === 2)
    assert.deepEqual([...stored.keys()].sort(), linears.map((t) => t.name).sort(), 'every 2-D tensor is stored quantized')
    const dir = tempDir('sparsify-gguf-dequantized-')
    copyFileSync(path.join(c.dir, 'config.json'), path.join(dir, 'config.json'))
    writeSafetensors(path.join(dir, 'model.safetensors'), [...src.tensors.values()].map((t) =>
      ({name: t.name, dtype: 'F32' as const, shape: t.shape, data: new Uint8Array(Float32Array.from(stored.get(t.name) ?? src.readF32(t.name)).buffer)})))
    src.close()
    const want = c.rows.flatMap((ids) => engineProbabilities(dir, ids))
    const a = agreement(await llamaCpp(c, file, want[0].length), want)
    figures.push(`golden qwen3 q4_1 against its own dequantized weights: max |Δp| ${a.maxAbs.toExponential(2)}, top ${(100 * a.top).toFixed(1)}%`)
    assert.ok(a.maxAbs < 3e-2, `max |Δp| ${a.maxAbs}`)
  })

  it('the metadata llama.cpp reads equals config.json', async () => {
    for (const c of cases) {
      const cfg = JSON.parse(readFileSync(path.join(c.dir, 'config.json'), 'utf8'))
      const m = await ggufMetadata(exportGguf(c.dir, 'f16')) as Record<string, any>
      const arch = m.general.architecture as string
      assert.equal(arch, {llama: 'llama', qwen2: 'qwen2', qwen3: 'qwen3'}[cfg.model_type as string])
      const a = m[arch]
      assertBlockMetadata(a, cfg)
      assert.equal(a.context_length, cfg.max_position_embeddings)
      assert.equal(m.tokenizer.ggml.tokens.length, cfg.vocab_size)
    }
  })
})
