import type {ModelConfig} from '../../model/config.js'
import {invalidFormat} from '../../util/errors.js'

/**
 * How each architecture the engine runs is written as a transformers.js ONNX folder: a family
 * is an entry here, not a branch in the exporter (the graph itself reads the architecture table).
 */
export interface OnnxFamily {
  /** transformers.js picks its model class from config.json's model_type. */
  modelType: string
  /** The first position_ids value transformers.js feeds (1 for gemma3_text, whose positions it counts from 1); the graph subtracts it. */
  positionStart?: number
  /** Why transformers.js cannot load the folder (no model class for the model_type): it runs in onnxruntime only. */
  onnxruntimeOnly?: string
  /** A multimodal checkpoint exported as its text model: the architecture its config.json is written as. */
  textArchitecture?: string
}

/** Architectures without an entry are refused (onnxFamily). */
export const ONNX_FAMILIES: Record<string, OnnxFamily> = {
  LlamaForCausalLM: {modelType: 'llama'},
  MistralForCausalLM: {modelType: 'mistral'},
  Qwen2ForCausalLM: {modelType: 'qwen2'},
  Qwen3ForCausalLM: {modelType: 'qwen3'},
  GemmaForCausalLM: {modelType: 'gemma'},
  Gemma2ForCausalLM: {modelType: 'gemma2'},
  Gemma3ForCausalLM: {modelType: 'gemma3_text', positionStart: 1},
  // transformers.js runs the vision tower as graphs of their own; the text model is what sparsify prunes.
  Gemma3ForConditionalGeneration: {modelType: 'gemma3_text', positionStart: 1, textArchitecture: 'Gemma3ForCausalLM'},
  Phi3ForCausalLM: {modelType: 'phi3'},
  OPTForCausalLM: {modelType: 'opt'},
  MixtralForCausalLM: {modelType: 'mixtral', onnxruntimeOnly: 'transformers.js 3.8 has no mixtral model class'},
  Qwen3MoeForCausalLM: {modelType: 'qwen3_moe', onnxruntimeOnly: 'transformers.js 3.8 has no qwen3_moe model class'},
}

export function onnxFamily(cfg: ModelConfig): OnnxFamily {
  const arch = cfg.arch
  const family = Object.hasOwn(ONNX_FAMILIES, arch) ? ONNX_FAMILIES[arch] : undefined
  if (!family) throw invalidFormat(`${arch} cannot be exported to ONNX yet`, `exported architectures: ${Object.keys(ONNX_FAMILIES).join(', ')}`)
  return family
}

/** The position_ids transformers.js feeds for a folder's model_type start here. */
export const positionStartOf = (modelType: unknown): number =>
  Object.values(ONNX_FAMILIES).find((f) => f.modelType === modelType)?.positionStart ?? 0
