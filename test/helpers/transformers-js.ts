import path from 'node:path'
import {AutoModelForCausalLM, AutoTokenizer, env, Tensor} from '@huggingface/transformers'

// Offline: folders on disk only, never the hub.
env.allowRemoteModels = false
env.allowLocalModels = true
env.localModelPath = path.parse(process.cwd()).root

/**
 * Greedy continuation by transformers.js of `prompt` (token ids) from an exported folder, loaded as a
 * user loads it (from_pretrained, dtype from config.json's transformers.js_config); the new tokens only.
 */
export async function transformersJsGenerate(dir: string, prompt: number[], maxNewTokens: number): Promise<number[]> {
  const model = await AutoModelForCausalLM.from_pretrained(path.resolve(dir))
  try {
    const ids = new Tensor('int64', BigInt64Array.from(prompt.map(BigInt)), [1, prompt.length])
    const mask = new Tensor('int64', new BigInt64Array(prompt.length).fill(1n), [1, prompt.length])
    // The typings name only `inputs`; generate passes the other model inputs (attention_mask) through.
    const params = {inputs: ids, attention_mask: mask, max_new_tokens: maxNewTokens, do_sample: false}
    const out = await model.generate(params as Parameters<typeof model.generate>[0]) as Tensor
    return (out.tolist() as bigint[][])[0].slice(prompt.length).map(Number)
  } finally {
    await model.dispose()
  }
}

/** The folder's tokenizer as transformers.js reads it. */
export const transformersJsTokenize = async (dir: string, text: string): Promise<number[]> =>
  ((await AutoTokenizer.from_pretrained(path.resolve(dir)))(text).input_ids.tolist() as bigint[][])[0].map(Number)
