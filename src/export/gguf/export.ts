import {existsSync, renameSync, rmSync} from 'node:fs'
import path from 'node:path'

import type {ModelConfig} from '../../model/config.js'
import {Model} from '../../model/model.js'
import {inverseFrequencies} from '../../model/rope-tables.js'
import {usage} from '../../util/errors.js'
import type {Logger} from '../../util/log.js'
import {VERSION} from '../../version.js'
import {ggufFamily, GGUF_GLOBAL_NAMES, type GgufFamily} from './families.js'
import {sourceTensors, type SourceTensor} from '../source.js'
import {GgufWriter, tensorBytes, type GgmlType, type GgufTensorInfo, type GgufValue} from './file.js'
import {encodeGgml, groupsToQ4_1} from './quant.js'
import {ggufVocab} from './vocab.js'

export const GGUF_TYPES = ['f32', 'f16', 'bf16', 'q8_0', 'q4_1'] as const
export type GgufType = (typeof GGUF_TYPES)[number]

/** llama.cpp's LLAMA_FTYPE for each --type (general.file_type). */
const FILE_TYPE: Record<GgufType, number> = {f32: 0, f16: 1, q4_1: 3, q8_0: 7, bf16: 32}

export interface GgufExport {
  type: GgufType
  tensors: number
  bytes: number
  /** Q4_1 linears taken from their own groups (GQSA, GPTQ), and those rounded to nearest */
  groupLinears: number
  rtnLinears: number
  /** of the rounded ones, linears whose GPTQ groups f16 could not hold exactly */
  inexactGroupLinears: number
}

/** The checkpoint's own dtype as a GGUF type (config.json's torch_dtype; float32 when it says nothing). */
export function defaultGgufType(cfg: ModelConfig): GgufType {
  return cfg.torchDtype === 'bfloat16' ? 'bf16' : cfg.torchDtype === 'float16' ? 'f16' : 'f32'
}

/** Writes `dir` as one GGUF file at `out`, through a temporary file renamed into place when complete. */
export function exportGguf(dir: string, out: string, opts: {type?: GgufType; overwrite?: boolean; log: Logger}): GgufExport {
  if (existsSync(out) && !opts.overwrite) throw usage(`--out ${out} exists`, 'choose another file, or pass --overwrite')
  const model = Model.load(dir)
  try {
    const {cfg} = model
    const family = ggufFamily(cfg.arch)
    const type = opts.type ?? defaultGgufType(cfg)
    const meta = new Map([...metadata(cfg, family, type, path.basename(path.resolve(dir))), ...ggufVocab(dir, cfg)])
    const plan = planTensors(sourceTensors(model), cfg, family, type)
    const work = path.join(path.dirname(path.resolve(out)), `.${path.basename(out)}.sparsify-export`)
    const writer = new GgufWriter(work, meta, plan.map((p) => p.info))
    const counts = {groups: 0, rtn: 0, inexact: 0}
    try {
      plan.forEach((p, i) => {
        opts.log.step('writing tensors', i + 1, plan.length)
        const r = p.encode()
        if (r.linear) counts[r.linear]++
        if (r.linear === 'inexact') counts.rtn++
        writer.write(p.info.name, r.bytes)
      })
      writer.close()
      renameSync(work, out)
    } catch (err) {
      writer.abandon()
      rmSync(work, {force: true})
      throw err
    }
    const bytes = plan.reduce((a, p) => a + tensorBytes(p.info), 0)
    return {type, tensors: plan.length, bytes, groupLinears: counts.groups, rtnLinears: counts.rtn, inexactGroupLinears: counts.inexact}
  } finally {
    model.close()
  }
}

function metadata(cfg: ModelConfig, family: GgufFamily, type: GgufType, name: string): Map<string, GgufValue> {
  const a = family.arch
  const u32 = (value: number): GgufValue => ({type: 'u32', value})
  const f32 = (value: number): GgufValue => ({type: 'f32', value})
  const kv = new Map<string, GgufValue>([
    ['general.architecture', {type: 'string', value: a}],
    ['general.name', {type: 'string', value: name}],
    ['general.file_type', u32(FILE_TYPE[type])],
    ['general.quantization_version', u32(2)],
    ['general.source.software', {type: 'string', value: `sparsify ${VERSION}`}],
    [`${a}.vocab_size`, u32(cfg.vocabSize)],
    // llama.cpp's llama graph ignores sliding_window: past the window it would attend to more than the model does.
    // Past LongRoPE's original length transformers switches to the long factors, which the file does not state (planTensors).
    [`${a}.context_length`, u32(Math.min(cfg.maxPositions, cfg.slidingWindow ?? Infinity,
      cfg.ropeScaling.type === 'longrope' ? cfg.ropeScaling.originalMaxPositions : Infinity))],
    [`${a}.embedding_length`, u32(cfg.hidden)],
    [`${a}.block_count`, u32(cfg.layers)],
    [`${a}.feed_forward_length`, u32(cfg.intermediate)],
    [`${a}.attention.head_count`, u32(cfg.heads)],
    [`${a}.attention.head_count_kv`, u32(cfg.kvHeads)],
    [`${a}.attention.key_length`, u32(cfg.headDim)],
    [`${a}.attention.value_length`, u32(cfg.headDim)],
    [`${a}.attention.layer_norm_rms_epsilon`, f32(cfg.rmsEps)],
    [`${a}.rope.dimension_count`, u32(cfg.rotaryDim)],
    [`${a}.rope.freq_base`, f32(cfg.ropeTheta)],
  ])
  for (const [key, value] of Object.entries(family.meta?.(cfg) ?? {})) kv.set(`${a}.${key}`, value)
  if (cfg.ropeScaling.type === 'longrope') {
    // Within its original length LongRoPE is its short factors times the attention factor (planTensors).
    kv.set(`${a}.rope.scaling.attn_factor`, f32(cfg.ropeScaling.attentionFactor))
    kv.set(`${a}.rope.scaling.original_context_length`, u32(cfg.ropeScaling.originalMaxPositions))
  }
  if (cfg.ropeScaling.type === 'linear') {
    kv.set(`${a}.rope.scaling.type`, {type: 'string', value: 'linear'})
    kv.set(`${a}.rope.scaling.factor`, f32(cfg.ropeScaling.factor))
  }
  return kv
}

/** How a q4_1 linear was written: from its own groups, by round-to-nearest, or by it because its groups were not exact in f16. */
type LinearSource = 'groups' | 'rtn' | 'inexact'

interface Encoded {
  bytes: Uint8Array
  linear?: LinearSource
}

interface Planned {
  info: GgufTensorInfo
  encode(): Encoded
}

/** How a tensor's values change on the way to llama.cpp: rows permuted per head, w → 1 + w, times a factor. */
interface Change { heads: number; plusOne: boolean; scale: number }

/** GGUF name, type and encoder of every tensor; llama3 RoPE adds llama.cpp's rope_freqs factors, LongRoPE its rope_factors. */
function planTensors(src: SourceTensor[], cfg: ModelConfig, family: GgufFamily, type: GgufType): Planned[] {
  const plan: Planned[] = []
  const qScale = attentionFold(cfg, family)
  const change = (t: SourceTensor): Change => ({
    heads: family.permuteQK ? permutedHeads(t.key, cfg) : 0,
    // llama.cpp's (1+w) norms are plain RMSNorms over 1+w, as its converter stores them.
    plusOne: cfg.family.norm === 'rms1p' && t.shape.length === 1 && t.key.endsWith('norm.weight'),
    scale: qScale.keys.includes(t.key) ? qScale.factor : 1,
  })
  for (const t of src) {
    if (t.expert !== null) {
      if (t.expert === 0) plan.push(stackedExperts(src, t, cfg.family.moe!.experts, family, type))
      continue
    }
    const name = t.layer === null ? GGUF_GLOBAL_NAMES[t.key] : `blk.${t.layer}.${family.block[t.key]}`
    if (!name || name.includes('undefined')) throw new Error(`no GGUF name for ${t.name}`)
    // The router stays float32 at every --type, as llama.cpp's converter keeps it: it picks the experts.
    const tt = family.block[t.key] === 'ffn_gate_inp.weight' ? 'f32' : tensorType(t, type)
    plan.push({info: {name, shape: t.shape, type: tt}, encode: () => encodeTensor(t, tt, change(t))})
  }
  const extra = (name: string, factors: Float32Array) => plan.splice(1, 0, {info: {name, shape: [factors.length], type: 'f32'},
    encode: () => ({bytes: encodeGgml(factors, 'f32')})})
  if (cfg.ropeScaling.type === 'llama3') extra('rope_freqs.weight', ropeFactors(cfg))
  if (cfg.ropeScaling.type === 'longrope') {
    // llama.cpp takes the long factors whenever its context (padded to 256 cells and more) exceeds the original
    // length, transformers only for longer sequences: the short ones in both places, and the context capped (metadata).
    const short = Float32Array.from(cfg.ropeScaling.shortFactor)
    extra('rope_factors_short.weight', short)
    extra('rope_factors_long.weight', short)
  }
  return plan
}

/**
 * 1-D tensors stay float32, as llama.cpp's converter keeps them; quantized blocks need rows of whole 32s
 * (else f16, as the converter falls back). Under q4_1 the head is q8_0, as llama-quantize keeps the output
 * projection at higher precision (it uses Q6_K, which we do not write): a 4-bit head alone flips the top token
 * at ~6% of the fixture's positions.
 */
function tensorType(t: SourceTensor, type: GgufType): GgmlType {
  if (t.shape.length === 1) return 'f32'
  if ((type === 'q8_0' || type === 'q4_1') && t.shape[1] % 32 !== 0) return 'f16'
  return type === 'q4_1' && (t.key === 'lm_head.weight' || t.key === 'model.embed_tokens.weight') ? 'q8_0' : type
}

/**
 * One block's tensor of every expert as llama.cpp's single (experts, rows, cols) tensor, encoded expert by
 * expert when written (one block's experts in memory, never the model's).
 */
function stackedExperts(src: SourceTensor[], first: SourceTensor, prefix: string, family: GgufFamily, type: GgufType): Planned {
  const inner = first.key.slice(`${prefix}0.`.length)
  const name = family.experts?.[inner]
  if (!name) throw new Error(`no GGUF name for ${first.name}`)
  const experts = src.filter((t) => t.layer === first.layer && t.key === `${prefix}${t.expert}.${inner}`)
  const tt = tensorType(first, type)
  return {
    info: {name: `blk.${first.layer}.${name}`, shape: [experts.length, ...first.shape], type: tt},
    encode: () => {
      const parts = experts.map((t) => encodeTensor(t, tt, {heads: 0, plusOne: false, scale: 1}))
      const bytes = new Uint8Array(parts.reduce((n, p) => n + p.bytes.length, 0))
      parts.reduce((at, p) => { bytes.set(p.bytes, at); return at + p.bytes.length }, 0)
      const kinds = new Set(parts.map((p) => p.linear))
      return {bytes, linear: kinds.size === 1 ? parts[0].linear : kinds.has('inexact') ? 'inexact' : 'rtn'}
    },
  }
}

/**
 * The model's attention scale over llama.cpp's, folded into q (whose scores are linear in it), or into q's
 * per-head norm where there is one (a norm after q_proj would undo a factor on q_proj).
 */
function attentionFold(cfg: ModelConfig, family: GgufFamily): {keys: string[]; factor: number} {
  const factor = cfg.attnScale / (family.attnScale?.(cfg) ?? 1 / Math.sqrt(cfg.headDim))
  if (Math.abs(factor - 1) < 1e-9) return {keys: [], factor: 1}
  return {keys: cfg.qkNorm ? ['self_attn.q_norm.weight'] : ['self_attn.q_proj.weight', 'self_attn.q_proj.bias'], factor}
}

function encodeTensor(t: SourceTensor, type: GgmlType, {heads, plusOne, scale}: Change): Encoded {
  const g = type === 'q4_1' && scale === 1 ? t.groups() : null
  const own = g && groupsToQ4_1(t.shape[0], t.shape[1], g)
  if (own) return {bytes: heads ? permuteRows(own, t.shape[0], heads) : own, linear: 'groups'}
  const values = t.load()
  if (plusOne || scale !== 1) values.forEach((v, i) => { values[i] = ((plusOne ? 1 : 0) + v) * scale })
  const rowBytes = (v: Float32Array) => new Uint8Array(v.buffer, v.byteOffset, v.byteLength)
  const bytes = encodeGgml(heads ? new Float32Array(permuteRows(rowBytes(values), t.shape[0], heads).buffer) : values, type)
  return {bytes, linear: type !== 'q4_1' ? undefined : g && g.group % 32 === 0 ? 'inexact' : 'rtn'}
}

/** Heads whose rows llama.cpp's converter permutes: q by attention heads, k by kv heads (weights and biases). */
function permutedHeads(key: string, cfg: ModelConfig): number {
  if (key.startsWith('self_attn.q_proj.')) return cfg.heads
  if (key.startsWith('self_attn.k_proj.')) return cfg.kvHeads
  return 0
}

/**
 * Rows reordered as llama.cpp's converter does, w.reshape(n, 2, rows/n/2, ...).swapaxes(1, 2):
 * within each head, row 2j+t of the output is row t·half+j of the input (rotate-half pairs
 * (j, j+half) become adjacent). Works on any equal-size row encoding.
 */
export function permuteRows(bytes: Uint8Array, rows: number, heads: number): Uint8Array {
  const rowLen = bytes.length / rows, per = rows / heads, half = per / 2
  const out = new Uint8Array(bytes.length)
  for (let h = 0; h < heads; h++) {
    for (let j = 0; j < half; j++) {
      for (let t = 0; t < 2; t++) {
        const from = h * per + t * half + j, to = h * per + 2 * j + t
        out.set(bytes.subarray(from * rowLen, (from + 1) * rowLen), to * rowLen)
      }
    }
  }
  return out
}

/** llama3 RoPE as llama.cpp applies it: per-frequency divisors (rope_freqs) of the unscaled frequencies. */
function ropeFactors(cfg: ModelConfig): Float32Array {
  const scaled = inverseFrequencies(cfg), plain = inverseFrequencies({...cfg, ropeScaling: {type: 'none'}})
  return scaled.map((v, i) => plain[i] / v)
}
