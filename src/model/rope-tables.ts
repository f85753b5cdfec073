import type {ModelConfig} from './config.js'

export interface RopeTables {
  /** (seq, headDim/2) */
  cos: Float32Array
  sin: Float32Array
  seq: number
}

/**
 * Inverse frequencies as transformers computes them in float32, with the linear and
 * llama3 scalings of its rope initialisation functions.
 */
export function inverseFrequencies(cfg: ModelConfig): Float32Array {
  const half = cfg.headDim / 2
  const inv = new Float32Array(half)
  for (let i = 0; i < half; i++) inv[i] = 1 / Math.fround(cfg.ropeTheta ** Math.fround((2 * i) / cfg.headDim))
  const s = cfg.ropeScaling
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

/** cos and sin of position · inverse frequency for positions 0..seq−1, angles rounded to float32 as torch does. */
export function ropeTables(cfg: ModelConfig, seq: number): RopeTables {
  const inv = inverseFrequencies(cfg)
  const half = inv.length
  const cos = new Float32Array(seq * half), sin = new Float32Array(seq * half)
  for (let p = 0; p < seq; p++) {
    for (let i = 0; i < half; i++) {
      const angle = Math.fround(inv[i] * p)
      cos[p * half + i] = Math.cos(angle)
      sin[p * half + i] = Math.sin(angle)
    }
  }
  return {cos, sin, seq}
}
