import {kernels, type Values} from '../kernels/index.js'
import type {ModelConfig} from '../model/config.js'
import type {WeightSource} from '../model/engine/backward.js'
import type {Model} from '../model/model.js'
import {blockNorms, blockPrefix, LINEARS, linearShape, type BlockWeights, type Linear, type LinearName} from '../model/weights.js'
import {usage} from '../util/errors.js'
import {readPacked} from './tensors.js'
import {packDense, packedBytes, stackRows, type PackedWeight} from './weight.js'

/** The formats a model can be decoded with. */
export const DECODE_FORMATS = ['f32', 'bf16', 'nm', 'bitmask', 'gqsa'] as const
export type DecodeFormat = (typeof DECODE_FORMATS)[number]

const NO_DENSE = new Float32Array(0)

const QKV: LinearName[] = ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj']
const GATE_UP: LinearName[] = ['mlp.gate_proj', 'mlp.up_proj']

/**
 * The named linears stacked into one (their rows one after another), which then replaces them: one
 * product per token instead of three or two, for short products stream worse than long ones.
 */
function stack(linears: Record<LinearName, Linear>, names: LinearName[]): Linear {
  const parts = names.map((n) => linears[n])
  const out = parts.reduce((a, l) => a + l.out, 0)
  let bias: Float32Array | null = null
  if (parts.some((l) => l.bias)) {
    bias = new Float32Array(out)
    let at = 0
    for (const l of parts) { if (l.bias) bias.set(l.bias, at); at += l.out }
  }
  const packed = stackRows(kernels(), parts.map((l) => ({p: l.packed!, rows: l.out})))
  for (const n of names) linears[n] = {weight: NO_DENSE, bias: null, out: linears[n].out, in: linears[n].in}
  return {weight: NO_DENSE, packed, bias, out, in: parts[0].in}
}

/**
 * The whole model in memory for decoding, every decoder linear in one format and multiplied by
 * that format's kernel; embeddings, norms and head stay float32. A checkpoint already packed in the
 * format is read as stored; a dense one is packed on load.
 */
export class PackedStore implements WeightSource {
  private constructor(readonly cfg: ModelConfig, readonly format: DecodeFormat, private readonly blocks: BlockWeights[],
    private readonly embed: Float32Array, private readonly lmHead: Float32Array, private readonly norm: Float32Array,
    /** The head as decoding reads it: bf16 when the checkpoint stores it so and the linears are not float32. */
    readonly headValues: Values) {}

  /** `prepare` may rewrite each dense weight before packing (the bench prunes its random model to 2:4 this way). */
  static load(model: Model, format: DecodeFormat, prepare?: (w: Float32Array, name: string, rows: number, cols: number) => void): PackedStore {
    const {cfg} = model, k = kernels()
    const stored = cfg.packing?.format
    if (format === 'gqsa' && stored !== 'gqsa') {
      throw usage('--format gqsa needs a checkpoint written by `sparsify prune --method gqsa --format gqsa`', 'dense weights do not carry GQSA codes')
    }
    const blocks: BlockWeights[] = []
    for (let l = 0; l < cfg.layers; l++) {
      const needDense = stored !== format
      const dense = needDense ? model.block(l) : null
      const norms = dense ?? blockNorms(model.ckpt, cfg, l)
      const linears = {} as Record<LinearName, Linear>
      for (const name of LINEARS) {
        const [rows, cols] = linearShape(cfg, name)
        const full = `${blockPrefix(l)}${name}`
        let packed: PackedWeight
        if (!needDense && cfg.packing) {
          packed = readPacked(model.ckpt, full, rows, cols, cfg.packing)
        } else {
          const w = dense!.linears[name].weight
          prepare?.(w, full, rows, cols)
          const type = format === 'f32' ? 'f32' : format === 'bf16' ? 'bf16' : model.ckpt.entry(`${full}.weight`).dtype === 'BF16' ? 'bf16' : 'f32'
          const nm = cfg.packing?.format === 'nm' ? cfg.packing : {n: 2, m: 4}
          packed = packDense(k, w, rows, cols, format === 'f32' || format === 'bf16' ? 'dense' : format as 'nm' | 'bitmask', type, nm, `${full}.weight`)
        }
        const bias = model.ckpt.has(`${full}.bias`) ? model.ckpt.readF32(`${full}.bias`) : null
        linears[name] = {weight: NO_DENSE, packed, bias, out: rows, in: cols}
      }
      const fused = {qkv: stack(linears, QKV), gateUp: stack(linears, GATE_UP)}
      blocks.push({inputNorm: norms.inputNorm, postNorm: norms.postNorm, qNorm: norms.qNorm, kNorm: norms.kNorm, linears, fused})
    }
    const headName = cfg.tieEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight'
    const head = model.head()
    const headValues = format !== 'f32' && model.ckpt.entry(headName).dtype === 'BF16' ? (() => { const b = new Uint16Array(head.length); k.f32ToBf16(b, head); return b })() : head
    return new PackedStore(cfg, format, blocks, model.embeddings(), head, model.finalNorm(), headValues)
  }

  /** Bytes of the decoder linears as held for decoding. */
  linearBytes(): number {
    return this.blocks.reduce((a, b) => a + [b.fused!.qkv, b.fused!.gateUp, b.linears['self_attn.o_proj'], b.linears['mlp.down_proj']]
      .reduce((s, l) => s + packedBytes(l.packed!), 0), 0)
  }

  embeddings(): Float32Array { return this.embed }
  head(): Float32Array { return this.lmHead }
  finalNorm(): Float32Array { return this.norm }
  block(layer: number): BlockWeights { return this.blocks[layer] }
}
