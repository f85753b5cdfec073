import {before, describe, it} from 'node:test'
import assert from 'node:assert/strict'
import path from 'node:path'

import {loadDataset} from '../../src/data/dataset.js'
import {TextTokenizer} from '../../src/model/tokenizer.js'
import {sparsify, tempDir, TINY_LLAMA} from '../helpers/cli.js'
import {agreement, engineProbabilities} from '../helpers/clients.js'
import {llamaCppProbabilities} from '../helpers/llama-cpp.js'

const out = tempDir('sparsify-gqsa-export-')
const gqsa = path.join(out, 'w4-g32')

function run(args: string[]): Record<string, any> {
  const r = sparsify([...args, '--quiet', '--json'])
  assert.equal(r.status, 0, r.stderr)
  return JSON.parse(r.stdout)
}

const perplexity = (dir: string, engine: string) =>
  run(['eval', dir, '--engine', engine, '--dataset', 'brown', '--seqlen', '128', '--nsamples', '8']).perplexity as number

describe('GQSA checkpoints export with their own 4-bit groups', () => {
  before(() => {
    run(['prune', TINY_LLAMA, '--method', 'gqsa', '--group-size', '32', '--bqpo-epochs', '0', '--calib', 'brown', '--nsamples', '4', '--seqlen', '64',
      '--eval', 'none', '--format', 'gqsa', '--out', gqsa])
  })

  it('ONNX q4: every linear from its groups, and onnxruntime\'s perplexity equals the engine\'s on the packed checkpoint to 1e-4', () => {
    const folder = path.join(out, 'onnx-q4')
    const r = run(['export', gqsa, '--format', 'onnx', '--dtype', 'q4', '--out', folder])
    assert.deepEqual([r.groupLinears, r.rtnLinears], [28, 0])
    const native = perplexity(gqsa, 'native'), onnx = perplexity(folder, 'onnxruntime')
    assert.ok(Math.abs(onnx - native) / native < 1e-4, `onnxruntime ${onnx} vs native ${native}`)
  })

  it('GGUF q4_1: every linear from its groups; llama.cpp agrees with the engine on the top token at ≥ 95% of positions', async () => {
    const file = path.join(out, 'w4.gguf')
    assert.equal(run(['export', gqsa, '--format', 'gguf', '--type', 'q4_1', '--out', file]).groupLinears, 28)
    const data = await loadDataset('brown:test', 'eval')
    if (data.kind !== 'text') throw new Error('brown is text')
    const ids = (await TextTokenizer.load(TINY_LLAMA).encode(data.documents[0])).slice(0, 120)
    const want = engineProbabilities(gqsa, ids)
    const a = agreement(await llamaCppProbabilities(file, [ids], want[0].length), want)
    console.log(`# GQSA W4 g32 → GGUF q4_1 vs the engine: max |Δp| ${a.maxAbs.toExponential(2)}, top ${(100 * a.top).toFixed(1)}% of ${ids.length}`)
    assert.ok(a.top >= 0.95, `top ${a.top}`)
  })
})
