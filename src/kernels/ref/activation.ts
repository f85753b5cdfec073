import type {Activation} from '../backend.js'

const GELU_K = Math.sqrt(2 / Math.PI)

/** Each activation and its derivative. */
const ACT: Record<Activation, (g: number) => [value: number, slope: number]> = {
  silu: (g) => { const s = 1 / (1 + Math.exp(-g)); return [g * s, s * (1 + g * (1 - s))] },
  gelu_tanh: (g) => {
    const t = Math.tanh(GELU_K * (g + 0.044715 * g ** 3))
    return [0.5 * g * (1 + t), 0.5 * (1 + t) + 0.5 * g * (1 - t * t) * GELU_K * (1 + 3 * 0.044715 * g * g)]
  },
  relu: (g) => (g > 0 ? [g, 1] : [0, 0]),
}

export function actMul(act: Activation, out: Float32Array, gate: Float32Array, up: Float32Array | null): void {
  for (let i = 0; i < out.length; i++) out[i] = ACT[act](gate[i])[0] * (up ? up[i] : 1)
}

export function actMulBackward(act: Activation, dgate: Float32Array, dup: Float32Array | null, dout: Float32Array, gate: Float32Array, up: Float32Array | null): void {
  for (let i = 0; i < dout.length; i++) {
    const [a, da] = ACT[act](gate[i])
    if (up) dup![i] = dout[i] * a
    dgate[i] = dout[i] * da * (up ? up[i] : 1)
  }
}

/** Gemma 2's softcapping: tanh(x / cap)·cap. */
export function softcap(x: Float32Array, cap: number): void {
  for (let i = 0; i < x.length; i++) x[i] = Math.tanh(x[i] / cap) * cap
}

export function softcapBackward(dx: Float32Array, y: Float32Array, cap: number): void {
  for (let i = 0; i < dx.length; i++) dx[i] *= 1 - (y[i] / cap) ** 2
}

export function scaleInplace(x: Float32Array, s: number): void {
  for (let i = 0; i < x.length; i++) x[i] *= s
}
