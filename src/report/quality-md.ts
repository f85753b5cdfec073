import type {PruneReport} from './report.js'

const pm = (x: number | undefined, se: number | null | undefined) =>
  x === undefined ? '-' : `${(100 * x).toFixed(2)} ± ${se === null || se === undefined ? 'n/a' : (100 * se).toFixed(2)}`

/** The pruned model's next-token distributions against the dense model's, as llama.cpp reports them. */
export function klParagraph(r: PruneReport): string[] {
  const k = r.evaluation?.kld
  if (!k) return []
  return [
    '',
    `Against the dense model on the same chunks: mean KL divergence ${k.mean.toFixed(5)} ± ${k.stderr.toFixed(5)} nats`,
    `(median ${k.median.toFixed(5)}, 99th percentile ${k.p99.toFixed(5)}, max ${k.max.toFixed(4)}); both pick the same top token at`,
    `${(100 * k.same_top).toFixed(2)}% of positions; RMS of Δp of the next token ${(100 * k.rms_dp).toFixed(3)}%.`,
  ]
}

/** Dense and pruned per task: acc (and acc_norm where the harness reports it) in percent ± standard error. */
export function tasksMarkdown(r: PruneReport): string[] {
  const t = r.tasks
  if (!t) return []
  return [
    '',
    'Zero-shot tasks, scored as lm-evaluation-harness scores them (0 shots, no BOS token; acc and acc_norm in % ± standard error):',
    '',
    '| task | n | dense acc | pruned acc | dense acc_norm | pruned acc_norm | data |',
    '|---|---|---|---|---|---|---|',
    ...Object.entries(t.dense).map(([name, d]) => {
      const p = t.pruned[name]
      return `| ${name} | ${d.n} | ${pm(d.acc, d.acc_stderr)} | ${pm(p.acc, p.acc_stderr)} | ${pm(d.acc_norm, d.acc_norm_stderr)} | ${pm(p.acc_norm, p.acc_norm_stderr)} | ${d.commit ? `${d.dataset}@${d.commit.slice(0, 12)}` : d.dataset} |`
    }),
  ]
}
