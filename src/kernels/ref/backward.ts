import type {AttentionMask} from '../backend.js'
import {capped, firstKey} from './attention.js'
import {rope} from './rope.js'

// References for the backward kernels: each the plain derivative of its forward reference.

export function rmsnormBackward(dx: Float32Array, dw: Float32Array | null, dy: Float32Array, x: Float32Array, w: Float32Array, rows: number, dim: number, eps: number): void {
  for (let r = 0; r < rows; r++) {
    let ss = 0
    for (let i = 0; i < dim; i++) ss += x[r * dim + i] ** 2
    const inv = 1 / Math.sqrt(ss / dim + eps)
    // y_i = x_i·inv·w_i;  ∂inv/∂x_j = −inv³·x_j/dim
    let dot = 0
    for (let i = 0; i < dim; i++) dot += dy[r * dim + i] * w[i] * x[r * dim + i]
    for (let j = 0; j < dim; j++) dx[r * dim + j] = inv * dy[r * dim + j] * w[j] - (inv ** 3 / dim) * x[r * dim + j] * dot
    if (dw) for (let i = 0; i < dim; i++) dw[i] += dy[r * dim + i] * x[r * dim + i] * inv
  }
}

/** The rotation is orthogonal: its gradient is the rotation by the opposite angle. */
export function ropeBackward(dx: Float32Array, cos: Float32Array, sin: Float32Array, tokens: number, seq: number, heads: number, hd: number, rot = hd): void {
  rope(dx, cos, sin.map((s) => -s), tokens, seq, heads, hd, rot)
}

export function siluMulBackward(dgate: Float32Array, dup: Float32Array, dout: Float32Array, gate: Float32Array, up: Float32Array): void {
  for (let i = 0; i < dout.length; i++) {
    const sg = 1 / (1 + Math.exp(-gate[i]))
    dup[i] = dout[i] * gate[i] * sg
    dgate[i] = dout[i] * up[i] * (sg + gate[i] * sg * (1 - sg))
  }
}

export function attentionBackward(dq: Float32Array, dk: Float32Array, dv: Float32Array, dout: Float32Array, q: Float32Array, k: Float32Array, v: Float32Array,
  batch: number, seq: number, nh: number, nkv: number, hd: number, scale: number, mask?: AttentionMask): void {
  const group = nh / nkv, qs = nh * hd, ks = nkv * hd
  dk.fill(0, 0, batch * seq * ks)
  dv.fill(0, 0, batch * seq * ks)
  const p = new Float64Array(seq), dp = new Float64Array(seq), z = new Float64Array(seq)
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < nh; h++) {
      const kvh = Math.floor(h / group)
      const Q = (i: number, d: number) => q[(b * seq + i) * qs + h * hd + d]
      const K = (j: number, d: number) => k[(b * seq + j) * ks + kvh * hd + d]
      const V = (j: number, d: number) => v[(b * seq + j) * ks + kvh * hd + d]
      const dO = (i: number, d: number) => dout[(b * seq + i) * qs + h * hd + d]
      for (let i = 0; i < seq; i++) {
        const lo = firstKey(i, mask)
        let mx = -Infinity
        for (let j = lo; j <= i; j++) {
          let s = 0
          for (let d = 0; d < hd; d++) s += Q(i, d) * K(j, d)
          z[j] = capped(s * scale, mask)
          mx = Math.max(mx, z[j])
        }
        let sum = 0
        for (let j = lo; j <= i; j++) { p[j] = Math.exp(z[j] - mx); sum += p[j] }
        let dot = 0
        for (let j = lo; j <= i; j++) {
          p[j] /= sum
          let g = 0
          for (let d = 0; d < hd; d++) g += dO(i, d) * V(j, d)
          dp[j] = g
          dot += p[j] * g
          for (let d = 0; d < hd; d++) dv[(b * seq + j) * ks + kvh * hd + d] += p[j] * dO(i, d)
        }
        for (let d = 0; d < hd; d++) dq[(b * seq + i) * qs + h * hd + d] = 0
        for (let j = lo; j <= i; j++) {
          // d tanh(s/c)·c / ds = 1 − (z/c)²
          const ds = p[j] * (dp[j] - dot) * scale * (mask?.softcap ? 1 - (z[j] / mask.softcap) ** 2 : 1)
          for (let d = 0; d < hd; d++) {
            dq[(b * seq + i) * qs + h * hd + d] += ds * K(j, d)
            dk[(b * seq + j) * ks + kvh * hd + d] += ds * Q(i, d)
          }
        }
      }
    }
  }
}

export function lseTile(mx: Float32Array, sum: Float32Array, zt: Float32Array, logits: Float32Array, targets: Int32Array, col0: number, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    const row = logits.subarray(r * cols, (r + 1) * cols)
    let m = mx[r]
    for (const z of row) m = Math.max(m, z)
    let s = sum[r] === 0 ? 0 : sum[r] * Math.exp(mx[r] - m)
    for (const z of row) s += Math.exp(z - m)
    mx[r] = m
    sum[r] = s
    const t = targets[r] - col0
    if (t >= 0 && t < cols) zt[r] = row[t]
  }
}

export function xentTileBackward(logits: Float32Array, lse: Float32Array, targets: Int32Array, rowScale: Float32Array, col0: number, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < cols; j++) logits[r * cols + j] = Math.exp(logits[r * cols + j] - lse[r]) * rowScale[r]
    const t = targets[r] - col0
    if (t >= 0 && t < cols) logits[r * cols + t] -= rowScale[r]
  }
}

export function adamwStep(p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array,
  o: {lr: number; beta1: number; beta2: number; eps: number; weightDecay: number; step: number}): void {
  const c1 = 1 - o.beta1 ** o.step, c2 = 1 - o.beta2 ** o.step
  for (let i = 0; i < p.length; i++) {
    m[i] = o.beta1 * m[i] + (1 - o.beta1) * g[i]
    v[i] = o.beta2 * v[i] + (1 - o.beta2) * g[i] * g[i]
    p[i] -= o.lr * (m[i] / c1 / (Math.sqrt(v[i] / c2) + o.eps) + o.weightDecay * p[i])
  }
}
