import type {KlStats} from './token-stats.js'

/** The KL figures as lines for the terminal, the way llama.cpp's perplexity tool prints them. */
export function klLines(basePpl: number, basePplStderr: number, k: KlStats): string[] {
  return [
    `base ppl    ${basePpl.toFixed(4)} ± ${basePplStderr.toFixed(4)}`,
    `mean KLD    ${k.mean.toFixed(6)} ± ${k.stderr.toFixed(6)} (median ${k.median.toFixed(6)}, 99th percentile ${k.p99.toFixed(6)}, max ${k.max.toFixed(6)})`,
    `same top    ${(100 * k.same_top).toFixed(2)} % of positions`,
    `RMS Δp      ${(100 * k.rms_dp).toFixed(3)} %`,
  ]
}
