import type {Backend} from '../kernels/index.js'
import {lossAndGradients} from '../model/engine/backward.js'
import {sequenceLosses, toBatch} from '../model/engine/forward.js'
import type {ParamStore} from '../model/params.js'
import type {GqsaState} from './gqsa-types.js'

export interface E2eResult {
  steps: number
  /** Mean language-model loss over the calibration samples before and after. */
  loss_before: number
  loss_after: number
}

const meanLoss = (store: ParamStore, samples: number[][], k: Backend) => {
  const l = sequenceLosses(store, toBatch(samples), {kernels: k})
  return l.reduce((a, b) => a + b, 0) / l.length
}

/**
 * E2E-OQP (GQSA §3, our reading in docs/gqsa.md): with every code and group mask frozen, only the
 * groups' scales are trained end to end with the language-model loss, AdamW one calibration sequence
 * per step; ŵ = s·(q − z) is linear in s, so ∂L/∂s is Σ over the group of ∂L/∂ŵ·(q − z).
 * `store` holds the compressed model (its linears are rewritten from the states after every step);
 * the states' scales end rounded to fp16, as stored.
 */
export function e2eOqp(store: ParamStore, states: Map<string, GqsaState>, samples: number[][], o: {steps: number; lr: number}, k: Backend,
  onStep?: (step: number, steps: number) => void): E2eResult {
  const dequantize = (name: string) => {
    const st = states.get(name)!
    k.gqsaDequant(store.get(name), st.codes, st.scales, st.zeros, st.pruned, st.rows, st.cols, st.group)
  }
  for (const name of states.keys()) dequantize(name)
  const before = meanLoss(store, samples, k)
  const adam = new Map([...states].map(([name, st]) => [name, {m: new Float32Array(st.scales.length), v: new Float32Array(st.scales.length), ds: new Float32Array(st.scales.length)}]))
  for (let step = 0; step < o.steps; step++) {
    const decay = 0.05 + 0.95 * 0.5 * (1 + Math.cos(Math.PI * step / o.steps))
    lossAndGradients(store, toBatch([samples[step % samples.length]]), (_layer, g, w) => {
      // Block `layer`'s gradients are final here, and it is not used again in this step: update it now.
      for (const [i, t] of w.tensors.entries()) {
        const name = `${t.name}.weight`, st = states.get(name)!, a = adam.get(name)!
        k.gqsaScaleGrad(a.ds, g.tensors[i].weight, st.codes, st.zeros, st.pruned, st.rows, st.cols, st.group)
        k.adamwStep(st.scales, a.ds, a.m, a.v, {lr: o.lr * decay, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, step: step + 1})
        dequantize(name)
      }
    }, k)
    onStep?.(step + 1, o.steps)
  }
  for (const [name, st] of states) {
    const h = new Uint16Array(st.scales.length)
    k.f32ToF16(h, st.scales)
    k.f16ToF32(st.scales, h)
    dequantize(name)
  }
  return {steps: o.steps, loss_before: before, loss_after: meanLoss(store, samples, k)}
}
