import type {GemmOpts} from '../backend.js'

/** The obvious triple loop, float64 accumulation: the definition the native GEMM is held to. */
export function gemm(c: Float32Array, a: Float32Array, b: Float32Array, m: number, n: number, k: number, opts: GemmOpts = {}): void {
  const {transA = false, transB = false, accumulate = false, bias = null} = opts
  const lda = opts.lda ?? (transA ? m : k)
  const ldb = opts.ldb ?? (transB ? k : n)
  const ldc = opts.ldc ?? n
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0
      for (let p = 0; p < k; p++) {
        const av = transA ? a[p * lda + i] : a[i * lda + p]
        const bv = transB ? b[j * ldb + p] : b[p * ldb + j]
        s += av * bv
      }
      const prev = accumulate ? c[i * ldc + j] : 0
      c[i * ldc + j] = s + prev + (bias ? bias[j] : 0)
    }
  }
}
