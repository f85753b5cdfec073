import {AppendFile} from '../../util/append-file.js'

/** GGUF value types (gguf-py constants GGUFValueType). */
const VT = {u8: 0, i32: 5, u32: 4, f32: 6, bool: 7, string: 8, array: 9} as const

/** A metadata value with the GGUF type it is written as. */
export type GgufValue =
  | {type: 'u32' | 'i32' | 'f32'; value: number}
  | {type: 'bool'; value: boolean}
  | {type: 'bools'; value: boolean[]}
  | {type: 'string'; value: string}
  | {type: 'strings'; value: string[]}
  | {type: 'i32s' | 'u32s' | 'f32s'; value: number[]}

/** ggml tensor types that we write, with their block size and bytes per block. */
export const GGML_TYPES = {
  f32: {id: 0, block: 1, bytes: 4},
  f16: {id: 1, block: 1, bytes: 2},
  q4_1: {id: 3, block: 32, bytes: 20},
  q8_0: {id: 8, block: 32, bytes: 34},
  bf16: {id: 30, block: 1, bytes: 2},
} as const
export type GgmlType = keyof typeof GGML_TYPES

export interface GgufTensorInfo {
  name: string
  /** Hugging Face order (outermost first); written innermost first as GGUF wants. */
  shape: number[]
  type: GgmlType
}

export const ALIGNMENT = 32

export function tensorBytes(t: GgufTensorInfo): number {
  const {block, bytes} = GGML_TYPES[t.type]
  const n = t.shape.reduce((a, b) => a * b, 1)
  return n / block * bytes
}

/** Little-endian byte sink for the header. */
class Bytes {
  private parts: Buffer[] = []
  length = 0
  push(b: Buffer): void { this.parts.push(b); this.length += b.length }
  u32(v: number): void { const b = Buffer.alloc(4); b.writeUInt32LE(v); this.push(b) }
  i32(v: number): void { const b = Buffer.alloc(4); b.writeInt32LE(v); this.push(b) }
  u64(v: number): void { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); this.push(b) }
  f32(v: number): void { const b = Buffer.alloc(4); b.writeFloatLE(v); this.push(b) }
  str(s: string): void { const b = Buffer.from(s, 'utf8'); this.u64(b.length); this.push(b) }
  concat(): Buffer { return Buffer.concat(this.parts) }
}

function writeValue(out: Bytes, v: GgufValue): void {
  const scalar = (type: 'u32' | 'i32' | 'f32', x: number) => out[type](x)
  switch (v.type) {
    case 'u32': case 'i32': case 'f32': out.u32(VT[v.type]); scalar(v.type, v.value); return
    case 'bool': out.u32(VT.bool); out.push(Buffer.from([v.value ? 1 : 0])); return
    case 'string': out.u32(VT.string); out.str(v.value); return
    case 'bools': out.u32(VT.array); out.u32(VT.bool); out.u64(v.value.length); out.push(Buffer.from(v.value.map(Number))); return
    case 'strings': out.u32(VT.array); out.u32(VT.string); out.u64(v.value.length); for (const s of v.value) out.str(s); return
    default: {
      const t = v.type.slice(0, 3) as 'u32' | 'i32' | 'f32'
      out.u32(VT.array); out.u32(VT[t]); out.u64(v.value.length)
      for (const x of v.value) scalar(t, x)
    }
  }
}

/**
 * Streams a GGUF v3 file: the header (metadata and every tensor's name, dims, type and offset)
 * is written first from the declared tensors, then each tensor's bytes in that order, each
 * starting on a multiple of ALIGNMENT from the start of the data section.
 */
export class GgufWriter {
  private readonly file: AppendFile
  private next = 0
  private readonly dataStart: number
  private readonly offsets: number[] = []

  constructor(readonly path: string, metadata: Map<string, GgufValue>, private readonly tensors: GgufTensorInfo[]) {
    const h = new Bytes()
    h.push(Buffer.from('GGUF', 'latin1')); h.u32(3); h.u64(tensors.length); h.u64(metadata.size + 1)
    h.str('general.alignment'); writeValue(h, {type: 'u32', value: ALIGNMENT})
    for (const [k, v] of metadata) { h.str(k); writeValue(h, v) }
    let offset = 0
    for (const t of tensors) {
      h.str(t.name); h.u32(t.shape.length)
      for (const d of [...t.shape].reverse()) h.u64(d)
      h.u32(GGML_TYPES[t.type].id); h.u64(offset)
      this.offsets.push(offset)
      offset = align(offset + tensorBytes(t))
    }
    const header = h.concat()
    this.dataStart = align(header.length)
    this.file = new AppendFile(path)
    this.file.append(header)
  }

  /** Writes the next declared tensor. */
  write(name: string, bytes: Uint8Array): void {
    const t = this.tensors[this.next]
    if (!t || t.name !== name) throw new Error(`GGUF writer: expected ${t?.name ?? 'no more tensors'}, got ${name}`)
    if (bytes.length !== tensorBytes(t)) throw new Error(`GGUF writer: ${name} has ${bytes.length} bytes, expected ${tensorBytes(t)}`)
    this.file.append(new Uint8Array(this.dataStart + this.offsets[this.next] - this.file.length))
    this.file.append(bytes)
    this.next++
  }

  close(): void {
    const done = this.next === this.tensors.length
    if (done) this.file.pad(ALIGNMENT)
    this.file.close()
    if (!done) throw new Error(`GGUF writer: ${this.tensors.length - this.next} tensors were never written`)
  }

  /** Closes without completing the file (a failed export: the caller removes it). */
  abandon(): void { this.file.close() }
}

const align = (n: number) => Math.ceil(n / ALIGNMENT) * ALIGNMENT
