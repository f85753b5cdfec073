import {readConfig, type ModelConfig} from './config.js'
import {Checkpoint} from './safetensors/checkpoint.js'
import {invalidFormat} from '../util/errors.js'
import {blockTensors, globalNames, normName, routerName, withCheckpointPrefix} from './arch/layout.js'
import type {NormSlot} from './arch/families.js'
import type {WeightSource} from './engine/source.js'
import {checkpointSource, loadBlock, readNorm, readShaped, type BlockWeights, type Norm, type TensorSource} from './weights.js'

/**
 * A Hugging Face causal LM opened for streaming: the embeddings, final norm and head are
 * loaded once; decoder blocks are read from the safetensors files one at a time.
 */
export class Model implements WeightSource {
  private embedCache: Float32Array | null = null
  private positionCache: Float32Array | null = null
  private headCache: Float32Array | null = null
  private normCache: Norm | null = null
  private readonly projectionCache = new Map<'in' | 'out', Float32Array>()

  private constructor(readonly dir: string, readonly cfg: ModelConfig, readonly ckpt: Checkpoint) {}

  static load(dir: string): Model {
    const parsed = readConfig(dir)
    const ckpt = Checkpoint.open(dir)
    const cfg = withCheckpointPrefix(parsed, (n) => ckpt.has(n))
    const names = globalNames(cfg)
    const required = [names.embed, cfg.finalNorm ? `${names.finalNorm}.weight` : null, names.positions, names.projectIn, names.projectOut]
    for (const name of required.filter((n): n is string => n !== null)) {
      if (!ckpt.has(name)) throw invalidFormat(`${dir}: checkpoint has no tensor ${name}`, `is it a ${cfg.arch} checkpoint? config.json and the weights disagree`)
    }
    const missing = missingBlockTensor(cfg, checkpointSource(ckpt, cfg.packing))
    if (missing) throw invalidFormat(`${dir}: checkpoint has no tensor ${missing}`, `config.json describes a ${cfg.arch} of ${cfg.layers} blocks; the weights lack this one`)
    if (!cfg.tieEmbeddings && !ckpt.has(names.head)) {
      throw invalidFormat(`${dir}: checkpoint has no ${names.head} and config.json does not tie embeddings`, 'set tie_word_embeddings in config.json if the head shares the embeddings')
    }
    return new Model(dir, cfg, ckpt)
  }

  /** (vocab, embedDim) */
  embeddings(): Float32Array {
    this.embedCache ??= readShaped(this.ckpt, globalNames(this.cfg).embed, [this.cfg.vocabSize, this.cfg.embedDim])
    return this.embedCache
  }

  positions(): Float32Array | null {
    const name = globalNames(this.cfg).positions
    if (!name) return null
    this.positionCache ??= readShaped(this.ckpt, name, [this.cfg.maxPositions + this.cfg.family.positions!.offset, this.cfg.hidden])
    return this.positionCache
  }

  /** (vocab, embedDim): lm_head, or the embeddings when tied. */
  head(): Float32Array {
    if (this.cfg.tieEmbeddings) return this.embeddings()
    this.headCache ??= readShaped(this.ckpt, globalNames(this.cfg).head, [this.cfg.vocabSize, this.cfg.embedDim])
    return this.headCache
  }

  finalNorm(): Norm | null {
    if (!this.cfg.finalNorm) return null
    this.normCache ??= readNorm(checkpointSource(this.ckpt, null), this.cfg, globalNames(this.cfg).finalNorm, this.cfg.hidden)
    return this.normCache
  }

  projection(which: 'in' | 'out'): Float32Array | null {
    const {hidden, embedDim} = this.cfg, names = globalNames(this.cfg)
    const name = which === 'in' ? names.projectIn : names.projectOut
    if (!name) return null
    let p = this.projectionCache.get(which)
    if (!p) this.projectionCache.set(which, p = readShaped(this.ckpt, name, which === 'in' ? [hidden, embedDim] : [embedDim, hidden]))
    return p
  }

  /** Block `layer`'s weights; pass the previous block to refill its buffers. */
  block(layer: number, reuse?: BlockWeights): BlockWeights {
    return loadBlock(this.ckpt, this.cfg, layer, reuse)
  }

  close(): void { this.ckpt.close() }
}

/** The first tensor the config implies that the checkpoint lacks (every block's linears, experts, routers and norms), or null. */
function missingBlockTensor(cfg: ModelConfig, src: TensorSource): string | null {
  for (let layer = 0; layer < cfg.layers; layer++) {
    const names = [...blockTensors(cfg, layer).map((t) => `${t.name}.weight`),
      ...(Object.keys(cfg.family.norms) as NormSlot[]).map((slot) => `${normName(cfg, layer, slot)}.weight`),
      ...(cfg.moe?.sparse[layer] ? [`${routerName(cfg, layer)}.weight`] : [])]
    const absent = names.find((n) => !src.has(n))
    if (absent) return absent
  }
  return null
}
