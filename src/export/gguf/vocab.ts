import {existsSync, readFileSync} from 'node:fs'
import path from 'node:path'

import type {ModelConfig} from '../../model/config.js'
import {invalidFormat, notFound} from '../../util/errors.js'
import type {GgufValue} from './file.js'

/** llama.cpp's pre-tokenizer names for the split regexes of byte-level BPE tokenizers we recognise. */
const PRE_TOKENIZERS: Record<string, string> = {
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+": 'llama-bpe',
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+": 'qwen2',
}

/** gguf-py TokenType */
const TOKEN_TYPE = {normal: 1, control: 3, userDefined: 4, unused: 5} as const

type Json = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * tokenizer.json as llama.cpp's tokenizer keys. Byte-level BPE becomes `gpt2` with the
 * pre-tokenizer llama.cpp knows by name; anything else is refused rather than written as a
 * vocabulary that llama.cpp would split differently. A vocabulary-less file (`none`) loads in
 * llama.cpp but aborts the process at the first tokenization (node-llama-cpp does one on load), so
 * a folder without tokenizer.json is refused too.
 */
export function ggufVocab(dir: string, cfg: ModelConfig): Map<string, GgufValue> {
  const kv = new Map<string, GgufValue>()
  const file = path.join(dir, 'tokenizer.json')
  if (!existsSync(file)) {
    throw notFound(`${dir} has no tokenizer.json, which a GGUF file carries`, 'copy the tokenizer files of the original model into the folder')
  }
  const tok: Json = JSON.parse(readFileSync(file, 'utf8'))
  const model = tok.model ?? {}
  if (model.type !== 'BPE' || model.byte_fallback === true) {
    throw invalidFormat(`${file}: only byte-level BPE tokenizers are exported to GGUF (this one is ${model.byte_fallback ? 'SentencePiece-style BPE with byte fallback' : model.type})`,
      'SentencePiece vocabularies need llama.cpp\'s own converter (tokenizer.model)')
  }
  kv.set('tokenizer.ggml.model', {type: 'string', value: 'gpt2'})
  kv.set('tokenizer.ggml.pre', {type: 'string', value: preTokenizer(tok.pre_tokenizer, file)})
  const {tokens, types} = tokenList(tok, cfg.vocabSize, file)
  kv.set('tokenizer.ggml.tokens', {type: 'strings', value: tokens})
  kv.set('tokenizer.ggml.token_type', {type: 'i32s', value: types})
  const merges: (string | string[])[] = model.merges ?? []
  kv.set('tokenizer.ggml.merges', {type: 'strings', value: merges.map((m) => Array.isArray(m) ? m.join(' ') : m)})
  const special = specialIds(dir)
  for (const [key, id] of Object.entries(special)) if (id !== null) kv.set(`tokenizer.ggml.${key}_token_id`, {type: 'u32', value: id})
  kv.set('tokenizer.ggml.add_bos_token', {type: 'bool', value: addsBos(dir, tok)})
  kv.set('tokenizer.ggml.add_eos_token', {type: 'bool', value: false})
  const template = readJson(path.join(dir, 'tokenizer_config.json'))?.chat_template
  if (typeof template === 'string') kv.set('tokenizer.chat_template', {type: 'string', value: template})
  return kv
}

function preTokenizer(pre: Json | null, file: string): string {
  if (pre?.type === 'ByteLevel' && pre.use_regex !== false) return 'gpt-2'
  const parts: Json[] = pre?.type === 'Sequence' ? pre.pretokenizers : []
  const split = parts.find((p) => p.type === 'Split')
  const name = split ? PRE_TOKENIZERS[split.pattern?.Regex] : undefined
  if (name && parts.some((p) => p.type === 'ByteLevel' && p.use_regex === false)) return name
  throw invalidFormat(`${file}: the pre-tokenizer is not one llama.cpp knows by name (GPT-2, Llama 3 and Qwen2 byte-level splits are)`,
    'llama.cpp would split text differently; convert this tokenizer with llama.cpp\'s own converter')
}

/** Tokens by id, padded to the model's vocabulary as llama.cpp's converter pads ([PADi], unused). */
function tokenList(tok: Json, vocabSize: number, file: string): {tokens: string[]; types: number[]} {
  const tokens: (string | undefined)[] = new Array(vocabSize)
  const types: number[] = new Array(vocabSize).fill(TOKEN_TYPE.normal)
  const put = (id: number, text: string) => {
    if (id >= vocabSize) throw invalidFormat(`${file}: token ${JSON.stringify(text)} has id ${id}, beyond the model's vocab_size ${vocabSize}`)
    tokens[id] = text
  }
  for (const [text, id] of Object.entries(tok.model.vocab as Record<string, number>)) put(id, text)
  for (const a of tok.added_tokens ?? []) {
    put(a.id, a.content)
    types[a.id] = a.special ? TOKEN_TYPE.control : TOKEN_TYPE.userDefined
  }
  for (let i = 0; i < vocabSize; i++) {
    if (tokens[i] === undefined) { tokens[i] = `[PAD${i}]`; types[i] = TOKEN_TYPE.unused }
  }
  return {tokens: tokens as string[], types}
}

function readJson(file: string): Json | null {
  return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : null
}

/** BOS and EOS ids as generation_config.json, else config.json, states them. */
function specialIds(dir: string): {bos: number | null; eos: number | null} {
  const pick = (key: string): number | null => {
    for (const f of ['generation_config.json', 'config.json']) {
      const v = readJson(path.join(dir, f))?.[key]
      const id = Array.isArray(v) ? v[0] : v
      if (typeof id === 'number') return id
    }
    return null
  }
  return {bos: pick('bos_token_id'), eos: pick('eos_token_id')}
}

/** Whether encoding starts with BOS, as our tokenizer (model/tokenizer.ts) decides: add_bos_token or the post-processor's template. */
function addsBos(dir: string, tok: Json): boolean {
  if (readJson(path.join(dir, 'tokenizer_config.json'))?.add_bos_token === true) return true
  const single: Json[] = tok.post_processor?.single ?? []
  return single.length > 0 && 'SpecialToken' in single[0]
}
