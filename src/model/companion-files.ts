import {copyFileSync, existsSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

/** Files beside the weights that a Hugging Face loader or tokenizer reads, carried into every output folder. */
const COMPANIONS = ['generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'tokenizer.model',
  'vocab.json', 'merges.txt', 'added_tokens.json', 'chat_template.jinja', 'chat_template.json']

export function copyCompanionFiles(from: string, to: string): void {
  for (const f of COMPANIONS) if (existsSync(path.join(from, f))) copyFileSync(path.join(from, f), path.join(to, f))
}

/** config.json as it was, less sparsity_config: current transformers and vLLM reject it on dense weights. */
export function copyConfigWithoutSparsity(from: string, to: string): void {
  const cfg = JSON.parse(readFileSync(path.join(from, 'config.json'), 'utf8'))
  delete cfg.sparsity_config
  writeFileSync(path.join(to, 'config.json'), `${JSON.stringify(cfg, null, 2)}\n`)
}
