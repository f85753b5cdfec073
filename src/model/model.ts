import {readConfig, type ModelConfig} from './config.js'
import {Checkpoint} from './safetensors/checkpoint.js'
import {invalidFormat} from '../util/errors.js'
import {loadBlock, readShaped, type BlockWeights} from './weights.js'

/**
 * A Hugging Face causal LM opened for streaming: the embeddings, final norm and head are
 * loaded once; decoder blocks are read from the safetensors files one at a time.
 */
export class Model {
  private embedCache: Float32Array | null = null
  private headCache: Float32Array | null = null
  private normCache: Float32Array | null = null

  private constructor(readonly dir: string, readonly cfg: ModelConfig, readonly ckpt: Checkpoint) {}

  static load(dir: string): Model {
    const cfg = readConfig(dir)
    const ckpt = Checkpoint.open(dir)
    const model = new Model(dir, cfg, ckpt)
    for (const name of ['model.embed_tokens.weight', 'model.norm.weight', `${blockName(cfg.layers - 1)}input_layernorm.weight`]) {
      if (!ckpt.has(name)) throw invalidFormat(`${dir}: checkpoint has no tensor ${name}`, `is it a ${cfg.arch} checkpoint? config.json and the weights disagree`)
    }
    if (!cfg.tieEmbeddings && !ckpt.has('lm_head.weight')) {
      throw invalidFormat(`${dir}: checkpoint has no lm_head.weight and config.json does not tie embeddings`, 'set tie_word_embeddings in config.json if the head shares the embeddings')
    }
    return model
  }

  /** (vocab, hidden) */
  embeddings(): Float32Array {
    this.embedCache ??= readShaped(this.ckpt, 'model.embed_tokens.weight', [this.cfg.vocabSize, this.cfg.hidden])
    return this.embedCache
  }

  /** (vocab, hidden): lm_head, or the embeddings when tied. */
  head(): Float32Array {
    if (this.cfg.tieEmbeddings) return this.embeddings()
    this.headCache ??= readShaped(this.ckpt, 'lm_head.weight', [this.cfg.vocabSize, this.cfg.hidden])
    return this.headCache
  }

  finalNorm(): Float32Array {
    this.normCache ??= readShaped(this.ckpt, 'model.norm.weight', [this.cfg.hidden])
    return this.normCache
  }

  /** Block `layer`'s weights; pass the previous block to refill its buffers. */
  block(layer: number, reuse?: BlockWeights): BlockWeights {
    return loadBlock(this.ckpt, this.cfg, layer, reuse)
  }

  close(): void { this.ckpt.close() }
}

const blockName = (layer: number) => `model.layers.${layer}.`
