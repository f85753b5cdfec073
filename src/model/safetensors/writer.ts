import {closeSync, openSync, writeSync} from 'node:fs'

import {kernels} from '../../kernels/index.js'
import {DTYPE_SIZE, numel, type Dtype, type FloatDtype} from './dtypes.js'

export interface TensorSpec {
  name: string
  dtype: Dtype
  shape: number[]
}

/**
 * Streams a safetensors file: the header (8-byte aligned, with __metadata__) is written first
 * from the declared specs, then each tensor's bytes in that order, so nothing is held in memory.
 */
export class SafetensorsWriter {
  private next = 0
  private readonly sizes: number[]

  private constructor(readonly path: string, private fd: number, private readonly specs: TensorSpec[]) {
    this.sizes = specs.map((s) => numel(s.shape) * DTYPE_SIZE[s.dtype])
  }

  static create(path: string, specs: TensorSpec[], metadata: Record<string, string> = {}): SafetensorsWriter {
    const header: Record<string, unknown> = {}
    if (Object.keys(metadata).length > 0) header.__metadata__ = metadata
    let offset = 0
    for (const s of specs) {
      const size = numel(s.shape) * DTYPE_SIZE[s.dtype]
      header[s.name] = {dtype: s.dtype, shape: s.shape, data_offsets: [offset, offset + size]}
      offset += size
    }
    let json = Buffer.from(JSON.stringify(header), 'utf8')
    const pad = (8 - (json.length % 8)) % 8
    json = Buffer.concat([json, Buffer.alloc(pad, 0x20)])
    const prefix = Buffer.alloc(8)
    prefix.writeBigUInt64LE(BigInt(json.length))
    const fd = openSync(path, 'w')
    try {
      writeAll(fd, prefix)
      writeAll(fd, json)
    } catch (err) {
      closeSync(fd)
      throw err
    }
    return new SafetensorsWriter(path, fd, [...specs])
  }

  /** Writes the next tensor; tensors must come in the order they were declared. */
  write(name: string, bytes: Uint8Array): void {
    const spec = this.specs[this.next]
    if (!spec || spec.name !== name) throw new Error(`writer for ${this.path}: expected ${spec?.name ?? 'no more tensors'}, got ${name}`)
    if (bytes.length !== this.sizes[this.next]) throw new Error(`writer for ${this.path}: ${name} has ${bytes.length} bytes, expected ${this.sizes[this.next]}`)
    writeAll(this.fd, bytes)
    this.next++
  }

  close(): void {
    if (this.fd < 0) return
    closeSync(this.fd)
    this.fd = -1
    if (this.next !== this.specs.length) throw new Error(`writer for ${this.path}: ${this.specs.length - this.next} tensors were never written`)
  }
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done)
}

/** float32 values encoded as the bytes of a float dtype. */
export function encodeFloats(values: Float32Array, dtype: FloatDtype): Uint8Array {
  if (dtype === 'F32') return new Uint8Array(values.buffer, values.byteOffset, values.byteLength)
  const out = new Uint16Array(values.length)
  if (dtype === 'BF16') kernels().f32ToBf16(out, values)
  else kernels().f32ToF16(out, values)
  return new Uint8Array(out.buffer)
}

/** Writes a whole file at once: for small files (fixtures, tests). */
export function writeSafetensors(path: string, tensors: (TensorSpec & {data: Uint8Array})[], metadata: Record<string, string> = {}): void {
  const w = SafetensorsWriter.create(path, tensors, metadata)
  try {
    for (const t of tensors) w.write(t.name, t.data)
  } finally {
    w.close()
  }
}
