import type {Checkpoint} from '../model/safetensors/checkpoint.js'
import type {FloatDtype} from '../model/safetensors/dtypes.js'
import {decodeFloats, encodeFloats} from '../model/safetensors/writer.js'
import {invalidFormat} from '../util/errors.js'
import {kernels} from '../kernels/index.js'
import type {Encoded} from '../export/compressed-tensors.js'

/**
 * compressed-tensors' pack-quantized layout (what llm-compressor writes for W4A16 / W8A16, and vLLM
 * and transformers load). Linear P becomes
 *   P.weight_packed      I32 (rows, ⌈cols·bits/32⌉): 32/bits unsigned codes per word, the first in the lowest bits
 *   P.weight_scale       (rows, groups) in the model's dtype
 *   P.weight_zero_point  I32 (⌈rows·bits/32⌉, groups): the zero points packed the same way down the rows
 *                        (asymmetric only; a symmetric scheme has none)
 *   P.weight_shape       I64 [rows, cols]
 * and w = scale·(code − zero). compressed-tensors holds codes and zero points as signed integers and
 * adds 2^(bits−1) when packing: the packed words are our unsigned codes, the same bits.
 */
export interface PackQuantScheme {
  bits: number
  /** Input columns per group; 0: one scale per output row (the channel strategy). */
  groupsize: number
  sym: boolean
}

/**
 * config.json's quantization_config for the scheme, as llm-compressor writes it with compressed-tensors 0.13
 * (each group names its format; scale_dtype and zp_dtype null: the scales are the model's dtype, the zero
 * points int32-packed), never with a sparsity_config.
 */
export function packQuantizedConfig(s: PackQuantScheme): Record<string, unknown> {
  return {
    config_groups: {
      group_0: {
        format: 'pack-quantized', targets: ['Linear'], input_activations: null, output_activations: null,
        weights: {num_bits: s.bits, type: 'int', symmetric: s.sym, strategy: s.groupsize ? 'group' : 'channel', group_size: s.groupsize || null,
          dynamic: false, actorder: null, block_structure: null, observer: 'minmax', observer_kwargs: {}, scale_dtype: null, zp_dtype: null},
      },
    },
    format: 'pack-quantized', quant_method: 'compressed-tensors', quantization_status: 'compressed', ignore: ['lm_head'],
    kv_cache_scheme: null, global_compression_ratio: null, version: '0.13.0',
  }
}

/** values (n, len) of `bits`-bit unsigned integers, packed along each row into int32 words. */
function packRows(values: Uint8Array, n: number, len: number, bits: number): Int32Array {
  const out = new Int32Array(n * Math.ceil(len * bits / 32))
  kernels().packInt32(out, values, n, len, bits)
  return out
}

function unpackRows(words: Int32Array, n: number, len: number, bits: number): Uint8Array {
  const out = new Uint8Array(n * len)
  kernels().unpackInt32(out, words, n, len, bits)
  return out
}

function transpose(v: Uint8Array, rows: number, cols: number): Uint8Array {
  const t = new Uint8Array(v.length)
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = v[r * cols + c]
  return t
}

const bytes = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength)

export interface QuantizedLinear extends PackQuantScheme {
  rows: number
  cols: number
  /** (rows, cols) in [0, 2^bits) */
  codes: Uint8Array
  /** (rows, groups) */
  scales: Float32Array
  zeros: Float32Array
}

/** Linear `prefix`'s tensors in the layout; scales in `dtype`. */
export function encodePackQuantized(prefix: string, q: QuantizedLinear, dtype: FloatDtype): Encoded[] {
  const groups = q.groupsize ? q.cols / q.groupsize : 1
  const out: Encoded[] = [
    {name: `${prefix}.weight_packed`, dtype: 'I32', shape: [q.rows, Math.ceil(q.cols * q.bits / 32)], data: bytes(packRows(q.codes, q.rows, q.cols, q.bits))},
    {name: `${prefix}.weight_scale`, dtype, shape: [q.rows, groups], data: encodeFloats(q.scales, dtype)},
    {name: `${prefix}.weight_shape`, dtype: 'I64', shape: [2], data: bytes(BigInt64Array.of(BigInt(q.rows), BigInt(q.cols)))},
  ]
  if (!q.sym) {
    const zp = packRows(transpose(Uint8Array.from(q.zeros), q.rows, groups), groups, q.rows, q.bits)   // packed down the rows
    out.push({name: `${prefix}.weight_zero_point`, dtype: 'I32', shape: [Math.ceil(q.rows * q.bits / 32), groups], data: bytes(transpose32(zp, groups, Math.ceil(q.rows * q.bits / 32)))})
  }
  return out
}

function transpose32(v: Int32Array, rows: number, cols: number): Int32Array {
  const t = new Int32Array(v.length)
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = v[r * cols + c]
  return t
}

/** Whether linear `prefix` is stored in the layout. */
export const isPackQuantized = (ck: Checkpoint, prefix: string) => ck.has(`${prefix}.weight_packed`)

/**
 * Reads linear `prefix` back: the scheme follows from the tensors themselves (bits from the packing
 * factor, groups from the scales, symmetric when there are no zero points).
 */
export function readPackQuantized(ck: Checkpoint, prefix: string, rows: number, cols: number): QuantizedLinear {
  const {bits, groupsize, sym} = packQuantScheme(ck, prefix, rows, cols)
  const groups = groupsize ? cols / groupsize : 1
  const ints = (name: string) => new Int32Array(ck.file(name).readBytes(name).slice().buffer)
  const codes = unpackRows(ints(`${prefix}.weight_packed`), rows, cols, bits)
  let zeros = new Float32Array(rows * groups).fill(2 ** (bits - 1))
  if (!sym) {
    const zw = Math.ceil(rows * bits / 32), zp = ck.entry(`${prefix}.weight_zero_point`)
    if (zp.dtype !== 'I32' || zp.shape.join() !== `${zw},${groups}`) {
      throw invalidFormat(`${prefix}: weight_zero_point is ${zp.dtype} [${zp.shape}], expected I32 [${zw}, ${groups}]`, 'the pack-quantized checkpoint is corrupt')
    }
    const down = transpose32(ints(`${prefix}.weight_zero_point`), zw, groups)
    zeros = Float32Array.from(transpose(unpackRows(down, groups, rows, bits), groups, rows))
  }
  const scale = ck.entry(`${prefix}.weight_scale`)
  const scales = decodeFloats(ck.file(scale.name).readBytes(scale.name), scale.dtype as FloatDtype)
  return {bits, groupsize, sym, rows, cols, codes, scales, zeros}
}

/**
 * Linear `prefix`'s scheme, from its tensors' shapes alone: bits from the packing factor, groups from
 * the scales, symmetric when there are no zero points.
 */
export function packQuantScheme(ck: Checkpoint, prefix: string, rows: number, cols: number): PackQuantScheme {
  const bad = (what: string) => invalidFormat(`${prefix}: ${what}`, 'the pack-quantized checkpoint is corrupt or not for this config')
  const packed = ck.entry(`${prefix}.weight_packed`), scale = ck.entry(`${prefix}.weight_scale`)
  if (packed.dtype !== 'I32' || packed.shape.length !== 2 || packed.shape[0] !== rows) throw bad(`weight_packed is ${packed.dtype} [${packed.shape}], expected I32 with ${rows} rows`)
  const bits = [4, 8].find((b) => Math.ceil(cols * b / 32) === packed.shape[1])
  if (!bits) throw bad(`weight_packed has ${packed.shape[1]} words per row: neither 4- nor 8-bit codes of ${cols} columns`)
  const groups = scale.shape[1]
  if (scale.shape.length !== 2 || scale.shape[0] !== rows || !(groups >= 1 && cols % groups === 0)) throw bad(`weight_scale has shape [${scale.shape}]`)
  return {bits, groupsize: groups === 1 ? 0 : cols / groups, sym: !ck.has(`${prefix}.weight_zero_point`)}
}

/** w = scale·(code − zero), rounded to `dtype` as a loader holding the weights in it computes them. */
export function dequantize(q: QuantizedLinear, dtype: FloatDtype): Float32Array {
  const gs = q.groupsize || q.cols, groups = q.cols / gs, w = new Float32Array(q.rows * q.cols)
  for (let r = 0; r < q.rows; r++) {
    for (let j = 0; j < q.cols; j++) {
      const g = r * groups + Math.floor(j / gs)
      w[r * q.cols + j] = q.scales[g] * (q.codes[r * q.cols + j] - q.zeros[g])
    }
  }
  return dtype === 'F32' ? w : decodeFloats(encodeFloats(w, dtype), dtype)
}

/** Linear `prefix` dequantized, in the precision of its scales (the model's dtype): the values the dense output holds. */
export function readPackQuantizedDense(ck: Checkpoint, prefix: string, rows: number, cols: number): Float32Array {
  return dequantize(readPackQuantized(ck, prefix, rows, cols), ck.entry(`${prefix}.weight_scale`).dtype as FloatDtype)
}
