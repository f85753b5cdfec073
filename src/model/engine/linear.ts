import type {Backend} from '../../kernels/index.js'
import {multiply} from '../../packed/weight.js'
import type {Linear} from '../weights.js'

/** y = x·Wᵀ + b over `rows` tokens, by GEMM or by the packed format's kernel. */
export function linear(k: Backend, out: Float32Array, input: Float32Array, l: Linear, rows: number): void {
  if (!l.packed) return k.gemm(out, input, l.weight, rows, l.out, l.in, {transB: true, bias: l.bias})
  multiply(k, out, input, rows, l.out, l.in, l.packed)
  if (l.bias) for (let r = 0; r < rows; r++) k.addInplace(out.subarray(r * l.out, (r + 1) * l.out), l.bias)
}

/** A parameter's gradient, shaped like it. */
export interface LinearGrad {
  weight: Float32Array
  bias: Float32Array | null
}

/** y = x·Wᵀ + b: dW += dyᵀ·x, db += Σ dy, and dx (+)= dy·W. */
export function linearBackward(k: Backend, dx: Float32Array, accumulate: boolean, dy: Float32Array, x: Float32Array, l: Linear,
  g: LinearGrad, rows: number): void {
  k.gemm(g.weight, dy, x, l.out, l.in, rows, {transA: true, accumulate: true})
  if (g.bias) k.gemm(g.bias, new Float32Array(rows).fill(1), dy, 1, l.out, rows, {accumulate: true})
  k.gemm(dx, dy, l.weight, rows, l.in, l.out, {accumulate})
}
