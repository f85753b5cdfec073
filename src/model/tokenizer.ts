import {existsSync, readFileSync} from 'node:fs'
import path from 'node:path'
import {Tokenizer} from 'tokenizers'

import {invalidFormat, notFound} from '../util/errors.js'

/**
 * A model's tokenizer.json through Hugging Face's Rust tokenizers (the same ids as Python).
 * Special tokens come from the tokenizer's post-processor, and BOS also from
 * tokenizer_config.json's add_bos_token, as transformers applies it.
 */
export class TextTokenizer {
  private constructor(private readonly tok: Tokenizer, private readonly bosId: number | null,
    /** tokenizer_config.json's bos_token and eos_token, whether or not encode() adds them. */
    readonly special: {bos: number | null; eos: number | null}) {}

  static load(dir: string): TextTokenizer {
    const file = path.join(dir, 'tokenizer.json')
    if (!existsSync(file)) {
      throw notFound(`${dir} has no tokenizer.json, which text data needs`,
        'copy the tokenizer files into the model folder, or pass pre-tokenized data as a .json array of token-id arrays')
    }
    let tok: Tokenizer
    try {
      tok = Tokenizer.fromFile(file)
    } catch (err) {
      throw invalidFormat(`${file}: cannot load tokenizer (${(err as Error).message.split('\n')[0]})`, 'restore tokenizer.json from the original model')
    }
    const cfg = readTokenizerConfig(dir)
    const special = {bos: specialId(tok, cfg?.bos_token), eos: specialId(tok, cfg?.eos_token)}
    return new TextTokenizer(tok, cfg?.add_bos_token === true ? special.bos : null, special)
  }

  get vocabSize(): number { return this.tok.getVocabSize(true) }

  async encode(text: string): Promise<number[]> {
    const ids = (await this.tok.encode(text, null, {addSpecialTokens: true})).getIds()
    if (this.bosId !== null && ids[0] !== this.bosId) ids.unshift(this.bosId)
    return ids
  }

  /** Text of ids, special tokens left out. */
  async decode(ids: number[]): Promise<string> {
    return this.tok.decode(ids, true)
  }

  /** Without special tokens: for pieces of a document (calibration windows). */
  async encodePlain(text: string): Promise<number[]> {
    return (await this.tok.encode(text, null, {addSpecialTokens: false})).getIds()
  }
}

function readTokenizerConfig(dir: string): Record<string, unknown> | null {
  const file = path.join(dir, 'tokenizer_config.json')
  if (!existsSync(file)) return null
  try {
    return JSON.parse(readFileSync(file, 'utf8'))
  } catch {
    throw invalidFormat(`${file} is not valid JSON`, 'restore it from the original model')
  }
}

/** A special token as tokenizer_config.json gives it (a string, or an object with `content`) → its id. */
function specialId(tok: Tokenizer, token: unknown): number | null {
  const content = typeof token === 'string' ? token : (token as {content?: string} | null | undefined)?.content
  return content ? tok.tokenToId(content) ?? null : null
}
