import {after, before, describe, it} from 'node:test'
import assert from 'node:assert/strict'
import {readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {TASKS, TASK_NAMES} from '../../src/eval/tasks/definitions.js'
import {forwardLogits, toBatch} from '../../src/model/engine/forward.js'
import {Model} from '../../src/model/model.js'
import {TextTokenizer} from '../../src/model/tokenizer.js'
import {sparsify, sparsifyAsync, tempDir, TINY_LLAMA} from '../helpers/cli.js'
import {startHub, type HubServer} from '../helpers/hub-server.js'
import {TASK_DOCS, taskParquet, writeTaskJsonl} from '../helpers/task-docs.js'

const readSamples = (file: string) => readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l))

/** log p(continuation | context) by the definition: encode both, one full forward pass, log-softmax. */
async function naiveLl(context: string, continuation: string): Promise<number> {
  const tok = TextTokenizer.load(TINY_LLAMA), model = Model.load(TINY_LLAMA)
  const whole = await tok.encodePlain(context + continuation), ctx = await tok.encodePlain(context)
  const V = model.cfg.vocabSize
  const logits = forwardLogits(model, toBatch([whole.slice(0, -1)]))
  let ll = 0
  for (let p = ctx.length; p < whole.length; p++) {
    const row = logits.subarray((p - 1) * V, p * V)
    const mx = row.reduce((a, b) => Math.max(a, b), -Infinity)
    ll += row[whole[p]] - mx - Math.log(row.reduce((a, b) => a + Math.exp(b - mx), 0))
  }
  model.close()
  return ll
}

describe('sparsify eval --tasks (local files)', () => {
  const dir = tempDir()
  const list = writeTaskJsonl(dir)
  const samplesFile = path.join(dir, 'samples.jsonl')
  const r = sparsify(['eval', TINY_LLAMA, '--tasks', list, '--log-samples', samplesFile, '--json'])

  it('prints one JSON object: every task with n, acc, acc_stderr, acc_norm where the harness reports it, dataset and commit', () => {
    assert.equal(r.status, 0, r.stderr)
    const out = JSON.parse(r.stdout)
    assert.deepEqual(Object.keys(out.tasks), TASK_NAMES)
    for (const name of TASK_NAMES) {
      const t = out.tasks[name]
      assert.equal(t.n, TASK_DOCS[name].length)
      const keys = TASKS[name].metrics.includes('acc_norm')
        ? ['acc', 'acc_norm', 'acc_norm_stderr', 'acc_stderr', 'commit', 'dataset', 'n'] : ['acc', 'acc_stderr', 'commit', 'dataset', 'n']
      assert.deepEqual(Object.keys(t).sort(), keys, name)
      assert.equal(t.commit, null)
      assert.equal(t.dataset, path.join(dir, `${name}.jsonl`))
    }
    assert.equal(out.add_bos, false)
    assert.match(r.stderr, /hellaswag documents 2\/2/)
  })

  it('--log-samples: one line per document; acc and its standard error follow from pred and gold', () => {
    const samples = readSamples(samplesFile)
    const out = JSON.parse(r.stdout)
    assert.equal(samples.length, Object.values(TASK_DOCS).reduce((a, d) => a + d.length, 0))
    for (const name of TASK_NAMES) {
      const mine = samples.filter((s) => s.task === name)
      assert.deepEqual(mine.map((s) => s.doc_index), TASK_DOCS[name].map((_, i) => i))
      for (const s of mine) {
        assert.equal(s.loglikelihoods.length, TASKS[name].build(TASK_DOCS[name][s.doc_index]).requests.length)
        assert.equal(s.pred, s.loglikelihoods.indexOf(Math.max(...s.loglikelihoods)))
      }
      const hits = mine.map((s) => (s.pred === s.gold ? 1 : 0)), n = hits.length
      const mean = hits.reduce((a: number, b: number) => a + b, 0) / n
      const se = Math.sqrt(hits.reduce((a: number, h: number) => a + (h - mean) ** 2, 0) / (n - 1) / n)
      assert.equal(out.tasks[name].acc, mean)
      assert.ok(Math.abs(out.tasks[name].acc_stderr - se) < 1e-12)
    }
  })

  it('the loglikelihoods are those of one full forward pass over context + continuation', async () => {
    const samples = readSamples(samplesFile)
    // Winogrande: the shared continuation after each option; HellaSwag: a preprocessed ending after its context.
    const w = TASK_DOCS.winogrande[0], ws = samples.find((s) => s.task === 'winogrande' && s.doc_index === 0)
    const cut = (w.sentence as string).indexOf('_')
    for (const [i, option] of [w.option1, w.option2].entries()) {
      const want = await naiveLl((w.sentence as string).slice(0, cut) + option, ' ' + (w.sentence as string).slice(cut + 1).trim())
      assert.ok(Math.abs(ws.loglikelihoods[i] - want) < 1e-3, `${ws.loglikelihoods[i]} vs ${want}`)
    }
    const hs = samples.find((s) => s.task === 'hellaswag' && s.doc_index === 0)
    const want = await naiveLl('Removing ice from car: A man scrapes the snow covering the window of a car. Then', '  the man puts on a coat.')
    assert.ok(Math.abs(hs.loglikelihoods[2] - want) < 1e-3, `${hs.loglikelihoods[2]} vs ${want}`)
  })

  it('shows a table; --limit takes the first N documents; --add-bos changes the scores; a parquet file reads as its jsonl', () => {
    const human = sparsify(['eval', TINY_LLAMA, '--tasks', list, '--limit', '1'])
    assert.equal(human.status, 0, human.stderr)
    for (const name of TASK_NAMES) assert.match(human.stdout, new RegExp(`│ ${name} +│ 1 +│`))
    assert.match(human.stdout, /no BOS/)
    const bosSamples = path.join(dir, 'bos.jsonl')
    assert.equal(sparsify(['eval', TINY_LLAMA, '--tasks', `boolq=${dir}/boolq.jsonl`, '--add-bos', '--log-samples', bosSamples]).status, 0)
    assert.notDeepEqual(readSamples(bosSamples)[0].loglikelihoods, readSamples(samplesFile)[0].loglikelihoods)
    const pq = path.join(dir, 'arc.parquet')
    writeFileSync(pq, taskParquet('arc_easy'))
    const viaParquet = sparsify(['eval', TINY_LLAMA, '--tasks', `arc_easy=${pq}`, '--json'])
    assert.equal(viaParquet.status, 0, viaParquet.stderr)
    const {dataset: _a, ...a} = JSON.parse(viaParquet.stdout).tasks.arc_easy, {dataset: _b, ...b} = JSON.parse(r.stdout).tasks.arc_easy
    assert.deepEqual(a, b)
  })
})

describe('sparsify eval --tasks: bad input', () => {
  const dir = tempDir()
  const list = writeTaskJsonl(dir)

  it('an unknown task: exit 2, listing the known ones', () => {
    const r = sparsify(['eval', TINY_LLAMA, '--tasks', 'boolq,piqa'])
    assert.equal(r.status, 2)
    assert.match(r.stderr, /^error: unknown task piqa \(known tasks: boolq, rte, hellaswag, winogrande, arc_easy, arc_challenge, openbookqa \(or all\)\)\n$/)
  })

  it('a row missing a field: exit 5, naming the field and the line', () => {
    const file = path.join(dir, 'bad.jsonl')
    writeFileSync(file, `${JSON.stringify(TASK_DOCS.boolq[0])}\n\n${JSON.stringify({question: 'q', label: 1})}\n`)
    const r = sparsify(['eval', TINY_LLAMA, '--tasks', `boolq=${file}`, '--json'])
    assert.equal(r.status, 5)
    assert.equal(r.stdout, '')
    assert.match(r.stderr, new RegExp(`^error: ${file}:3: no field "passage", which boolq needs`))
    const key = path.join(dir, 'key.jsonl')
    writeFileSync(key, JSON.stringify({...TASK_DOCS.arc_easy[0], answerKey: 'E'}) + '\n')
    const k = sparsify(['eval', TINY_LLAMA, '--tasks', `arc_easy=${key}`])
    assert.equal(k.status, 5)
    assert.match(k.stderr, /key\.jsonl:1: field "answerKey" \(E\) picks none of the 3 choices/)
  })

  it('--limit 0: exit 2', () => {
    const r = sparsify(['eval', TINY_LLAMA, '--tasks', list, '--limit', '0'])
    assert.equal(r.status, 2)
    assert.match(r.stderr, /^error: --limit must be an integer of at least 1, got 0/)
  })

  it('a hub dataset not in the cache while offline: exit 3, saying sparsify download; no samples file is left', () => {
    const samples = path.join(dir, 'never.jsonl')
    const r = sparsify(['eval', TINY_LLAMA, '--tasks', 'hellaswag', '--log-samples', samples])
    assert.equal(r.status, 3)
    assert.match(r.stderr, /^error: hellaswag: Rowan\/hellaswag@main is not in the cache .*`sparsify download hellaswag`/)
    assert.throws(() => readFileSync(samples))
  })
})

describe('sparsify eval --tasks from the hub (a local stand-in serving each task\'s parquet files)', () => {
  let hub: HubServer
  const commitOf = (i: number) => String(i + 1).repeat(40).slice(0, 40)
  // Every layout the selection must find: <config>/<split>-*.parquet, and data/ for a dataset without configs.
  const fileOf = (name: string) => `${TASKS[name].config ?? 'data'}/${TASKS[name].split}-00000-of-00001.parquet`
  before(async () => {
    const repos = new Map<string, Record<string, Buffer>>()
    for (const name of TASK_NAMES) {
      const files = repos.get(TASKS[name].repo) ?? {'README.md': Buffer.from('# card')}
      files[fileOf(name)] = taskParquet(name)
      files[fileOf(name).replace(TASKS[name].split, 'train')] = taskParquet(name)
      repos.set(TASKS[name].repo, files)
    }
    hub = await startHub([...repos.entries()].map(([id, files], i) => ({type: 'dataset' as const, id, revisions: {main: commitOf(i)}, commits: {[commitOf(i)]: files}})))
  })
  after(() => hub.close())

  it('reads each split\'s parquet files at the commit main points to, records it, and scores as the local files do', async () => {
    const cache = tempDir()
    const env = {HF_ENDPOINT: hub.url, HF_HUB_OFFLINE: '0', HF_HUB_CACHE: cache}
    hub.requests.length = 0
    const r = await sparsifyAsync(['eval', TINY_LLAMA, '--tasks', 'all', '--json'], env)
    assert.equal(r.status, 0, r.stderr)
    assert.ok(!hub.requests.some((p) => p.includes('/train-') || p.endsWith('README.md')), 'only the evaluation split is fetched')
    const out = JSON.parse(r.stdout)
    const repoIds = [...new Set(TASK_NAMES.map((n) => TASKS[n].repo))]
    const local = JSON.parse(sparsify(['eval', TINY_LLAMA, '--tasks', writeTaskJsonl(tempDir()), '--json']).stdout)
    for (const name of TASK_NAMES) {
      const t = out.tasks[name], def = TASKS[name]
      assert.equal(t.commit, commitOf(repoIds.indexOf(def.repo)))
      assert.equal(t.dataset, `${def.repo}${def.config ? `/${def.config}` : ''}:${def.split}`)
      const {dataset: _a, commit: _c, ...scores} = t, {dataset: _b, commit: _d, ...want} = local.tasks[name]
      assert.deepEqual(scores, want, name)
    }
    // Offline afterwards: the cache alone serves them; `sparsify download <task>` fills a fresh cache.
    const offline = await sparsifyAsync(['eval', TINY_LLAMA, '--tasks', 'winogrande', '--json'], {...env, HF_HUB_OFFLINE: '1'})
    assert.equal(offline.status, 0, offline.stderr)
    const fresh = tempDir()
    const dl = await sparsifyAsync(['download', 'openbookqa', '--json'], {...env, HF_HUB_CACHE: fresh})
    assert.equal(dl.status, 0, dl.stderr)
    assert.equal(JSON.parse(dl.stdout).commit, commitOf(repoIds.indexOf('allenai/openbookqa')))
    const after = await sparsifyAsync(['eval', TINY_LLAMA, '--tasks', 'openbookqa', '--json'], {HF_HUB_CACHE: fresh})
    assert.equal(after.status, 0, after.stderr)
  })
})

describe('sparsify eval --kld-base', () => {
  it('compares a pruned model with its dense model on the same chunks: both perplexities with ± and the KL figures', () => {
    const dir = tempDir()
    const pruned = path.join(dir, 'pruned')
    const p = sparsify(['prune', TINY_LLAMA, '--method', 'magnitude', '--sparsity', '0.5', '--eval', 'none', '--out', pruned, '--quiet'])
    assert.equal(p.status, 0, p.stderr)
    const r = sparsify(['eval', pruned, '--dataset', 'brown', '--seqlen', '128', '--nsamples', '4', '--kld-base', TINY_LLAMA, '--json'])
    assert.equal(r.status, 0, r.stderr)
    const out = JSON.parse(r.stdout)
    assert.deepEqual(Object.keys(out.kld).sort(), ['max', 'mean', 'median', 'p99', 'rms_dp', 'same_top', 'stderr'])
    assert.ok(out.kld.mean > 0 && out.kld.median <= out.kld.p99 && out.kld.p99 <= out.kld.max && out.kld.same_top > 0 && out.kld.same_top < 1)
    const dense = JSON.parse(sparsify(['eval', TINY_LLAMA, '--dataset', 'brown', '--seqlen', '128', '--nsamples', '4', '--json']).stdout)
    assert.ok(Math.abs(out.base_perplexity - dense.perplexity) < 1e-6 * dense.perplexity)
    assert.notEqual(out.perplexity, dense.perplexity)
    const human = sparsify(['eval', pruned, '--dataset', 'brown', '--seqlen', '128', '--nsamples', '4', '--kld-base', TINY_LLAMA])
    assert.match(human.stdout, /^perplexity +[\d.]+ ± [\d.]+ \(interval/)
    assert.match(human.stdout, /\nmean KLD +[\d.]+ ± [\d.]+ \(median [\d.]+, 99th percentile [\d.]+, max [\d.]+\)\nsame top +[\d.]+ % of positions/)
  })
})
