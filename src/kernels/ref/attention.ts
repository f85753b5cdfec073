import type {AttentionMask} from '../backend.js'

/** The first key a query at position i sees. */
export const firstKey = (i: number, mask?: AttentionMask) => (mask?.window ? Math.max(0, i - mask.window + 1) : 0)

/** A scaled score, softcapped when the mask says so. */
export const capped = (s: number, mask?: AttentionMask) => (mask?.softcap ? Math.tanh(s / mask.softcap) * mask.softcap : s)

/** Causal grouped-query attention, one query at a time: softmax(cap(q·kᵀ·scale)) over the keys the query sees. */
export function attention(out: Float32Array, q: Float32Array, k: Float32Array, v: Float32Array, batch: number, seq: number,
  nh: number, nkv: number, hd: number, scale: number, mask?: AttentionMask): void {
  const ks = nkv * hd
  for (let b = 0; b < batch; b++) {
    const kb = k.subarray(b * seq * ks, (b + 1) * seq * ks), vb = v.subarray(b * seq * ks, (b + 1) * seq * ks)
    attentionCached(out.subarray(b * seq * nh * hd), q.subarray(b * seq * nh * hd), kb, vb, seq, 0, nh, nkv, hd, scale, mask)
  }
}

/** The cached form: query i of n sits at position past + i and sees keys firstKey..past + i. */
export function attentionCached(out: Float32Array, q: Float32Array, kc: Float32Array, vc: Float32Array, n: number, past: number,
  nh: number, nkv: number, hd: number, scale: number, mask?: AttentionMask): void {
  const group = nh / nkv, qs = nh * hd, ks = nkv * hd
  for (let i = 0; i < n; i++) {
    for (let h = 0; h < nh; h++) {
      const kvh = Math.floor(h / group), keys = past + i + 1, lo = firstKey(past + i, mask)
      const s = new Float64Array(keys)
      let mx = -Infinity
      for (let j = lo; j < keys; j++) {
        let d = 0
        for (let c = 0; c < hd; c++) d += q[i * qs + h * hd + c] * kc[j * ks + kvh * hd + c]
        s[j] = capped(d * scale, mask)
        mx = Math.max(mx, s[j])
      }
      let sum = 0
      for (let j = lo; j < keys; j++) { s[j] = Math.exp(s[j] - mx); sum += s[j] }
      for (let c = 0; c < hd; c++) {
        let acc = 0
        for (let j = lo; j < keys; j++) acc += s[j] * vc[j * ks + kvh * hd + c]
        out[i * qs + h * hd + c] = acc / sum
      }
    }
  }
}
