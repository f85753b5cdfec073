import {EXIT, SparsifyError} from '../../util/errors.js'

export type RopeScaling =
  | {type: 'none'}
  | {type: 'linear'; factor: number}
  | {type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositions: number}
  /** Phi-3's LongRoPE: per-frequency factors, the long ones beyond originalMaxPositions; cos and sin times attentionFactor. */
  | {type: 'longrope'; shortFactor: number[]; longFactor: number[]; originalMaxPositions: number; attentionFactor: number}

/** config.rope_scaling, as transformers' rope initialisation functions read it. */
export function parseRopeScaling(config: Record<string, unknown>, file: string): RopeScaling {
  const raw = config.rope_scaling
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
  if (type === 'longrope') return parseLongrope(config, r, file)
  throw new SparsifyError(`${file}: rope_scaling type ${JSON.stringify(type)} is not supported`, EXIT.invalidFormat,
    'supported rope_scaling types: linear, llama3, longrope (or none)')
}

/**
 * transformers' _compute_longrope_parameters: with original_max_position_embeddings in the config, the factor is
 * max_position_embeddings / original (else rope_scaling.factor); attention_factor defaults to
 * sqrt(1 + ln(factor) / ln(original)) when the factor exceeds 1.
 */
function parseLongrope(config: Record<string, unknown>, r: Record<string, unknown>, file: string): RopeScaling {
  const factors = (key: string) => {
    const f = r[key]
    if (!Array.isArray(f) || f.some((v) => typeof v !== 'number')) throw new SparsifyError(`${file}: rope_scaling.${key} must be a list of numbers`, EXIT.invalidFormat)
    return f as number[]
  }
  const maxPositions = Number(config.max_position_embeddings ?? 2048)
  const original = typeof config.original_max_position_embeddings === 'number' ? config.original_max_position_embeddings : maxPositions
  const factor = typeof config.original_max_position_embeddings === 'number' ? maxPositions / original : Number(r.factor ?? 1)
  const attentionFactor = typeof r.attention_factor === 'number' ? r.attention_factor
    : factor <= 1 ? 1 : Math.sqrt(1 + Math.log(factor) / Math.log(original))
  return {type: 'longrope', shortFactor: factors('short_factor'), longFactor: factors('long_factor'), originalMaxPositions: original, attentionFactor}
}
