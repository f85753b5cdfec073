import {kernels} from '../kernels/index.js'
import {readPacked, type Packing} from '../packed/tensors.js'
import {isPackQuantized, readPackQuantizedDense} from '../packed/pack-quantized.js'
import {unpackWeight, type PackedWeight} from '../packed/weight.js'
import {invalidFormat} from '../util/errors.js'
import type {Checkpoint} from './safetensors/checkpoint.js'
import type {ModelConfig} from './config.js'

/** The linear layers of a decoder block, in the order the reference pruners visit them. */
export const LINEARS = [
  'self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'self_attn.o_proj',
  'mlp.gate_proj', 'mlp.up_proj', 'mlp.down_proj',
] as const
export type LinearName = (typeof LINEARS)[number]

/** The activations that feed the linears: q/k/v share one input, gate/up another. */
export type InputName = 'attn_in' | 'attn_out' | 'mlp_in' | 'mlp_out'
export const INPUT_OF: Record<LinearName, InputName> = {
  'self_attn.q_proj': 'attn_in', 'self_attn.k_proj': 'attn_in', 'self_attn.v_proj': 'attn_in', 'self_attn.o_proj': 'attn_out',
  'mlp.gate_proj': 'mlp_in', 'mlp.up_proj': 'mlp_in', 'mlp.down_proj': 'mlp_out',
}

export interface Linear {
  /** (out, in); empty when the engine multiplies by `packed` instead (decoding with a packed format). */
  weight: Float32Array
  packed?: PackedWeight
  /** (out) or null */
  bias: Float32Array | null
  out: number
  in: number
}

/** One decoder block's float32 weights: all the engine holds of the model at a time. */
export interface BlockWeights {
  inputNorm: Float32Array
  postNorm: Float32Array
  qNorm: Float32Array | null
  kNorm: Float32Array | null
  linears: Record<LinearName, Linear>
  /**
   * q, k, v stacked into one linear and gate, up into another (decoding): then those five entries of
   * `linears` hold no weights.
   */
  fused?: {qkv: Linear; gateUp: Linear}
}

export const blockPrefix = (layer: number) => `model.layers.${layer}.`

export function linearShape(cfg: ModelConfig, name: LinearName): [out: number, inp: number] {
  const q = cfg.heads * cfg.headDim, kv = cfg.kvHeads * cfg.headDim
  switch (name) {
    case 'self_attn.q_proj': return [q, cfg.hidden]
    case 'self_attn.k_proj': case 'self_attn.v_proj': return [kv, cfg.hidden]
    case 'self_attn.o_proj': return [cfg.hidden, q]
    case 'mlp.gate_proj': case 'mlp.up_proj': return [cfg.intermediate, cfg.hidden]
    case 'mlp.down_proj': return [cfg.hidden, cfg.intermediate]
  }
}

/**
 * Reads block `layer`. With `reuse` (an earlier block's weights), the same buffers are
 * filled again, so streaming a model never holds more than one block.
 */
export function loadBlock(ckpt: Checkpoint, cfg: ModelConfig, layer: number, reuse?: BlockWeights): BlockWeights {
  const p = blockPrefix(layer)
  const linears = {} as Record<LinearName, Linear>
  for (const name of LINEARS) {
    const [out, inp] = linearShape(cfg, name)
    const old = reuse?.linears[name]
    const weight = isPackQuantized(ckpt, `${p}${name}`) ? readInto(readPackQuantizedDense(ckpt, `${p}${name}`, out, inp), old?.weight)
      : cfg.packing && !ckpt.has(`${p}${name}.weight`)
      ? readPackedDense(ckpt, cfg.packing, `${p}${name}`, out, inp, old?.weight)
      : readShaped(ckpt, `${p}${name}.weight`, [out, inp], old?.weight)
    const bias = ckpt.has(`${p}${name}.bias`) ? readShaped(ckpt, `${p}${name}.bias`, [out], old?.bias ?? undefined) : null
    linears[name] = {weight, bias, out, in: inp}
  }
  return {...blockNorms(ckpt, cfg, layer, reuse), linears}
}

/** Block `layer`'s norm weights (refilling `reuse`'s buffers when given). */
export function blockNorms(ckpt: Checkpoint, cfg: ModelConfig, layer: number, reuse?: BlockWeights): Omit<BlockWeights, 'linears'> {
  const p = blockPrefix(layer)
  return {
    inputNorm: readShaped(ckpt, `${p}input_layernorm.weight`, [cfg.hidden], reuse?.inputNorm),
    postNorm: readShaped(ckpt, `${p}post_attention_layernorm.weight`, [cfg.hidden], reuse?.postNorm),
    qNorm: cfg.qkNorm ? readShaped(ckpt, `${p}self_attn.q_norm.weight`, [cfg.headDim], reuse?.qNorm ?? undefined) : null,
    kNorm: cfg.qkNorm ? readShaped(ckpt, `${p}self_attn.k_norm.weight`, [cfg.headDim], reuse?.kNorm ?? undefined) : null,
  }
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
  return into ? ckpt.readF32Into(name, into) : ckpt.readF32(name)
}
