import {existsSync, readFileSync} from 'node:fs'
import {freemem} from 'node:os'

import type {ModelConfig} from '../model/config.js'
import {BACKWARD_TILE_BYTES, blockParams, callRows, F32, headTileBytes, RUNTIME_BYTES, scratchBytes, weightBytes} from '../model/engine/memory.js'
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
 * Peak memory of `sparsify prune`, from the shapes alone: one block of float32 weights and its pruned
 * copy, the embeddings and head, the calibration activations and block scratch, the method's statistics
 * (SparseGPT: Hessians and their factors) or gradient accumulators (GBLM), and the runtime.
 */
export function estimatePruneBytes(cfg: ModelConfig, method: PruningMethod, nsamples: number, seqlen: number, evalTokens: number): number {
  const H = cfg.hidden, I = cfg.intermediate, q = cfg.heads * cfg.headDim
  const moe = cfg.moe && cfg.moe.sparse.some(Boolean) ? cfg.moe : null
  const block = blockParams(cfg)
  // Statistics of a group of experts at a time (methods/sequential.ts).
  const expertStats = moe ? Math.min(moe.experts * expertStatsBytes(H, moe.width, method.needsHessian), EXPERT_STATS_BYTES + expertStatsBytes(H, moe.width, method.needsHessian)) : 0
  const activations = method.needsCalibration ? nsamples * seqlen * H * F32 + scratchBytes(cfg, callRows(nsamples, seqlen)) : 0
  const statistics = (method.needsHessian ? 2 * (2 * H * H + q * q + I * I) * F32 + 3 * I * I * F32 : 4 * (3 * H + q + I) * 8) + expertStats
  const gradients = method.needsGradients ? gradientPassBytes(cfg, seqlen) : 0
  // Refinement (BQPO): the dense path's activations, and per weight a latent copy, a one-shot copy, Adam's two moments and a gradient.
  const refine = method.refineBlock ? nsamples * seqlen * H * F32 + 5 * block * F32 + 2048 * (12 * H + 6 * I) * F32 : 0
  const evaluation = Math.min(evalTokens, 2 ** 29 / H) * H * F32 + headTileBytes(cfg)
  return weightBytes(cfg) + block * F32 + activations + statistics + gradients + refine + evaluation + RUNTIME_BYTES
}

/**
 * GBLM's gradient pass over one sequence (methods/gradnorm.ts): the accumulators of every block, one block's
 * gradients, its tape and the attention's scores, every block's input, and one tile of the head's logits
 * (with its softcapped copy): never (seqlen, vocab) at once.
 */
export function gradientPassBytes(cfg: ModelConfig, seqlen: number): number {
  const H = cfg.hidden, I = cfg.intermediate, block = blockParams(cfg)
  return (cfg.layers + 2) * block * F32 + (cfg.layers + 2) * seqlen * H * F32 + seqlen * (10 * H + 4 * I + 2 * seqlen) * F32 + 2 * BACKWARD_TILE_BYTES
}
