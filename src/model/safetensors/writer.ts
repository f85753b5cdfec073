import {closeSync, fstatSync, fsyncSync, ftruncateSync, openSync, readSync, writeSync} from 'node:fs'

import {kernels} from '../../kernels/index.js'
import {DTYPE_SIZE, numel, type Dtype, type FloatDtype} from './dtypes.js'

export interface TensorSpec {
  name: string
  dtype: Dtype
  shape: number[]
}

/** The 8-byte length prefix and the space-padded JSON header of a file with these tensors. */
function headerBytes(specs: TensorSpec[], metadata: Record<string, string>): Buffer {
  const header: Record<string, unknown> = {}
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata
  let offset = 0
  for (const s of specs) {
    const size = numel(s.shape) * DTYPE_SIZE[s.dtype]
    header[s.name] = {dtype: s.dtype, shape: s.shape, data_offsets: [offset, offset + size]}
    offset += size
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8')
  json = Buffer.concat([json, Buffer.alloc((8 - (json.length % 8)) % 8, 0x20)])
  const prefix = Buffer.alloc(8)
  prefix.writeBigUInt64LE(BigInt(json.length))
  return Buffer.concat([prefix, json])
}

/**
 * Streams a safetensors file: the header (8-byte aligned, with __metadata__) is written first
 * from the declared specs, then each tensor's bytes in that order, so nothing is held in memory.
 * A file cut short after some tensors can be reopened (resume) to continue where it stopped.
 */
export class SafetensorsWriter {
  private readonly sizes: number[]

  private constructor(readonly path: string, private fd: number, private readonly specs: TensorSpec[], private next: number, private pos: number) {
    this.sizes = specs.map((s) => numel(s.shape) * DTYPE_SIZE[s.dtype])
  }

  static create(path: string, specs: TensorSpec[], metadata: Record<string, string> = {}): SafetensorsWriter {
    const header = headerBytes(specs, metadata)
    const fd = openSync(path, 'w')
    try {
      writeAt(fd, header, 0)
    } catch (err) {
      closeSync(fd)
      throw err
    }
    return new SafetensorsWriter(path, fd, [...specs], 0, header.length)
  }

  /** Reopens a file that `create` began with the same specs and metadata, after its first `written` tensors. */
  static resume(path: string, specs: TensorSpec[], metadata: Record<string, string>, written: number): SafetensorsWriter {
    const header = headerBytes(specs, metadata)
    const fd = openSync(path, 'r+')
    const existing = Buffer.alloc(header.length)
    readSync(fd, existing, 0, header.length, 0)
    if (!existing.equals(header)) {
      closeSync(fd)
      throw new Error(`${path} was begun with other tensors or metadata`)
    }
    let pos = header.length
    for (let i = 0; i < written; i++) pos += numel(specs[i].shape) * DTYPE_SIZE[specs[i].dtype]
    if (fstatSync(fd).size < pos) {
      closeSync(fd)
      throw new Error(`${path} holds fewer bytes than its first ${written} tensors`)
    }
    ftruncateSync(fd, pos)
    return new SafetensorsWriter(path, fd, [...specs], written, pos)
  }

  /** Writes the next tensor; tensors must come in the order they were declared. */
  write(name: string, bytes: Uint8Array): void {
    this.writeChunks(name, [bytes])
  }

  /** Writes the next tensor from consecutive pieces, so a tensor larger than memory allows is never held whole. */
  writeChunks(name: string, chunks: Iterable<Uint8Array>): void {
    const spec = this.specs[this.next]
    if (!spec || spec.name !== name) throw new Error(`writer for ${this.path}: expected ${spec?.name ?? 'no more tensors'}, got ${name}`)
    const start = this.pos
    for (const bytes of chunks) {
      if (this.pos - start + bytes.length > this.sizes[this.next]) throw new Error(`writer for ${this.path}: ${name} has more than ${this.sizes[this.next]} bytes`)
      writeAt(this.fd, bytes, this.pos)
      this.pos += bytes.length
    }
    if (this.pos - start !== this.sizes[this.next]) throw new Error(`writer for ${this.path}: ${name} has ${this.pos - start} bytes, expected ${this.sizes[this.next]}`)
    this.next++
  }

  /** Flushes what was written to the disk (a resumable point). */
  sync(): void {
    fsyncSync(this.fd)
  }

  close(): void {
    if (this.fd < 0) return
    closeSync(this.fd)
    this.fd = -1
    if (this.next !== this.specs.length) throw new Error(`writer for ${this.path}: ${this.specs.length - this.next} tensors were never written`)
  }

  /** Closes without checking that every tensor was written (an interrupted job). */
  abandon(): void {
    if (this.fd >= 0) closeSync(this.fd)
    this.fd = -1
  }
}

/** Writes all of `bytes` at `pos` (writeSync may write less than asked). */
export function writeAt(fd: number, bytes: Uint8Array, pos: number): void {
  let done = 0
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done, pos + done)
}

/** float32 values encoded as the bytes of a float dtype. */
export function encodeFloats(values: Float32Array, dtype: FloatDtype): Uint8Array {
  if (dtype === 'F32') return new Uint8Array(values.buffer, values.byteOffset, values.byteLength)
  const out = new Uint16Array(values.length)
  if (dtype === 'BF16') kernels().f32ToBf16(out, values)
  else kernels().f32ToF16(out, values)
  return new Uint8Array(out.buffer)
}

/** The inverse of encodeFloats. */
export function decodeFloats(bytes: Uint8Array, dtype: FloatDtype): Float32Array {
  if (dtype === 'F32') return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4)
  const half = new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2)
  const out = new Float32Array(half.length)
  if (dtype === 'BF16') kernels().bf16ToF32(out, half)
  else kernels().f16ToF32(out, half)
  return out
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
