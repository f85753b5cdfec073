import {kernels as defaultKernels, type Backend} from '../kernels/index.js'
import {lossAndGradients} from '../model/engine/backward.js'
import {toBatch, type WeightSource} from '../model/engine/source.js'

/** The reference's gradient scale (GBLM-Pruner gradient_computation.py, --scale 100). */
export const GBLM_SCALE = 100

/**
 * GBLM-Pruner stage A (§5.1), on the dense model: for each calibration sample alone, the
 * gradient g_n of its mean next-token loss with respect to every decoder-block linear weight;
 * the result is sqrt(Σ_n (100·g_n)²) per weight. Blocks stream through the backward pass, so
 * only one block's gradients exist at a time beside these accumulators. Float32 throughout
 * (the reference stores fp16: the one deliberate deviation, as in the goldens).
 */
export function gradientNorms(src: WeightSource, samples: number[][], onSample?: (done: number) => void,
  k: Backend = defaultKernels()): Map<string, Float32Array> {
  const acc = new Map<string, Float32Array>()
  samples.forEach((sample, i) => {
    lossAndGradients(src, toBatch([sample]), (_layer, g, w) => {
      for (const [i, t] of w.tensors.entries()) {
        const key = `${t.name}.weight`
        const grad = g.tensors[i].weight
        let a = acc.get(key)
        if (!a) { a = new Float32Array(grad.length); acc.set(key, a) }
        k.accumulateSquares(a, grad, GBLM_SCALE)
      }
    }, k)
    onSample?.(i + 1)
  })
  for (const a of acc.values()) for (let i = 0; i < a.length; i++) a[i] = Math.sqrt(a[i])
  return acc
}
