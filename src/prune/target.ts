import type {ModelConfig} from '../model/config.js'
import {blockTensors} from '../model/arch/layout.js'
import type {SparsityTarget} from '../methods/types.js'
import {usage} from '../util/errors.js'

/** --sparsity r or --pattern N:M, checked against every linear's input width. */
export function parseTarget(sparsity: number | undefined, pattern: string | undefined, cfg: ModelConfig, methodId: string): SparsityTarget {
  if ((sparsity === undefined) === (pattern === undefined)) throw usage('give exactly one of --sparsity and --pattern', 'e.g. --sparsity 0.5 or --pattern 2:4')
  if (sparsity !== undefined) {
    if (!(sparsity >= 0 && sparsity < 1)) throw usage(`--sparsity ${sparsity} is out of range`, 'the fraction of zeros must be at least 0 and below 1')
    return {kind: 'unstructured', sparsity}
  }
  const {zeros: n, m: mm} = parsePattern(pattern!)
  checkPatternFits(`--pattern ${pattern}`, mm, cfg, methodId)
  return {kind: 'nm', n, m: mm}
}

/** Groups of M inputs must tile every linear's input width (and SparseGPT's column blocks). */
export function checkPatternFits(what: string, mm: number, cfg: ModelConfig, methodId: string): void {
  for (let layer = 0; layer < cfg.layers; layer++) {
    for (const t of blockTensors(cfg, layer)) {
      if (t.cols % mm !== 0) throw usage(`${what}: M = ${mm} does not divide the input width ${t.cols} of ${t.name}`, 'choose an M that divides every linear input width')
    }
  }
  if (methodId === 'sparsegpt' && 128 % mm !== 0) throw usage(`${what}: SparseGPT needs M to divide its block size 128`)
}

/** --pattern N:M: N zeros in every M consecutive inputs (the reference pruners' prune_n, prune_m). */
function parsePattern(pattern: string): {zeros: number; m: number} {
  const m = /^(\d+):(\d+)$/.exec(pattern)
  if (!m) throw usage(`--pattern ${pattern} is not N:M`, 'e.g. --pattern 2:4 (2 zeros in every 4 consecutive inputs)')
  const zeros = Number(m[1]), mm = Number(m[2])
  if (!(zeros > 0 && zeros < mm)) throw usage(`--pattern ${pattern}: N must be at least 1 and below M`)
  return {zeros, m: mm}
}

/** An N:M pattern as the nm packing counts it: values kept (M − N) in every M; M at most 16. */
export function parseNm(pattern: string): {n: number; m: number} {
  const {zeros, m} = parsePattern(pattern)
  if (m > 16) throw usage(`--pattern ${pattern}: the nm packing holds groups of at most 16`)
  return {n: m - zeros, m}
}

export const describeTarget = (t: SparsityTarget) => (t.kind === 'nm' ? `${t.n}:${t.m}` : `${+(t.sparsity * 100).toFixed(2)}% unstructured`)
export const requestedSparsity = (t: SparsityTarget) => (t.kind === 'nm' ? t.n / t.m : t.sparsity)
