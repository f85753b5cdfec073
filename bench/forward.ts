// `npm run bench -- forward`: the engine's forward pass on random models of real shapes, against its own memory estimate.
import {spawnSync} from 'node:child_process'
import {rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {writeRandomLlama, type LlamaShape} from '../fixtures/gen/random-model.js'
import {randomCheckpoint} from './random-checkpoint.js'

/** Gemma 3 1B's config.json, as published (tied embeddings, five sliding-window layers to one global). */
export const GEMMA3_1B = {
  architectures: ['Gemma3ForCausalLM'], model_type: 'gemma3_text', vocab_size: 262144, hidden_size: 1152, intermediate_size: 6912,
  num_hidden_layers: 26, num_attention_heads: 4, num_key_value_heads: 1, head_dim: 256, hidden_activation: 'gelu_pytorch_tanh',
  max_position_embeddings: 32768, rms_norm_eps: 1e-6, rope_theta: 1000000, rope_local_base_freq: 10000, rope_scaling: null,
  query_pre_attn_scalar: 256, sliding_window: 512, sliding_window_pattern: 6, attn_logit_softcapping: null, final_logit_softcapping: null,
  attention_bias: false, tie_word_embeddings: true, bos_token_id: 2, eos_token_id: 1, pad_token_id: 0, torch_dtype: 'bfloat16',
}

/** Qwen3-30B-A3B's config.json with 4 of its 48 blocks. */
export const QWEN3_30B_A3B_4 = {
  architectures: ['Qwen3MoeForCausalLM'], model_type: 'qwen3_moe', vocab_size: 151936, hidden_size: 2048, intermediate_size: 6144,
  moe_intermediate_size: 768, num_experts: 128, num_experts_per_tok: 8, norm_topk_prob: true, decoder_sparse_step: 1, mlp_only_layers: [],
  num_hidden_layers: 4, num_attention_heads: 32, num_key_value_heads: 4, head_dim: 128, hidden_act: 'silu', max_position_embeddings: 40960,
  rms_norm_eps: 1e-6, rope_theta: 1000000, rope_scaling: null, attention_bias: false, tie_word_embeddings: false,
  bos_token_id: 151643, eos_token_id: 151645, torch_dtype: 'bfloat16',
}

interface ForwardRun {seconds: number; gemmSeconds: number; maxRss: number; baseRss: number; estimate: number}

/** One forward pass in a child process, so that its peak RSS is the engine's own, not this process's. */
export function forwardInChild(dir: string, n: number, seq: number): ForwardRun {
  const child = spawnSync(process.execPath, [fileURLToPath(new URL('./forward-child.js', import.meta.url)), dir, String(n), String(seq)], {encoding: 'utf8'})
  if (child.status !== 0) throw new Error(child.stderr)
  return JSON.parse(child.stdout)
}

const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`

function report(title: string, n: number, seq: number, r: ForwardRun): void {
  console.log(`\nForward pass, ${title}, ${n} × ${seq} random tokens`)
  console.log(`  tokens/s            ${(n * seq / r.seconds).toFixed(1)}`)
  console.log(`  time in GEMM        ${(100 * r.gemmSeconds / r.seconds).toFixed(1)} % of ${r.seconds.toFixed(2)} s`)
  console.log(`  peak RSS            ${mib(r.maxRss)} (Node itself ${mib(r.baseRss)}) vs the engine's estimate ${mib(r.estimate)}: ratio ${(r.maxRss / r.estimate).toFixed(2)} (target ≤ 1)`)
}

export async function forwardBench(): Promise<void> {
  const shape: LlamaShape = {vocab: 32000, hidden: 1024, intermediate: 2816, layers: 8, heads: 16, kvHeads: 4, maxPositions: 2048}
  const dir = path.join(tmpdir(), `sparsify-bench-llama-${process.pid}`)
  writeRandomLlama(dir, shape, {seed: 2, dtype: 'BF16'})
  try {
    report(`random Llama (hidden ${shape.hidden}, ${shape.layers} layers, intermediate ${shape.intermediate}, vocab ${shape.vocab}, bf16 on disk)`, 4, 512, forwardInChild(dir, 4, 512))
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
  report('random Gemma-3-1B shape (vocab 262144, hidden 1152, 26 blocks, sliding window 512 on 5 of 6, bf16, tied head)', 2, 1024,
    forwardInChild(randomCheckpoint('gemma3-1b', GEMMA3_1B, 6), 2, 1024))
  report('random Qwen3-30B-A3B shape, 4 of 48 blocks (128 experts, top 8, width 768, hidden 2048, vocab 151936, bf16)', 2, 512,
    forwardInChild(randomCheckpoint('qwen3-30b-a3b-4', QWEN3_30B_A3B_4, 7), 2, 512))
}
