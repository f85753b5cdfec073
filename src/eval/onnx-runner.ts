import {existsSync, readdirSync, readFileSync} from 'node:fs'
import path from 'node:path'
import * as ort from 'onnxruntime-node'

import {kernels} from '../kernels/index.js'
import {readConfig, type ModelConfig} from '../model/config.js'
import {notFound} from '../util/errors.js'
import {positionStartOf} from '../export/onnx/families.js'

/** transformers.js's file for each dtype that config.json's transformers.js_config may name. */
const FILES: Record<string, string> = {fp32: 'model.onnx', fp16: 'model_fp16.onnx', q4: 'model_q4.onnx'}

/**
 * An exported ONNX folder run by onnxruntime-node, fed as transformers.js feeds it (input_ids,
 * attention_mask, position_ids, past_key_values.* → logits, present.*): the check of an export
 * by an engine that is not ours.
 */
export class OnnxRunner {
  private past = new Map<string, ort.Tensor>()
  private length = 0

  private constructor(readonly dir: string, readonly cfg: ModelConfig, readonly file: string, private readonly session: ort.InferenceSession,
    private readonly positionStart: number) {}

  static async load(dir: string, threads?: number): Promise<OnnxRunner> {
    const cfg = readConfig(dir)
    const raw = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8'))
    const onnxDir = path.join(dir, 'onnx')
    const named = FILES[raw['transformers.js_config']?.dtype]
    const found = existsSync(onnxDir) ? readdirSync(onnxDir).filter((f) => f.endsWith('.onnx')) : []
    const file = named && found.includes(named) ? named : found.length === 1 ? found[0] : undefined
    if (!file) {
      throw notFound(`${dir} has no onnx/model*.onnx${found.length > 1 ? ' that config.json\'s transformers.js_config names' : ''}`,
        'export one with sparsify export <model> --format onnx --out <dir>, or run --engine native on a safetensors checkpoint')
    }
    const session = await ort.InferenceSession.create(path.join(onnxDir, file), {
      executionProviders: ['cpu'], ...(threads ? {intraOpNumThreads: threads} : {}),
    })
    return new OnnxRunner(dir, cfg, `onnx/${file}`, session, positionStartOf(raw.model_type))
  }

  /** Forgets the cache: the next step starts a new sequence. */
  reset(): void {
    this.past.clear()
    this.length = 0
  }

  /** Feeds `ids` after what was fed before; returns their logits (ids.length, vocab). */
  async step(ids: number[]): Promise<Float32Array> {
    const {cfg} = this, n = ids.length, total = this.length + n
    const i64 = (values: number[]) => new ort.Tensor('int64', BigInt64Array.from(values.map(BigInt)), [1, values.length])
    const feeds: Record<string, ort.Tensor> = {
      input_ids: i64(ids),
      attention_mask: i64(new Array(total).fill(1)),
      position_ids: i64(ids.map((_, i) => this.positionStart + this.length + i)),
    }
    for (let l = 0; l < cfg.layers; l++) {
      for (const kv of ['key', 'value']) {
        feeds[`past_key_values.${l}.${kv}`] = this.past.get(`present.${l}.${kv}`)
          ?? new ort.Tensor('float32', new Float32Array(0), [1, cfg.kvHeads, 0, cfg.headDim])
      }
    }
    const out = await this.session.run(feeds)
    this.past = new Map(Object.entries(out).filter(([k]) => k.startsWith('present.')))
    this.length = total
    return out.logits.data as Float32Array
  }

  /** Each position's next-token loss over one chunk. */
  async tokenLosses(ids: number[]): Promise<Float32Array> {
    this.reset()
    const logits = await this.step(ids)
    this.reset()
    const m = ids.length - 1, losses = new Float32Array(m)
    kernels().nllRows(losses, logits.subarray(0, m * this.cfg.vocabSize), Int32Array.from(ids.slice(1)), m, this.cfg.vocabSize)
    return losses
  }

  close(): Promise<void> { return this.session.release() }
}
