import {mkdirSync} from 'node:fs'
import path from 'node:path'

import type {Encoded} from '../export/compressed-tensors.js'
import {kernels} from '../kernels/index.js'
import type {ModelConfig} from '../model/config.js'
import {SafetensorsFile} from '../model/safetensors/reader.js'
import {writeSafetensors} from '../model/safetensors/writer.js'
import {blockTensors, layerOf, type TensorInfo} from '../model/arch/layout.js'
import {encodePacked} from '../packed/tensors.js'
import type {PackedWeight} from '../packed/weight.js'

/**
 * GQSA's groups of each finished block, kept in the work folder beside the dense output (which holds
 * only their dequantized values) until --format gqsa packs the checkpoint; an interrupted run keeps them.
 */
const STATE_DIR = '.gqsa-state'
const blockFile = (work: string, layer: number) => path.join(work, STATE_DIR, `block-${layer}.safetensors`)

export function saveGqsaBlock(work: string, layer: number, cfg: ModelConfig, packedOf: (t: TensorInfo, index: number) => PackedWeight): void {
  mkdirSync(path.join(work, STATE_DIR), {recursive: true})
  const tensors = blockTensors(cfg, layer).flatMap((t, i) => encodePacked(t.name, packedOf(t, i), t.rows, t.cols, 'F32', kernels()))
  writeSafetensors(blockFile(work, layer), tensors, {})
}

/** The stored tensors of linear `prefix` (a block tensor's name without `.weight`), as written by saveGqsaBlock. */
export function readGqsaLinear(work: string, cfg: ModelConfig, prefix: string): Encoded[] {
  const layer = layerOf(cfg, prefix)!
  const f = SafetensorsFile.open(blockFile(work, layer))
  try {
    return [...f.tensors.values()].filter((t) => t.name.startsWith(`${prefix}.weight_`)).map((t) => ({...t, data: f.readBytes(t.name)}))
  } finally {
    f.close()
  }
}
