// `npm run bench -- tasks`: zero-shot task scoring against the naive cost of one full forward pass per choice.
import {spawnSync} from 'node:child_process'
import {mkdirSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {kernels} from '../src/kernels/index.js'
import {forwardLogits, toBatch} from '../src/model/engine/forward.js'
import {sharedPrefixLoglikelihoods, type PrefixGroup} from '../src/model/engine/shared-prefix.js'
import type {WeightSource} from '../src/model/engine/backward.js'
import {Model} from '../src/model/model.js'
import {ParamStore} from '../src/model/params.js'
import {seededRandom} from '../src/util/random.js'
import {writeRandomLlama, type LlamaShape} from '../fixtures/gen/random-model.js'
import {brownTaskDocs} from './brown-tasks.js'

/** As the harness with a Hugging Face model: every choice its own forward pass over context + choice, logits at every position. */
function naive(model: WeightSource, groups: readonly PrefixGroup[]): number[][] {
  const k = kernels(), V = model.cfg.vocabSize
  return groups.map((g) => g.conts.map((c) => {
    const ids = [...g.prefix, ...c.slice(0, -1)]
    const logits = forwardLogits(model, toBatch([ids]))
    const rows = logits.subarray((g.prefix.length - 1) * V), nll = new Float32Array(c.length)
    k.nllRows(nll, rows, Int32Array.from(c), c.length, V)
    return -nll.reduce((a, b) => a + b, 0)
  }))
}

/**
 * HellaSwag-shaped documents (a context of 40–60 tokens, four endings of 15–30: the validation
 * split's lengths under a Llama tokenizer) of random tokens on the random bench Llama.
 */
export async function tasksBench(): Promise<void> {
  const shape: LlamaShape = {vocab: 32000, hidden: 1024, intermediate: 2816, layers: 8, heads: 16, kvHeads: 4, maxPositions: 2048}
  const dir = path.join(tmpdir(), `sparsify-bench-tasks-${process.pid}`)
  writeRandomLlama(dir, shape, {seed: 6, dtype: 'BF16'})
  const rand = seededRandom(6)
  const ids = (lo: number, hi: number) => Array.from({length: lo + Math.floor(rand() * (hi - lo + 1))}, () => Math.floor(rand() * shape.vocab))
  const docs = 16
  const groups = Array.from({length: docs}, () => ({prefix: ids(40, 60), conts: Array.from({length: 4}, () => ids(15, 30))}))
  const file = Model.load(dir)
  // Weights held in memory as float32 for all three (as the harness holds its model): compute is what is compared.
  const model = ParamStore.fromModel(file)
  try {
    const time = (fn: () => number[][]) => { const s = performance.now(); const r = fn(); return {r, seconds: (performance.now() - s) / 1000} }
    const base = time(() => naive(model, groups))
    const single = time(() => sharedPrefixLoglikelihoods(model, groups, {tokensPerPass: 1}))
    const packed = time(() => sharedPrefixLoglikelihoods(model, groups))
    const worst = Math.max(...packed.r.flatMap((row, i) => row.map((x, j) => Math.abs(x - base.r[i][j]))))
    const tokens = (perChoice: boolean) => groups.reduce((a, g) => a + (perChoice ? g.conts.reduce((b, c) => b + g.prefix.length + c.length - 1, 0)
      : g.prefix.length + g.conts.reduce((b, c) => b + c.length - 1, 0)), 0)
    console.log(`\nZero-shot scoring, ${docs} HellaSwag-shaped documents (context 40–60 tokens, 4 endings of 15–30) on the bench Llama in memory (hidden ${shape.hidden}, ${shape.layers} layers, vocab ${shape.vocab})`)
    console.log('scoring'.padEnd(44) + 'tokens fed'.padStart(11) + 'docs/s'.padStart(9) + 'vs naive'.padStart(10))
    const line = (label: string, t: number, s: number) => console.log(label.padEnd(44) + String(t).padStart(11) + (docs / s).toFixed(2).padStart(9) + `${(base.seconds / s).toFixed(2)}×`.padStart(10))
    line('naive: one full forward per choice', tokens(true), base.seconds)
    line('context once, one document a pass', tokens(false), single.seconds)
    line('context once, documents packed (2048 a pass)', tokens(false), packed.seconds)
    console.log(`  largest loglikelihood difference from naive: ${worst.toExponential(2)}`)
  } finally {
    file.close()
    rmSync(dir, {recursive: true, force: true})
  }
}

function cliJson(args: string[]): any {
  const r = spawnSync(process.execPath, [fileURLToPath(new URL('../../bin/run.js', import.meta.url)), ...args, '--json', '--quiet'], {encoding: 'utf8', maxBuffer: 1 << 26})
  if (r.status !== 0) throw new Error(r.stderr)
  return JSON.parse(r.stdout)
}

/**
 * The seven tasks on the trained fixture, dense against wanda 50% and sparsegpt 2:4 (calibrated on
 * 128 × 256 tokens of brown:train), on harness-shaped documents made from brown:test (brown-tasks.ts).
 */
export async function fixtureTasksBench(docsPerTask = 100): Promise<void> {
  const dir = path.join(tmpdir(), `sparsify-bench-fixture-tasks-${process.pid}`)
  mkdirSync(dir, {recursive: true})
  const fixture = fileURLToPath(new URL('../../fixtures/tiny-llama', import.meta.url))
  try {
    const list = Object.entries(brownTaskDocs(docsPerTask)).map(([task, docs]) => {
      const file = path.join(dir, `${task}.jsonl`)
      writeFileSync(file, docs.map((d) => JSON.stringify(d)).join('\n') + '\n')
      return `${task}=${file}`
    }).join(',')
    const calib = ['--calib', 'brown', '--nsamples', '128', '--seqlen', '256', '--eval', 'none', '--eval-tasks', list, '--overwrite']
    const wanda = cliJson(['prune', fixture, '--method', 'wanda', '--sparsity', '0.5', ...calib, '--out', path.join(dir, 'wanda')])
    const sgpt = cliJson(['prune', fixture, '--method', 'sparsegpt', '--pattern', '2:4', ...calib, '--out', path.join(dir, 'sparsegpt')])
    console.log(`\nZero-shot tasks on fixtures/tiny-llama, ${docsPerTask} harness-shaped documents per task made from brown:test (cloze-style; chance 50% or 25%), acc % ± se [acc_norm]`)
    console.log('task'.padEnd(15) + 'dense'.padStart(24) + 'wanda 50%'.padStart(24) + 'sparsegpt 2:4'.padStart(24))
    const cell = (t: {acc: number; acc_stderr: number; acc_norm?: number}) =>
      `${(100 * t.acc).toFixed(1)} ± ${(100 * t.acc_stderr).toFixed(1)}${t.acc_norm === undefined ? '' : ` [${(100 * t.acc_norm).toFixed(1)}]`}`
    const mean = (r: Record<string, {acc: number}>) => Object.values(r).reduce((a, t) => a + t.acc, 0) / Object.keys(r).length
    for (const task of Object.keys(wanda.tasks.dense)) {
      console.log(task.padEnd(15) + cell(wanda.tasks.dense[task]).padStart(24) + cell(wanda.tasks.pruned[task]).padStart(24) + cell(sgpt.tasks.pruned[task]).padStart(24))
    }
    console.log('mean acc'.padEnd(15) + (100 * mean(wanda.tasks.dense)).toFixed(2).padStart(24) + (100 * mean(wanda.tasks.pruned)).toFixed(2).padStart(24) + (100 * mean(sgpt.tasks.pruned)).toFixed(2).padStart(24))
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
}
