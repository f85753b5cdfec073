/**
 * The part of onnx.proto (ModelProto and what it holds) that the exporter writes, as protobuf wire
 * format. No npm package keeps an up-to-date ONNX schema (onnx-proto 8.0.1 is five years old and
 * pins protobufjs 6), and these few messages are a page of code.
 */

/** onnx TensorProto.DataType */
export const DT = {float: 1, uint8: 2, int8: 3, int32: 6, int64: 7, bool: 9, float16: 10} as const
export type DataType = keyof typeof DT

export interface TensorProto {
  name: string
  dims: number[]
  type: DataType
  /** bytes in the model file, or where they are in the external data file */
  data: Uint8Array | {location: string; offset: number; length: number}
}

export type Attribute = number | number[] | string | {float: number} | {floats: number[]} | {tensor: TensorProto}

export interface NodeProto {
  op: string
  inputs: string[]
  outputs: string[]
  name: string
  domain?: string
  attrs?: Record<string, Attribute>
}

/** A graph input or output: element type and shape, symbolic dimensions by name. */
export interface ValueInfo { name: string; type: DataType; shape: (number | string)[] }

export interface ModelProto {
  opsets: {domain: string; version: number}[]
  producer: string
  graph: {name: string; nodes: NodeProto[]; initializers: TensorProto[]; inputs: ValueInfo[]; outputs: ValueInfo[]}
}

/** Protobuf writer: fields are appended in order; messages are built bottom-up. */
class Pb {
  private parts: Uint8Array[] = []
  varint(field: number, v: number | bigint): this { return this.tag(field, 0).raw(varint(v)) }
  bytes(field: number, b: Uint8Array): this { return this.tag(field, 2).raw(varint(b.length)).raw(b) }
  string(field: number, s: string): this { return this.bytes(field, Buffer.from(s, 'utf8')) }
  msg(field: number, m: Pb): this { return this.bytes(field, m.done()) }
  float(field: number, v: number): this { const b = Buffer.alloc(4); b.writeFloatLE(v); return this.tag(field, 5).raw(b) }
  done(): Uint8Array { return Buffer.concat(this.parts) }
  private tag(field: number, wire: number): this { return this.raw(varint(field * 8 + wire)) }
  private raw(b: Uint8Array): this { this.parts.push(b); return this }
}

/** Base-128 varint; negative int64 values as their 64-bit two's complement, as protobuf does. */
function varint(v: number | bigint): Uint8Array {
  let x = BigInt.asUintN(64, BigInt(v))
  const out: number[] = []
  do {
    let byte = Number(x & 0x7fn)
    x >>= 7n
    if (x > 0n) byte |= 0x80
    out.push(byte)
  } while (x > 0n)
  return Uint8Array.from(out)
}

function tensor(t: TensorProto): Pb {
  const m = new Pb()
  for (const d of t.dims) m.varint(1, d)
  m.varint(2, DT[t.type]).string(8, t.name)
  if (t.data instanceof Uint8Array) return m.bytes(9, t.data)
  const entry = (k: string, v: string) => new Pb().string(1, k).string(2, v)
  m.msg(13, entry('location', t.data.location)).msg(13, entry('offset', String(t.data.offset))).msg(13, entry('length', String(t.data.length)))
  return m.varint(14, 1)
}

/** AttributeProto.AttributeType */
const AT = {float: 1, int: 2, string: 3, tensor: 4, floats: 6, ints: 7}

function attribute(name: string, a: Attribute): Pb {
  const m = new Pb().string(1, name)
  if (typeof a === 'number') return m.varint(3, a).varint(20, AT.int)
  if (typeof a === 'string') return m.bytes(4, Buffer.from(a, 'utf8')).varint(20, AT.string)
  if (Array.isArray(a)) { for (const v of a) m.varint(8, v); return m.varint(20, AT.ints) }
  if ('float' in a) return m.float(2, a.float).varint(20, AT.float)
  if ('floats' in a) { for (const v of a.floats) m.float(7, v); return m.varint(20, AT.floats) }
  return m.msg(5, tensor(a.tensor)).varint(20, AT.tensor)
}

function node(n: NodeProto): Pb {
  const m = new Pb()
  for (const i of n.inputs) m.string(1, i)
  for (const o of n.outputs) m.string(2, o)
  m.string(3, n.name).string(4, n.op)
  for (const [k, v] of Object.entries(n.attrs ?? {})) m.msg(5, attribute(k, v))
  if (n.domain) m.string(7, n.domain)
  return m
}

function valueInfo(v: ValueInfo): Pb {
  const shape = new Pb()
  for (const d of v.shape) shape.msg(1, typeof d === 'number' ? new Pb().varint(1, d) : new Pb().string(2, d))
  const tensorType = new Pb().varint(1, DT[v.type]).msg(2, shape)
  return new Pb().string(1, v.name).msg(2, new Pb().msg(1, tensorType))
}

/** The serialized ModelProto (IR version 8, the one onnxruntime pairs with opset 17). */
export function encodeModel(model: ModelProto): Uint8Array {
  const g = new Pb()
  for (const n of model.graph.nodes) g.msg(1, node(n))
  g.string(2, model.graph.name)
  for (const t of model.graph.initializers) g.msg(5, tensor(t))
  for (const i of model.graph.inputs) g.msg(11, valueInfo(i))
  for (const o of model.graph.outputs) g.msg(12, valueInfo(o))
  const m = new Pb().varint(1, 8).string(2, model.producer)
  m.msg(7, g)
  for (const o of model.opsets) m.msg(8, new Pb().string(1, o.domain).varint(2, o.version))
  return m.done()
}
