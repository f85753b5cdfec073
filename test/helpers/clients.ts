import {copyFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {forwardLogits, toBatch} from '../../src/model/engine/forward.js'
import {Model} from '../../src/model/model.js'
import {tempDir} from './cli.js'

/** Next-token probabilities of the engine at every position of `ids`: one (vocab) array per position. */
export function engineProbabilities(dir: string, ids: number[]): Float32Array[] {
  const model = Model.load(dir)
  const V = model.cfg.vocabSize
  const logits = forwardLogits(model, toBatch([ids]))
  model.close()
  return ids.map((_, t) => softmax(logits.subarray(t * V, (t + 1) * V)))
}

export function softmax(l: Float32Array): Float32Array {
  let max = -Infinity
  for (const v of l) max = Math.max(max, v)
  const p = new Float32Array(l.length)
  let sum = 0
  for (let i = 0; i < l.length; i++) sum += (p[i] = Math.exp(l[i] - max))
  for (let i = 0; i < l.length; i++) p[i] /= sum
  return p
}

export const argmax = (p: ArrayLike<number>): number => {
  let best = 0
  for (let i = 1; i < p.length; i++) if (p[i] > p[best]) best = i
  return best
}

/** Largest |Δp| over every position and token, and the fraction of positions with the same most likely token. */
export function agreement(a: Float32Array[], b: Float32Array[]): {maxAbs: number; top: number} {
  let maxAbs = 0, same = 0
  a.forEach((pa, t) => {
    for (let i = 0; i < pa.length; i++) maxAbs = Math.max(maxAbs, Math.abs(pa[i] - b[t][i]))
    if (argmax(pa) === argmax(b[t])) same++
  })
  return {maxAbs, top: same / a.length}
}

/**
 * A golden checkpoint (token ids only, no tokenizer) copied with a byte-level BPE tokenizer.json of
 * exactly its vocabulary: the 256 byte symbols, then merged pairs of letters. GGUF files carry a
 * vocabulary; these tests feed token ids, so only its size matters.
 */
export function goldenWithTokenizer(dir: string, vocab: number): string {
  const out = tempDir('sparsify-golden-')
  for (const f of ['config.json', 'model.safetensors']) copyFileSync(path.join(dir, f), path.join(out, f))
  const symbols = byteSymbols()
  const tokens: Record<string, number> = {}
  symbols.forEach((s, i) => { tokens[s] = i })
  const merges: string[][] = []
  const letters = 'abcdefghijklmnopqrstuvwxyz'
  for (let i = 0; symbols.length + merges.length < vocab; i++) {
    const pair = [letters[i % 26], letters[Math.floor(i / 26) % 26]]
    tokens[pair.join('')] = symbols.length + merges.length
    merges.push(pair)
  }
  const tokenizer = {
    version: '1.0', added_tokens: [], normalizer: null,
    pre_tokenizer: {type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true},
    post_processor: null, decoder: {type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true},
    model: {type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab: tokens, merges},
  }
  writeFileSync(path.join(out, 'tokenizer.json'), JSON.stringify(tokenizer))
  writeFileSync(path.join(out, 'tokenizer_config.json'), JSON.stringify({tokenizer_class: 'PreTrainedTokenizerFast'}))
  return out
}

/** GPT-2's printable stand-ins for the 256 bytes, in byte order. */
function byteSymbols(): string[] {
  const printable = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255)
  let n = 0
  return Array.from({length: 256}, (_, b) => String.fromCodePoint(printable(b) ? b : 256 + n++))
}
