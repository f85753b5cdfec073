import type {ArchName} from '../model/config.js'
import {invalidFormat} from '../util/errors.js'

/**
 * How each architecture the engine runs is written for other runtimes: a family is an entry
 * here, not a branch in the exporters. Tensor names are Hugging Face suffixes within a decoder
 * block (or whole names outside blocks) mapped to llama.cpp's (gguf-py constants.py).
 */
export interface ExportFamily {
  gguf: {
    /** llama.cpp's general.architecture */
    arch: string
    /**
     * q_proj and k_proj rows reordered from Hugging Face's rotate-half RoPE to llama.cpp's
     * interleaved pairs (llama.cpp's converter does this for its llama arch; NeoX-style archs need none).
     */
    permuteQK: boolean
    block: Record<string, string>
  }
  /** transformers.js picks its model class from config.json's model_type. */
  onnx: {modelType: string}
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

/** Architectures without an entry are refused by both exporters (exportFamily). */
export const EXPORT_FAMILIES: Partial<Record<ArchName, ExportFamily>> = {
  LlamaForCausalLM: {gguf: {arch: 'llama', permuteQK: true, block: LLAMA_BLOCK}, onnx: {modelType: 'llama'}},
  // llama.cpp's converter writes Mistral as arch llama (same graph, same permutation).
  MistralForCausalLM: {gguf: {arch: 'llama', permuteQK: true, block: LLAMA_BLOCK}, onnx: {modelType: 'mistral'}},
  Qwen2ForCausalLM: {gguf: {arch: 'qwen2', permuteQK: false, block: LLAMA_BLOCK}, onnx: {modelType: 'qwen2'}},
  Qwen3ForCausalLM: {gguf: {arch: 'qwen3', permuteQK: false, block: LLAMA_BLOCK}, onnx: {modelType: 'qwen3'}},
}

export function exportFamily(arch: ArchName, format: string): ExportFamily {
  const family = EXPORT_FAMILIES[arch]
  if (!family) {
    throw invalidFormat(`${arch} cannot be exported to ${format} yet`, `exported architectures: ${Object.keys(EXPORT_FAMILIES).join(', ')}`)
  }
  return family
}
