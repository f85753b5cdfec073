import {closeSync, fstatSync, openSync, readSync} from 'node:fs'

import {kernels} from '../../kernels/index.js'
import {invalidFormat, notFound} from '../../util/errors.js'
import {numel} from './dtypes.js'
import {parseHeader, type Header, type TensorEntry} from './header.js'

/** Half-precision tensors are converted a piece at a time, so a large vocabulary's table is never staged whole. */
const STAGING_VALUES = 1 << 22
const staging = new Uint16Array(STAGING_VALUES)

/** One safetensors file, opened for reading tensors one at a time by offset. */
export class SafetensorsFile {
  private constructor(readonly path: string, private fd: number, readonly header: Header) {}

  /** With allowTruncated, a file still being written: tensors past its end cannot be read. */
  static open(path: string, {allowTruncated = false} = {}): SafetensorsFile {
    let fd: number
    try {
      fd = openSync(path, 'r')
    } catch {
      throw notFound(`cannot open ${path}`, 'check the path and that the file is readable')
    }
    try {
      const size = fstatSync(fd).size
      const prefix = new Uint8Array(8)
      readSync(fd, prefix, 0, Math.min(8, size), 0)
      const header = parseHeader(path, allowTruncated ? Number.MAX_SAFE_INTEGER : size, prefix, (n) => {
        const buf = new Uint8Array(n)
        readSync(fd, buf, 0, n, 8)
        return buf
      })
      return new SafetensorsFile(path, fd, header)
    } catch (err) {
      closeSync(fd)
      throw err
    }
  }

  get tensors(): Map<string, TensorEntry> { return this.header.tensors }
  get metadata(): Record<string, string> { return this.header.metadata }

  /** The raw bytes of one tensor, in a fresh buffer aligned for any typed-array view. */
  readBytes(name: string): Uint8Array {
    const t = this.entry(name)
    const out = new Uint8Array(new ArrayBuffer(t.end - t.begin))
    this.readRange(name, t.begin, out)
    return out
  }

  /** One float tensor as float32, converted by the native kernels. */
  readF32(name: string): Float32Array {
    return this.readF32Into(name, new Float32Array(numel(this.entry(name).shape)))
  }

  /**
   * Reads a float tensor into `out` (its length must be the tensor's size). Half-precision
   * bytes go through one small reused staging buffer, so streaming blocks allocates nothing new.
   */
  readF32Into(name: string, out: Float32Array): Float32Array {
    const t = this.entry(name)
    const n = numel(t.shape)
    if (out.length !== n) throw new RangeError(`${name}: ${n} values do not fit a buffer of ${out.length}`)
    switch (t.dtype) {
      case 'F32':
        this.readRange(name, t.begin, new Uint8Array(out.buffer, out.byteOffset, n * 4))
        return out
      case 'BF16': case 'F16': {
        for (let at = 0; at < n; at += STAGING_VALUES) {
          const m = Math.min(STAGING_VALUES, n - at), half = staging.subarray(0, m)
          this.readRange(name, t.begin + at * 2, new Uint8Array(half.buffer, 0, m * 2))
          if (t.dtype === 'BF16') kernels().bf16ToF32(out.subarray(at, at + m), half)
          else kernels().f16ToF32(out.subarray(at, at + m), half)
        }
        return out
      }
      case 'F64': {
        out.set(new Float64Array(this.readBytes(name).buffer, 0, n))
        return out
      }
      default: throw invalidFormat(`${this.path}: tensor ${name} is ${t.dtype}, expected a float dtype`)
    }
  }

  private readRange(name: string, begin: number, out: Uint8Array): void {
    let done = 0
    while (done < out.length) {
      const n = readSync(this.fd, out, done, out.length - done, begin + done)
      if (n === 0) throw invalidFormat(`${this.path}: tensor ${name} is truncated`, 'download or export the file again')
      done += n
    }
  }

  /** An integer tensor (token ids) as numbers. */
  readInts(name: string): number[] {
    const t = this.entry(name)
    const bytes = this.readBytes(name)
    const n = numel(t.shape)
    switch (t.dtype) {
      case 'I64': return Array.from(new BigInt64Array(bytes.buffer, 0, n), Number)
      case 'I32': return Array.from(new Int32Array(bytes.buffer, 0, n))
      default: throw invalidFormat(`${this.path}: tensor ${name} is ${t.dtype}, expected I64 or I32`)
    }
  }

  entry(name: string): TensorEntry {
    const t = this.header.tensors.get(name)
    if (!t) throw invalidFormat(`${this.path}: no tensor named ${name}`)
    return t
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd)
    this.fd = -1
  }
}
