/** Causal grouped-query attention, one query at a time: softmax(q·kᵀ·scale) over keys ≤ the query. */
export function attention(out: Float32Array, q: Float32Array, k: Float32Array, v: Float32Array, batch: number, seq: number,
  nh: number, nkv: number, hd: number, scale: number): void {
  const group = nh / nkv, qs = nh * hd, ks = nkv * hd
  const scores = new Float64Array(seq)
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < nh; h++) {
      const kvh = Math.floor(h / group)
      for (let i = 0; i < seq; i++) {
        const qo = (b * seq + i) * qs + h * hd
        let mx = -Infinity
        for (let j = 0; j <= i; j++) {
          const ko = (b * seq + j) * ks + kvh * hd
          let s = 0
          for (let d = 0; d < hd; d++) s += q[qo + d] * k[ko + d]
          scores[j] = s * scale
          mx = Math.max(mx, scores[j])
        }
        let sum = 0
        for (let j = 0; j <= i; j++) { scores[j] = Math.exp(scores[j] - mx); sum += scores[j] }
        for (let d = 0; d < hd; d++) {
          let acc = 0
          for (let j = 0; j <= i; j++) acc += scores[j] * v[(b * seq + j) * ks + kvh * hd + d]
          out[qo + d] = acc / sum
        }
      }
    }
  }
}
