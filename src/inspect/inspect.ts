import {statSync} from 'node:fs'

import {kernels} from '../kernels/index.js'
import {Model} from '../model/model.js'
import {numel} from '../model/safetensors/dtypes.js'
import {blockPrefix, LINEARS, type BlockWeights} from '../model/weights.js'
import {isPackQuantized, packQuantScheme} from '../packed/pack-quantized.js'

export interface LinearInfo {
  name: string
  shape: [number, number]
  dtype: string
  sparsity: number
  /** The N:M pattern (N ≥ M/2) that every row satisfies, the largest N/M then the smallest M, or null. */
  pattern: string | null
}

export interface InspectReport {
  model: string
  architecture: string
  dtypes: string[]
  parameters: number
  bytes_on_disk: number
  files: number
  sparsity: number
  pattern: string | null
  /** sparsify's packing of the decoder linears (docs/formats.md), pack-quantized, or dense. */
  format: string
  /** A pack-quantized checkpoint's scheme (that of its first linear): bits, input columns per group (null: per row), symmetric. */
  quantization: {bits: number; group_size: number | null; symmetric: boolean} | null
  blocks: {layer: number; sparsity: number}[]
  linears: LinearInfo[]
}

const GROUPS = [4, 8, 16]

function nmPattern(values: Float32Array, rows: number, cols: number): [zeros: number, pattern: string | null, ratio: number] {
  const k = kernels()
  const [zeros] = k.zeroStats(values, rows, cols, 0)
  let best: string | null = null, ratio = 0
  for (const m of GROUPS) {
    if (cols % m !== 0) continue
    const [, least] = k.zeroStats(values, rows, cols, m)
    // Only patterns with at least half zeros in every group: the ones sparse kernels use.
    if (least / m >= 0.5 && least / m > ratio) { best = `${least}:${m}`; ratio = least / m }
  }
  return [zeros, best, ratio]
}

/** A linear's stored dtype; for a packed one, its packing and the dtype of its values. */
function storedDtype(model: Model, weight: string, rows: number, cols: number): string {
  const ck = model.ckpt, p = model.cfg.packing, prefix = weight.replace(/\.weight$/, '')
  if (isPackQuantized(ck, prefix)) {
    const q = packQuantScheme(ck, prefix, rows, cols)
    return `pack-quantized int${q.bits} ${q.groupsize ? `g${q.groupsize}` : 'per row'}${q.sym ? ' sym' : ''} (${ck.entry(`${prefix}.weight_scale`).dtype} scales)`
  }
  if (ck.has(weight) || !p) return ck.entry(weight).dtype
  if (p.format === 'gqsa') return `gqsa int4 g${p.group}`
  return `${p.format === 'nm' ? `nm ${p.n} of ${p.m}` : 'bitmask'} (${ck.entry(`${weight}_values`).dtype})`
}

/** What a checkpoint holds: architecture, dtypes, size, and the sparsity of every decoder linear. */
export function inspectModel(dir: string, onBlock?: (layer: number, layers: number) => void): InspectReport {
  const model = Model.load(dir)
  const ck = model.ckpt
  const dtypes = new Set<string>()
  let parameters = 0
  for (const name of ck.names()) {
    const e = ck.entry(name)
    dtypes.add(e.dtype)
    parameters += numel(e.shape)
  }
  const linears: LinearInfo[] = [], blocks: {layer: number; sparsity: number}[] = []
  let zerosAll = 0, totalAll = 0
  const patterns = new Set<string | null>()
  let w: BlockWeights | undefined
  for (let layer = 0; layer < model.cfg.layers; layer++) {
    w = model.block(layer, w)
    let z = 0, n = 0
    for (const name of LINEARS) {
      const l = w.linears[name]
      const [zeros, pattern] = nmPattern(l.weight, l.out, l.in)
      const full = `${blockPrefix(layer)}${name}.weight`
      linears.push({name: full, shape: [l.out, l.in], dtype: storedDtype(model, full, l.out, l.in), sparsity: zeros / (l.out * l.in), pattern})
      patterns.add(pattern)
      z += zeros
      n += l.out * l.in
    }
    blocks.push({layer, sparsity: z / n})
    zerosAll += z
    totalAll += n
    onBlock?.(layer, model.cfg.layers)
  }
  const first = `${blockPrefix(0)}${LINEARS[0]}`, quantized = isPackQuantized(ck, first)
  const q = quantized ? packQuantScheme(ck, first, linears[0].shape[0], linears[0].shape[1]) : null
  const files = ck.files.map((f) => statSync(f.path).size)
  model.close()
  return {
    model: dir, architecture: model.cfg.arch, dtypes: [...dtypes].sort(), parameters,
    bytes_on_disk: files.reduce((a, b) => a + b, 0), files: files.length,
    sparsity: zerosAll / totalAll,
    pattern: patterns.size === 1 ? [...patterns][0] : null,
    format: quantized ? 'pack-quantized' : model.cfg.packing?.format ?? 'dense',
    quantization: q && {bits: q.bits, group_size: q.groupsize || null, symmetric: q.sym},
    blocks, linears,
  }
}
