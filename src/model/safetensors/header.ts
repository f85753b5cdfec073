import {invalidFormat} from '../../util/errors.js'
import {DTYPE_SIZE, isDtype, numel, type Dtype} from './dtypes.js'

export interface TensorEntry {
  name: string
  dtype: Dtype
  shape: number[]
  /** Absolute byte offsets of the data in the file. */
  begin: number
  end: number
}

export interface Header {
  tensors: Map<string, TensorEntry>
  metadata: Record<string, string>
}

const HINT = 'the file is damaged or not a safetensors file: download or export it again'
/** The reference implementation's cap: a larger header is an attack or garbage. */
const MAX_HEADER = 100_000_000

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0

/**
 * Parses and checks a safetensors header: declared length inside the file, JSON object,
 * known dtypes, offsets in range, byte sizes equal to shape × dtype, no overlaps.
 * `prefix` is the first 8 bytes; `readHeader(n)` returns the n header bytes after them.
 */
export function parseHeader(file: string, fileSize: number, prefix: Uint8Array, readHeader: (n: number) => Uint8Array): Header {
  const bad = (what: string) => invalidFormat(`${file}: invalid safetensors: ${what}`, HINT)
  if (fileSize < 8 || prefix.length < 8) throw bad(`file is ${fileSize} bytes, shorter than the 8-byte header length`)
  const declared = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true)
  if (declared > BigInt(fileSize - 8)) throw bad(`header length ${declared} runs past the end of the ${fileSize}-byte file`)
  if (declared > BigInt(MAX_HEADER)) throw bad(`header length ${declared} exceeds ${MAX_HEADER} bytes`)
  const n = Number(declared)
  let json: unknown
  try {
    json = JSON.parse(new TextDecoder('utf-8', {fatal: true}).decode(readHeader(n)))
  } catch {
    throw bad('header is not valid UTF-8 JSON')
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw bad('header is not a JSON object')
  const dataStart = 8 + n, dataSize = fileSize - dataStart
  const tensors = new Map<string, TensorEntry>()
  let metadata: Record<string, string> = {}
  for (const [name, raw] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || Object.values(raw).some((v) => typeof v !== 'string')) {
        throw bad('__metadata__ must map strings to strings')
      }
      metadata = raw as Record<string, string>
      continue
    }
    if (typeof raw !== 'object' || raw === null) throw bad(`entry ${name} is not an object`)
    const {dtype, shape, data_offsets: offsets} = raw as Record<string, unknown>
    if (!isDtype(dtype)) throw bad(`tensor ${name} has unknown dtype ${JSON.stringify(dtype)}`)
    if (!Array.isArray(shape) || !shape.every(isCount)) throw bad(`tensor ${name} has an invalid shape`)
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount) || offsets[0] > offsets[1]) {
      throw bad(`tensor ${name} has invalid data_offsets`)
    }
    const [b, e] = offsets as number[]
    if (e > dataSize) throw bad(`tensor ${name} ends at byte ${e}, past the ${dataSize} bytes of data`)
    const want = numel(shape as number[]) * DTYPE_SIZE[dtype]
    if (e - b !== want) throw bad(`tensor ${name} has ${e - b} bytes, but shape [${shape}] of ${dtype} needs ${want}`)
    tensors.set(name, {name, dtype, shape: shape as number[], begin: dataStart + b, end: dataStart + e})
  }
  const sorted = [...tensors.values()].sort((x, y) => x.begin - y.begin)
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].begin < sorted[i - 1].end) throw bad(`tensors ${sorted[i - 1].name} and ${sorted[i].name} overlap`)
  }
  return {tensors, metadata}
}
