import {codePoints} from './text.js'
import type {Metric} from './definitions.js'

/** numpy's argmax: the first index of the largest value. */
function argmax(v: readonly number[]): number {
  let best = 0
  for (let i = 1; i < v.length; i++) if (v[i] > v[best]) best = i
  return best
}

/** One document's outcomes: acc from the raw loglikelihoods, acc_norm from each divided by its choice's length in code points. */
export function scoreDoc(lls: readonly number[], choices: readonly string[], gold: number): {pred: number; acc: number; accNorm: number} {
  const pred = argmax(lls)
  const normed = lls.map((ll, i) => ll / codePoints(choices[i]))
  return {pred, acc: pred === gold ? 1 : 0, accNorm: argmax(normed) === gold ? 1 : 0}
}

/** The harness's standard error of a mean: the sample standard deviation (n − 1) over √n; null for fewer than two values. */
export function meanStderr(xs: readonly number[]): {mean: number; stderr: number | null} {
  const n = xs.length
  const mean = xs.reduce((a, b) => a + b, 0) / n
  if (n < 2) return {mean, stderr: null}
  const ss = xs.reduce((a, x) => a + (x - mean) ** 2, 0)
  return {mean, stderr: Math.sqrt(ss / (n - 1)) / Math.sqrt(n)}
}

export interface TaskMetrics {
  n: number
  acc: number
  acc_stderr: number | null
  acc_norm?: number
  acc_norm_stderr?: number | null
}

/** acc (and acc_norm where the task reports it) with standard errors, over the documents' outcomes. */
export function aggregate(outcomes: readonly {acc: number; accNorm: number}[], metrics: readonly Metric[]): TaskMetrics {
  const acc = meanStderr(outcomes.map((o) => o.acc))
  const out: TaskMetrics = {n: outcomes.length, acc: acc.mean, acc_stderr: acc.stderr}
  if (metrics.includes('acc_norm')) {
    const norm = meanStderr(outcomes.map((o) => o.accNorm))
    out.acc_norm = norm.mean
    out.acc_norm_stderr = norm.stderr
  }
  return out
}
