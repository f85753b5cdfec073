/**
 * The architecture table: every model family the engine runs, as data. The engine reads a family's tensor
 * names, its norm, activation, MLP kind and the config keys it honours from here; adding a family whose
 * pieces the engine has is one entry. Keyed by `architectures[0]` (then `model_type`), like the maps of
 * llama.cpp (llama-arch.cpp) and transformers.js (models.js), but one record per family instead of a class.
 */

/** What a tensor computes in a block; a fused tensor computes several, its rows one after another. */
export type Role = 'q' | 'k' | 'v' | 'o' | 'gate' | 'up' | 'down'

/** One weight tensor of a block, as stored: `name`.weight (and `name`.bias when the family has biases). */
export interface TensorSpec {
  name: string
  roles: readonly Role[]
}

/** rms: x·rsqrt(mean x² + eps)·w; rms1p: the same times (1 + w) (Gemma); layer: LayerNorm with bias (OPT). */
export type NormKind = 'rms' | 'rms1p' | 'layer'

/** The norms of a block: before and (Gemma 2/3) after each of attention and MLP, and per-head q/k norms. */
export type NormSlot = 'attnIn' | 'attnOut' | 'mlpIn' | 'mlpOut' | 'q' | 'k'

export interface MoeSpec {
  /** The router (never pruned), relative to the block. */
  router: string
  /** Expert e's tensors are `${experts}${e}.${tensor.name}`. */
  experts: string
  expert: readonly TensorSpec[]
  /** Config keys: the expert count, the expert width, and the layers kept dense (Qwen3-MoE's mlp_only_layers). */
  countKey: string
  widthKey: string
  /** Renormalise the top-k weights to sum 1: always (Mixtral), or as config.norm_topk_prob says. */
  normTopk: 'always' | 'config'
}

export interface Family {
  /** The decoder's tensors are `${prefix}…`; `altPrefixes` are other prefixes some checkpoints store (OPT without `model.`). */
  prefix: string
  altPrefixes?: readonly string[]
  embed: string
  /** Learned positions (OPT): row position + offset of this table is added to the token embedding. */
  positions?: {name: string; offset: number}
  /**
   * Linears between word embeddings narrower than the decoder and the decoder (OPT-350m's word_embed_proj_dim):
   * `in` widens the token embeddings before positions are added, `out` narrows the last hidden states for the head.
   * Relative to the prefix; never pruned.
   */
  projections?: {in: string; out: string}
  /** Config key that, false, puts each block's norms after its residual additions and drops the final norm (OPT-350m). */
  preNormKey?: string
  finalNorm: string
  /** The untied head's name, absolute. */
  head: string
  layers: string
  norm: NormKind
  norms: Partial<Record<NormSlot, string>> & {attnIn: string; mlpIn: string}
  /** Linear layers have biases where the checkpoint stores them (Qwen2's q/k/v; OPT's every linear). */
  attention: readonly TensorSpec[]
  mlp: readonly TensorSpec[]
  moe?: MoeSpec
  /** Config keys naming the activation, first found wins; all present must agree. */
  activationKeys: readonly string[]
  /** Embeddings times sqrt(hidden), as an fp32 value (Gemma). */
  embedScale?: boolean
  /** The head shares the embeddings when config.json does not say (the config class's default). */
  tiedByDefault?: boolean
  /** The text model's config is this key of config.json (a multimodal checkpoint: Gemma 3 4B and up). */
  textConfig?: string
  /** Values of the config class for keys config.json may leave out. */
  defaults?: Record<string, unknown>
  /** Config keys of features this family honours (others set in config.json are refused: see FEATURE_KEYS). */
  features: readonly FeatureKey[]
}

/** Config keys whose features only some families have: set where a family does not honour them, they are refused. */
export const FEATURE_KEYS = ['attn_logit_softcapping', 'final_logit_softcapping', 'query_pre_attn_scalar', 'layer_types', 'rope_local_base_freq',
  'partial_rotary_factor', 'mlp_only_layers', 'word_embed_proj_dim'] as const
export type FeatureKey = (typeof FEATURE_KEYS)[number]

const ATTENTION: readonly TensorSpec[] = [
  {name: 'self_attn.q_proj', roles: ['q']}, {name: 'self_attn.k_proj', roles: ['k']},
  {name: 'self_attn.v_proj', roles: ['v']}, {name: 'self_attn.o_proj', roles: ['o']},
]
const GATED_MLP: readonly TensorSpec[] = [
  {name: 'mlp.gate_proj', roles: ['gate']}, {name: 'mlp.up_proj', roles: ['up']}, {name: 'mlp.down_proj', roles: ['down']},
]
const SWIGLU_EXPERT: readonly TensorSpec[] = [{name: 'gate_proj', roles: ['gate']}, {name: 'up_proj', roles: ['up']}, {name: 'down_proj', roles: ['down']}]

const LLAMA: Family = {
  prefix: 'model.', embed: 'embed_tokens', finalNorm: 'norm', head: 'lm_head', layers: 'layers',
  norm: 'rms', norms: {attnIn: 'input_layernorm', mlpIn: 'post_attention_layernorm'},
  attention: ATTENTION, mlp: GATED_MLP, activationKeys: ['hidden_act'], features: [],
}
const QWEN3: Family = {...LLAMA, norms: {...LLAMA.norms, q: 'self_attn.q_norm', k: 'self_attn.k_norm'}}

const GEMMA: Family = {...LLAMA, norm: 'rms1p', embedScale: true, tiedByDefault: true, activationKeys: ['hidden_activation', 'hidden_act']}
const GEMMA2: Family = {
  ...GEMMA,
  norms: {attnIn: 'input_layernorm', attnOut: 'post_attention_layernorm', mlpIn: 'pre_feedforward_layernorm', mlpOut: 'post_feedforward_layernorm'},
  features: ['attn_logit_softcapping', 'final_logit_softcapping', 'query_pre_attn_scalar', 'layer_types'],
}
const GEMMA3: Family = {
  ...GEMMA2, norms: {...GEMMA2.norms, q: 'self_attn.q_norm', k: 'self_attn.k_norm'},
  features: ['final_logit_softcapping', 'query_pre_attn_scalar', 'layer_types', 'rope_local_base_freq'],
  // Gemma3TextConfig's defaults: the text_config of the multimodal checkpoints states only what differs.
  defaults: {vocab_size: 262208, hidden_size: 2304, intermediate_size: 9216, num_hidden_layers: 26, num_attention_heads: 8, num_key_value_heads: 4,
    head_dim: 256, rms_norm_eps: 1e-6, rope_theta: 1e6, rope_local_base_freq: 10000, query_pre_attn_scalar: 256, sliding_window: 4096,
    sliding_window_pattern: 6, max_position_embeddings: 131072, hidden_activation: 'gelu_pytorch_tanh'},
}
/** The language model inside Gemma 3 4B/12B/27B: only its weights are pruned; the vision tower and projector are copied through. */
const GEMMA3_MULTIMODAL: Family = {...GEMMA3, prefix: 'language_model.model.', altPrefixes: ['model.language_model.'], head: 'language_model.lm_head', textConfig: 'text_config'}

const PHI3: Family = {
  ...LLAMA,
  attention: [{name: 'self_attn.qkv_proj', roles: ['q', 'k', 'v']}, {name: 'self_attn.o_proj', roles: ['o']}],
  mlp: [{name: 'mlp.gate_up_proj', roles: ['gate', 'up']}, {name: 'mlp.down_proj', roles: ['down']}],
  features: ['partial_rotary_factor'],
}

const OPT: Family = {
  prefix: 'model.decoder.', altPrefixes: ['decoder.'], embed: 'embed_tokens', positions: {name: 'embed_positions', offset: 2},
  finalNorm: 'final_layer_norm', head: 'lm_head', layers: 'layers', norm: 'layer',
  projections: {in: 'project_in', out: 'project_out'}, preNormKey: 'do_layer_norm_before',
  norms: {attnIn: 'self_attn_layer_norm', mlpIn: 'final_layer_norm'},
  attention: [...ATTENTION.slice(0, 3), {name: 'self_attn.out_proj', roles: ['o']}],
  mlp: [{name: 'fc1', roles: ['up']}, {name: 'fc2', roles: ['down']}],
  activationKeys: ['activation_function'], features: ['word_embed_proj_dim'], tiedByDefault: true,
}

const MIXTRAL: Family = {
  ...LLAMA, mlp: [],
  moe: {router: 'block_sparse_moe.gate', experts: 'block_sparse_moe.experts.',
    expert: [{name: 'w1', roles: ['gate']}, {name: 'w3', roles: ['up']}, {name: 'w2', roles: ['down']}],
    countKey: 'num_local_experts', widthKey: 'intermediate_size', normTopk: 'always'},
}
const QWEN3_MOE: Family = {
  ...QWEN3,
  moe: {router: 'mlp.gate', experts: 'mlp.experts.', expert: SWIGLU_EXPERT, countKey: 'num_experts', widthKey: 'moe_intermediate_size', normTopk: 'config'},
  features: ['mlp_only_layers'],
}

/** Families by `architectures[0]`. */
export const FAMILIES: Record<string, Family> = {
  LlamaForCausalLM: LLAMA,
  MistralForCausalLM: LLAMA,
  Qwen2ForCausalLM: LLAMA,
  Qwen3ForCausalLM: QWEN3,
  GemmaForCausalLM: GEMMA,
  Gemma2ForCausalLM: GEMMA2,
  Gemma3ForCausalLM: GEMMA3,
  Gemma3ForConditionalGeneration: GEMMA3_MULTIMODAL,
  Phi3ForCausalLM: PHI3,
  OPTForCausalLM: OPT,
  MixtralForCausalLM: MIXTRAL,
  Qwen3MoeForCausalLM: QWEN3_MOE,
}
