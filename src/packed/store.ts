import {kernels, type Values} from '../kernels/index.js'
import type {ModelConfig} from '../model/config.js'
import type {Role} from '../model/arch/families.js'
import {blockTensors, globalNames} from '../model/arch/layout.js'
import type {WeightSource} from '../model/engine/source.js'
import type {Model} from '../model/model.js'
import {blockNorms, checkpointSource, type BlockWeights, type Linear, type Norm, type RoleLinears} from '../model/weights.js'
import {usage} from '../util/errors.js'
import {readPacked} from './tensors.js'
import {packDense, packedBytes, stackRows, type PackedWeight} from './weight.js'

/** The formats a model can be decoded with. */
export const DECODE_FORMATS = ['f32', 'bf16', 'nm', 'bitmask', 'gqsa'] as const
export type DecodeFormat = (typeof DECODE_FORMATS)[number]

const NO_DENSE = new Float32Array(0)

/**
 * The roles' linears stacked into one (their rows one after another), which then replaces them: one
 * product per token instead of three or two, for short products stream worse than long ones.
 */
function stack(linears: RoleLinears, roles: Role[]): Linear {
  const parts = roles.map((r) => linears[r]!)
  const out = parts.reduce((a, l) => a + l.out, 0)
  let bias: Float32Array | null = null
  if (parts.some((l) => l.bias)) {
    bias = new Float32Array(out)
    let at = 0
    for (const l of parts) { if (l.bias) bias.set(l.bias, at); at += l.out }
  }
  const packed = stackRows(kernels(), parts.map((l) => ({p: l.packed!, rows: l.out})))
  for (const r of roles) linears[r] = {weight: NO_DENSE, bias: null, out: linears[r]!.out, in: linears[r]!.in}
  return {weight: NO_DENSE, packed, bias, out, in: parts[0].in}
}

/**
 * The whole model in memory for decoding, every decoder linear in one format and multiplied by
 * that format's kernel; embeddings, norms, routers and head stay float32. A checkpoint already packed in the
 * format is read as stored; a dense one is packed on load.
 */
export class PackedStore implements WeightSource {
  private constructor(readonly cfg: ModelConfig, readonly format: DecodeFormat, private readonly blocks: BlockWeights[],
    private readonly packedLinears: Linear[],
    /** Read while the checkpoint is open: the model may be closed after loading. */
    private readonly globals: {embed: Float32Array; positions: Float32Array | null; head: Float32Array; norm: Norm | null
      projectIn: Float32Array | null; projectOut: Float32Array | null},
    /** The head as decoding reads it: bf16 when the checkpoint stores it so and the linears are not float32. */
    readonly headValues: Values) {}

  /** `prepare` may rewrite each dense weight before packing (the bench prunes its random model to 2:4 this way). */
  static load(model: Model, format: DecodeFormat, prepare?: (w: Float32Array, name: string, rows: number, cols: number) => void): PackedStore {
    const {cfg} = model, k = kernels()
    const stored = cfg.packing?.format
    if (format === 'gqsa' && stored !== 'gqsa') {
      throw usage('--format gqsa needs a checkpoint written by `sparsify prune --method gqsa --format gqsa`', 'dense weights do not carry GQSA codes')
    }
    const blocks: BlockWeights[] = [], all: Linear[] = []
    for (let l = 0; l < cfg.layers; l++) {
      const needDense = stored !== format
      const dense = needDense ? model.block(l) : null
      const linears: RoleLinears = {}, experts: RoleLinears[] = [], fused: {qkv?: Linear; gateUp?: Linear} = {}
      blockTensors(cfg, l).forEach((t, i) => {
        let packed: PackedWeight
        if (!needDense && cfg.packing) {
          packed = readPacked(model.ckpt, t.name, t.rows, t.cols, cfg.packing)
        } else {
          const w = dense!.tensors[i].weight
          prepare?.(w, t.name, t.rows, t.cols)
          const type = format === 'f32' ? 'f32' : format === 'bf16' ? 'bf16' : model.ckpt.entry(`${t.name}.weight`).dtype === 'BF16' ? 'bf16' : 'f32'
          const nm = cfg.packing?.format === 'nm' ? cfg.packing : {n: 2, m: 4}
          packed = packDense(k, w, t.rows, t.cols, format === 'f32' || format === 'bf16' ? 'dense' : format as 'nm' | 'bitmask', type, nm, `${t.name}.weight`)
        }
        const bias = model.ckpt.has(`${t.name}.bias`) ? model.ckpt.readF32(`${t.name}.bias`) : null
        const lin: Linear = {weight: NO_DENSE, packed, bias, out: t.rows, in: t.cols}
        all.push(lin)
        // A tensor stored fused (Phi-3) is already the stacked product.
        if (t.roles.length > 1) fused[t.roles.length === 3 ? 'qkv' : 'gateUp'] = lin
        else (t.expert === null ? linears : experts[t.expert] ??= {})[t.roles[0]] = lin
      })
      fused.qkv ??= stack(linears, ['q', 'k', 'v'])
      if (linears.gate) fused.gateUp ??= stack(linears, ['gate', 'up'])
      const norms = dense?.norms ?? blockNorms(checkpointSource(model.ckpt, null), cfg, l)
      const router = dense?.router ?? (cfg.moe?.sparse[l] ? model.block(l).router : null)
      blocks.push({layer: l, norms, linears, router, experts, tensors: [], fused})
    }
    const headName = cfg.tieEmbeddings ? globalNames(cfg).embed : globalNames(cfg).head
    const head = model.head()
    const headValues = format !== 'f32' && model.ckpt.entry(headName).dtype === 'BF16' ? (() => { const b = new Uint16Array(head.length); k.f32ToBf16(b, head); return b })() : head
    const globals = {embed: model.embeddings(), positions: model.positions(), head, norm: model.finalNorm(),
      projectIn: model.projection('in'), projectOut: model.projection('out')}
    return new PackedStore(cfg, format, blocks, all, globals, headValues)
  }

/** Bytes of the decoder linears as held for decoding. */
  linearBytes(): number {
    return this.packedLinears.reduce((s, l) => s + packedBytes(l.packed!), 0)
  }

  embeddings(): Float32Array { return this.globals.embed }
  positions(): Float32Array | null { return this.globals.positions }
  head(): Float32Array { return this.globals.head }
  finalNorm(): Norm | null { return this.globals.norm }
  projection(which: 'in' | 'out'): Float32Array | null { return which === 'in' ? this.globals.projectIn : this.globals.projectOut }
  block(layer: number): BlockWeights { return this.blocks[layer] }
}
