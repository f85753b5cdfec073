import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import {writeFileSync} from 'node:fs'
import path from 'node:path'

import {SafetensorsFile} from '../../src/model/safetensors/reader.js'
import {GOLDEN_MODELS, golden} from '../helpers/golden.js'
import {sparsify, tempDir} from '../helpers/cli.js'
import {relativeError} from '../helpers/assert-close.js'

/** Every golden run. */
const RUNS = ['magnitude_50', 'magnitude_2of4', 'wanda_50', 'wanda_70', 'wanda_2of4', 'sparsegpt_50', 'sparsegpt_2of4', 'sparsegpt_4of8',
  'gblm_50', 'gblm_2of4', 'dsnot_50', 'dsnot_60', 'dsnot_2of4']

function targetFlags(run: {sparsity: number; n: number; m: number}): string[] {
  return run.n ? ['--pattern', `${run.n}:${run.m}`] : ['--sparsity', String(run.sparsity)]
}

describe('sparsify prune reproduces the golden pruned weights', () => {
  for (const model of GOLDEN_MODELS) {
    const g = golden(model)
    const dir = tempDir()
    const calib = path.join(dir, 'calib.json'), evalIds = path.join(dir, 'eval.json')
    writeFileSync(calib, JSON.stringify(g.rows('calib_ids')))
    writeFileSync(evalIds, JSON.stringify(g.rows('eval_ids')))
    for (const tag of RUNS.filter((t) => g.json.runs.some((r: {tag: string}) => r.tag === t))) {
      it(`${model} ${tag}${tag === 'sparsegpt_2of4' || tag === 'dsnot_50' ? ' (reference kernels)' : ''}: identical masks, weights to 1e-4, perplexity to 1e-4`, () => {
        const run = g.json.runs.find((r: {tag: string}) => r.tag === tag)
        const out = path.join(dir, tag)
        const gradnorm = path.join(dir, `${tag}-gradnorm.safetensors`)
        // One run per model goes through the TypeScript reference kernels instead of the native ones.
        const env: Record<string, string> = tag === 'sparsegpt_2of4' || tag === 'dsnot_50' ? {SPARSIFY_KERNELS: 'ref'} : {}
        const r = sparsify(['prune', g.dir, '--method', run.method, ...targetFlags(run), '--calib', calib, '--nsamples', '4', '--seqlen', '32',
          '--eval', evalIds, '--out', out, '--json', ...(run.method === 'gblm' ? ['--save-gradnorm', gradnorm] : [])], env)
        assert.equal(r.status, 0, r.stderr)
        const report = JSON.parse(r.stdout)
        const got = SafetensorsFile.open(path.join(out, 'model.safetensors'))
        let checked = 0
        for (const name of g.expected.tensors.keys()) {
          if (!name.startsWith(`${tag}.`)) continue
          const tensor = name.slice(tag.length + 1)
          const want = g.expected.readF32(name), have = got.readF32(tensor)
          let maxDiff = 0, maskDiff = 0
          for (let i = 0; i < want.length; i++) {
            maxDiff = Math.max(maxDiff, Math.abs(want[i] - have[i]))
            if ((want[i] === 0) !== (have[i] === 0)) maskDiff++
          }
          assert.equal(maskDiff, 0, `${tensor}: ${maskDiff} mask entries differ`)
          assert.ok(maxDiff <= 1e-4, `${tensor}: max abs diff ${maxDiff}`)
          checked++
        }
        // The later goldens list exactly the pruned weights (experts included, routers not).
        assert.equal(checked, g.json.pruned_weights?.length ?? 14, 'every pruned weight compared')
        if (run.method === 'gblm') {
          const norms = SafetensorsFile.open(gradnorm)
          let compared = 0
          for (const name of g.expected.tensors.keys()) {
            if (!name.startsWith('gblm_gradnorm.')) continue
            const err = relativeError(norms.readF32(name.slice('gblm_gradnorm.'.length)), g.expected.readF32(name))
            assert.ok(err < 1e-4, `${name}: relative error ${err}`)
            compared++
          }
          assert.equal(compared, g.json.pruned_weights?.length ?? 14)
        }
        const rel = Math.abs(report.evaluation.pruned_perplexity - run.ppl_eval) / run.ppl_eval
        assert.ok(rel < 1e-4, `perplexity ${report.evaluation.pruned_perplexity} vs ${run.ppl_eval}`)
        const dense = Math.abs(report.evaluation.dense_perplexity - g.json.ppl_eval) / g.json.ppl_eval
        assert.ok(dense < 1e-4)
      })
    }
  }
})
