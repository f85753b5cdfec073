export function siluMul(out: Float32Array, gate: Float32Array, up: Float32Array): void {
  for (let i = 0; i < out.length; i++) out[i] = (gate[i] / (1 + Math.exp(-gate[i]))) * up[i]
}

export function addInplace(x: Float32Array, y: Float32Array): void {
  for (let i = 0; i < x.length; i++) x[i] += y[i]
}
