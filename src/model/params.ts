import type {ModelConfig} from './config.js'
import {globalNames} from './arch/layout.js'
import type {WeightSource} from './engine/source.js'
import type {Model} from './model.js'
import {assembleBlock, readNorm, type BlockWeights, type Norm, type TensorSource} from './weights.js'

/** Every parameter in memory as float32, by Hugging Face name: for training and finite differences. */
export class ParamStore implements WeightSource {
  constructor(readonly cfg: ModelConfig, readonly tensors: Map<string, Float32Array>) {}

  static fromModel(model: Model): ParamStore {
    return new ParamStore(model.cfg, new Map(model.ckpt.names().map((n) => [n, model.ckpt.readF32(n)])))
  }

  get(name: string): Float32Array {
    const t = this.tensors.get(name)
    if (!t) throw new Error(`no parameter ${name}`)
    return t
  }

  /** The stored parameters as a TensorSource: views, no copies. */
  private readonly source: TensorSource = {has: (name) => this.tensors.has(name), read: (name) => this.get(name)}

  embeddings(): Float32Array { return this.get(globalNames(this.cfg).embed) }
  positions(): Float32Array | null { const p = globalNames(this.cfg).positions; return p ? this.get(p) : null }
  head(): Float32Array { return this.cfg.tieEmbeddings ? this.embeddings() : this.get(globalNames(this.cfg).head) }
  finalNorm(): Norm | null { return this.cfg.finalNorm ? readNorm(this.source, this.cfg, globalNames(this.cfg).finalNorm, this.cfg.hidden) : null }
  projection(which: 'in' | 'out'): Float32Array | null {
    const name = globalNames(this.cfg)[which === 'in' ? 'projectIn' : 'projectOut']
    return name ? this.get(name) : null
  }

  /** Views of the stored parameters (no copy): training updates show through, except in Gemma's (1 + w) norms. */
  block(layer: number): BlockWeights {
    return assembleBlock(this.source, this.cfg, layer)
  }
}
