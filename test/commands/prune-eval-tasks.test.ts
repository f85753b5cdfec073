import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {TASK_NAMES} from '../../src/eval/tasks/definitions.js'
import {sparsify, tempDir, TINY_LLAMA} from '../helpers/cli.js'
import {writeTaskJsonl} from '../helpers/task-docs.js'

describe('prune --eval-tasks and the KL figures of --eval', () => {
  const dir = tempDir()
  const list = writeTaskJsonl(dir)
  const evalIds = path.join(dir, 'eval.json')
  writeFileSync(evalIds, JSON.stringify(Array.from({length: 3}, (_, i) => Array.from({length: 64}, (_, j) => (i * 131 + j * 17) % 4096))))
  const out = path.join(dir, 'out')
  const r = sparsify(['prune', TINY_LLAMA, '--method', 'wanda', '--sparsity', '0.5', '--calib', 'brown', '--nsamples', '4', '--seqlen', '64',
    '--eval', evalIds, '--eval-tasks', list, '--out', out, '--json'])

  it('scores dense and pruned on every task, in the JSON report, REPORT.md and the chart', () => {
    assert.equal(r.status, 0, r.stderr)
    const report = JSON.parse(r.stdout)
    assert.deepEqual(Object.keys(report.tasks.dense), TASK_NAMES)
    assert.deepEqual(Object.keys(report.tasks.pruned), TASK_NAMES)
    // The same documents scored by eval --tasks on each model give the same figures.
    const dense = JSON.parse(sparsify(['eval', TINY_LLAMA, '--tasks', list, '--json']).stdout).tasks
    const pruned = JSON.parse(sparsify(['eval', out, '--tasks', list, '--json']).stdout).tasks
    assert.deepEqual(report.tasks.dense, dense)
    assert.deepEqual(report.tasks.pruned, pruned)
    const md = readFileSync(path.join(out, 'REPORT.md'), 'utf8')
    assert.match(md, /\| task \| n \| dense acc \| pruned acc \| dense acc_norm \| pruned acc_norm \| data \|/)
    for (const name of TASK_NAMES) assert.match(md, new RegExp(`\\n\\| ${name} \\| \\d+ \\| [\\d.]+ ± `))
    const svg = readFileSync(path.join(out, 'sparsify-chart.svg'), 'utf8')
    for (const name of TASK_NAMES) for (const who of ['dense', 'pruned']) assert.match(svg, new RegExp(`<title>${name} ${who}: acc [\\d.]+%</title>`))
    assert.deepEqual(JSON.parse(readFileSync(path.join(out, 'sparsify-report.json'), 'utf8')).tasks, report.tasks)
  })

  it('reports perplexity ± and the KL divergence of pruned from dense, equal to eval --kld-base on the same data', () => {
    const e = JSON.parse(r.stdout).evaluation
    const direct = JSON.parse(sparsify(['eval', out, '--dataset', evalIds, '--kld-base', TINY_LLAMA, '--json']).stdout)
    assert.ok(Math.abs(e.pruned_perplexity - direct.perplexity) < 1e-9 * direct.perplexity)
    assert.ok(Math.abs(e.dense_perplexity - direct.base_perplexity) < 1e-9 * direct.base_perplexity)
    assert.ok(Math.abs(e.pruned_perplexity_stderr - direct.perplexity_stderr) < 1e-9 * direct.perplexity_stderr)
    for (const key of ['mean', 'stderr', 'median', 'p99', 'max', 'same_top', 'rms_dp']) {
      assert.ok(Math.abs(e.kld[key] - direct.kld[key]) <= 1e-9 * Math.abs(direct.kld[key]), `${key}: ${e.kld[key]} vs ${direct.kld[key]}`)
    }
    assert.match(readFileSync(path.join(out, 'REPORT.md'), 'utf8'), /mean KL divergence [\d.]+ ± [\d.]+ nats/)
  })

  it('an unknown task stops the job before pruning: exit 2, no output', () => {
    const bad = path.join(dir, 'bad')
    const b = sparsify(['prune', TINY_LLAMA, '--method', 'magnitude', '--sparsity', '0.5', '--eval', 'none', '--eval-tasks', 'boolq,lambada', '--out', bad])
    assert.equal(b.status, 2)
    assert.match(b.stderr, /error: unknown task lambada \(known tasks: /)
    assert.ok(!existsSync(bad))
  })
})
