import {comparePerplexity, type PerplexityResult} from '../eval/perplexity.js'
import type {KlStats} from '../eval/token-stats.js'
import {loadTasks} from '../eval/tasks/command.js'
import {evaluateTasks, type TaskResult} from '../eval/tasks/run.js'
import {Model} from '../model/model.js'
import {TextTokenizer} from '../model/tokenizer.js'
import type {Logger} from '../util/log.js'
import type {Timed} from './job.js'

export type LoadedTasks = Awaited<ReturnType<typeof loadTasks>>

/** --eval-tasks: the documents read and checked before any pruning, so bad input stops the job early. */
export async function prepareTasks(list: string | undefined, log: Logger): Promise<LoadedTasks | null> {
  return list === undefined ? null : loadTasks(list, undefined, log)
}

export interface Quality {
  dense: PerplexityResult | null
  pruned: PerplexityResult | null
  kld: KlStats | null
  tasks: {dense: Record<string, TaskResult>; pruned: Record<string, TaskResult>} | null
}

/**
 * Dense against pruned once pruning is done: perplexity of both on the same chunks in one go (each
 * model's forward pass once, both distributions at hand for the KL divergence), then the tasks.
 */
export async function evaluateQuality(dense: Model, prunedDir: string, chunks: number[][] | null, tasks: LoadedTasks | null,
  log: Logger, timed: Timed): Promise<Quality> {
  const q: Quality = {dense: null, pruned: null, kld: null, tasks: null}
  if (!chunks && !tasks) return q
  const pruned = Model.load(prunedDir)
  try {
    if (chunks) {
      const L = dense.cfg.layers
      const r = await timed('evalPerplexity', () => comparePerplexity(dense, pruned, chunks, {onBlock: (layer, pass, passes) =>
        log.step(pass % 2 === 0 ? 'dense perplexity' : 'pruned perplexity', Math.floor(pass / 2) * L + layer + 1, (passes / 2) * L)}))
      Object.assign(q, {dense: r.base, pruned: r.other, kld: r.kld})
      log.info(`perplexity dense ${r.base.perplexity.toFixed(3)} ± ${r.base.perplexity_stderr.toFixed(3)}, pruned ${r.other.perplexity.toFixed(3)} ± ${r.other.perplexity_stderr.toFixed(3)}; ` +
        `mean KL ${r.kld.mean.toFixed(5)}, same top token ${(100 * r.kld.same_top).toFixed(2)}%`)
    }
    if (tasks) {
      const tok = TextTokenizer.load(dense.dir)
      const run = (m: Model, label: string) => timed('evalTasks', () => evaluateTasks(m, tok, tasks, {addBos: false, log, label}))
      q.tasks = {dense: (await run(dense, 'dense')).results, pruned: (await run(pruned, 'pruned')).results}
    }
  } finally {
    pruned.close()
  }
  return q
}
