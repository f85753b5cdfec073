import type {Backend} from '../../kernels/index.js'
import type {WeightSource} from '../../model/engine/backward.js'
import {sharedPrefixLoglikelihoods, type PrefixGroup} from '../../model/engine/shared-prefix.js'
import type {TextTokenizer} from '../../model/tokenizer.js'
import {usage} from '../../util/errors.js'
import type {Logger} from '../../util/log.js'
import type {TaskData, TaskSpec} from './data.js'
import {aggregate, scoreDoc, type TaskMetrics} from './metrics.js'
import {encodePair, groupRequests} from './requests.js'

export interface TaskResult extends TaskMetrics {
  dataset: string
  commit: string | null
}

/** One line of --log-samples. */
export interface Sample {
  task: string
  doc_index: number
  loglikelihoods: number[]
  pred: number
  gold: number
}

export interface TaskRunOptions {
  addBos: boolean
  log: Logger
  kernels?: Backend
  /** Label of the model in progress lines (prune evaluates two). */
  label?: string
}

/** Every request of the task's documents as token ids, then grouped by shared context. */
async function tokenize(tok: TextTokenizer, data: TaskData, window: number, addBos: boolean) {
  const bos = addBos ? tok.special.bos : null
  if (addBos && bos === null) throw usage('--add-bos: the tokenizer names no BOS token', 'leave --add-bos off for this model')
  const emptyContext = tok.special.eos ?? -1
  const enc = {encode: (t: string) => tok.encodePlain(t)}
  return Promise.all(data.docs.map(async (doc) => {
    const pairs = []
    for (const r of doc.requests) {
      if (r.context === '' && bos === null && emptyContext < 0) throw usage('a document has an empty context and the tokenizer names no EOS token to stand for it')
      pairs.push(await encodePair(enc, r, {bos, emptyContext, window}))
    }
    return groupRequests(pairs)
  }))
}

/**
 * Zero-shot tasks scored as lm-evaluation-harness scores them: each document's choices by their
 * loglikelihood, acc (and acc_norm where the harness reports it) with standard errors.
 */
export async function evaluateTasks(model: WeightSource, tok: TextTokenizer, tasks: readonly {spec: TaskSpec; data: TaskData}[],
  opts: TaskRunOptions): Promise<{results: Record<string, TaskResult>; samples: Sample[]}> {
  const results: Record<string, TaskResult> = {}, samples: Sample[] = []
  for (const {spec, data} of tasks) {
    const name = spec.def.name
    const perDoc = await tokenize(tok, data, model.cfg.maxPositions, opts.addBos)
    const groups: PrefixGroup[] = perDoc.flatMap((d) => d.groups)
    // Documents done once the pass that holds their last group is done.
    const lastGroup: number[] = []
    perDoc.reduce((n, d) => { lastGroup.push(n + d.groups.length); return n + d.groups.length }, 0)
    const label = `${opts.label ? `${opts.label} ` : ''}${name} documents`
    let docsDone = 0
    opts.log.step(label, 0, perDoc.length)
    const lls = sharedPrefixLoglikelihoods(model, groups, {
      kernels: opts.kernels,
      onGroups: (done) => {
        while (docsDone < lastGroup.length && lastGroup[docsDone] <= done) docsDone++
        opts.log.step(label, docsDone, perDoc.length)
      },
    })
    let offset = 0
    const outcomes = perDoc.map((d, i) => {
      const scores = d.at.map(([g, c]) => lls[offset + g][c])
      offset += d.groups.length
      const doc = data.docs[i], o = scoreDoc(scores, doc.choices, doc.gold)
      samples.push({task: name, doc_index: i, loglikelihoods: scores, pred: o.pred, gold: doc.gold})
      return o
    })
    results[name] = {...aggregate(outcomes, spec.def.metrics), dataset: data.dataset, commit: data.commit}
  }
  return {results, samples}
}
