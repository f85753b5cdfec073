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
