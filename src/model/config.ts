import {parsePacking, type Packing} from '../packed/tensors.js'
import {existsSync, readFileSync} from 'node:fs'
import path from 'node:path'

import {invalidFormat, notFound, SparsifyError, EXIT} from '../util/errors.js'

/** Architectures whose decoder block the engine implements; the value says what differs. */
export const ARCHS = {
  LlamaForCausalLM: {qkNorm: false},
  MistralForCausalLM: {qkNorm: false},
  Qwen2ForCausalLM: {qkNorm: false},
  Qwen3ForCausalLM: {qkNorm: true},
} as const

export type ArchName = keyof typeof ARCHS

export type RopeScaling =
  | {type: 'none'}
  | {type: 'linear'; factor: number}
  | {type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositions: number}

/** A config.json normalised to what the engine needs. */
export interface ModelConfig {
  arch: ArchName
  vocabSize: number
  hidden: number
  intermediate: number
  layers: number
  heads: number
  kvHeads: number
  headDim: number
  rmsEps: number
  ropeTheta: number
  ropeScaling: RopeScaling
  tieEmbeddings: boolean
  /** Per-head RMSNorm of q and k before RoPE (Qwen3). */
  qkNorm: boolean
  maxPositions: number
  /** Attention window, if the model limits it; longer sequences are refused. */
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

export function parseConfig(raw: Record<string, unknown>, file = 'config.json'): ModelConfig {
  const arch = (raw.architectures as string[] | undefined)?.[0] ?? String(raw.model_type ?? 'unknown')
  if (!Object.hasOwn(ARCHS, arch)) {
    throw new SparsifyError(`unsupported architecture ${arch}`, EXIT.invalidFormat,
      `supported: ${Object.keys(ARCHS).join(', ')}`)
  }
  const num = (key: string, fallback?: number): number => {
    const v = raw[key] ?? fallback
    if (typeof v !== 'number' || !Number.isFinite(v)) throw invalidFormat(`${file}: ${key} is missing or not a number`)
    return v
  }
  const hidden = num('hidden_size'), heads = num('num_attention_heads')
  const a = arch as ArchName
  const useWindow = raw.use_sliding_window !== false && typeof raw.sliding_window === 'number'
  return {
    arch: a,
    vocabSize: num('vocab_size'),
    hidden,
    intermediate: num('intermediate_size'),
    layers: num('num_hidden_layers'),
    heads,
    kvHeads: num('num_key_value_heads', heads),
    headDim: typeof raw.head_dim === 'number' ? raw.head_dim : hidden / heads,
    rmsEps: num('rms_norm_eps', 1e-6),
    ropeTheta: num('rope_theta', 10000),
    ropeScaling: parseRopeScaling(raw.rope_scaling, file),
    tieEmbeddings: raw.tie_word_embeddings === true,
    qkNorm: ARCHS[a].qkNorm,
    maxPositions: num('max_position_embeddings', 2048),
    slidingWindow: useWindow ? (raw.sliding_window as number) : null,
    bosTokenId: typeof raw.bos_token_id === 'number' ? raw.bos_token_id : null,
    torchDtype: typeof raw.torch_dtype === 'string' ? raw.torch_dtype : (typeof raw.dtype === 'string' ? raw.dtype : null),
    packing: parsePacking(raw.quantization_config, file),
  }
}

function parseRopeScaling(raw: unknown, file: string): RopeScaling {
  if (raw === undefined || raw === null) return {type: 'none'}
  const r = raw as Record<string, unknown>
  const type = r.rope_type ?? r.type
  const factor = typeof r.factor === 'number' ? r.factor : 1
  if (type === 'default') return {type: 'none'}
  if (type === 'linear') return {type: 'linear', factor}
  if (type === 'llama3') {
    return {
      type: 'llama3', factor,
      lowFreqFactor: Number(r.low_freq_factor ?? 1),
      highFreqFactor: Number(r.high_freq_factor ?? 4),
      originalMaxPositions: Number(r.original_max_position_embeddings ?? 8192),
    }
  }
  throw new SparsifyError(`${file}: rope_scaling type ${JSON.stringify(type)} is not supported`, EXIT.invalidFormat,
    'supported rope_scaling types: linear, llama3 (or none)')
}
