import Table from 'cli-table3'

import type {TaskResult} from './run.js'

const pm = (x: number | undefined, se: number | null | undefined) =>
  x === undefined ? '-' : `${(100 * x).toFixed(2)} ± ${se === null || se === undefined ? 'n/a' : (100 * se).toFixed(2)}`

/** One row per task: n, acc and acc_norm in percent with their standard errors, and the data's origin. */
export function tasksTable(results: Record<string, TaskResult>): string {
  const t = new Table({head: ['task', 'n', 'acc %', 'acc_norm %', 'data'], style: {head: [], border: []}})
  for (const [name, r] of Object.entries(results)) {
    t.push([name, r.n, pm(r.acc, r.acc_stderr), pm(r.acc_norm, r.acc_norm_stderr), r.commit ? `${r.dataset}@${r.commit.slice(0, 12)}` : r.dataset])
  }
  return t.toString()
}

/** Dense beside pruned, per task: the metric each task is compared on (acc, as the papers' tables). */
export function comparisonTable(dense: Record<string, TaskResult>, pruned: Record<string, TaskResult>): string {
  const t = new Table({head: ['task', 'n', 'dense acc %', 'pruned acc %', 'Δ'], style: {head: [], border: []}})
  for (const [name, d] of Object.entries(dense)) {
    const p = pruned[name]
    t.push([name, d.n, pm(d.acc, d.acc_stderr), pm(p.acc, p.acc_stderr), `${(100 * (p.acc - d.acc)).toFixed(2)}`])
  }
  return t.toString()
}
