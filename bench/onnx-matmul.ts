// A one-node ONNX model, C = A·B, encoded by hand: onnxruntime-node needs a model, and
// this is the whole of the protobuf needed for one. Field numbers are onnx.proto's.

function varint(n: number): number[] {
  const out: number[] = []
  while (n > 127) { out.push((n & 127) | 128); n = Math.floor(n / 128) }
  out.push(n)
  return out
}
const field = (no: number, bytes: number[]) => [...varint((no << 3) | 2), ...varint(bytes.length), ...bytes]
const int = (no: number, v: number) => [...varint(no << 3), ...varint(v)]
const str = (no: number, s: string) => field(no, [...Buffer.from(s, 'utf8')])

/** ValueInfoProto of a float tensor with a fixed shape. */
function valueInfo(name: string, dims: number[]): number[] {
  const shape = dims.flatMap((d) => field(1, int(1, d)))        // TensorShapeProto.dim { dim_value }
  const tensorType = [...int(1, 1), ...field(2, shape)]            // elem_type FLOAT, shape
  return [...str(1, name), ...field(2, field(1, tensorType))]      // name, type { tensor_type }
}

export function matmulModel(m: number, n: number, k: number): Uint8Array {
  const node = [...str(1, 'A'), ...str(1, 'B'), ...str(2, 'C'), ...str(4, 'MatMul')]
  const graph = [...field(1, node), ...str(2, 'g'),
    ...field(11, valueInfo('A', [m, k])), ...field(11, valueInfo('B', [k, n])), ...field(12, valueInfo('C', [m, n]))]
  return Uint8Array.from([...int(1, 8), ...field(7, graph), ...field(8, int(2, 13))])
}
