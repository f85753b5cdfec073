/**
 * Rotary embedding, rotate_half convention on the first `rot` dims of every head: pairs (i, i + rot/2) rotate by
 * the position's angle; dims rot..hd pass through (partial rotary).
 */
export function rope(x: Float32Array, cos: Float32Array, sin: Float32Array, tokens: number, seq: number, heads: number, hd: number, rot = hd): void {
  const half = rot / 2
  for (let t = 0; t < tokens; t++) {
    const row = (t % seq) * half
    for (let h = 0; h < heads; h++) {
      const base = (t * heads + h) * hd
      for (let i = 0; i < half; i++) {
        const x1 = x[base + i], x2 = x[base + i + half]
        x[base + i] = x1 * cos[row + i] - x2 * sin[row + i]
        x[base + i + half] = x2 * cos[row + i] + x1 * sin[row + i]
      }
    }
  }
}
