import type {Backend, GemmOpts} from './backend.js'
import {loadAddon, type NativeAddon} from './native.js'
import {refBackend} from './ref/index.js'

export type {Backend, GemmOpts} from './backend.js'
export {refBackend} from './ref/index.js'

function need(ok: boolean, op: string, what: string): void {
  if (!ok) throw new RangeError(`${op}: ${what}`)
}

/** Smallest length of a strided (rows, cols) matrix with leading dimension ld. */
const span = (rows: number, cols: number, ld: number) => (rows === 0 || cols === 0 ? 0 : (rows - 1) * ld + cols)

function nativeBackend(addon: NativeAddon): Backend {
  return {
    name: `native-${addon.isa()}`,
    gemm(c, a, b, m, n, k, opts: GemmOpts = {}) {
      const {transA = false, transB = false, accumulate = false, bias = null} = opts
      const lda = opts.lda ?? (transA ? m : k), ldb = opts.ldb ?? (transB ? k : n), ldc = opts.ldc ?? n
      need(c.length >= span(m, n, ldc), 'gemm', `C holds ${c.length} values, needs ${span(m, n, ldc)}`)
      need(a.length >= (transA ? span(k, m, lda) : span(m, k, lda)), 'gemm', 'A is too short')
      need(b.length >= (transB ? span(n, k, ldb) : span(k, n, ldb)), 'gemm', 'B is too short')
      need(!bias || bias.length >= n, 'gemm', 'bias is too short')
      addon.gemm(c, a, b, bias, m, n, k, lda, ldb, ldc, transA, transB, accumulate)
    },
    rmsnorm(out, x, w, rows, dim, eps) {
      need(out.length >= rows * dim && x.length >= rows * dim && w.length >= dim, 'rmsnorm', 'shape mismatch')
      addon.rmsnorm(out, x, w, rows, dim, eps)
    },
    rope(x, cos, sin, tokens, seq, heads, hd) {
      need(hd % 2 === 0 && x.length >= tokens * heads * hd, 'rope', 'shape mismatch')
      need(cos.length >= Math.min(tokens, seq) * hd / 2 && sin.length === cos.length, 'rope', 'tables too short')
      addon.rope(x, cos, sin, tokens, seq, heads, hd)
    },
    siluMul(out, gate, up) {
      need(gate.length >= out.length && up.length >= out.length, 'siluMul', 'shape mismatch')
      addon.siluMul(out, gate, up)
    },
    addInplace(x, y) {
      need(y.length >= x.length, 'addInplace', 'shape mismatch')
      addon.addInplace(x, y)
    },
    attention(out, q, k, v, batch, seq, nh, nkv, hd, scale) {
      const rows = batch * seq
      need(nh % nkv === 0, 'attention', 'heads must be a multiple of kv heads')
      need(out.length >= rows * nh * hd && q.length >= rows * nh * hd, 'attention', 'q/out too short')
      need(k.length >= rows * nkv * hd && v.length >= rows * nkv * hd, 'attention', 'k/v too short')
      addon.attention(out, q, k, v, batch, seq, nh, nkv, hd, scale)
    },
    nllRows(losses, logits, targets, rows, vocab) {
      need(losses.length >= rows && targets.length >= rows && logits.length >= rows * vocab, 'nllRows', 'shape mismatch')
      for (let r = 0; r < rows; r++) need(targets[r] >= 0 && targets[r] < vocab, 'nllRows', `target ${targets[r]} outside the vocabulary`)
      addon.nllRows(losses, logits, targets, rows, vocab)
    },
    bf16ToF32(out, input) { need(input.length >= out.length, 'bf16ToF32', 'input too short'); addon.bf16ToF32(out, input) },
    f16ToF32(out, input) { need(input.length >= out.length, 'f16ToF32', 'input too short'); addon.f16ToF32(out, input) },
    f32ToBf16(out, input) { need(input.length >= out.length, 'f32ToBf16', 'input too short'); addon.f32ToBf16(out, input) },
    f32ToF16(out, input) { need(input.length >= out.length, 'f32ToF16', 'input too short'); addon.f32ToF16(out, input) },
  }
}

let addon: NativeAddon | undefined
let active: Backend | undefined

export function native(): NativeAddon {
  addon ??= loadAddon()
  return addon
}

/** The backend in use: native unless SPARSIFY_KERNELS=ref. */
export function kernels(): Backend {
  active ??= process.env.SPARSIFY_KERNELS === 'ref' ? refBackend : nativeBackend(native())
  return active
}

/** The native backend, whatever SPARSIFY_KERNELS says (tests compare it with refBackend). */
export function nativeKernels(): Backend {
  return nativeBackend(native())
}

export function setThreads(n: number): void {
  native().setThreads(n)
}

export function threadCount(): number {
  return native().getThreads()
}
