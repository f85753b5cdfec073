import path from 'node:path'

import {AppendFile} from '../../util/append-file.js'
import type {Attribute, DataType, NodeProto, TensorProto} from './proto.js'

/** The weights' file beside model.onnx (ONNX external data), written as tensors are added. */
export class ExternalData {
  private readonly file: AppendFile

  constructor(path: string) { this.file = new AppendFile(path) }

  /** Appends `bytes` at a 64-byte boundary; returns where they are, relative to the model file. */
  append(bytes: Uint8Array): {location: string; offset: number; length: number} {
    this.file.pad(64)
    const offset = this.file.length
    this.file.append(bytes)
    return {location: path.basename(this.file.path), offset, length: bytes.length}
  }

  close(): void { this.file.close() }
}

const bytesOf = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength)

/** Nodes and initializers of one graph, with generated value names. */
export class GraphBuilder {
  readonly nodes: NodeProto[] = []
  readonly initializers: TensorProto[] = []
  private count = 0
  private readonly consts = new Map<string, string>()

  constructor(private readonly data: ExternalData) {}

  /** Adds a node; returns its output names (one unless `outputs` says more). */
  ops(op: string, inputs: string[], attrs: Record<string, Attribute> = {}, outputs = 1, domain?: string): string[] {
    const id = this.count++
    const names = Array.from({length: outputs}, (_, i) => `/${op.toLowerCase()}_${id}/${i}`)
    this.nodes.push({op, inputs, outputs: names, name: `${op}_${id}`, attrs, domain})
    return names
  }

  op(op: string, inputs: string[], attrs: Record<string, Attribute> = {}, domain?: string): string {
    return this.ops(op, inputs, attrs, 1, domain)[0]
  }

  /** Makes `value` available under a chosen name (graph outputs). */
  name(value: string, as: string): void {
    this.nodes.push({op: 'Identity', inputs: [value], outputs: [as], name: `Identity_${this.count++}`})
  }

  /** A small constant, inline in the model file (shared by value). */
  int64(values: number[], dims: number[] = [values.length]): string {
    return this.constant('int64', dims, bytesOf(BigInt64Array.from(values.map(BigInt))), `i64:${dims}:${values}`)
  }

  float(values: number[], dims: number[] = [values.length]): string {
    return this.constant('float', dims, bytesOf(Float32Array.from(values)), `f32:${dims}:${values}`)
  }

  /** A weight, in the external data file. */
  weight(name: string, type: DataType, dims: number[], data: ArrayBufferView): string {
    this.initializers.push({name, dims, type, data: this.data.append(bytesOf(data))})
    return name
  }

  private constant(type: DataType, dims: number[], data: Uint8Array, key: string): string {
    const known = this.consts.get(key)
    if (known) return known
    const name = `/const_${this.consts.size}`
    this.initializers.push({name, dims, type, data: data.slice()})
    this.consts.set(key, name)
    return name
  }
}
