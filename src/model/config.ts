import {parsePacking, type Packing} from '../packed/tensors.js'
import {existsSync, readFileSync} from 'node:fs'
import path from 'node:path'

import type {Activation} from '../kernels/backend.js'
import {invalidFormat, notFound, SparsifyError, EXIT} from '../util/errors.js'
import {FAMILIES, FEATURE_KEYS, type Family} from './arch/families.js'
import {parseRopeScaling, type RopeScaling} from './arch/rope-config.js'

export type {RopeScaling} from './arch/rope-config.js'

/** Mixture of experts as one block's MLP. */
export interface MoeConfig {
  experts: number
  topK: number
  /** The top-k routing weights renormalised to sum 1. */
  normTopk: boolean
  /** Each expert's intermediate width. */
  width: number
  /** Per layer: true where the MLP is the mixture, false where it is dense (Qwen3-MoE's mlp_only_layers). */
  sparse: boolean[]
}

/** A config.json normalised to what the engine needs. */
export interface ModelConfig {
  /** architectures[0] */
  arch: string
  /** The table entry of the architecture (./arch/families.ts). */
  family: Family
  /** Where the decoder's tensors are named: the family's prefix, or one of its alternatives the checkpoint uses. */
  prefix: string
  vocabSize: number
  hidden: number
  /** Width of the token embeddings and the head's input: hidden, or OPT's word_embed_proj_dim (projected in and out). */
  embedDim: number
  /** Norms before attention and MLP (the usual), or after each residual addition (OPT-350m's do_layer_norm_before false). */
  preNorm: boolean
  /** The final norm before the head exists (post-norm OPT has none). */
  finalNorm: boolean
  intermediate: number
  layers: number
  heads: number
  kvHeads: number
  headDim: number
  /** The epsilon of every norm (rms_norm_eps, or LayerNorm's 1e-5). */
  rmsEps: number
  ropeTheta: number
  ropeScaling: RopeScaling
  /** RoPE base of sliding-window layers, unscaled (Gemma 3's rope_local_base_freq), or null: as the others. */
  ropeLocalTheta: number | null
  /** Head dims that RoPE rotates (partial_rotary_factor·head_dim); 0 without RoPE (OPT). */
  rotaryDim: number
  tieEmbeddings: boolean
  /** Per-head norm of q and k before RoPE (Qwen3, Gemma 3). */
  qkNorm: boolean
  activation: Activation
  /** The factor of the token embeddings (Gemma: sqrt(hidden) in fp32), else 1. */
  embedScale: number
  /** Softmax scale of the attention scores (head_dim^-0.5, or query_pre_attn_scalar^-0.5). */
  attnScale: number
  /** tanh softcapping of the attention scores and of the final logits; 0 where off. */
  attnSoftcap: number
  finalSoftcap: number
  /** Per layer, the attention window (a query sees this many keys ending at itself), 0 for full attention. */
  windows: number[]
  moe: MoeConfig | null
  maxPositions: number
  /** Attention window, if the model limits it (Mistral); longer sequences are refused. */
  slidingWindow: number | null
  bosTokenId: number | null
  /** torch_dtype of the checkpoint as config.json states it. */
  torchDtype: string | null
  /** How the decoder linears are packed (sparsify's own formats), or null for dense P.weight tensors. */
  packing: Packing | null
}

export function readConfig(dir: string): ModelConfig {
  const file = path.join(dir, 'config.json')
  if (!existsSync(dir)) throw notFound(`model folder ${dir} does not exist`, 'pass the path of a Hugging Face model folder')
  if (!existsSync(file)) throw notFound(`${dir} has no config.json`, 'pass the folder of a Hugging Face checkpoint (config.json beside the safetensors files)')
  let raw: Record<string, unknown>
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'))
  } catch {
    throw invalidFormat(`${file} is not valid JSON`, 'restore the file from the original checkpoint')
  }
  return parseConfig(raw, file)
}

export function parseConfig(config: Record<string, unknown>, file = 'config.json'): ModelConfig {
  const arch = (config.architectures as string[] | undefined)?.[0] ?? String(config.model_type ?? 'unknown')
  const family = FAMILIES[arch]
  if (!family || !Object.hasOwn(FAMILIES, arch)) {
    throw new SparsifyError(`unsupported architecture ${arch}`, EXIT.invalidFormat, `supported: ${Object.keys(FAMILIES).join(', ')}`)
  }
  const text = family.textConfig ? config[family.textConfig] : config
  if (typeof text !== 'object' || text === null) throw invalidFormat(`${file}: ${family.textConfig} is missing`)
  const raw: Record<string, unknown> = {...family.defaults, torch_dtype: config.torch_dtype, quantization_config: config.quantization_config,
    ...text as Record<string, unknown>}
  for (const key of FEATURE_KEYS) {
    if (raw[key] !== undefined && raw[key] !== null && !family.features.includes(key)) {
      throw invalidFormat(`${file}: ${key} is set, but sparsify runs ${arch} without it`, 'the architecture table has no such feature for this family')
    }
  }
  const num = (key: string, fallback?: number): number => {
    const v = raw[key] ?? fallback
    if (typeof v !== 'number' || !Number.isFinite(v)) throw invalidFormat(`${file}: ${key} is missing or not a number`)
    return v
  }
  const opt = (key: string): number => (typeof raw[key] === 'number' ? raw[key] as number : 0)
  const hidden = num('hidden_size'), heads = num('num_attention_heads'), layers = num('num_hidden_layers')
  const headDim = typeof raw.head_dim === 'number' ? raw.head_dim : hidden / heads
  const embedDim = family.projections ? num('word_embed_proj_dim', hidden) : hidden
  // transformers' OPTDecoder: the final norm exists only with pre-norm blocks (and without the legacy _remove_final_layer_norm).
  const preNorm = family.preNormKey ? raw[family.preNormKey] !== false : true
  const useWindow = raw.use_sliding_window !== false && typeof raw.sliding_window === 'number'
  const layerTypes = family.features.includes('layer_types') ? parseLayerTypes(raw, layers, file) : null
  const window = layerTypes ? num('sliding_window') : 0
  const rotaryFactor = family.features.includes('partial_rotary_factor') ? num('partial_rotary_factor', 1) : 1
  return {
    arch, family, prefix: family.prefix,
    vocabSize: num('vocab_size'),
    hidden, embedDim, preNorm,
    finalNorm: preNorm && raw._remove_final_layer_norm !== true,
    intermediate: num(family.positions ? 'ffn_dim' : 'intermediate_size'),
    layers,
    heads,
    kvHeads: num('num_key_value_heads', heads),
    headDim,
    rmsEps: num('rms_norm_eps', family.norm === 'layer' ? 1e-5 : 1e-6),
    ropeTheta: num('rope_theta', 10000),
    ropeScaling: family.positions ? {type: 'none'} : parseRopeScaling(raw, file),
    ropeLocalTheta: family.features.includes('rope_local_base_freq') ? num('rope_local_base_freq') : null,
    rotaryDim: family.positions ? 0 : Math.floor(headDim * rotaryFactor),
    tieEmbeddings: raw.tie_word_embeddings === true || (family.tiedByDefault === true && raw.tie_word_embeddings === undefined),
    qkNorm: family.norms.q !== undefined,
    activation: parseActivation(raw, family, file),
    embedScale: family.embedScale ? Math.fround(Math.sqrt(hidden)) : 1,
    attnScale: 1 / Math.sqrt(family.features.includes('query_pre_attn_scalar') ? num('query_pre_attn_scalar', headDim) : headDim),
    attnSoftcap: family.features.includes('attn_logit_softcapping') ? opt('attn_logit_softcapping') : 0,
    finalSoftcap: family.features.includes('final_logit_softcapping') ? opt('final_logit_softcapping') : 0,
    windows: layerTypes ? layerTypes.map((t) => (t === 'sliding_attention' ? window : 0)) : new Array<number>(layers).fill(0),
    moe: parseMoe(raw, family, layers, file),
    maxPositions: num('max_position_embeddings', 2048),
    slidingWindow: !layerTypes && useWindow ? (raw.sliding_window as number) : null,
    bosTokenId: typeof raw.bos_token_id === 'number' ? raw.bos_token_id : null,
    torchDtype: typeof raw.torch_dtype === 'string' ? raw.torch_dtype : (typeof raw.dtype === 'string' ? raw.dtype : null),
    packing: parsePacking(raw.quantization_config, file),
  }
}

/** Gemma 2/3: which layers use the sliding window, from layer_types (or Gemma 3's older sliding_window_pattern). */
function parseLayerTypes(raw: Record<string, unknown>, layers: number, file: string): string[] {
  const types = raw.layer_types
  if (Array.isArray(types)) {
    if (types.length !== layers || types.some((t) => t !== 'sliding_attention' && t !== 'full_attention')) {
      throw invalidFormat(`${file}: layer_types must list sliding_attention or full_attention for each of the ${layers} layers`)
    }
    return types as string[]
  }
  // Before layer_types, Gemma 2 alternated sliding and full from layer 0, and Gemma 3 had every n-th layer full.
  const pattern = typeof raw.sliding_window_pattern === 'number' ? raw.sliding_window_pattern : 2
  return Array.from({length: layers}, (_, i) => ((i + 1) % pattern === 0 ? 'full_attention' : 'sliding_attention'))
}

const ACTIVATION_NAMES: Record<string, Activation> = {
  silu: 'silu', swish: 'silu', gelu_pytorch_tanh: 'gelu_tanh', gelu_new: 'gelu_tanh', relu: 'relu',
}

function parseActivation(raw: Record<string, unknown>, family: Family, file: string): Activation {
  const given = family.activationKeys.filter((k) => typeof raw[k] === 'string')
  if (given.length === 0) return family.norm === 'layer' ? 'relu' : family.norm === 'rms1p' ? 'gelu_tanh' : 'silu'
  const [first, ...rest] = given
  // Gemma 1 checkpoints were released with hidden_act "gelu" beside hidden_activation "gelu_pytorch_tanh": transformers runs the tanh form.
  const known = (k: string) => (raw[k] === 'gelu' && first === 'hidden_activation' ? raw[first] : raw[k])
  for (const k of rest) {
    if (known(k) !== raw[first]) throw invalidFormat(`${file}: ${k} ${JSON.stringify(raw[k])} disagrees with ${first} ${JSON.stringify(raw[first])}`)
  }
  const act = ACTIVATION_NAMES[raw[first] as string]
  if (!act) throw invalidFormat(`${file}: ${first} ${JSON.stringify(raw[first])} is not supported`, `supported: ${Object.keys(ACTIVATION_NAMES).join(', ')}`)
  return act
}

function parseMoe(raw: Record<string, unknown>, family: Family, layers: number, file: string): MoeConfig | null {
  const spec = family.moe
  if (!spec) return null
  const int = (key: string, fallback?: number) => {
    const v = raw[key] ?? fallback
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw invalidFormat(`${file}: ${key} is missing or not a positive integer`)
    return v
  }
  const experts = int(spec.countKey), topK = int('num_experts_per_tok')
  if (topK > experts) throw invalidFormat(`${file}: num_experts_per_tok ${topK} exceeds ${spec.countKey} ${experts}`)
  const dense = new Set(Array.isArray(raw.mlp_only_layers) ? raw.mlp_only_layers as number[] : [])
  const step = int('decoder_sparse_step', 1)
  return {
    experts, topK, width: int(spec.widthKey),
    normTopk: spec.normTopk === 'always' || raw.norm_topk_prob === true,
    sparse: Array.from({length: layers}, (_, i) => !dense.has(i) && (i + 1) % step === 0),
  }
}
