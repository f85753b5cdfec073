import {kernels} from '../kernels/index.js'
import {readPacked, type Packing} from '../packed/tensors.js'
import {isPackQuantized, readPackQuantizedDense} from '../packed/pack-quantized.js'
import {unpackWeight, type PackedWeight} from '../packed/weight.js'
import {invalidFormat} from '../util/errors.js'
import type {Checkpoint} from './safetensors/checkpoint.js'
import type {ModelConfig} from './config.js'
import type {NormSlot, Role} from './arch/families.js'
import {blockTensors, normName, roleShape, routerName, layerPrefix, type InputName, type TensorInfo} from './arch/layout.js'

export type {InputName} from './arch/layout.js'

export interface Linear {
  /** (out, in); empty when the engine multiplies by `packed` instead (decoding with a packed format). */
  weight: Float32Array
  packed?: PackedWeight
  /** (out) or null */
  bias: Float32Array | null
  out: number
  in: number
}

/** A norm's weight as the engine applies it ((1 + w) already added for Gemma's norms), and LayerNorm's bias. */
export interface Norm {
  weight: Float32Array
  bias: Float32Array | null
}

/** A stored weight tensor of a block: the matrix pruning sees (a fused one whole). */
export interface BlockTensor extends TensorInfo {
  weight: Float32Array
  bias: Float32Array | null
}

export type RoleLinears = Partial<Record<Role, Linear>>

/** One decoder block's float32 weights: all the engine holds of the model at a time. */
export interface BlockWeights {
  layer: number
  norms: Partial<Record<NormSlot, Norm>>
  /** Attention and dense-MLP linears by role: views into `tensors` (a fused tensor gives several). */
  linears: RoleLinears
  /** The mixture's router (never pruned) and experts, on MoE layers. */
  router: Linear | null
  experts: RoleLinears[]
  tensors: BlockTensor[]
  /**
   * q, k, v stacked into one linear and gate, up into another (decoding, or a checkpoint that stores them
   * fused): the engine then multiplies by these instead of the roles' linears.
   */
  fused?: {qkv?: Linear; gateUp?: Linear}
}

/** Where a block's tensors come from: float32 values of a name, checked against the shape the config implies. */
export interface TensorSource {
  has(name: string): boolean
  read(name: string, shape: number[], into?: Float32Array): Float32Array
}

/** The roles of a (possibly fused) tensor as views of its rows. */
export function roleViews(cfg: ModelConfig, roles: readonly Role[], weight: Float32Array, bias: Float32Array | null, width?: number): RoleLinears {
  const out: RoleLinears = {}
  let row = 0
  for (const role of roles) {
    const [rows, cols] = roleShape(cfg, role, width)
    out[role] = {weight: weight.subarray(row * cols, (row + rows) * cols), bias: bias?.subarray(row, row + rows) ?? null, out: rows, in: cols}
    row += rows
  }
  return out
}

/**
 * Block `layer` from `src`. With `reuse` (an earlier block's weights), the same buffers are filled again
 * where the shapes agree, so streaming a model never holds more than one block.
 */
export function assembleBlock(src: TensorSource, cfg: ModelConfig, layer: number, reuse?: BlockWeights): BlockWeights {
  const old = new Map(reuse?.tensors.map((t) => [t.name.slice(layerPrefix(cfg, reuse.layer).length), t]))
  const p = layerPrefix(cfg, layer)
  const tensors: BlockTensor[] = blockTensors(cfg, layer).map((t) => {
    const prev = old.get(t.name.slice(p.length))
    const weight = src.read(`${t.name}.weight`, [t.rows, t.cols], prev?.weight)
    const bias = src.has(`${t.name}.bias`) ? src.read(`${t.name}.bias`, [t.rows], prev?.bias ?? undefined) : null
    return {...t, weight, bias}
  })
  const linears: RoleLinears = {}, experts: RoleLinears[] = []
  for (const t of tensors) {
    const width = t.expert === null ? cfg.intermediate : cfg.moe!.width
    const views = roleViews(cfg, t.roles, t.weight, t.bias, width)
    if (t.expert === null) Object.assign(linears, views)
    else Object.assign(experts[t.expert] ??= {}, views)
  }
  let router: Linear | null = null
  if (cfg.moe?.sparse[layer]) {
    const name = routerName(cfg, layer), E = cfg.moe.experts
    router = {weight: src.read(`${name}.weight`, [E, cfg.hidden]), bias: null, out: E, in: cfg.hidden}
  }
  const fused = fusedOf(tensors)
  return {layer, norms: blockNorms(src, cfg, layer), linears, router, experts, tensors, ...(fused ? {fused} : {})}
}

/** Tensors the checkpoint stores fused (Phi-3's qkv_proj, gate_up_proj) are multiplied as one. */
function fusedOf(tensors: BlockTensor[]): BlockWeights['fused'] | null {
  const as = (t: BlockTensor | undefined): Linear | undefined => t && {weight: t.weight, bias: t.bias, out: t.rows, in: t.cols}
  const qkv = as(tensors.find((t) => t.roles.length === 3)), gateUp = as(tensors.find((t) => t.expert === null && t.roles.length === 2))
  return qkv || gateUp ? {qkv, gateUp} : null
}

/** Block `layer`'s norms, as the engine applies them. */
export function blockNorms(src: TensorSource, cfg: ModelConfig, layer: number): Partial<Record<NormSlot, Norm>> {
  const norms: Partial<Record<NormSlot, Norm>> = {}
  for (const slot of Object.keys(cfg.family.norms) as NormSlot[]) {
    const dim = slot === 'q' || slot === 'k' ? cfg.headDim : cfg.hidden
    norms[slot] = readNorm(src, cfg, normName(cfg, layer, slot), dim)
  }
  return norms
}

/** A norm (`name` without `.weight`): Gemma's (1 + w) is added here, in fp32 as transformers does. */
export function readNorm(src: TensorSource, cfg: ModelConfig, name: string, dim: number): Norm {
  const w = src.read(`${name}.weight`, [dim])
  const weight = cfg.family.norm === 'rms1p' ? w.map((v) => 1 + v) : w
  return {weight, bias: cfg.family.norm === 'layer' ? src.read(`${name}.bias`, [dim]) : null}
}

/** A checkpoint as a TensorSource: packed linears are expanded to dense float32 (eval, prune, inspect). */
export function checkpointSource(ckpt: Checkpoint, packing: Packing | null): TensorSource {
  return {
    has: (name) => ckpt.has(name) || (name.endsWith('.weight') && isPackQuantized(ckpt, name.slice(0, -'.weight'.length)))
      || (packing !== null && name.endsWith('.weight') && ckpt.has(`${name}_${packing.format === 'gqsa' ? 'row_ptr' : 'values'}`)),
    read(name, shape, into) {
      const prefix = name.slice(0, -'.weight'.length)
      if (name.endsWith('.weight') && !ckpt.has(name) && isPackQuantized(ckpt, prefix)) return readInto(readPackQuantizedDense(ckpt, prefix, shape[0], shape[1]), into)
      if (packing && !ckpt.has(name) && name.endsWith('.weight')) return readPackedDense(ckpt, packing, prefix, shape[0], shape[1], into)
      return readShaped(ckpt, name, shape, into)
    },
  }
}

export function loadBlock(ckpt: Checkpoint, cfg: ModelConfig, layer: number, reuse?: BlockWeights): BlockWeights {
  return assembleBlock(checkpointSource(ckpt, cfg.packing), cfg, layer, reuse)
}

/** A packed linear's weight, expanded to dense float32 (for the GEMM paths: eval, prune, inspect). */
function readPackedDense(ckpt: Checkpoint, packing: Packing, prefix: string, rows: number, cols: number, into?: Float32Array): Float32Array {
  return readInto(unpackWeight(kernels(), readPacked(ckpt, prefix, rows, cols, packing), rows, cols), into)
}

function readInto(dense: Float32Array, into?: Float32Array): Float32Array {
  if (!into) return dense
  into.set(dense)
  return into
}

/** Reads a tensor (into `into` when given) and checks that its shape is the one the config implies. */
export function readShaped(ckpt: Checkpoint, name: string, shape: number[], into?: Float32Array): Float32Array {
  const got = ckpt.entry(name).shape
  if (got.length !== shape.length || got.some((d, i) => d !== shape[i])) {
    throw invalidFormat(`${name} has shape [${got}], but config.json implies [${shape}]`, 'config.json does not belong to these weights')
  }
  return into && into.length === got.reduce((a, b) => a * b, 1) ? ckpt.readF32Into(name, into) : ckpt.readF32(name)
}

/** The input activations of a block's linears that tensors share, with their widths. */
export function inputWidths(tensors: readonly TensorInfo[]): Map<InputName, number> {
  return new Map(tensors.map((t) => [t.input, t.cols]))
}
