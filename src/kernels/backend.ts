/** Options of one GEMM: C = op(A)·op(B) [+ C] [+ bias]. Leading dimensions default to dense rows. */
export interface GemmOpts {
  transA?: boolean
  transB?: boolean
  accumulate?: boolean
  bias?: Float32Array | null
  lda?: number
  ldb?: number
  ldc?: number
}

/**
 * The kernels the engine is built from. Outputs come first, then inputs, then dimensions.
 * Two implementations: the native addon (./native.ts) and the plain TypeScript references (./ref).
 */
export interface Backend {
  readonly name: string
  /** c: (m, n); op(a): (m, k); op(b): (k, n). A linear layer is gemm(y, x, W, T, out, in, {transB: true}). */
  gemm(c: Float32Array, a: Float32Array, b: Float32Array, m: number, n: number, k: number, opts?: GemmOpts): void
  /** out, x: (rows, dim); w: (dim). */
  rmsnorm(out: Float32Array, x: Float32Array, w: Float32Array, rows: number, dim: number, eps: number): void
  /** In place on x: (tokens, heads·hd); cos, sin: (seq, hd/2); token t sits at position t mod seq. */
  rope(x: Float32Array, cos: Float32Array, sin: Float32Array, tokens: number, seq: number, heads: number, hd: number): void
  /** out = silu(gate) ⊙ up. */
  siluMul(out: Float32Array, gate: Float32Array, up: Float32Array): void
  /** x += y. */
  addInplace(x: Float32Array, y: Float32Array): void
  /** Causal GQA. q, out: (batch·seq, nh·hd); k, v: (batch·seq, nkv·hd). */
  attention(out: Float32Array, q: Float32Array, k: Float32Array, v: Float32Array, batch: number, seq: number,
    nh: number, nkv: number, hd: number, scale: number): void
  /** losses[r] = logsumexp(logits[r]) − logits[r][targets[r]]; logits: (rows, vocab). */
  nllRows(losses: Float32Array, logits: Float32Array, targets: Int32Array, rows: number, vocab: number): void
  bf16ToF32(out: Float32Array, input: Uint16Array): void
  f16ToF32(out: Float32Array, input: Uint16Array): void
  f32ToBf16(out: Uint16Array, input: Float32Array): void
  f32ToF16(out: Uint16Array, input: Float32Array): void
}
