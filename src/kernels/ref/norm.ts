/** RMSNorm as transformers' LlamaRMSNorm computes it in float32. */
export function rmsnorm(out: Float32Array, x: Float32Array, w: Float32Array, rows: number, dim: number, eps: number): void {
  for (let r = 0; r < rows; r++) {
    let ss = 0
    for (let i = 0; i < dim; i++) ss += x[r * dim + i] ** 2
    const inv = 1 / Math.sqrt(ss / dim + eps)
    for (let i = 0; i < dim; i++) out[r * dim + i] = x[r * dim + i] * inv * w[i]
  }
}
