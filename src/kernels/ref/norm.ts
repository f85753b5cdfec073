/** RMSNorm as transformers' LlamaRMSNorm computes it in float32. */
export function rmsnorm(out: Float32Array, x: Float32Array, w: Float32Array, rows: number, dim: number, eps: number): void {
  for (let r = 0; r < rows; r++) {
    let ss = 0
    for (let i = 0; i < dim; i++) ss += x[r * dim + i] ** 2
    const inv = 1 / Math.sqrt(ss / dim + eps)
    for (let i = 0; i < dim; i++) out[r * dim + i] = x[r * dim + i] * inv * w[i]
  }
}

/** torch's LayerNorm: (x − mean)/sqrt(var + eps)·w + b, with the population variance. */
export function layernorm(out: Float32Array, x: Float32Array, w: Float32Array, b: Float32Array, rows: number, dim: number, eps: number): void {
  for (let r = 0; r < rows; r++) {
    const [mean, inv] = moments(x, r, dim, eps)
    for (let i = 0; i < dim; i++) out[r * dim + i] = (x[r * dim + i] - mean) * inv * w[i] + b[i]
  }
}

/** With n = (x − mean)·inv and gn = dy ⊙ w: dx = inv·(gn − mean(gn) − n·mean(gn ⊙ n)). */
export function layernormBackward(dx: Float32Array, dw: Float32Array | null, db: Float32Array | null, dy: Float32Array, x: Float32Array, w: Float32Array,
  rows: number, dim: number, eps: number): void {
  for (let r = 0; r < rows; r++) {
    const [mean, inv] = moments(x, r, dim, eps)
    const n = (i: number) => (x[r * dim + i] - mean) * inv
    let mg = 0, mgn = 0
    for (let i = 0; i < dim; i++) {
      const gn = dy[r * dim + i] * w[i]
      mg += gn / dim
      mgn += gn * n(i) / dim
      if (dw) dw[i] += dy[r * dim + i] * n(i)
      if (db) db[i] += dy[r * dim + i]
    }
    for (let i = 0; i < dim; i++) dx[r * dim + i] = inv * (dy[r * dim + i] * w[i] - mg - n(i) * mgn)
  }
}

function moments(x: Float32Array, r: number, dim: number, eps: number): [mean: number, inv: number] {
  let mean = 0, v = 0
  for (let i = 0; i < dim; i++) mean += x[r * dim + i] / dim
  for (let i = 0; i < dim; i++) v += (x[r * dim + i] - mean) ** 2 / dim
  return [mean, 1 / Math.sqrt(v + eps)]
}
