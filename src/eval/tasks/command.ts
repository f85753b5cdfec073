import {renameSync, writeFileSync} from 'node:fs'

import {resolveModel} from '../../hub/download.js'
import {Model} from '../../model/model.js'
import {TextTokenizer} from '../../model/tokenizer.js'
import type {Logger} from '../../util/log.js'
import {loadTask, parseTasks, type TaskData, type TaskSpec} from './data.js'
import {TASK_NAMES} from './definitions.js'
import {evaluateTasks, type Sample, type TaskResult} from './run.js'
import {tasksTable} from './table.js'

export const TASKS_HELP = `With --tasks, zero-shot tasks are scored as lm-evaluation-harness scores them (its prompts, its context/continuation split, acc and acc_norm with standard errors): ${TASK_NAMES.join(', ')}. A plain name reads the task's hub dataset (cached; the commit is recorded; \`sparsify download <task>\` fetches it for offline runs); name=PATH reads a local .jsonl or .parquet file in that dataset's own schema. No BOS token unless --add-bos.`

/** Every asked-for task's documents, read and checked before any compute. */
export async function loadTasks(list: string, limit: number | undefined, log: Logger): Promise<{spec: TaskSpec; data: TaskData}[]> {
  const out = []
  for (const spec of parseTasks(list)) out.push({spec, data: await loadTask(spec, limit, log)})
  return out
}

/** --log-samples: the whole file written at once, renamed into place. */
export function writeSamples(file: string, samples: readonly Sample[]): void {
  writeFileSync(`${file}.tmp`, samples.map((s) => JSON.stringify(s)).join('\n') + '\n')
  renameSync(`${file}.tmp`, file)
}

export async function runTaskEval(o: {model: string; tasks: string; limit?: number; addBos: boolean; logSamples?: string; log: Logger}) {
  const dir = await resolveModel(o.model, o.log)
  const model = Model.load(dir)
  const tok = TextTokenizer.load(dir)
  const tasks = await loadTasks(o.tasks, o.limit, o.log)
  const start = performance.now()
  const {results, samples} = await evaluateTasks(model, tok, tasks, {addBos: o.addBos, log: o.log})
  const seconds = (performance.now() - start) / 1000
  model.close()
  if (o.logSamples) writeSamples(o.logSamples, samples)
  const json: {model: string; add_bos: boolean; limit: number | null; tasks: Record<string, TaskResult>; seconds: number} =
    {model: o.model, add_bos: o.addBos, limit: o.limit ?? null, tasks: results, seconds}
  const docs = Object.values(results).reduce((a, r) => a + r.n, 0)
  return {json, human: [tasksTable(results), `${docs} documents in ${seconds.toFixed(1)} s (${(docs / seconds).toFixed(1)} documents/s)${o.addBos ? ', BOS added' : ', no BOS'}`]}
}
