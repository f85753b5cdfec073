import {readFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import path from 'node:path'

import {readGgufFileInfo} from 'node-llama-cpp'

import {f16ToF32} from '../../src/kernels/ref/convert.js'
import {ROOT} from './cli.js'

// onnxruntime-web (a dependency of transformers.js) ships the ONNX schema compiled for protobufjs: an
// independent reader of what our own protobuf writer produced.
// The package's exports map hides the file, hence the path.
const {onnx} = createRequire(import.meta.url)(path.join(ROOT, 'node_modules/onnxruntime-web/lib/onnxjs/ort-schema/protobuf/onnx.js'))

/** Every MatMulNBits weight of an ONNX q4 export, dequantized as the operator defines it: scale·(code − zero), float32. */
export function readOnnxQ4(folder: string, file = 'model_q4.onnx'): Map<string, Float32Array> {
  const model = onnx.ModelProto.decode(readFileSync(path.join(folder, 'onnx', file)))
  const data = readFileSync(path.join(folder, 'onnx', `${file}_data`))
  const init = new Map<string, {dims: number[]; bytes: Uint8Array}>()
  for (const t of model.graph.initializer) {
    const ext = Object.fromEntries(t.externalData.map((e: {key: string; value: string}) => [e.key, e.value]))
    const bytes = ext.offset === undefined ? t.rawData : data.subarray(Number(ext.offset), Number(ext.offset) + Number(ext.length))
    init.set(t.name, {dims: t.dims.map(Number), bytes})
  }
  const out = new Map<string, Float32Array>()
  for (const node of model.graph.node.filter((n: {opType: string}) => n.opType === 'MatMulNBits')) {
    const attr = (k: string) => Number(node.attribute.find((a: {name: string}) => a.name === k).i)
    const [N, K, block] = [attr('N'), attr('K'), attr('block_size')], nb = Math.ceil(K / block)
    const [codes, scaleT, zeroT] = node.input.slice(1).map((n: string) => init.get(n)!.bytes)
    const scales = new Float32Array(Uint8Array.from(scaleT).buffer)   // Buffer.slice would share the file's memory
    const w = new Float32Array(N * K)
    for (let r = 0; r < N; r++) {
      for (let c = 0; c < K; c++) {
        const b = Math.floor(c / block), j = c % block
        const code = (codes[(r * nb + b) * block / 2 + (j >> 1)] >> ((j & 1) * 4)) & 15
        const zero = (zeroT[r * Math.ceil(nb / 2) + (b >> 1)] >> ((b & 1) * 4)) & 15
        w[r * K + c] = Math.fround(scales[r * nb + b] * (code - zero))
      }
    }
    out.set(node.input[1].replace(/\.q4$/, ''), w)
  }
  return out
}

const half = (bits: number) => { const o = new Float32Array(1); f16ToF32(o, Uint16Array.of(bits)); return o[0] }

/**
 * Every Q4_1 and Q8_0 tensor of a GGUF file by its GGUF name, dequantized as ggml does, float32:
 * d·q + m per block of 32 (q4_1: f16 d, f16 m, 16 bytes of nibbles), d·q (q8_0: f16 d, 32 int8).
 */
export async function readGgufQuantized(file: string, types: readonly number[] = [GGML_Q4_1]): Promise<Map<string, Float32Array>> {
  const info = await readGgufFileInfo(file, {readTensorInfo: true})
  const bytes = readFileSync(file), out = new Map<string, Float32Array>()
  for (const t of info.tensorInfo ?? []) {
    if (!types.includes(t.ggmlType)) continue
    const n = t.dimensions.map(Number).reduce((a, b) => a * b), w = new Float32Array(n)
    const size = t.ggmlType === GGML_Q4_1 ? 20 : 34
    const view = new DataView(bytes.buffer, bytes.byteOffset + Number(t.fileOffset), n / 32 * size)
    for (let b = 0; b < n / 32; b++) {
      const d = half(view.getUint16(b * size, true))
      if (t.ggmlType === GGML_Q8_0) {
        for (let j = 0; j < 32; j++) w[b * 32 + j] = Math.fround(d * view.getInt8(b * size + 2 + j))
        continue
      }
      const m = half(view.getUint16(b * size + 2, true))
      for (let j = 0; j < 16; j++) {
        const q = view.getUint8(b * size + 4 + j)
        w[b * 32 + j] = Math.fround(Math.fround(d * (q & 15)) + m)
        w[b * 32 + j + 16] = Math.fround(Math.fround(d * (q >> 4)) + m)
      }
    }
    out.set(t.name, w)
  }
  return out
}

export const GGML_Q4_1 = 3, GGML_Q8_0 = 8
