import {readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {Checkpoint} from '../model/safetensors/checkpoint.js'
import type {FloatDtype} from '../model/safetensors/dtypes.js'
import {encodeFloats} from '../model/safetensors/writer.js'
import {encodePackQuantized, packQuantizedConfig, readPackQuantizedDense, type PackQuantScheme} from '../packed/pack-quantized.js'
import type {Encoded} from './compressed-tensors.js'
import {copyCompanionFiles} from '../model/companion-files.js'
import {copyReportFiles, intoFolder, rewriteShards} from './layouts.js'

/** A quantized linear's codes, scales and zero points by weight name, or null for a tensor that stays as it is. */
export type QuantizedOf = (name: string) => {codes: Uint8Array; scales: Float32Array; zeros: Float32Array} | null

/** The dense work folder's checkpoint with every quantized linear in compressed-tensors' pack-quantized layout, into `out`. */
export function writePackQuantized(work: string, out: string, q: PackQuantScheme, quantizedOf: QuantizedOf): void {
  const ck = Checkpoint.open(work)
  try {
    intoFolder(out, true, (dir) => {
      rewriteShards(ck, dir, (file) => {
        const src = ck.files.find((x) => x.path === file)!
        return [...src.tensors.values()].flatMap((t): Encoded[] => {
          const s = quantizedOf(t.name)
          if (!s) return [{...t, data: src.readBytes(t.name)}]
          const [rows, cols] = t.shape
          return encodePackQuantized(t.name.replace(/\.weight$/, ''), {...q, rows, cols, ...s}, t.dtype as FloatDtype)
        })
      })
      const cfg = JSON.parse(readFileSync(path.join(work, 'config.json'), 'utf8'))
      cfg.quantization_config = packQuantizedConfig(q)
      writeFileSync(path.join(dir, 'config.json'), `${JSON.stringify(cfg, null, 2)}\n`)
      copyCompanionFiles(work, dir)
      copyReportFiles(work, dir)
    })
  } finally {
    ck.close()
  }
}

const PART = /^(.+)\.weight_(packed|scale|zero_point|shape)$/

/** Whether config.json declares compressed-tensors' pack-quantized layout. */
export const isPackQuantizedConfig = (cfg: {quantization_config?: {quant_method?: string; format?: string}}) =>
  cfg.quantization_config?.quant_method === 'compressed-tensors' && cfg.quantization_config.format === 'pack-quantized'

/** A pack-quantized checkpoint back to the Hugging Face layout: each linear dequantized in the dtype of its scales, config.json without quantization_config. */
export function decompressPackQuantized(dir: string, cfg: Record<string, unknown>, out: string, overwrite: boolean): {tensors: number} {
  const ck = Checkpoint.open(dir)
  let expanded = 0
  try {
    intoFolder(out, overwrite, (work) => {
      rewriteShards(ck, work, (file) => {
        const src = ck.files.find((x) => x.path === file)!
        return [...src.tensors.values()].flatMap((t): Encoded[] => {
          const m = PART.exec(t.name)
          if (!m) return [{...t, data: src.readBytes(t.name)}]
          if (m[2] !== 'packed') return []
          const [rows, cols] = ck.file(`${m[1]}.weight_shape`).readInts(`${m[1]}.weight_shape`)
          const dtype = ck.entry(`${m[1]}.weight_scale`).dtype as FloatDtype
          expanded++
          return [{name: `${m[1]}.weight`, dtype, shape: [rows, cols], data: encodeFloats(readPackQuantizedDense(ck, m[1], rows, cols), dtype)}]
        })
      })
      delete cfg.quantization_config
      writeFileSync(path.join(work, 'config.json'), `${JSON.stringify(cfg, null, 2)}\n`)
      copyCompanionFiles(dir, work)
    })
  } finally {
    ck.close()
  }
  return {tensors: expanded}
}
