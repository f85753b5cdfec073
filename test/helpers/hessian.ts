import {refBackend} from '../../src/kernels/index.js'
import {randomNormal} from '../../src/util/random.js'

/** A random positive semi-definite 2/N·XᵀX from `tokens` samples, with some dead columns. */
export function randomHessian(rand: () => number, cols: number, tokens: number, dead: number[] = []): Float32Array {
  const x = randomNormal(tokens * cols, rand)
  for (const d of dead) for (let t = 0; t < tokens; t++) x[t * cols + d] = 0
  const h = new Float32Array(cols * cols)
  refBackend.gemm(h, x, x, cols, cols, tokens, {transA: true})
  return h.map((v) => (2 / tokens) * v)
}
