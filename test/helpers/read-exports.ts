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

/** Every Q4_1 tensor of a GGUF file by its GGUF name, dequantized as ggml does: d·q + m per block of 32, float32. */
export async function readGgufQ4_1(file: string): Promise<Map<string, Float32Array>> {
  const info = await readGgufFileInfo(file, {readTensorInfo: true})
  const bytes = readFileSync(file), out = new Map<string, Float32Array>()
  for (const t of info.tensorInfo ?? []) {
    if (t.ggmlType !== 3) continue
    const n = t.dimensions.map(Number).reduce((a, b) => a * b), w = new Float32Array(n), at = Number(t.fileOffset)
    const view = new DataView(bytes.buffer, bytes.byteOffset + at, n / 32 * 20)
    for (let b = 0; b < n / 32; b++) {
      const d = half(view.getUint16(b * 20, true)), m = half(view.getUint16(b * 20 + 2, true))
      for (let j = 0; j < 16; j++) {
        const q = view.getUint8(b * 20 + 4 + j)
        w[b * 32 + j] = Math.fround(Math.fround(d * (q & 15)) + m)
        w[b * 32 + j + 16] = Math.fround(Math.fround(d * (q >> 4)) + m)
      }
    }
    out.set(t.name, w)
  }
  return out
}
