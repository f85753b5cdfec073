import type {FloatDtype} from '../model/safetensors/dtypes.js'

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

/** SparseGPT's sweep options, as the reference repositories name them. */
export interface SparseGptOpts {
  /** unstructured fraction pruned per block tile; negative: prune nothing (GPTQ) */
  sparsity: number
  /** n of N:M (0 = unstructured `sparsity`) */
  prunen: number
  prunem: number
  blocksize: number
  /** quantize inside the sweep (GPTQ; SparseGPT's joint mode) */
  quant?: SweepQuant
}

/**
 * The quantizer of the OBS sweep (algorithms spec §14): min-max with zero in range over each row, or over
 * each group of `groupsize` input columns (0: per row), found as the reference finds it.
 */
export interface SweepQuant {
  bits: number
  groupsize: number
  sym: boolean
  /** The dtype the scales will be stored in: each is rounded to it as soon as it is found. */
  scaleDtype: 'F32' | 'BF16' | 'F16'
  /** Outputs, (rows, groups) with groups = ⌈cols/groupsize⌉ (1 per row without groups): w = scale·(code − zero). */
  scales: Float32Array
  zeros: Float32Array
}

/**
 * The kernels the engine is built from. Outputs come first, then inputs, then dimensions.
 * Two implementations: the native addon (./native.ts) and the plain TypeScript references (./ref).
 */
/** Weight values as the engine holds them: float32, or bf16 bit patterns. */
export type Values = Float32Array | Uint16Array

/** The activations of the MLPs the engine runs (their codes in the addon are the indices). */
export const ACTIVATIONS = ['silu', 'gelu_tanh', 'relu'] as const
export type Activation = (typeof ACTIVATIONS)[number]

/**
 * Limits of causal attention beyond causality: a query at position i sees keys i − window + 1..i (0: all),
 * and each scaled score z becomes tanh(z / softcap)·softcap (0: none), Gemma 2's attention softcapping.
 */
export interface AttentionMask {
  window?: number
  softcap?: number
}

export interface Backend {
  readonly name: string
  /** c: (m, n); op(a): (m, k); op(b): (k, n). A linear layer is gemm(y, x, W, T, out, in, {transB: true}). */
  gemm(c: Float32Array, a: Float32Array, b: Float32Array, m: number, n: number, k: number, opts?: GemmOpts): void
  /** out, x: (rows, dim); w: (dim). */
  rmsnorm(out: Float32Array, x: Float32Array, w: Float32Array, rows: number, dim: number, eps: number): void
  /** In place on x: (tokens, heads·hd); cos, sin: (seq, hd/2); token t sits at position t mod seq. */
  rope(x: Float32Array, cos: Float32Array, sin: Float32Array, tokens: number, seq: number, heads: number, hd: number, rot?: number): void
  /** out = silu(gate) ⊙ up. */
  siluMul(out: Float32Array, gate: Float32Array, up: Float32Array): void
  /** out = act(gate) ⊙ up, or act(gate) without up. */
  actMul(act: Activation, out: Float32Array, gate: Float32Array, up: Float32Array | null): void
  /** The gradient of actMul: dgate, and dup when there is an up. */
  actMulBackward(act: Activation, dgate: Float32Array, dup: Float32Array | null, dout: Float32Array, gate: Float32Array, up: Float32Array | null): void
  /** torch's LayerNorm with bias: out, x: (rows, dim); w, b: (dim). */
  layernorm(out: Float32Array, x: Float32Array, w: Float32Array, b: Float32Array, rows: number, dim: number, eps: number): void
  /** dx of layernorm; dw, db (if given) += their gradients. */
  layernormBackward(dx: Float32Array, dw: Float32Array | null, db: Float32Array | null, dy: Float32Array, x: Float32Array, w: Float32Array,
    rows: number, dim: number, eps: number): void
  /** x = tanh(x / cap)·cap in place (Gemma 2's logit softcapping). */
  softcap(x: Float32Array, cap: number): void
  /** In place: dy of y = softcap(x) becomes dx, computed from y. */
  softcapBackward(dx: Float32Array, y: Float32Array, cap: number): void
  /** x *= s. */
  scaleInplace(x: Float32Array, s: number): void
  /** x += y. */
  addInplace(x: Float32Array, y: Float32Array): void
  /** Causal GQA. q, out: (batch·seq, nh·hd); k, v: (batch·seq, nkv·hd). */
  attention(out: Float32Array, q: Float32Array, k: Float32Array, v: Float32Array, batch: number, seq: number,
    nh: number, nkv: number, hd: number, scale: number, mask?: AttentionMask): void
  /** n new queries at positions past.. over a KV cache of past+n rows; q, out: (n, nh·hd); kc, vc: (past+n, nkv·hd). */
  attentionCached(out: Float32Array, q: Float32Array, kc: Float32Array, vc: Float32Array, n: number, past: number, nh: number, nkv: number, hd: number, scale: number,
    mask?: AttentionMask): void
  /** losses[r] = logsumexp(logits[r]) − logits[r][targets[r]]; logits: (rows, vocab). */
  nllRows(losses: Float32Array, logits: Float32Array, targets: Int32Array, rows: number, vocab: number): void
  /** kl[r] = KL(softmax(base[r]) ‖ softmax(other[r])) in nats; same[r] = 1 when both rows' first largest logits agree. (rows, vocab) */
  klRows(kl: Float32Array, same: Uint8Array, base: Float32Array, other: Float32Array, rows: number, vocab: number): void
  /** dx of y = rmsnorm(x)·w; dw (if given) += ∂L/∂w. */
  rmsnormBackward(dx: Float32Array, dw: Float32Array | null, dy: Float32Array, x: Float32Array, w: Float32Array, rows: number, dim: number, eps: number): void
  /** In place: dy of rope's output becomes dx of its input. */
  ropeBackward(dx: Float32Array, cos: Float32Array, sin: Float32Array, tokens: number, seq: number, heads: number, hd: number, rot?: number): void
  /** out = silu(gate) ⊙ up → dgate, dup. */
  siluMulBackward(dgate: Float32Array, dup: Float32Array, dout: Float32Array, gate: Float32Array, up: Float32Array): void
  /** Causal GQA attention backward; dq, dk, dv are written. */
  attentionBackward(dq: Float32Array, dk: Float32Array, dv: Float32Array, dout: Float32Array, q: Float32Array, k: Float32Array, v: Float32Array,
    batch: number, seq: number, nh: number, nkv: number, hd: number, scale: number, mask?: AttentionMask): void
  /**
   * One tile of a vocabulary read a tile at a time: columns col0..col0+cols of each row's logits (rows, cols).
   * Folds the tile into each row's running max `mx` (start at −∞) and sum of exp(logit − mx) (start at 0);
   * zt[r] receives the logit of targets[r] when the tile holds that word. log-sum-exp = mx + log(sum).
   */
  lseTile(mx: Float32Array, sum: Float32Array, zt: Float32Array, logits: Float32Array, targets: Int32Array, col0: number, rows: number, cols: number): void
  /** In place on a tile as lseTile's: logits become rowScale[r]·(softmax − onehot(target)), given each row's log-sum-exp. */
  xentTileBackward(logits: Float32Array, lse: Float32Array, targets: Int32Array, rowScale: Float32Array, col0: number, rows: number, cols: number): void
  /** One AdamW step in place on p with moments m, v (bias-corrected; decoupled weight decay). */
  adamwStep(p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, o: {lr: number; beta1: number; beta2: number; eps: number; weightDecay: number; step: number}): void
  /** y (tokens, rows) = x (tokens, cols) · Wᵀ, W (rows, cols) in float32 or bf16: decode and short prefills. */
  matmulDense(y: Float32Array, w: Values, x: Float32Array, tokens: number, rows: number, cols: number): void
  /**
   * N:M packing (M ≤ 16): vals (rows, cols/M·N) in column order, zero-padded; pos the positions within each group,
   * 4-bit fields two per byte, row stride ⌈cols/M·N/2⌉. −1, or the flat index of the first group with more than N non-zeros.
   */
  packNm(vals: Float32Array, pos: Uint8Array, w: Float32Array, rows: number, cols: number, n: number, m: number): number
  unpackNm(out: Float32Array, vals: Float32Array, pos: Uint8Array, rows: number, cols: number, n: number, m: number): void
  /** matmulDense for an N:M-packed W; for 2:4 the positions in block order (nm24Blocks). */
  matmulNm(y: Float32Array, vals: Values, pos: Uint8Array, x: Float32Array, tokens: number, rows: number, cols: number, n: number, m: number): void
  /**
   * 2:4 positions (rows, cols/4) between the file order (byte g: positions of kept values 2g, 2g+1) and the block
   * order matmulNm reads for 2:4: in each full block of 16 groups, byte i holds the positions of kept values i
   * (low nibble) and 16 + i (high), the order the kernel's permute indices come in; later groups keep the file order.
   */
  nm24Blocks(pos: Uint8Array, rows: number, cols: number, toBlocks: boolean): void
  /** matmulDense for a bitmask-packed W (values, row bitmasks of ⌈cols/8⌉ bytes, row offsets into the values). */
  matmulBitmask(y: Float32Array, vals: Values, mask: Uint8Array, offsets: BigInt64Array, x: Float32Array, tokens: number, rows: number, cols: number): void
  /**
   * matmulDense for a GQSA block-sparse-row W: kept groups of `group` columns, w = scale·(code − zero), in the pair
   * layout (codes of groups 2i and 2i+1 share `group` bytes: byte j holds code j of the first in its low nibble, of
   * the second in its high one) with offsetZeros = 2^23 + zero (src/packed/gqsa-layout.ts says why).
   */
  matmulGqsa(y: Float32Array, rowPtr: Int32Array, col: Uint16Array, pairs: Uint8Array, scales: Float32Array, offsetZeros: Float32Array,
    x: Float32Array, tokens: number, rows: number, cols: number, group: number): void
  bf16ToF32(out: Float32Array, input: Uint16Array): void
  /** For x: (nseq·seq, cols), accumulates sum[j] += Σx_j, sumsq[j] += Σx_j², varsum[j] += Σ over sequences of the population variance. */
  columnStats(sum: Float64Array, sumsq: Float64Array, varsum: Float64Array, x: Float32Array, nseq: number, seq: number, cols: number): void
  /** out = |w| · scale_j;  w, out: (rows, cols). */
  absScaled(out: Float32Array, w: Float32Array, scale: Float32Array, rows: number, cols: number): void
  /** mask (1 = pruned) of the k smallest scores of each row; ties to the lower column. */
  selectRowK(mask: Uint8Array, score: Float32Array, rows: number, cols: number, k: number): void
  /** mask of the n smallest scores in each aligned group of m columns; ties to the lower column. */
  selectNM(mask: Uint8Array, score: Float32Array, rows: number, cols: number, n: number, m: number): void
  /** mask of every score ≤ the k-th smallest (0-based) of the whole array. */
  selectThreshold(mask: Uint8Array, score: Float32Array, k: number): void
  /** acc += (scale·g)², GBLM's gradient accumulator. */
  accumulateSquares(acc: Float32Array, g: Float32Array, scale: number): void
  /** out += |w|·g. */
  absMulAdd(out: Float32Array, w: Float32Array, g: Float32Array): void
  /** [zeros of x: (rows, cols), the fewest zeros in any aligned group of m columns (0 when m = 0)]. */
  zeroStats(x: Float32Array, rows: number, cols: number, m: number): [number, number]
  /** [Σ (a−b)²·s_j, Σ a²·s_j] over a, b: (rows, cols). */
  weightedSqDiff(a: Float32Array, b: Float32Array, s: Float32Array, rows: number, cols: number): [number, number]
  /** h: (n, n): the lower triangle (and diagonal) times scale, copied onto the upper triangle. */
  mirrorLower(h: Float32Array, n: number, scale: number): void
  /** compressed-tensors sparse-bitmask of w: (rows, cols): values W[W≠0] row-major, bitmask, row offsets; returns nnz. */
  packBitmask(values: Float32Array, bitmask: Uint8Array, offsets: BigInt64Array, w: Float32Array, rows: number, cols: number): number
  /** sparse-24-bitmask: top two |w| of each group of 4; returns −1, or the flat index of a group with more than two non-zeros. */
  pack24(values: Float32Array, bitmask: Uint8Array, w: Float32Array, rows: number, cols: number): number
  /** out (rows, cols) from values scattered by the bitmask; returns the count of values used, or −1 if there are too few. */
  unpackBitmask(out: Float32Array, values: Float32Array, bitmask: Uint8Array, rows: number, cols: number): number
  /** Σ x accumulated in double, in index order. */
  sumF64(x: Float32Array): number
  /** How many x[i] > t, compared in double. */
  countAbove(x: Float32Array, t: number): number
  /** How many values are NaN or infinite. */
  countNonFinite(x: Float32Array): number
  /** w = 0 where mask. */
  applyMask(w: Float32Array, mask: Uint8Array): void
  /**
   * SparseGPT's factor: u (cols, cols) upper with uᵀu = (h′ + λI)⁻¹, h′ = h with a unit diagonal on dead inputs,
   * λ = percdamp·mean(diag h′). Returns 0, or the 1-based pivot where it is not positive definite.
   */
  sparsegptFactor(u: Float32Array, h: Float32Array, cols: number, percdamp: number): number
  /** SparseGPT's OBS sweep in place on w: (rows, cols) with the factor u; dead inputs (h_jj = 0) zeroed. */
  sparsegptPrune(w: Float32Array, mask: Uint8Array, u: Float32Array, h: Float32Array, rows: number, cols: number, opts: SparseGptOpts): void
  /** GQSA: score (rows, cols/g) = the OBS loss ‖U_GG⁻ᵀ·w_G‖² of pruning each group of g columns, with SparseGPT's factor u. */
  gqsaSaliency(score: Float32Array, w: Float32Array, u: Float32Array, rows: number, cols: number, group: number): void
  /**
   * GQSA's one-shot sweep in place on w: groups marked in `pruned` (rows, cols/g) become 0, the others their dequantized
   * `bits`-bit codes with fp16 scales; each column's error is compensated on the later ones (GPTQ). Outputs one code per
   * weight (rows, cols) and the groups' scales and zeros (rows, cols/g).
   */
  gqsaSweep(w: Float32Array, pruned: Uint8Array, u: Float32Array, h: Float32Array, rows: number, cols: number, group: number, bits: number,
    codes: Uint8Array, scales: Float32Array, zeros: Float32Array): void
  /** wq = 0 for pruned groups, else s·(q − round(z)) with q = clamp(round(w/s) + round(z), 0, 2^bits − 1); the codes q too when given. */
  gqsaFakeQuant(wq: Float32Array, w: Float32Array, scales: Float32Array, zeros: Float32Array, pruned: Uint8Array, rows: number, cols: number, group: number, bits: number,
    codes: Uint8Array | null): void
  /** The straight-through gradients of gqsaFakeQuant: dw, and per group ds, dz, from dwq. */
  gqsaFakeQuantBackward(dw: Float32Array, ds: Float32Array, dz: Float32Array, dwq: Float32Array, w: Float32Array, scales: Float32Array, zeros: Float32Array,
    pruned: Uint8Array, rows: number, cols: number, group: number, bits: number): void
  /** The dense weight of a GQSA block-sparse-row layout (as matmulGqsa reads it): scale·(code − zero) in kept groups, 0 elsewhere. */
  gqsaUnpack(out: Float32Array, rowPtr: Int32Array, col: Uint16Array, pairs: Uint8Array, scales: Float32Array, offsetZeros: Float32Array, rows: number, cols: number, group: number): void
  /** GQSA codes from the file layout (each group its own group/2 bytes, low nibble first) to the pair layout of matmulGqsa. */
  gqsaPairCodes(pairs: Uint8Array, codes: Uint8Array, nnzb: number, group: number): void
  /** The inverse of gqsaPairCodes. */
  gqsaGroupCodes(codes: Uint8Array, pairs: Uint8Array, nnzb: number, group: number): void
  /** w = 0 for pruned groups, else scale·(code − zero), one code per weight. */
  gqsaDequant(w: Float32Array, codes: Uint8Array, scales: Float32Array, zeros: Float32Array, pruned: Uint8Array, rows: number, cols: number, group: number): void
  /** ds = Σ over each group of dw·(code − zero): the scale gradient with frozen codes (E2E-OQP). */
  gqsaScaleGrad(ds: Float32Array, dw: Float32Array, codes: Uint8Array, zeros: Float32Array, pruned: Uint8Array, rows: number, cols: number, group: number): void
  /** d = ∂/∂out of mean((out − target)²); returns that mean. */
  mseGrad(d: Float32Array, out: Float32Array, target: Float32Array): number
  f16ToF32(out: Float32Array, input: Uint16Array): void
  f32ToBf16(out: Uint16Array, input: Float32Array): void
  f32ToF16(out: Uint16Array, input: Float32Array): void
  /** n float32 values (whole blocks of 32) as ggml q8_0 blocks (34 bytes each) */
  ggmlQ8_0(out: Uint8Array, x: Float32Array): void
  /** … as ggml q4_1 blocks (20 bytes each) */
  ggmlQ4_1(out: Uint8Array, x: Float32Array): void
  /** w (rows, cols) as MatMulNBits 4-bit blocks by round-to-nearest: codes (rows, nb, block/2), scales (rows, nb), zeros (rows, ⌈nb/2⌉), all zeroed on entry */
  q4Blocks(codes: Uint8Array, scales: Float32Array, zeros: Uint8Array, w: Float32Array, rows: number, cols: number, block: number): void
  /** values (n, len) of `bits`-bit codes into int32 words along each row, the first in the lowest bits (compressed-tensors' pack_to_int32) */
  packInt32(out: Int32Array, values: Uint8Array, n: number, len: number, bits: number): void
  unpackInt32(out: Uint8Array, words: Int32Array, n: number, len: number, bits: number): void
  /** out (cols, rows) = w (rows, cols)ᵀ */
  transposeF32(out: Float32Array, w: Float32Array, rows: number, cols: number): void
  /**
   * The grid of w (rows, cols), a quantizer's dequantized output in groups of `group` along each row (a shorter last
   * one), if every value is bit for bit scale·k rounded to dtype: codes nibble-packed, scales and zeros per `unit`
   * columns. False (outputs partly written) when some group is not such a grid.
   */
  recoverGroups(codes: Uint8Array, scales: Float32Array, zeros: Float32Array, w: Float32Array, rows: number, cols: number, group: number, unit: number,
    dtype: FloatDtype): boolean
  /** Groups listed by row (one per scale) as MatMulNBits blocks, outputs zeroed on entry; false when a zero point is outside 0…15. */
  groupsQ4(codes: Uint8Array, scales: Float32Array, zeros: Uint8Array, rowPtr: Int32Array, colIdx: Uint16Array, gcodes: Uint8Array, gscales: Float32Array,
    gzeros: Float32Array, rows: number, cols: number, group: number, block: number): boolean
  /** … as ggml Q4_1 blocks (out zeroed on entry); false also when `exact` and a d or m is not an f16 value. */
  groupsQ4_1(out: Uint8Array, rowPtr: Int32Array, colIdx: Uint16Array, codes: Uint8Array, scales: Float32Array, zeros: Float32Array, rows: number, cols: number,
    group: number, exact: boolean): boolean
}
