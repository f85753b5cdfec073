import {existsSync, readFileSync} from 'node:fs'
import path from 'node:path'
import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {intFlag} from '../cli/flags.js'
import {resolveModel} from '../hub/download.js'
import {OnnxRunner} from '../eval/onnx-runner.js'
import {argmax, Decoder} from '../model/engine/decode.js'
import {Model} from '../model/model.js'
import {DECODE_FORMATS, PackedStore, type DecodeFormat} from '../packed/store.js'
import {TextTokenizer} from '../model/tokenizer.js'
import {EXIT_CODES_HELP, usage} from '../util/errors.js'

/** End-of-sequence ids from generation_config.json, else config.json. */
function eosIds(dir: string): number[] {
  for (const f of ['generation_config.json', 'config.json']) {
    const file = path.join(dir, f)
    if (!existsSync(file)) continue
    const eos = JSON.parse(readFileSync(file, 'utf8')).eos_token_id
    if (eos !== undefined) return [eos].flat().filter((e): e is number => typeof e === 'number')
  }
  return []
}

export default class Generate extends BaseCommand<typeof Generate> {
  static summary = 'Continue a prompt greedily with the engine (KV cache), printing tokens as they come and the speed.'
  static description = `The model is held in memory for decoding (unlike eval and prune, which stream blocks), its decoder linears in the chosen format and multiplied by that format's kernel.\n\n${EXIT_CODES_HELP}`
  static examples = ['<%= config.bin %> generate fixtures/tiny-llama --prompt "The jury said"']
  static args = {model: Args.string({description: 'Hugging Face model folder, or hub id org/name[@revision]', required: true})}
  static flags = {
    prompt: Flags.string({description: 'the text to continue', required: true}),
    'max-new-tokens': intFlag({description: 'tokens to generate at most', default: 32, min: 1}),
    format: Flags.string({description: 'weight format the decoder linears are multiplied in (default: the checkpoint\'s packing, else f32); nm and bitmask pack a dense checkpoint on load',
      options: [...DECODE_FORMATS]}),
    engine: Flags.string({description: 'native: sparsify\'s engine on a checkpoint; onnxruntime: onnxruntime-node on a folder that export --format onnx wrote', options: ['native', 'onnxruntime'], default: 'native'}),
  }

  async run(): Promise<void> {
    const dir = await resolveModel(this.args.model, this.log_)
    const tok = TextTokenizer.load(dir)
    const prompt = await tok.encode(this.flags.prompt)
    if (prompt.length === 0) throw usage('the prompt tokenizes to nothing')
    const max = this.flags['max-new-tokens']
    const {step, format, linearBytes, close} = await this.open(dir, prompt.length + max)
    const eos = new Set(eosIds(dir))
    const out: number[] = []
    let printed = ''
    const start = performance.now()
    let logits = await step(prompt)
    const prefill = (performance.now() - start) / 1000
    const decodeStart = performance.now()
    for (let i = 0; i < max; i++) {
      const next = argmax(logits)
      if (eos.has(next)) break
      out.push(next)
      const text = await tok.decode(out)
      if (!this.flags.json) process.stdout.write(text.slice(printed.length))
      printed = text
      if (i + 1 < max) logits = await step([next])
    }
    const seconds = (performance.now() - decodeStart) / 1000
    await close()
    const result = {model: this.args.model, engine: this.flags.engine, format, linear_bytes: linearBytes, prompt: this.flags.prompt, text: printed, tokens: out, prompt_tokens: prompt.length,
      prefill_seconds: prefill, decode_seconds: seconds, tokens_per_second: out.length / Math.max(seconds, 1e-9)}
    if (this.flags.json) this.emit(result, [])
    else {
      process.stdout.write('\n')
      this.log_.info(`${out.length} tokens in ${seconds.toFixed(2)} s (${result.tokens_per_second.toFixed(1)} tokens/s with ${format} linears${linearBytes ? ` of ${(linearBytes / 2 ** 20).toFixed(1)} MiB` : ''}; prompt of ${prompt.length} in ${prefill.toFixed(2)} s)`)
    }
  }

  /** The chosen engine as one function: feed ids, get the last position's logits (vocab). */
  private async open(dir: string, maxLen: number): Promise<{step: (ids: number[]) => Promise<Float32Array>; format: string; linearBytes: number | null; close: () => Promise<void>}> {
    if (this.flags.engine === 'onnxruntime') {
      if (this.flags.format) throw usage('--format chooses the native engine\'s weight format', 'leave it out with --engine onnxruntime (the exported file fixes the weights)')
      const runner = await OnnxRunner.load(dir, this.flags.threads)
      const V = runner.cfg.vocabSize
      return {step: async (ids) => (await runner.step(ids)).slice(-V), format: runner.file, linearBytes: null, close: () => runner.close()}
    }
    const model = Model.load(dir)
    const format = (this.flags.format ?? model.cfg.packing?.format ?? 'f32') as DecodeFormat
    const store = PackedStore.load(model, format)
    model.close()
    const decoder = new Decoder(store, maxLen, undefined, store.headValues)
    return {step: async (ids) => decoder.step(ids), format, linearBytes: store.linearBytes(), close: async () => {}}
  }
}
