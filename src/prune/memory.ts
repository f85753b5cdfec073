import {existsSync, readFileSync} from 'node:fs'
import {freemem} from 'node:os'

import type {ModelConfig} from '../model/config.js'
import {EXPERT_STATS_BYTES, expertStatsBytes} from '../methods/sequential.js'
import type {PruningMethod} from '../methods/types.js'
import {usage} from '../util/errors.js'

/** Memory the kernel would give us now: MemAvailable where Linux reports it. */
export function availableBytes(): number {
  if (existsSync('/proc/meminfo')) {
    const m = /MemAvailable:\s+(\d+) kB/.exec(readFileSync('/proc/meminfo', 'utf8'))
    if (m) return Number(m[1]) * 1024
  }
  return freemem()
}

/** "24G", "512M", "1.5GiB", or plain bytes. */
export function parseBytes(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?$/i.exec(text.trim())
  if (!m) throw usage(`--max-memory must be a size in bytes, with an optional unit K, M, G or T (e.g. 16G, 1.5GiB), got ${text.trim() === '' ? 'nothing' : text}`)
  return Number(m[1]) * 1024 ** ' kmgt'.indexOf((m[2] || ' ').toLowerCase())
}

/**
 * Peak memory of `sparsify prune`, from the shapes alone: one block of float32 weights, the
 * embeddings and head, the calibration activations and block scratch, the method's statistics
 * (SparseGPT: Hessians and their factors) or gradient accumulators (GBLM), and the runtime.
 */
export function estimatePruneBytes(cfg: ModelConfig, method: PruningMethod, nsamples: number, seqlen: number, evalTokens: number): number {
  const f = 4, H = cfg.hidden, I = cfg.intermediate, q = cfg.heads * cfg.headDim, kv = cfg.kvHeads * cfg.headDim
  const moe = cfg.moe && cfg.moe.sparse.some(Boolean) ? cfg.moe : null
  // A mixture block holds every expert's weights and its router; statistics of a group of experts at a time (methods/sequential.ts).
  const mlpParams = Math.max(3 * H * I, moe ? moe.experts * (3 * H * moe.width + H) : 0)
  const blockParams = H * (q + 2 * kv) + q * H + mlpParams
  const expertStats = moe ? Math.min(moe.experts * expertStatsBytes(H, moe.width, method.needsHessian), EXPERT_STATS_BYTES + expertStatsBytes(H, moe.width, method.needsHessian)) : 0
  // OPT-350m's embeddings and head are word_embed_proj_dim wide, with project_in and project_out beside them.
  const embedAndHead = ((cfg.tieEmbeddings ? 1 : 2) * cfg.vocabSize * cfg.embedDim + (cfg.embedDim !== H ? 2 * H * cfg.embedDim : 0)) * f
  const callRows = Math.min(nsamples, Math.max(1, Math.floor(4096 / seqlen))) * seqlen
  const scratch = callRows * (3 * H + 2 * q + 2 * kv + 2 * Math.max(I, moe?.width ?? 0) + (moe ? 3 * H + moe.experts : 0)) * f
  const activations = method.needsCalibration ? nsamples * seqlen * H * f + scratch : 0
  const statistics = (method.needsHessian ? 2 * (2 * H * H + q * q + I * I) * f + 3 * I * I * f : 4 * (3 * H + q + I) * 8) + expertStats
  const gradients = method.needsGradients
    ? cfg.layers * blockParams * f + 2 * blockParams * f + seqlen * (10 * H + 4 * I + 2 * seqlen) * f + seqlen * cfg.vocabSize * f * 2
    : 0
  // Refinement (BQPO): the dense path's activations, and per weight a latent copy, a one-shot copy, Adam's two moments and a gradient.
  const refine = method.refineBlock ? nsamples * seqlen * H * f + 5 * blockParams * f + 2048 * (12 * H + 6 * I) * f : 0
  const evaluation = Math.min(evalTokens, 2 ** 29 / H) * H * f + 512 * cfg.vocabSize * f
  const runtime = 200 * 2 ** 20
  return 2 * blockParams * f + embedAndHead + activations + statistics + gradients + refine + evaluation + runtime
}
