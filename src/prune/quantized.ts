import {copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import type {Encoded} from '../export/compressed-tensors.js'
import {intoFolder, rewriteShards} from '../export/layouts.js'
import {copyCompanionFiles} from '../model/companion-files.js'
import {encodePackQuantized, packQuantizedConfig} from '../export/pack-quantized.js'
import type {LinearResult} from '../methods/sequential.js'
import type {QuantOptions, QuantState} from '../methods/gptq.js'
import type {Model} from '../model/model.js'
import {Checkpoint} from '../model/safetensors/checkpoint.js'
import type {FloatDtype} from '../model/safetensors/dtypes.js'
import {SafetensorsFile} from '../model/safetensors/reader.js'
import {writeSafetensors} from '../model/safetensors/writer.js'
import {blockPrefix, LINEARS, type LinearName} from '../model/weights.js'
import type {QuantizationSummary} from '../report/report.js'

/**
 * The codes, scales and zero points of each finished block, kept in the work folder beside the dense
 * output (which holds their dequantized values) until --format pack-quantized packs the checkpoint.
 */
const STATE_DIR = '.quant-state'
const blockFile = (work: string, layer: number) => path.join(work, STATE_DIR, `block-${layer}.safetensors`)
const f32 = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength)

export function saveQuantBlock(work: string, layer: number, stateOf: (name: LinearName) => QuantState): void {
  mkdirSync(path.join(work, STATE_DIR), {recursive: true})
  writeSafetensors(blockFile(work, layer), LINEARS.flatMap((name) => {
    const s = stateOf(name), p = `${blockPrefix(layer)}${name}`, groups = s.scales.length / s.rows
    return [
      {name: `${p}.codes`, dtype: 'U8' as const, shape: [s.rows, s.cols], data: s.codes!},
      {name: `${p}.scales`, dtype: 'F32' as const, shape: [s.rows, groups], data: f32(s.scales)},
      {name: `${p}.zeros`, dtype: 'F32' as const, shape: [s.rows, groups], data: f32(s.zeros)},
    ]
  }))
}

/** The dense work folder's checkpoint with every decoder linear in compressed-tensors' pack-quantized layout, into `out`. */
export function writePackQuantized(work: string, out: string, q: QuantOptions): void {
  const ck = Checkpoint.open(work)
  const states = new Map<number, SafetensorsFile>()
  const stateOf = (name: string) => {
    for (let layer = 0; ; layer++) {   // the block whose prefix the tensor name starts with
      if (!existsSync(blockFile(work, layer))) return null
      if (!name.startsWith(blockPrefix(layer))) continue
      if (!states.has(layer)) states.set(layer, SafetensorsFile.open(blockFile(work, layer)))
      const f = states.get(layer)!, p = name.replace(/\.weight$/, '')
      return f.tensors.has(`${p}.codes`) ? {f, p} : null
    }
  }
  try {
    intoFolder(out, true, (dir) => {
      rewriteShards(ck, dir, (file) => {
        const src = ck.files.find((x) => x.path === file)!
        return [...src.tensors.values()].flatMap((t): Encoded[] => {
          const s = stateOf(t.name)
          if (!s) return [{...t, data: src.readBytes(t.name)}]
          const [rows, cols] = t.shape
          return encodePackQuantized(s.p, {...q, rows, cols, codes: s.f.readBytes(`${s.p}.codes`), scales: s.f.readF32(`${s.p}.scales`),
            zeros: s.f.readF32(`${s.p}.zeros`)}, t.dtype as FloatDtype)
        })
      })
      const cfg = JSON.parse(readFileSync(path.join(work, 'config.json'), 'utf8'))
      cfg.quantization_config = packQuantizedConfig(q)
      writeFileSync(path.join(dir, 'config.json'), `${JSON.stringify(cfg, null, 2)}\n`)
      copyCompanionFiles(work, dir)
      for (const f of ['sparsify.json', 'sparsify-report.json', 'REPORT.md', 'README.md', 'sparsify-chart.svg']) {
        if (existsSync(path.join(work, f))) copyFileSync(path.join(work, f), path.join(dir, f))
      }
    })
  } finally {
    for (const f of states.values()) f.close()
    ck.close()
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
