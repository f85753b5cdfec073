import type {ModelConfig} from './config.js'

export interface RopeTables {
  /** (seq, rot/2) */
  cos: Float32Array
  sin: Float32Array
  seq: number
  /** Head dims rotated (partial rotary: fewer than head_dim). */
  rot: number
  /** The tables of sliding-window layers when they have their own base (Gemma 3). */
  local?: RopeTables
}

/**
 * Inverse frequencies as transformers computes them in float32 over the rotated dims, with the linear,
 * llama3 and longrope scalings of its rope initialisation functions; `theta` overrides the base, unscaled
 * (Gemma 3's local layers). Longrope takes its long factors when the sequence exceeds the original length.
 */
export function inverseFrequencies(cfg: ModelConfig, seq = 0, theta?: number): Float32Array {
  const dim = cfg.rotaryDim, half = dim / 2
  const s = theta === undefined ? cfg.ropeScaling : {type: 'none' as const}
  const base = theta ?? cfg.ropeTheta
  const ext = s.type === 'longrope' ? (longFactors(cfg, seq) ? s.longFactor : s.shortFactor) : null
  const inv = new Float32Array(half)
  for (let i = 0; i < half; i++) inv[i] = 1 / Math.fround((ext ? ext[i] : 1) * Math.fround(base ** Math.fround((2 * i) / dim)))
  if (s.type === 'linear') for (let i = 0; i < half; i++) inv[i] = inv[i] / s.factor
  if (s.type === 'llama3') {
    const lowWavelen = s.originalMaxPositions / s.lowFreqFactor
    const highWavelen = s.originalMaxPositions / s.highFreqFactor
    for (let i = 0; i < half; i++) {
      const wavelen = (2 * Math.PI) / inv[i]
      const scaled = wavelen > lowWavelen ? inv[i] / s.factor : inv[i]
      const smooth = (s.originalMaxPositions / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor)
      const medium = !(wavelen < highWavelen) && !(wavelen > lowWavelen)
      inv[i] = medium ? (1 - smooth) * scaled / s.factor + smooth * scaled : scaled
    }
  }
  return inv
}

/**
 * Whether a forward call whose largest position is end − 1 takes longrope's long factors: transformers
 * (dynamic_rope_update) chooses per call, so a decoding step past the original length switches while
 * the keys already cached keep the rotation they were computed with.
 */
export const longFactors = (cfg: ModelConfig, end: number): boolean =>
  cfg.ropeScaling.type === 'longrope' && end > cfg.ropeScaling.originalMaxPositions

/**
 * cos and sin of position · inverse frequency for positions 0..seq−1, angles rounded to float32 as torch does;
 * `end` is the largest position + 1 of the forward call they serve (longrope's factor set).
 */
export function ropeTables(cfg: ModelConfig, seq: number, end = seq): RopeTables {
  const tables = (inv: Float32Array, gain: number): RopeTables => {
    const half = inv.length
    const cos = new Float32Array(seq * half), sin = new Float32Array(seq * half)
    for (let p = 0; p < seq; p++) {
      for (let i = 0; i < half; i++) {
        const angle = Math.fround(inv[i] * p)
        cos[p * half + i] = Math.cos(angle) * gain
        sin[p * half + i] = Math.sin(angle) * gain
      }
    }
    return {cos, sin, seq, rot: cfg.rotaryDim}
  }
  const s = cfg.ropeScaling
  const full = tables(inverseFrequencies(cfg, end), s.type === 'longrope' ? Math.fround(s.attentionFactor) : 1)
  if (cfg.ropeLocalTheta !== null) full.local = tables(inverseFrequencies(cfg, seq, cfg.ropeLocalTheta), 1)
  return full
}

/** The tables block `layer` uses. */
export const ropeOf = (rope: RopeTables, cfg: ModelConfig, layer: number): RopeTables => (rope.local && cfg.windows[layer] > 0 ? rope.local : rope)

/** The rows of positions past..past+n−1: row t of the view is position past + t. */
export function ropeFrom(rope: RopeTables, past: number, n: number): RopeTables {
  const at = (t: RopeTables): RopeTables => ({cos: t.cos.subarray(past * t.rot / 2), sin: t.sin.subarray(past * t.rot / 2), seq: n, rot: t.rot})
  return {...at(rope), local: rope.local && at(rope.local)}
}
