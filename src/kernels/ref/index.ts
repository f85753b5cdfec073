import type {Backend} from '../backend.js'
import {attention, attentionCached} from './attention.js'
import {adamwStep, attentionBackward, rmsnormBackward, ropeBackward, siluMulBackward, lseTile, xentTileBackward} from './backward.js'
import {bf16ToF32, f16ToF32, f32ToBf16, f32ToF16} from './convert.js'
import {addInplace, siluMul} from './elementwise.js'
import {gemm} from './gemm.js'
import {ggmlQ4_1, ggmlQ8_0, packInt32, q4Blocks, transposeF32, unpackInt32} from './export-quant.js'
import {klRows, nllRows} from './loss.js'
import {groupsQ4, groupsQ4_1, recoverGroups} from './own-groups.js'
import {layernorm, layernormBackward, rmsnorm} from './norm.js'
import {actMul, actMulBackward, scaleInplace, softcap, softcapBackward} from './activation.js'
import {rope} from './rope.js'
import {matmulBitmask, matmulDense, matmulGqsa, matmulNm, nm24Blocks, packNm, unpackNm} from './spmv.js'
import {absMulAdd, absScaled, accumulateSquares, applyMask, columnStats, countAbove, countNonFinite, sumF64, zeroStats, weightedSqDiff, mirrorLower, packBitmask, pack24, unpackBitmask, selectNM, selectRowK, selectThreshold} from './prune.js'
import {sparsegptFactor, sparsegptPrune} from './sparsegpt.js'
import {gqsaUnpack, gqsaPairCodes, gqsaGroupCodes, gqsaDequant, gqsaFakeQuant, gqsaFakeQuantBackward, gqsaSaliency, gqsaScaleGrad, gqsaSweep, mseGrad} from './gqsa.js'

/** The readable reference backend: the definition of every kernel, and SPARSIFY_KERNELS=ref. */
export const refBackend: Backend = {
  name: 'ref', gemm, rmsnorm, rope, siluMul, actMul, actMulBackward, layernorm, layernormBackward, softcap, softcapBackward, scaleInplace, addInplace, attention, attentionCached, nllRows, klRows, bf16ToF32, f16ToF32, f32ToBf16, f32ToF16,
  columnStats, absScaled, selectRowK, selectNM, selectThreshold, applyMask, countNonFinite, sumF64, countAbove, zeroStats, weightedSqDiff, mirrorLower, packBitmask, pack24, unpackBitmask, accumulateSquares, absMulAdd, sparsegptFactor, sparsegptPrune,
  rmsnormBackward, ropeBackward, siluMulBackward, attentionBackward, lseTile, xentTileBackward, adamwStep,
  gqsaUnpack, gqsaPairCodes, gqsaGroupCodes, gqsaSaliency, gqsaSweep, gqsaFakeQuant, gqsaFakeQuantBackward, gqsaDequant, gqsaScaleGrad, mseGrad,
  matmulDense, packNm, unpackNm, nm24Blocks, matmulNm, matmulBitmask, matmulGqsa,
  ggmlQ8_0, ggmlQ4_1, q4Blocks, packInt32, unpackInt32, transposeF32, recoverGroups, groupsQ4, groupsQ4_1,
}
