import type {ModelConfig} from '../../model/config.js'
import {invalidFormat} from '../../util/errors.js'
import type {GgufValue} from './file.js'

/**
 * How each architecture the engine runs is written for llama.cpp: a family is an entry here,
 * not a branch in the exporter. Tensor names are Hugging Face suffixes within a decoder block
 * (or whole names outside blocks) mapped to llama.cpp's (gguf-py constants.py).
 */
export interface GgufFamily {
  /** llama.cpp's general.architecture */
  arch: string
  /**
   * q_proj and k_proj rows reordered from Hugging Face's rotate-half RoPE to llama.cpp's
   * interleaved pairs (llama.cpp's converter does this for its llama arch; NeoX-style archs need none).
   */
  permuteQK: boolean
  block: Record<string, string>
  /** An expert's tensor (its name within the expert) → the GGUF name of the per-block stack of all experts. */
  experts?: Record<string, string>
  /**
   * The keys (under the arch's prefix) this family adds, after refusing what llama.cpp would run differently:
   * llama.cpp hard-codes some of what config.json states, and a file it would misread is not written.
   */
  meta?: (cfg: ModelConfig) => Record<string, GgufValue>
  /** The attention scale llama.cpp applies (default 1/√head_dim); the exporter folds the model's own into q. */
  attnScale?: (cfg: ModelConfig) => number
}

/** Outside the blocks: HF name → GGUF name (lm_head absent when tied). */
export const GGUF_GLOBAL_NAMES: Record<string, string> = {
  'model.embed_tokens.weight': 'token_embd.weight',
  'model.norm.weight': 'output_norm.weight',
  'lm_head.weight': 'output.weight',
}

const LLAMA_BLOCK: Record<string, string> = {
  'input_layernorm.weight': 'attn_norm.weight',
  'self_attn.q_proj.weight': 'attn_q.weight',
  'self_attn.q_proj.bias': 'attn_q.bias',
  'self_attn.k_proj.weight': 'attn_k.weight',
  'self_attn.k_proj.bias': 'attn_k.bias',
  'self_attn.v_proj.weight': 'attn_v.weight',
  'self_attn.v_proj.bias': 'attn_v.bias',
  'self_attn.o_proj.weight': 'attn_output.weight',
  'self_attn.q_norm.weight': 'attn_q_norm.weight',
  'self_attn.k_norm.weight': 'attn_k_norm.weight',
  'post_attention_layernorm.weight': 'ffn_norm.weight',
  'mlp.gate_proj.weight': 'ffn_gate.weight',
  'mlp.up_proj.weight': 'ffn_up.weight',
  'mlp.down_proj.weight': 'ffn_down.weight',
}

/** Gemma 2/3 norm each sublayer's output too: post_attention_layernorm is that, not the MLP's input norm. */
const GEMMA2_BLOCK: Record<string, string> = {
  ...LLAMA_BLOCK,
  'post_attention_layernorm.weight': 'post_attention_norm.weight',
  'pre_feedforward_layernorm.weight': 'ffn_norm.weight',
  'post_feedforward_layernorm.weight': 'post_ffw_norm.weight',
}

const u32 = (value: number): GgufValue => ({type: 'u32', value})
const f32 = (value: number): GgufValue => ({type: 'f32', value})

const refuse = (cfg: ModelConfig, what: string) =>
  invalidFormat(`${cfg.arch}: ${what}; llama.cpp would run a different model, so no GGUF is written`)

/** The one window of the sliding layers; refused unless they are exactly the layers llama.cpp makes sliding. */
function slidingWindow(cfg: ModelConfig, sliding: (layer: number) => boolean, pattern: string): number {
  const window = Math.max(...cfg.windows)
  // A window of 0 where llama.cpp expects sliding layers would be none at all: all-full layer_types are refused too.
  if (cfg.windows.some((w, l) => sliding(l) ? w === 0 || w !== window : w !== 0)) {
    throw refuse(cfg, `its sliding-window layers (layer_types) are not a pattern llama.cpp runs (${pattern})`)
  }
  return window
}

/**
 * llama.cpp's Gemma 2/3 scale q by 1/√(hidden/heads) for the 27B models (recognised by their layer count)
 * and by 1/√head_dim otherwise, whatever query_pre_attn_scalar says.
 */
const gemmaScale = (layers27b: number) => (cfg: ModelConfig) =>
  1 / Math.sqrt(cfg.layers === layers27b ? cfg.hidden / cfg.heads : cfg.headDim)

function gemma2Meta(cfg: ModelConfig): Record<string, GgufValue> {
  // llama.cpp caps both (defaults 50 and 30 when the keys are absent): a Gemma 2 without them cannot be stated.
  if (!cfg.attnSoftcap || !cfg.finalSoftcap) throw refuse(cfg, 'attn_logit_softcapping or final_logit_softcapping is null')
  return {
    'attention.sliding_window': u32(slidingWindow(cfg, (l) => l % 2 === 0, 'even layers sliding, odd full')),
    attn_logit_softcapping: f32(cfg.attnSoftcap),
    final_logit_softcapping: f32(cfg.finalSoftcap),
  }
}

/**
 * llama.cpp's Gemma 3 reads the sliding layers as a period p (layer l slides unless (l+1) % p = 0; 6 when the
 * key is absent), the local RoPE base from rope.freq_base_swa (10000 when absent), unscaled as in transformers,
 * and caps the logits only when final_logit_softcapping is present.
 */
function gemma3Meta(cfg: ModelConfig): Record<string, GgufValue> {
  const firstFull = cfg.windows.indexOf(0)
  const period = firstFull < 0 ? cfg.layers + 1 : firstFull + 1
  return {
    'attention.sliding_window': u32(slidingWindow(cfg, (l) => (l + 1) % period !== 0, 'one full layer every n, the others sliding')),
    'attention.sliding_window_pattern': u32(period),
    'rope.freq_base_swa': f32(cfg.ropeLocalTheta ?? cfg.ropeTheta),
    ...(cfg.finalSoftcap ? {final_logit_softcapping: f32(cfg.finalSoftcap)} : {}),
  }
}

/** llama.cpp's fused q/k/v and gate/up tensors, split by its graph in the same order as transformers. */
const PHI3_BLOCK: Record<string, string> = {
  ...LLAMA_BLOCK,
  'self_attn.qkv_proj.weight': 'attn_qkv.weight',
  'mlp.gate_up_proj.weight': 'ffn_up.weight',
}

/** A mixture of experts in every block (llama.cpp has no dense blocks among them), top-k weights summing to 1. */
function moeMeta(cfg: ModelConfig): Record<string, GgufValue> {
  const moe = cfg.moe!
  if (moe.sparse.includes(false)) throw refuse(cfg, 'some blocks are dense (mlp_only_layers or decoder_sparse_step)')
  if (!moe.normTopk) throw refuse(cfg, 'norm_topk_prob is false (llama.cpp renormalises the top-k weights)')
  return {expert_count: u32(moe.experts), expert_used_count: u32(moe.topK)}
}

const SWIGLU_EXPERTS = {'gate_proj.weight': 'ffn_gate_exps.weight', 'up_proj.weight': 'ffn_up_exps.weight', 'down_proj.weight': 'ffn_down_exps.weight'}

const GEMMA3: GgufFamily = {arch: 'gemma3', permuteQK: false, block: GEMMA2_BLOCK, meta: gemma3Meta, attnScale: gemmaScale(62)}

/** Architectures without an entry are refused (ggufFamily). */
export const GGUF_FAMILIES: Record<string, GgufFamily> = {
  LlamaForCausalLM: {arch: 'llama', permuteQK: true, block: LLAMA_BLOCK},
  // llama.cpp's converter writes Mistral as arch llama (same graph, same permutation).
  MistralForCausalLM: {arch: 'llama', permuteQK: true, block: LLAMA_BLOCK},
  Qwen2ForCausalLM: {arch: 'qwen2', permuteQK: false, block: LLAMA_BLOCK},
  Qwen3ForCausalLM: {arch: 'qwen3', permuteQK: false, block: LLAMA_BLOCK},
  GemmaForCausalLM: {arch: 'gemma', permuteQK: false, block: LLAMA_BLOCK},
  Gemma2ForCausalLM: {arch: 'gemma2', permuteQK: false, block: GEMMA2_BLOCK, meta: gemma2Meta, attnScale: gemmaScale(46)},
  Gemma3ForCausalLM: GEMMA3,
  // Its text model, as llama.cpp's converter writes it (the vision tower goes to a separate mmproj file, not written here).
  Gemma3ForConditionalGeneration: GEMMA3,
  Phi3ForCausalLM: {arch: 'phi3', permuteQK: false, block: PHI3_BLOCK},
  // llama.cpp's converter writes Mixtral as arch llama with experts (w1 gate, w3 up, w2 down).
  MixtralForCausalLM: {arch: 'llama', permuteQK: true, block: {...LLAMA_BLOCK, 'block_sparse_moe.gate.weight': 'ffn_gate_inp.weight'},
    experts: {'w1.weight': 'ffn_gate_exps.weight', 'w3.weight': 'ffn_up_exps.weight', 'w2.weight': 'ffn_down_exps.weight'}, meta: moeMeta},
  Qwen3MoeForCausalLM: {arch: 'qwen3moe', permuteQK: false, block: {...LLAMA_BLOCK, 'mlp.gate.weight': 'ffn_gate_inp.weight'},
    experts: SWIGLU_EXPERTS, meta: (cfg) => ({...moeMeta(cfg), expert_feed_forward_length: u32(cfg.moe!.width)})},
}

export function ggufFamily(arch: string): GgufFamily {
  const family = GGUF_FAMILIES[arch]
  if (!family) {
    throw invalidFormat(`${arch} cannot be exported to GGUF yet`, `exported architectures: ${Object.keys(GGUF_FAMILIES).join(', ')}`)
  }
  return family
}
