import type {Backend} from '../../kernels/index.js'
import type {ModelConfig} from '../config.js'
import type {BlockWeights} from '../weights.js'
import type {BlockGrads} from './grads.js'
import {linear, linearBackward} from './linear.js'
import {gather, route} from './moe.js'

/**
 * Backward of the mixture of experts on x (rows, hidden) given dOut: each expert's MLP is recomputed on its
 * tokens and differentiated (its output scaled by the routing weight), then the routing weights through the
 * top-k renormalisation and the softmax to the router. dx is written; the gradients accumulate into g.
 */
export function moeBackward(k: Backend, cfg: ModelConfig, w: BlockWeights, g: BlockGrads, x: Float32Array, dOut: Float32Array, dx: Float32Array, rows: number): void {
  const {experts: E, topK: K, width: W, normTopk} = cfg.moe!, H = cfg.hidden
  const r = route(k, cfg, w.router!, x, rows)
  dx.fill(0, 0, rows * H)
  const dWeights = new Float32Array(rows * K)
  const xe = new Float32Array(rows * H), ye = new Float32Array(rows * H), dye = new Float32Array(rows * H), dxe = new Float32Array(rows * H)
  const gate = new Float32Array(rows * W), up = new Float32Array(rows * W), act = new Float32Array(rows * W)
  const dact = new Float32Array(rows * W), dgate = new Float32Array(rows * W), dup = new Float32Array(rows * W), dot = new Float32Array(1)
  for (let e = 0; e < E; e++) {
    const tokens = r.tokens[e], n = tokens.length
    if (n === 0) continue
    const ex = w.experts[e], gx = g.experts[e]
    const X = gather(xe, x, tokens, H), sub = (a: Float32Array, width: number) => a.subarray(0, n * width)
    linear(k, sub(gate, W), X, ex.gate!, n)
    linear(k, sub(up, W), X, ex.up!, n)
    k.actMul(cfg.activation, sub(act, W), sub(gate, W), sub(up, W))
    linear(k, sub(ye, H), sub(act, W), ex.down!, n)
    // out_t += weight·ye: d ye = weight·dOut_t, d weight = dOut_t · ye
    tokens.forEach((t, i) => {
      const slot = t * K + r.slots[e][i], dOutT = dOut.subarray(t * H, (t + 1) * H), row = dye.subarray(i * H, (i + 1) * H)
      k.gemm(dot, dOutT, ye.subarray(i * H, (i + 1) * H), 1, 1, H, {transB: true})
      dWeights[slot] = dot[0]
      row.set(dOutT)
      k.scaleInplace(row, r.weights[slot])
    })
    linearBackward(k, sub(dact, W), false, sub(dye, H), sub(act, W), ex.down!, gx.down!, n)
    k.actMulBackward(cfg.activation, sub(dgate, W), sub(dup, W), sub(dact, W), sub(gate, W), sub(up, W))
    linearBackward(k, sub(dxe, H), false, sub(dgate, W), X, ex.gate!, gx.gate!, n)
    linearBackward(k, sub(dxe, H), true, sub(dup, W), X, ex.up!, gx.up!, n)
    tokens.forEach((t, i) => k.addInplace(dx.subarray(t * H, (t + 1) * H), dxe.subarray(i * H, (i + 1) * H)))
  }
  const dLogits = routingBackward(r.probs, r.top, r.weights, dWeights, rows, E, K, normTopk)
  linearBackward(k, dx, true, dLogits, x, w.router!, g.router!, rows)
}

/**
 * From the gradients of the chosen weights to the router logits. With renormalisation w_j = p_j / S
 * (S the chosen probabilities' sum): dp_j = (dw_j − Σ_i dw_i·w_i) / S; then the softmax: dl = p ⊙ (dp − p·dp).
 */
function routingBackward(probs: Float32Array, top: Int32Array, weights: Float32Array, dWeights: Float32Array, rows: number, E: number, K: number,
  normTopk: boolean): Float32Array {
  const dLogits = new Float32Array(rows * E), dp = new Float64Array(E)
  for (let t = 0; t < rows; t++) {
    dp.fill(0)
    let chosen = 0, mix = 0
    for (let j = 0; j < K; j++) { chosen += probs[t * E + top[t * K + j]]; mix += dWeights[t * K + j] * weights[t * K + j] }
    for (let j = 0; j < K; j++) dp[top[t * K + j]] = normTopk ? (dWeights[t * K + j] - mix) / chosen : dWeights[t * K + j]
    let pdp = 0
    for (let e = 0; e < E; e++) pdp += probs[t * E + e] * dp[e]
    for (let e = 0; e < E; e++) dLogits[t * E + e] = probs[t * E + e] * (dp[e] - pdp)
  }
  return dLogits
}
