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

/** The cached form: query i of n sits at position past + i and sees keys 0..past + i. */
export function attentionCached(out: Float32Array, q: Float32Array, kc: Float32Array, vc: Float32Array, n: number, past: number,
  nh: number, nkv: number, hd: number, scale: number): void {
  const group = nh / nkv, qs = nh * hd, ks = nkv * hd
  for (let i = 0; i < n; i++) {
    for (let h = 0; h < nh; h++) {
      const kvh = Math.floor(h / group), keys = past + i + 1
      const s = new Float64Array(keys)
      let mx = -Infinity
      for (let j = 0; j < keys; j++) {
        let d = 0
        for (let c = 0; c < hd; c++) d += q[i * qs + h * hd + c] * kc[j * ks + kvh * hd + c]
        s[j] = d * scale
        mx = Math.max(mx, s[j])
      }
      let sum = 0
      for (let j = 0; j < keys; j++) { s[j] = Math.exp(s[j] - mx); sum += s[j] }
      for (let c = 0; c < hd; c++) {
        let acc = 0
        for (let j = 0; j < keys; j++) acc += s[j] * vc[j * ks + kvh * hd + c]
        out[i * qs + h * hd + c] = acc / sum
      }
    }
  }
}
