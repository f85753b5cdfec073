const logSumExp = (l: Float32Array, at: number, vocab: number) => {
  let mx = -Infinity
  for (let j = 0; j < vocab; j++) mx = Math.max(mx, l[at + j])
  let sum = 0
  for (let j = 0; j < vocab; j++) sum += Math.exp(l[at + j] - mx)
  return Math.log(sum) + mx
}

const firstMax = (l: Float32Array, at: number, vocab: number) => {
  let best = 0
  for (let j = 1; j < vocab; j++) if (l[at + j] > l[at + best]) best = j
  return best
}

/** KL(P_base ‖ P_other) per row, from both rows' full softmax; same[r] = 1 when their argmaxes agree. */
export function klRows(kl: Float32Array, same: Uint8Array, base: Float32Array, other: Float32Array, rows: number, vocab: number): void {
  for (let r = 0; r < rows; r++) {
    const at = r * vocab, lp = logSumExp(base, at, vocab), lq = logSumExp(other, at, vocab)
    let acc = 0
    for (let j = 0; j < vocab; j++) {
      const logp = base[at + j] - lp
      acc += Math.exp(logp) * (logp - (other[at + j] - lq))
    }
    kl[r] = acc
    same[r] = firstMax(base, at, vocab) === firstMax(other, at, vocab) ? 1 : 0
  }
}

/** Next-token negative log-likelihood per row: logsumexp(logits) − logits[target]. */
export function nllRows(losses: Float32Array, logits: Float32Array, targets: Int32Array, rows: number, vocab: number): void {
  for (let r = 0; r < rows; r++) {
    let mx = -Infinity
    for (let j = 0; j < vocab; j++) mx = Math.max(mx, logits[r * vocab + j])
    let sum = 0
    for (let j = 0; j < vocab; j++) sum += Math.exp(logits[r * vocab + j] - mx)
    losses[r] = Math.log(sum) + mx - logits[r * vocab + targets[r]]
  }
}
