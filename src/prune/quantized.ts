import {mkdirSync} from 'node:fs'
import path from 'node:path'

import type {LinearResult} from '../methods/sequential.js'
import type {QuantOptions, QuantState} from '../methods/gptq.js'
import type {Model} from '../model/model.js'
import {SafetensorsFile} from '../model/safetensors/reader.js'
import {writeSafetensors} from '../model/safetensors/writer.js'
import type {QuantizedOf} from '../export/pack-quantized.js'
import {blockPrefix, LINEARS, type LinearName} from '../model/weights.js'
import type {QuantizationSummary} from '../report/report.js'

/**
 * The codes, scales and zero points of each finished block, kept in the work folder beside the dense
 * output (which holds their dequantized values) until --format pack-quantized packs the checkpoint.
 */
const STATE_DIR = '.quant-state'
const quantBlockFile = (work: string, layer: number) => path.join(work, STATE_DIR, `block-${layer}.safetensors`)
const f32 = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength)

export function saveQuantBlock(work: string, layer: number, stateOf: (name: LinearName) => QuantState): void {
  mkdirSync(path.join(work, STATE_DIR), {recursive: true})
  writeSafetensors(quantBlockFile(work, layer), LINEARS.flatMap((name) => {
    const s = stateOf(name), p = `${blockPrefix(layer)}${name}`, groups = s.scales.length / s.rows
    return [
      {name: `${p}.codes`, dtype: 'U8' as const, shape: [s.rows, s.cols], data: s.codes!},
      {name: `${p}.scales`, dtype: 'F32' as const, shape: [s.rows, groups], data: f32(s.scales)},
      {name: `${p}.zeros`, dtype: 'F32' as const, shape: [s.rows, groups], data: f32(s.zeros)},
    ]
  }))
}

/** Reads the saved states back by weight name (for writePackQuantized); close() when done. */
export function quantStates(work: string, layers: number): {of: QuantizedOf; close(): void} {
  const files = Array.from({length: layers}, (_, layer) => SafetensorsFile.open(quantBlockFile(work, layer)))
  return {
    of(name) {
      const layer = files.findIndex((_, l) => name.startsWith(blockPrefix(l)))
      const f = files[layer], p = name.replace(/\.weight$/, '')
      if (!f || !f.tensors.has(`${p}.codes`)) return null
      return {codes: f.readBytes(`${p}.codes`), scales: f.readF32(`${p}.scales`), zeros: f.readF32(`${p}.zeros`)}
    },
    close: () => { for (const f of files) f.close() },
  }
}

const DTYPE_BYTES: Record<string, number> = {F32: 4, BF16: 2, F16: 2}

/** What the report says about the quantization: the scheme, and bytes per decoder-linear weight of the stored model. */
export function quantizationSummary(q: QuantOptions, format: string, linears: LinearResult[], model: Model): QuantizationSummary {
  let bytes = 0, weights = 0
  for (const l of linears) {
    const dtype = DTYPE_BYTES[model.ckpt.entry(l.name).dtype] ?? 4, groups = q.groupsize ? Math.ceil(l.cols / q.groupsize) : 1
    weights += l.rows * l.cols
    bytes += format !== 'pack-quantized' ? l.rows * l.cols * dtype
      : 4 * l.rows * Math.ceil(l.cols * q.bits / 32) + dtype * l.rows * groups + (q.sym ? 0 : 4 * Math.ceil(l.rows * q.bits / 32) * groups) + 16
  }
  return {bits: q.bits, group_size: q.groupsize || null, symmetric: q.sym, scale_dtype: q.scaleDtype, format, bytes_per_weight: bytes / weights}
}
