import type {SweepQuant} from '../kernels/index.js'
import {quantizingMethod, type QuantMethod} from '../methods/gptq.js'
import type {SparsityTarget} from '../methods/types.js'
import type {ModelConfig} from '../model/config.js'
import type {Model} from '../model/model.js'
import {blockPrefix, linearShape, LINEARS} from '../model/weights.js'
import {usage} from '../util/errors.js'

/** The quantization flags of `prune`. */
export interface QuantFlags {
  wbits?: number
  groupsize?: number
  sym?: boolean
  format?: string
}

const QUANTIZING = ['gptq', 'sparsegpt']

/**
 * The quantizing method the flags ask for (GPTQ, or SparseGPT with --wbits), or null for a plain
 * run; every misuse is refused here, before any work is done.
 */
export function quantMethod(methodId: string, f: QuantFlags, model: Model): QuantMethod | null {
  if (f.wbits === undefined) {
    if (methodId === 'gptq') throw usage('--method gptq needs --wbits', 'e.g. --wbits 4 --groupsize 128')
    if (f.groupsize !== undefined || f.sym) throw usage(`--${f.groupsize !== undefined ? 'groupsize' : 'sym'} sets up the quantizer: it needs --wbits`)
    if (f.format === 'pack-quantized') throw usage('--format pack-quantized stores quantized weights: it needs --wbits', 'e.g. --method gptq --wbits 4')
    return null
  }
  if (!QUANTIZING.includes(methodId)) throw usage(`--wbits quantizes inside the OBS sweep of gptq or sparsegpt, not ${methodId}`, 'use --method gptq or --method sparsegpt')
  if (!Number.isInteger(f.wbits) || f.wbits < 2 || f.wbits > 8) throw usage(`--wbits ${f.wbits} is out of range`, 'bits per weight are an integer from 2 to 8')
  const groupsize = f.groupsize ?? 0
  if (f.groupsize !== undefined) checkGroupsize(f.groupsize, model.cfg, f.format === 'pack-quantized')
  if (f.format === 'pack-quantized' && f.wbits !== 4 && f.wbits !== 8) {
    throw usage(`--format pack-quantized stores 4- or 8-bit weights (W4A16, W8A16), not ${f.wbits}-bit`, 'pass --wbits 4 or 8, or drop --format')
  }
  const dtype = model.ckpt.entry(`${blockPrefix(0)}${LINEARS[0]}.weight`).dtype
  const scaleDtype: SweepQuant['scaleDtype'] = dtype === 'BF16' || dtype === 'F16' ? dtype : 'F32'
  return quantizingMethod(methodId as 'gptq' | 'sparsegpt', {bits: f.wbits, groupsize, sym: f.sym ?? false, scaleDtype})
}

/**
 * The reference ends a row with a shorter group when the group size does not divide its width (spec §14);
 * the pack-quantized layout and its loaders need whole groups.
 */
function checkGroupsize(g: number, cfg: ModelConfig, packed: boolean): void {
  if (!Number.isInteger(g) || g < 1) throw usage(`--groupsize ${g} is out of range`, 'a group is a positive number of input columns')
  if (!packed) return
  for (const name of LINEARS) {
    const [, width] = linearShape(cfg, name)
    if (width % g !== 0) throw usage(`--groupsize ${g} does not divide the input width ${width} of ${name}`, '--format pack-quantized needs whole groups: choose a group size that divides every linear input width')
  }
}

/** GPTQ's target: nothing pruned; a sparsity or pattern would be ignored, so it is refused. */
export function noPruning(f: {sparsity?: number; pattern?: string}): SparsityTarget {
  if (f.sparsity !== undefined || f.pattern !== undefined) {
    throw usage(`--method gptq quantizes without pruning: drop --${f.sparsity !== undefined ? 'sparsity' : 'pattern'}`, 'to prune and quantize together, use --method sparsegpt --wbits')
  }
  return {kind: 'unstructured', sparsity: 0}
}
