import {BlockScratch, runBlock} from '../model/engine/block.js'
import {blockGradients} from '../model/engine/backward.js'
import {zeroGrads} from '../model/engine/grads.js'
import type {GqsaOptions, GqsaState} from './gqsa-types.js'
import type {BlockRefineContext} from './types.js'

const TOKENS_PER_CALL = 2048

/** Mean squared error of the block's outputs on `inputs` against `targets`, over all samples. */
function blockMse(ctx: BlockRefineContext): number {
  const {cfg, weights, inputs, targets, n, seq, rope, kernels: k} = ctx, H = cfg.hidden
  const per = Math.max(1, Math.min(n, Math.floor(TOKENS_PER_CALL / seq)))
  const scratch = new BlockScratch(cfg, per * seq), d = new Float32Array(per * seq * H)
  let sum = 0
  for (let s = 0; s < n; s += per) {
    const m = Math.min(per, n - s), part = inputs.slice(s * seq * H, (s + m) * seq * H)
    runBlock(k, cfg, weights, part, m, seq, rope, scratch)
    sum += k.mseGrad(d, part, targets.subarray(s * seq * H, (s + m) * seq * H)) * part.length
  }
  return sum / (n * seq * H)
}

const half = (k: BlockRefineContext['kernels'], v: Float32Array) => {
  const h = new Uint16Array(v.length)
  k.f32ToF16(h, v)
  k.f16ToF32(v, h)
}

/**
 * BQPO, block-wise quantization-pruning optimisation (GQSA §3; our reading in docs/gqsa.md): with the
 * group mask fixed, AdamW trains each linear's kept weights (latent, fake-quantized with a
 * straight-through estimator) and its groups' scales and zeros to bring the block's outputs on the
 * compressed path to the dense block's outputs on the dense path. Learning rates decay by a cosine to
 * 1/20. The result replaces the one-shot state only if it lowers the block's output MSE.
 */
export function bqpo(ctx: BlockRefineContext, o: GqsaOptions, stateOf: (w: Float32Array) => GqsaState): {mseBefore: number; mseAfter: number} {
  const {cfg, weights: w, inputs, targets, n, seq, rope, kernels: k} = ctx, H = cfg.hidden
  const mseBefore = blockMse(ctx)
  if (o.epochs === 0) return {mseBefore, mseAfter: mseBefore}
  const params = w.tensors.map((t, i) => {
    const l = {weight: t.weight, out: t.rows, in: t.cols}, st = stateOf(l.weight)
    const groups = st.scales.length
    return {i, l, st, latent: l.weight.slice(), oneShot: l.weight.slice(), s: st.scales.slice(), z: st.zeros.slice(),
      mw: new Float32Array(l.weight.length), vw: new Float32Array(l.weight.length), ms: new Float32Array(groups), vs: new Float32Array(groups),
      mz: new Float32Array(groups), vz: new Float32Array(groups), dw: new Float32Array(l.weight.length), ds: new Float32Array(groups), dz: new Float32Array(groups)}
  })
  // One calibration sequence per step: calibration sets are small, and more steps train further.
  const total = o.epochs * n
  const grads = zeroGrads(cfg, w)
  let step = 0
  for (let epoch = 0; epoch < o.epochs; epoch++) {
    for (let s = 0; s < n; s++, step++) {
      const decay = 0.05 + 0.95 * 0.5 * (1 + Math.cos(Math.PI * step / total))
      for (const p of params) k.gqsaFakeQuant(p.l.weight, p.latent, p.s, p.z, p.st.pruned, p.l.out, p.l.in, o.group, o.bits, null)
      for (const g of grads.tensors) g.weight.fill(0)
      blockGradients(k, cfg, w, inputs.subarray(s * seq * H, (s + 1) * seq * H), 1, seq, rope,
        (out, dOut) => k.mseGrad(dOut, out, targets.subarray(s * seq * H, (s + 1) * seq * H)), grads)
      for (const p of params) {
        k.gqsaFakeQuantBackward(p.dw, p.ds, p.dz, grads.tensors[p.i].weight, p.latent, p.s, p.z, p.st.pruned, p.l.out, p.l.in, o.group, o.bits)
        const adam = {beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, step: step + 1}
        k.adamwStep(p.latent, p.dw, p.mw, p.vw, {...adam, lr: o.lr * decay})
        k.adamwStep(p.s, p.ds, p.ms, p.vs, {...adam, lr: o.qlr * decay})
        k.adamwStep(p.z, p.dz, p.mz, p.vz, {...adam, lr: o.qlr * decay})
        for (let i = 0; i < p.s.length; i++) if (!(p.s[i] >= 1e-4)) p.s[i] = 1e-4   // a scale stays positive
      }
      ctx.onProgress?.(step + 1, total)
    }
  }
  // The trained state as it will be stored: fp16 scales, integer zeros, codes, and their exact dequantization.
  const trained = params.map((p) => {
    half(k, p.s)
    const z = p.z.map(Math.round), codes = new Uint8Array(p.latent.length)
    k.gqsaFakeQuant(p.l.weight, p.latent, p.s, z, p.st.pruned, p.l.out, p.l.in, o.group, o.bits, codes)
    k.gqsaDequant(p.l.weight, codes, p.s, z, p.st.pruned, p.l.out, p.l.in, o.group)
    return {p, codes, z}
  })
  const mseAfter = blockMse(ctx)
  if (mseAfter >= mseBefore) {
    for (const {p} of trained) p.l.weight.set(p.oneShot)
    return {mseBefore, mseAfter: mseBefore}
  }
  for (const {p, codes, z} of trained) Object.assign(p.st, {codes, scales: p.s, zeros: z})
  return {mseBefore, mseAfter}
}
