import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import {cpSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {argmax, Decoder} from '../../src/model/engine/decode.js'
import {Model} from '../../src/model/model.js'
import {ParamStore} from '../../src/model/params.js'
import {SafetensorsFile} from '../../src/model/safetensors/reader.js'
import {assertClose} from '../helpers/assert-close.js'
import {golden} from '../helpers/golden.js'
import {tempDir} from '../helpers/cli.js'

const ORIGINAL = 8
const SHORT = [1, 1, 1, 1, 1, 1], LONG = [1, 1.5, 2, 4, 8, 16]

/** The golden Phi-3 with longrope scaling whose original length is 8 tokens, so that a short generation crosses it. */
function longropePhi3(): string {
  const dir = tempDir()
  cpSync(golden('phi3').dir, dir, {recursive: true})
  const file = path.join(dir, 'config.json'), cfg = JSON.parse(readFileSync(file, 'utf8'))
  writeFileSync(file, JSON.stringify({...cfg, original_max_position_embeddings: ORIGINAL,
    rope_scaling: {type: 'longrope', short_factor: SHORT, long_factor: LONG}}))
  return dir
}

/**
 * Phi-3 written plainly from modeling_phi3.py, in float64: RMSNorm, fused qkv_proj, rotate-half RoPE on the first
 * 12 of 16 head dims, grouped-query causal attention, fused gate_up_proj with SiLU, final norm, lm_head. The rotation
 * of position p uses the factor set of the forward call that computed p (`longAt(p)`), as a KV cache keeps it.
 */
function referenceLogits(dir: string, ids: number[], longAt: (p: number) => boolean): Float64Array {
  const cfg = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8'))
  const st = SafetensorsFile.open(path.join(dir, 'model.safetensors'))
  const w = (name: string) => Float64Array.from(st.readF32(name))
  const H = cfg.hidden_size, nh = cfg.num_attention_heads, nkv = cfg.num_key_value_heads, hd = H / nh, I = cfg.intermediate_size
  const rot = hd * cfg.partial_rotary_factor, T = ids.length, eps = cfg.rms_norm_eps
  const gain = Math.sqrt(1 + Math.log(cfg.max_position_embeddings / ORIGINAL) / Math.log(ORIGINAL))
  const matvec = (m: Float64Array, x: Float64Array, rows: number) => Float64Array.from({length: rows}, (_, r) => x.reduce((a, v, c) => a + v * m[r * x.length + c], 0))
  const rms = (x: Float64Array, g: Float64Array) => {
    const s = 1 / Math.sqrt(x.reduce((a, v) => a + v * v, 0) / x.length + eps)
    return x.map((v, i) => v * s * g[i])
  }
  const rope = (v: Float64Array, p: number) => {
    const ext = longAt(p) ? LONG : SHORT, out = v.slice()
    for (let i = 0; i < rot / 2; i++) {
      const angle = p / (ext[i] * cfg.rope_theta ** ((2 * i) / rot))
      const c = Math.cos(angle) * gain, s = Math.sin(angle) * gain
      out[i] = v[i] * c - v[i + rot / 2] * s
      out[i + rot / 2] = v[i + rot / 2] * c + v[i] * s
    }
    return out
  }
  const emb = w('model.embed_tokens.weight')
  let x = ids.map((t) => emb.slice(t * H, (t + 1) * H))
  for (let l = 0; l < cfg.num_hidden_layers; l++) {
    const p = `model.layers.${l}.`
    const qkvW = w(`${p}self_attn.qkv_proj.weight`), oW = w(`${p}self_attn.o_proj.weight`)
    const qkv = x.map((h) => matvec(qkvW, rms(h, w(`${p}input_layernorm.weight`)), (nh + 2 * nkv) * hd))
    const head = (t: number, offset: number, j: number) => qkv[t].slice(offset + j * hd, offset + (j + 1) * hd)
    x = x.map((h, t) => {
      const ctx = new Float64Array(H)
      for (let j = 0; j < nh; j++) {
        const g = Math.floor(j / (nh / nkv)), q = rope(head(t, 0, j), t)
        const scores = Array.from({length: t + 1}, (_, u) => rope(head(u, nh * hd, g), u).reduce((a, v, i) => a + v * q[i], 0) / Math.sqrt(hd))
        const top = Math.max(...scores), e = scores.map((s) => Math.exp(s - top)), z = e.reduce((a, b) => a + b, 0)
        for (let u = 0; u <= t; u++) head(u, (nh + nkv) * hd, g).forEach((v, i) => { ctx[j * hd + i] += (e[u] / z) * v })
      }
      return h.map((v, i) => v + matvec(oW, ctx, H)[i])
    })
    const upW = w(`${p}mlp.gate_up_proj.weight`), downW = w(`${p}mlp.down_proj.weight`)
    x = x.map((h) => {
      const gu = matvec(upW, rms(h, w(`${p}post_attention_layernorm.weight`)), 2 * I)
      const act = Float64Array.from({length: I}, (_, i) => (gu[i] / (1 + Math.exp(-gu[i]))) * gu[I + i])
      const down = matvec(downW, act, H)
      return h.map((v, i) => v + down[i])
    })
  }
  return matvec(w('lm_head.weight'), rms(x[T - 1], w('model.norm.weight')), cfg.vocab_size)
}

describe('longrope while decoding, as transformers does it', () => {
  it('each step takes the factor set of its own last position; cached keys keep theirs (generation crossing original_max_position_embeddings)', () => {
    const dir = longropePhi3()
    const prompt = [5, 77, 130, 9, 211], steps = 8
    const dec = new Decoder(ParamStore.fromModel(Model.load(dir)), prompt.length + steps)
    let logits = dec.step(prompt)
    const seq = [...prompt]
    // The prompt's positions were computed in one call ending at prompt.length; each later one in its own call.
    const longAt = (p: number) => (p < prompt.length ? prompt.length : p + 1) > ORIGINAL
    let differs = false
    for (let i = 0; i < steps; i++) {
      const want = referenceLogits(dir, seq, longAt)
      assertClose(logits, Float32Array.from(want), {atol: 1e-4, rtol: 1e-3}, `step ${i} (sequence of ${seq.length})`)
      // Past the original length the rule matters: one factor set for the whole cache gives other logits.
      if (seq.length > ORIGINAL) {
        const whole = referenceLogits(dir, seq, () => true)
        differs ||= whole.some((v, j) => Math.abs(v - want[j]) > 1e-3)
      }
      const next = argmax(Float32Array.from(want))
      assert.equal(argmax(logits), next, `step ${i}`)
      seq.push(next)
      logits = dec.step([next])
    }
    assert.ok(differs, 'the reference tells the per-call rule from a single factor set')
  })

})
