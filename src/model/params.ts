import type {ModelConfig} from './config.js'
import type {WeightSource} from './engine/backward.js'
import type {Model} from './model.js'
import {blockPrefix, LINEARS, linearShape, type BlockWeights, type Linear, type LinearName} from './weights.js'

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

  embeddings(): Float32Array { return this.get('model.embed_tokens.weight') }
  head(): Float32Array { return this.cfg.tieEmbeddings ? this.embeddings() : this.get('lm_head.weight') }
  finalNorm(): Float32Array { return this.get('model.norm.weight') }

  /** Views of the stored parameters (no copy): training updates show through. */
  block(layer: number): BlockWeights {
    const p = blockPrefix(layer)
    const linears = {} as Record<LinearName, Linear>
    for (const name of LINEARS) {
      const [out, inp] = linearShape(this.cfg, name)
      linears[name] = {weight: this.get(`${p}${name}.weight`), bias: this.tensors.get(`${p}${name}.bias`) ?? null, out, in: inp}
    }
    return {
      inputNorm: this.get(`${p}input_layernorm.weight`),
      postNorm: this.get(`${p}post_attention_layernorm.weight`),
      qNorm: this.tensors.get(`${p}self_attn.q_norm.weight`) ?? null,
      kNorm: this.tensors.get(`${p}self_attn.k_norm.weight`) ?? null,
      linears,
    }
  }
}
