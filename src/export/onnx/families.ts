import {invalidFormat} from '../../util/errors.js'

/**
 * How each architecture the engine runs is written as a transformers.js ONNX folder: a family
 * is an entry here, not a branch in the exporter.
 */
export interface OnnxFamily {
  /** transformers.js picks its model class from config.json's model_type. */
  modelType: string
}

/** Architectures without an entry are refused (onnxFamily). */
export const ONNX_FAMILIES: Record<string, OnnxFamily> = {
  LlamaForCausalLM: {modelType: 'llama'},
  MistralForCausalLM: {modelType: 'mistral'},
  Qwen2ForCausalLM: {modelType: 'qwen2'},
  Qwen3ForCausalLM: {modelType: 'qwen3'},
}

export function onnxFamily(arch: string): OnnxFamily {
  const family = ONNX_FAMILIES[arch]
  if (!family) {
    throw invalidFormat(`${arch} cannot be exported to ONNX yet`, `exported architectures: ${Object.keys(ONNX_FAMILIES).join(', ')}`)
  }
  return family
}
