import assert from 'node:assert/strict'
import {getLlama, LlamaLogLevel, readGgufFileInfo, type Llama, type Token} from 'node-llama-cpp'

let llama: Promise<Llama> | null = null

/** llama.cpp on the CPU, from the prebuilt binary of the npm package (no build, no download). */
export function cpuLlama(): Promise<Llama> {
  llama ??= getLlama({gpu: false, build: 'never', logLevel: LlamaLogLevel.error})
  return llama
}

/**
 * Next-token probabilities of llama.cpp at every position of each row (one (vocab) array each, rows in turn), with a
 * float32 KV cache and flash attention off: the default f16 cache alone moves probabilities by ~1e-3, and llama.cpp's
 * flash attention (on by default for the CPU) casts a float32 cache to f16 before attending, which moved the qwen3
 * golden's (peaked distributions) by 1.7e-3 from position 0; either would hide what the file does.
 */
export async function llamaCppProbabilities(file: string, rows: number[][], vocab: number): Promise<Float32Array[]> {
  const model = await (await cpuLlama()).loadModel({modelPath: file})
  const out: Float32Array[] = []
  try {
    for (const ids of rows) {
      const ctx = await model.createContext({contextSize: Math.max(64, ids.length), batchSize: ids.length,
        experimentalKvCacheKeyType: 'F32', experimentalKvCacheValueType: 'F32', flashAttention: false})
      const res = await ctx.getSequence().controlledEvaluate(ids.map((t) => [t as Token, {generateNext: {probabilities: true}}]))
      await ctx.dispose()
      res.forEach((r, t) => {
        const p = new Float32Array(vocab)
        const probs = r?.next?.probabilities
        if (!probs) throw new Error(`llama.cpp gave no probabilities at position ${t}`)
        for (const [token, v] of probs) p[token] = v
        out.push(p)
      })
    }
  } finally {
    await model.dispose()
  }
  return out
}

export const ggufMetadata = async (file: string) => (await readGgufFileInfo(file, {readTensorInfo: false})).metadata

/** The keys every family's metadata shares, as llama.cpp reads them, against config.json (`a` is the arch's section). */
export function assertBlockMetadata(a: Record<string, any>, cfg: Record<string, any>): void {
  const headDim = cfg.head_dim ?? cfg.hidden_size / cfg.num_attention_heads
  assert.equal(a.block_count, cfg.num_hidden_layers)
  assert.equal(a.embedding_length, cfg.hidden_size)
  assert.equal(a.feed_forward_length, cfg.intermediate_size)
  assert.equal(a.attention.head_count, cfg.num_attention_heads)
  assert.equal(a.attention.head_count_kv, cfg.num_key_value_heads)
  assert.equal(a.attention.key_length, headDim)
  assert.equal(a.attention.layer_norm_rms_epsilon, Math.fround(cfg.rms_norm_eps))
  assert.equal(a.rope.freq_base, Math.fround(cfg.rope_theta))
  assert.equal(a.rope.dimension_count, Math.floor(headDim * (cfg.partial_rotary_factor ?? 1)))
}
