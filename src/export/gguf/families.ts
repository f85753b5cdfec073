import {invalidFormat} from '../../util/errors.js'

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

/** Architectures without an entry are refused (ggufFamily). */
export const GGUF_FAMILIES: Record<string, GgufFamily> = {
  LlamaForCausalLM: {arch: 'llama', permuteQK: true, block: LLAMA_BLOCK},
  // llama.cpp's converter writes Mistral as arch llama (same graph, same permutation).
  MistralForCausalLM: {arch: 'llama', permuteQK: true, block: LLAMA_BLOCK},
  Qwen2ForCausalLM: {arch: 'qwen2', permuteQK: false, block: LLAMA_BLOCK},
  Qwen3ForCausalLM: {arch: 'qwen3', permuteQK: false, block: LLAMA_BLOCK},
}

export function ggufFamily(arch: string): GgufFamily {
  const family = GGUF_FAMILIES[arch]
  if (!family) {
    throw invalidFormat(`${arch} cannot be exported to GGUF yet`, `exported architectures: ${Object.keys(GGUF_FAMILIES).join(', ')}`)
  }
  return family
}
