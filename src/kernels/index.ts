import {ACTIVATIONS, type Backend, type GemmOpts} from './backend.js'
import {loadAddon, type NativeAddon} from './native.js'
import {gqsaPairBytes as pairBytes} from './ref/gqsa.js'
import {refBackend} from './ref/index.js'
import {nativeExportOps} from './export-kernels.js'

export type {Activation, AttentionMask, Backend, GemmOpts, SparseGptOpts, SweepQuant, Values} from './backend.js'
export {refBackend} from './ref/index.js'
export {gqsaFileParams, gqsaHeldParams, gqsaPairBytes} from './ref/gqsa.js'

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
    rope(x, cos, sin, tokens, seq, heads, hd, rot = hd) {
      need(rot % 2 === 0 && rot <= hd && x.length >= tokens * heads * hd, 'rope', 'shape mismatch')
      need(cos.length >= Math.min(tokens, seq) * rot / 2 && sin.length === cos.length, 'rope', 'tables too short')
      addon.rope(x, cos, sin, tokens, seq, heads, hd, rot)
    },
    siluMul(out, gate, up) {
      need(gate.length >= out.length && up.length >= out.length, 'siluMul', 'shape mismatch')
      addon.siluMul(out, gate, up)
    },
    actMul(act, out, gate, up) {
      need(gate.length === out.length && (!up || up.length === out.length), 'actMul', 'shape mismatch')
      addon.actMul(ACTIVATIONS.indexOf(act), out, gate, up)
    },
    actMulBackward(act, dgate, dup, dout, gate, up) {
      const n = dout.length
      need(dgate.length === n && gate.length === n && (!up || (up.length === n && dup !== null && dup.length === n)), 'actMulBackward', 'shape mismatch')
      addon.actMulBackward(ACTIVATIONS.indexOf(act), dgate, up ? dup : null, dout, gate, up)
    },
    layernorm(out, x, w, b, rows, dim, eps) {
      need(out.length >= rows * dim && x.length >= rows * dim && w.length >= dim && b.length >= dim, 'layernorm', 'shape mismatch')
      addon.layernorm(out, x, w, b, rows, dim, eps)
    },
    layernormBackward(dx, dw, db, dy, x, w, rows, dim, eps) {
      need(dx.length >= rows * dim && dy.length >= rows * dim && x.length >= rows * dim && w.length >= dim &&
        (!dw || dw.length >= dim) && (!db || db.length >= dim), 'layernormBackward', 'shape mismatch')
      addon.layernormBackward(dx, dw, db, dy, x, w, rows, dim, eps)
    },
    softcap(x, cap) { need(cap > 0, 'softcap', 'the cap must be positive'); addon.softcap(x, cap) },
    softcapBackward(dx, y, cap) { need(cap > 0 && y.length >= dx.length, 'softcapBackward', 'shape mismatch'); addon.softcapBackward(dx, y, cap) },
    scaleInplace: (x, s) => addon.scaleInplace(x, s),
    addInplace(x, y) {
      need(y.length >= x.length, 'addInplace', 'shape mismatch')
      addon.addInplace(x, y)
    },
    attention(out, q, k, v, batch, seq, nh, nkv, hd, scale, mask) {
      const rows = batch * seq
      need(nh % nkv === 0, 'attention', 'heads must be a multiple of kv heads')
      need(out.length >= rows * nh * hd && q.length >= rows * nh * hd, 'attention', 'q/out too short')
      need(k.length >= rows * nkv * hd && v.length >= rows * nkv * hd, 'attention', 'k/v too short')
      addon.attention(out, q, k, v, batch, seq, nh, nkv, hd, scale, mask?.window ?? 0, mask?.softcap ?? 0)
    },
    attentionCached(out, q, kc, vc, n, past, nh, nkv, hd, scale, mask) {
      need(nh % nkv === 0 && out.length >= n * nh * hd && q.length >= n * nh * hd, 'attentionCached', 'q/out too short')
      need(kc.length >= (past + n) * nkv * hd && vc.length >= (past + n) * nkv * hd, 'attentionCached', 'cache too short')
      addon.attentionCached(out, q, kc, vc, n, past, nh, nkv, hd, scale, mask?.window ?? 0, mask?.softcap ?? 0)
    },
    nllRows(losses, logits, targets, rows, vocab) {
      need(losses.length >= rows && targets.length >= rows && logits.length >= rows * vocab, 'nllRows', 'shape mismatch')
      for (let r = 0; r < rows; r++) need(targets[r] >= 0 && targets[r] < vocab, 'nllRows', `target ${targets[r]} outside the vocabulary`)
      addon.nllRows(losses, logits, targets, rows, vocab)
    },
    klRows(kl, same, base, other, rows, vocab) {
      need(kl.length >= rows && same.length >= rows && base.length >= rows * vocab && other.length >= rows * vocab, 'klRows', 'shape mismatch')
      addon.klRows(kl, same, base, other, rows, vocab)
    },
    columnStats(sum, sumsq, varsum, x, nseq, seq, cols) {
      need(sum.length >= cols && sumsq.length >= cols && varsum.length >= cols && x.length >= nseq * seq * cols, 'columnStats', 'shape mismatch')
      addon.columnStats(sum, sumsq, varsum, x, nseq, seq, cols)
    },
    absScaled(out, w, scale, rows, cols) {
      need(out.length >= rows * cols && w.length >= rows * cols && scale.length >= cols, 'absScaled', 'shape mismatch')
      addon.absScaled(out, w, scale, rows, cols)
    },
    selectRowK(mask, score, rows, cols, k) {
      need(mask.length >= rows * cols && score.length >= rows * cols && k >= 0 && k <= cols, 'selectRowK', 'shape mismatch')
      addon.selectRowK(mask, score, rows, cols, k)
    },
    selectNM(mask, score, rows, cols, n, m) {
      need(m > 0 && cols % m === 0 && n >= 0 && n <= m, 'selectNM', `${n}:${m} does not fit ${cols} columns`)
      need(mask.length >= rows * cols && score.length >= rows * cols, 'selectNM', 'shape mismatch')
      addon.selectNM(mask, score, rows, cols, n, m)
    },
    selectThreshold(mask, score, k) {
      need(mask.length >= score.length && k >= 0 && k < score.length, 'selectThreshold', 'k out of range')
      addon.selectThreshold(mask, score, k)
    },
    countNonFinite: (x) => addon.countNonFinite(x),
    sumF64: (x) => addon.sumF64(x),
    countAbove: (x, t) => addon.countAbove(x, t),
    packBitmask(values, bitmask, offsets, w, rows, cols) {
      need(w.length >= rows * cols && values.length >= rows * cols && bitmask.length >= rows * Math.ceil(cols / 8) && offsets.length >= rows, 'packBitmask', 'shape mismatch')
      return addon.packBitmask(values, bitmask, offsets, w, rows, cols)
    },
    pack24(values, bitmask, w, rows, cols) {
      need(cols % 4 === 0 && w.length >= rows * cols && values.length >= rows * cols / 2 && bitmask.length >= rows * Math.ceil(cols / 8), 'pack24', 'shape mismatch (columns must be a multiple of 4)')
      return addon.pack24(values, bitmask, w, rows, cols)
    },
    unpackBitmask(out, values, bitmask, rows, cols) {
      need(out.length >= rows * cols && bitmask.length >= rows * Math.ceil(cols / 8), 'unpackBitmask', 'shape mismatch')
      return addon.unpackBitmask(out, values, bitmask, rows, cols)
    },
    mirrorLower(h, n, scale) { need(h.length >= n * n, 'mirrorLower', 'shape mismatch'); addon.mirrorLower(h, n, scale) },
    weightedSqDiff(a, b, sc, rows, cols) {
      need(a.length >= rows * cols && b.length >= rows * cols && sc.length >= cols, 'weightedSqDiff', 'shape mismatch')
      return addon.weightedSqDiff(a, b, sc, rows, cols)
    },
    zeroStats(x, rows, cols, m) {
      need(x.length >= rows * cols && m >= 0, 'zeroStats', 'shape mismatch')
      return addon.zeroStats(x, rows, cols, m)
    },
    accumulateSquares(acc, g, scale) { need(g.length >= acc.length, 'accumulateSquares', 'shape mismatch'); addon.accumulateSquares(acc, g, scale) },
    absMulAdd(out, w, g) { need(w.length >= out.length && g.length >= out.length, 'absMulAdd', 'shape mismatch'); addon.absMulAdd(out, w, g) },
    applyMask(w, mask) { need(mask.length >= w.length, 'applyMask', 'mask too short'); addon.applyMask(w, mask) },
    sparsegptFactor(u, h, cols, percdamp) {
      need(u.length === cols * cols && h.length === cols * cols, 'sparsegptFactor', 'shape mismatch')
      return addon.sparsegptFactor(u, h, cols, percdamp)
    },
    sparsegptPrune(w, mask, u, h, rows, cols, o) {
      need(w.length === rows * cols && mask.length === rows * cols && u.length === cols * cols && h.length === cols * cols, 'sparsegptPrune', 'shape mismatch')
      need(o.prunen === 0 || (o.blocksize % o.prunem === 0 && cols % o.prunem === 0 && o.prunem <= 64), 'sparsegptPrune', 'N:M must divide the block size and the width (M ≤ 64)')
      const q = o.quant
      if (q) {
        const groups = q.groupsize > 0 ? Math.ceil(cols / q.groupsize) : 1
        need(q.bits >= 2 && q.bits <= 8 && q.groupsize >= 0 && q.scales.length === rows * groups && q.zeros.length === rows * groups, 'sparsegptPrune', 'quantizer shape mismatch')
      }
      addon.sparsegptPrune(w, mask, u, h, rows, cols, o.sparsity, o.prunen, o.prunem, o.blocksize, q?.bits ?? 0, q?.groupsize ?? 0, q?.sym ?? false,
        SCALE_DTYPES.indexOf(q?.scaleDtype ?? 'F32'), q?.scales ?? null, q?.zeros ?? null)
    },
    rmsnormBackward(dx, dw, dy, x, w, rows, dim, eps) {
      need(dx.length >= rows * dim && dy.length >= rows * dim && x.length >= rows * dim && w.length >= dim && (!dw || dw.length >= dim), 'rmsnormBackward', 'shape mismatch')
      addon.rmsnormBackward(dx, dw, dy, x, w, rows, dim, eps)
    },
    ropeBackward(dx, cos, sin, tokens, seq, heads, hd, rot = hd) {
      need(rot % 2 === 0 && rot <= hd && dx.length >= tokens * heads * hd && cos.length >= Math.min(tokens, seq) * rot / 2, 'ropeBackward', 'shape mismatch')
      addon.ropeBackward(dx, cos, sin, tokens, seq, heads, hd, rot)
    },
    siluMulBackward(dgate, dup, dout, gate, up) {
      const n = dout.length
      need(dgate.length >= n && dup.length >= n && gate.length >= n && up.length >= n, 'siluMulBackward', 'shape mismatch')
      addon.siluMulBackward(dgate, dup, dout, gate, up)
    },
    attentionBackward(dq, dk, dv, dout, q, k, v, batch, seq, nh, nkv, hd, scale, mask) {
      const rows = batch * seq
      need(nh % nkv === 0, 'attentionBackward', 'heads must be a multiple of kv heads')
      need([dq, dout, q].every((a) => a.length >= rows * nh * hd) && [dk, dv, k, v].every((a) => a.length >= rows * nkv * hd), 'attentionBackward', 'shape mismatch')
      addon.attentionBackward(dq, dk, dv, dout, q, k, v, batch, seq, nh, nkv, hd, scale, mask?.window ?? 0, mask?.softcap ?? 0)
    },
    lseTile(mx, sum, zt, logits, targets, col0, rows, cols) {
      need(mx.length >= rows && sum.length >= rows && zt.length >= rows && targets.length >= rows && logits.length >= rows * cols, 'lseTile', 'shape mismatch')
      addon.lseTile(mx, sum, zt, logits, targets, col0, rows, cols)
    },
    xentTileBackward(logits, lse, targets, rowScale, col0, rows, cols) {
      need(lse.length >= rows && rowScale.length >= rows && targets.length >= rows && logits.length >= rows * cols, 'xentTileBackward', 'shape mismatch')
      addon.xentTileBackward(logits, lse, targets, rowScale, col0, rows, cols)
    },
    adamwStep(p, g, m, v, o) {
      need(g.length >= p.length && m.length >= p.length && v.length >= p.length && o.step >= 1, 'adamwStep', 'shape mismatch')
      addon.adamwStep(p, g, m, v, o.lr, o.beta1, o.beta2, o.eps, o.weightDecay, o.step)
    },
    matmulDense(y, w, x, tokens, rows, cols) {
      need(y.length >= tokens * rows && w.length >= rows * cols && x.length >= tokens * cols, 'matmulDense', 'shape mismatch')
      addon.matmulDense(y, w, x, tokens, rows, cols)
    },
    packNm(vals, pos, w, rows, cols, n, m) {
      need(m >= 1 && m <= 16 && n >= 1 && n <= m && cols % m === 0 && w.length >= rows * cols && vals.length >= rows * cols / m * n &&
        pos.length >= rows * Math.ceil(cols / m * n / 2), 'packNm', 'shape mismatch')
      return addon.packNm(vals, pos, w, rows, cols, n, m)
    },
    unpackNm(out, vals, pos, rows, cols, n, m) {
      need(m >= 1 && m <= 16 && n >= 1 && n <= m && cols % m === 0 && out.length >= rows * cols && vals.length >= rows * cols / m * n &&
        pos.length >= rows * Math.ceil(cols / m * n / 2), 'unpackNm', 'shape mismatch')
      addon.unpackNm(out, vals, pos, rows, cols, n, m)
    },
    nm24Blocks(pos, rows, cols, toBlocks) {
      need(cols % 4 === 0 && pos.length >= rows * cols / 4, 'nm24Blocks', 'shape mismatch')
      addon.nm24Blocks(pos, rows, cols, toBlocks)
    },
    matmulNm(y, vals, pos, x, tokens, rows, cols, n, m) {
      need(m >= 1 && m <= 16 && n >= 1 && n <= m && cols % m === 0 && y.length >= tokens * rows && x.length >= tokens * cols &&
        vals.length >= rows * cols / m * n && pos.length >= rows * Math.ceil(cols / m * n / 2), 'matmulNm', 'shape mismatch')
      addon.matmulNm(y, vals, pos, x, tokens, rows, cols, n, m)
    },
    matmulBitmask(y, vals, mask, offsets, x, tokens, rows, cols) {
      // Offsets and the values they point into are validated once, when a weight is packed or read.
      need(y.length >= tokens * rows && x.length >= tokens * cols && mask.length >= rows * Math.ceil(cols / 8) && offsets.length >= rows,
        'matmulBitmask', 'shape mismatch')
      addon.matmulBitmask(y, vals, mask, offsets, x, tokens, rows, cols)
    },
    matmulGqsa(y, rowPtr, col, pairs, scales, offsetZeros, x, tokens, rows, cols, group) {
      // Row pointers and column indices are validated once, when a weight is packed or read.
      const nnzb = rowPtr[rows]
      need(group >= 2 && group % 2 === 0 && cols % group === 0 && rowPtr.length >= rows + 1 && col.length >= nnzb && pairs.length >= pairBytes(nnzb, group) &&
        scales.length >= nnzb && offsetZeros.length >= nnzb && y.length >= tokens * rows && x.length >= tokens * cols, 'matmulGqsa', 'shape mismatch')
      addon.matmulGqsa(y, rowPtr, col, pairs, scales, offsetZeros, x, tokens, rows, cols, group)
    },
    gqsaUnpack(out, rowPtr, col, pairs, scales, offsetZeros, rows, cols, group) {
      // Row pointers and column indices are validated when a packed weight is read (src/packed/tensors.ts).
      const nnzb = rowPtr[rows]
      need(group % 2 === 0 && cols % group === 0 && out.length >= rows * cols && rowPtr.length >= rows + 1 && col.length >= nnzb && pairs.length >= pairBytes(nnzb, group) &&
        scales.length >= nnzb && offsetZeros.length >= nnzb, 'gqsaUnpack', 'shape mismatch')
      addon.gqsaUnpack(out, rowPtr, col, pairs, scales, offsetZeros, rows, cols, group)
    },
    gqsaPairCodes(pairs, codes, nnzb, group) {
      need(group % 2 === 0 && pairs.length >= pairBytes(nnzb, group) && codes.length >= nnzb * group / 2, 'gqsaPairCodes', 'shape mismatch')
      addon.gqsaPairCodes(pairs, codes, nnzb, group)
    },
    gqsaGroupCodes(codes, pairs, nnzb, group) {
      need(group % 2 === 0 && pairs.length >= pairBytes(nnzb, group) && codes.length >= nnzb * group / 2, 'gqsaGroupCodes', 'shape mismatch')
      addon.gqsaGroupCodes(codes, pairs, nnzb, group)
    },
    gqsaDequant(w, codes, scales, zeros, pruned, rows, cols, group) {
      const groups = rows * cols / group
      need(cols % group === 0 && w.length >= rows * cols && codes.length >= rows * cols && scales.length >= groups && zeros.length >= groups && pruned.length >= groups,
        'gqsaDequant', 'shape mismatch')
      addon.gqsaDequant(w, codes, scales, zeros, pruned, rows, cols, group)
    },
    gqsaScaleGrad(ds, dw, codes, zeros, pruned, rows, cols, group) {
      const groups = rows * cols / group
      need(cols % group === 0 && dw.length >= rows * cols && codes.length >= rows * cols && ds.length >= groups && zeros.length >= groups && pruned.length >= groups,
        'gqsaScaleGrad', 'shape mismatch')
      addon.gqsaScaleGrad(ds, dw, codes, zeros, pruned, rows, cols, group)
    },
    mseGrad(d, out, target) {
      need(d.length >= out.length && target.length >= out.length, 'mseGrad', 'shape mismatch')
      return addon.mseGrad(d, out, target)
    },
    gqsaSaliency(score, w, u, rows, cols, group) {
      need(cols % group === 0 && score.length >= rows * cols / group && w.length >= rows * cols && u.length >= cols * cols, 'gqsaSaliency', 'shape mismatch')
      addon.gqsaSaliency(score, w, u, rows, cols, group)
    },
    gqsaSweep(w, pruned, u, h, rows, cols, group, bits, codes, scales, zeros) {
      const groups = rows * cols / group
      need(cols % group === 0 && bits >= 1 && bits <= 8 && w.length >= rows * cols && pruned.length >= groups && u.length >= cols * cols &&
        h.length >= cols * cols && codes.length >= rows * cols && scales.length >= groups && zeros.length >= groups, 'gqsaSweep', 'shape mismatch')
      addon.gqsaSweep(w, pruned, u, h, rows, cols, group, bits, codes, scales, zeros)
    },
    gqsaFakeQuant(wq, w, scales, zeros, pruned, rows, cols, group, bits, codes) {
      const groups = rows * cols / group
      need(cols % group === 0 && wq.length >= rows * cols && w.length >= rows * cols && scales.length >= groups && zeros.length >= groups && pruned.length >= groups &&
        (codes === null || codes.length >= rows * cols), 'gqsaFakeQuant', 'shape mismatch')
      addon.gqsaFakeQuant(wq, w, scales, zeros, pruned, rows, cols, group, bits, codes)
    },
    gqsaFakeQuantBackward(dw, ds, dz, dwq, w, scales, zeros, pruned, rows, cols, group, bits) {
      const groups = rows * cols / group
      need(cols % group === 0 && dw.length >= rows * cols && dwq.length >= rows * cols && w.length >= rows * cols && ds.length >= groups && dz.length >= groups &&
        scales.length >= groups && zeros.length >= groups && pruned.length >= groups, 'gqsaFakeQuantBackward', 'shape mismatch')
      addon.gqsaFakeQuantBackward(dw, ds, dz, dwq, w, scales, zeros, pruned, rows, cols, group, bits)
    },
    bf16ToF32(out, input) { need(input.length >= out.length, 'bf16ToF32', 'input too short'); addon.bf16ToF32(out, input) },
    f16ToF32(out, input) { need(input.length >= out.length, 'f16ToF32', 'input too short'); addon.f16ToF32(out, input) },
    f32ToBf16(out, input) { need(input.length >= out.length, 'f32ToBf16', 'input too short'); addon.f32ToBf16(out, input) },
    f32ToF16(out, input) { need(input.length >= out.length, 'f32ToF16', 'input too short'); addon.f32ToF16(out, input) },
    ...nativeExportOps(addon),
  }
}

/** The dtype codes of the native quantizer's scale rounding. */
const SCALE_DTYPES = ['F32', 'BF16', 'F16']

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
