import {existsSync, readFileSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {SafetensorsFile} from '../../src/model/safetensors/reader.js'

/** test/golden in the repository (compiled to dist/test/helpers, hence three levels up). */
export const GOLDEN_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../test/golden')
export const GOLDEN_MODELS = ['llama', 'qwen2', 'qwen3', 'gemma', 'gemma2', 'gemma3', 'phi3', 'opt', 'mixtral', 'qwen3_moe'] as const
/** The goldens of the architecture table's later families (six pruning runs each, no DSnoT). */
export const NEW_FAMILIES = GOLDEN_MODELS.slice(3)
export const goldenPath = (model: string) => path.join(GOLDEN_DIR, model)

export interface Golden {
  dir: string
  expected: SafetensorsFile
  json: Record<string, any>
  rows(name: 'calib_ids' | 'eval_ids'): number[][]
}

export function golden(model: string): Golden {
  const dir = goldenPath(model)
  if (!existsSync(dir)) throw new Error(`golden checkpoints not found at ${dir}`)
  const expected = SafetensorsFile.open(path.join(dir, 'expected.safetensors'))
  const json = JSON.parse(readFileSync(path.join(dir, 'expected.json'), 'utf8'))
  return {
    dir, expected, json,
    rows(name) {
      const [n, seq] = expected.entry(name).shape
      const flat = expected.readInts(name)
      return Array.from({length: n}, (_, i) => flat.slice(i * seq, (i + 1) * seq))
    },
  }
}
