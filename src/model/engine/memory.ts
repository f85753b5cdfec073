import type {ModelConfig} from '../config.js'

/** The engine computes in float32. */
export const F32 = 4
/** Node, V8's heaps and the addon, measured on an idle `sparsify` process, with margin. */
export const RUNTIME_BYTES = 200 * 2 ** 20

/** Parameters of the largest block: a mixture block holds every expert's weights and its router. */
export function blockParams(cfg: ModelConfig): number {
  const H = cfg.hidden, q = cfg.heads * cfg.headDim, kv = cfg.kvHeads * cfg.headDim
  const moe = cfg.moe && cfg.moe.sparse.some(Boolean) ? cfg.moe : null
  const mlp = Math.max(3 * H * cfg.intermediate, moe ? moe.experts * (3 * H * moe.width + H) : 0)
  return H * (q + 2 * kv) + q * H + mlp
}

/**
 * Bytes of the weights held while blocks stream: one block in float32 (the next block refills the same
 * buffers), the embeddings and the head. Half-precision reads are staged in a few MiB (safetensors/reader.ts).
 */
export function weightBytes(cfg: ModelConfig): number {
  // OPT-350m's embeddings and head are word_embed_proj_dim wide, with project_in and project_out beside them.
  const E = cfg.embedDim, projections = E !== cfg.hidden ? 2 * cfg.hidden * E : 0
  return (blockParams(cfg) + (cfg.tieEmbeddings ? 1 : 2) * cfg.vocabSize * E + projections) * F32
}

/** Tokens per decoder-block call (engine/forward.ts): large enough for GEMM efficiency, small enough for the scratch buffers. */
export const TOKENS_PER_CALL = 4096

/** Rows of one block call over sequences of `seq` tokens. */
export const callRows = (n: number, seq: number) => Math.min(n, Math.max(1, Math.floor(TOKENS_PER_CALL / seq))) * seq

/** BlockScratch over `rows` tokens, with the mixture's buffers (engine/scratch.ts, engine/moe.ts). */
export function scratchBytes(cfg: ModelConfig, rows: number): number {
  const H = cfg.hidden, q = cfg.heads * cfg.headDim, kv = cfg.kvHeads * cfg.headDim
  const moe = cfg.moe && cfg.moe.sparse.some(Boolean) ? cfg.moe : null
  return rows * (3 * H + 2 * q + 2 * kv + 2 * Math.max(cfg.intermediate, moe?.width ?? 0) + (moe ? 3 * H + moe.experts : 0)) * F32
}

/** Rows of logits the head computes at once (engine/forward.ts headTiles), so (seq, vocab) never exists whole. */
export const headTileRows = (vocab: number) => Math.max(1, Math.min(512, Math.floor(2 ** 25 / vocab)))

/** One tile of logits and its normed hidden states. */
export const headTileBytes = (cfg: ModelConfig) => headTileRows(cfg.vocabSize) * (cfg.vocabSize + cfg.hidden) * F32

/** One tile of the head's logits in the backward pass (engine/backward.ts): rows × vocabulary columns. */
export const BACKWARD_TILE_BYTES = 2 ** 25

/** The attention kernel's per-thread scores: one row of keys for each thread. */
export const attentionBytes = (seq: number, threads: number) => 64 * seq * F32 * threads

/** Peak bytes of a forward pass (sequenceLosses) over n sequences of `seq` tokens, hidden states of all kept at once. */
export function estimateForwardBytes(cfg: ModelConfig, n: number, seq: number, threads: number): number {
  return weightBytes(cfg) + n * seq * cfg.hidden * F32 + scratchBytes(cfg, callRows(n, seq)) + headTileBytes(cfg) + attentionBytes(seq, threads) + RUNTIME_BYTES
}
