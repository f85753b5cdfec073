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
