import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import {readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import fc from 'fast-check'

import {parseHeader} from '../../src/model/safetensors/header.js'
import {SafetensorsFile} from '../../src/model/safetensors/reader.js'
import {decodeFloats, encodeFloats, SafetensorsWriter, writeSafetensors} from '../../src/model/safetensors/writer.js'
import {Checkpoint} from '../../src/model/safetensors/checkpoint.js'
import {SparsifyError} from '../../src/util/errors.js'
import {tempDir, TINY_LLAMA} from '../helpers/cli.js'
import {Model} from '../../src/model/model.js'

describe('safetensors', () => {
  it('round-trips every float dtype, integers and metadata, with an 8-byte aligned header', () => {
    const dir = tempDir()
    const file = path.join(dir, 'x.safetensors')
    const values = Float32Array.from({length: 37}, (_, i) => (i - 18) / 7)
    writeSafetensors(file, [
      {name: 'a', dtype: 'F32', shape: [37], data: encodeFloats(values, 'F32')},
      {name: 'b', dtype: 'BF16', shape: [37, 1], data: encodeFloats(values, 'BF16')},
      {name: 'c', dtype: 'F16', shape: [1, 37], data: encodeFloats(values, 'F16')},
      {name: 'ids', dtype: 'I64', shape: [2], data: new Uint8Array(BigInt64Array.of(5n, 7n).buffer)},
      {name: 'empty', dtype: 'F32', shape: [0, 4], data: new Uint8Array(0)},
    ], {format: 'pt', note: 'hello'})
    const bytes = readFileSync(file)
    assert.equal(Number(bytes.readBigUInt64LE(0)) % 8, 0)
    const f = SafetensorsFile.open(file)
    assert.deepEqual(f.metadata, {format: 'pt', note: 'hello'})
    assert.deepEqual(f.readF32('a'), values)
    const bf = f.readF32('b'), hf = f.readF32('c')
    for (let i = 0; i < 37; i++) {
      assert.ok(Math.abs(bf[i] - values[i]) <= Math.abs(values[i]) * 2 ** -8)
      assert.ok(Math.abs(hf[i] - values[i]) <= Math.abs(values[i]) * 2 ** -11)
    }
    assert.deepEqual(f.readInts('ids'), [5, 7])
    assert.equal(f.readF32('empty').length, 0)
  })

  it('streams a tensor written in pieces and reads a half-precision tensor larger than the staging buffer', () => {
    const file = path.join(tempDir(), 'x.safetensors')
    const n = (1 << 22) + 1001
    const values = Float32Array.from({length: n}, (_, i) => Math.sin(i))
    const bytes = encodeFloats(values, 'BF16')
    const w = SafetensorsWriter.create(file, [{name: 'big', dtype: 'BF16', shape: [n]}, {name: 'small', dtype: 'F32', shape: [2]}])
    w.writeChunks('big', [bytes.subarray(0, 6), bytes.subarray(6, 1 << 20), bytes.subarray(1 << 20)])
    assert.throws(() => w.writeChunks('small', [new Uint8Array(12)]), /more than 8 bytes/)
    w.abandon()
    const f = SafetensorsFile.open(file, {allowTruncated: true})
    assert.deepEqual(f.readF32('big'), decodeFloats(bytes, 'BF16'))
  })

  it('refills the previous block\'s buffers when the next block is read (one block held while streaming)', () => {
    const model = Model.load(TINY_LLAMA)
    const first = model.block(0), buffers = first.tensors.map((t) => t.weight)
    const second = model.block(1, first)
    assert.ok(second.tensors.every((t, i) => t.weight === buffers[i]))
    model.close()
  })

  it('reads sharded checkpoints through model.safetensors.index.json', () => {
    const dir = tempDir()
    const one = Float32Array.of(1, 2), two = Float32Array.of(3, 4, 5)
    writeSafetensors(path.join(dir, 'model-00001-of-00002.safetensors'), [{name: 'x', dtype: 'F32', shape: [2], data: encodeFloats(one, 'F32')}])
    writeSafetensors(path.join(dir, 'model-00002-of-00002.safetensors'), [{name: 'y', dtype: 'F32', shape: [3], data: encodeFloats(two, 'F32')}])
    writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({metadata: {}, weight_map: {x: 'model-00001-of-00002.safetensors', y: 'model-00002-of-00002.safetensors'}}))
    const ck = Checkpoint.open(dir)
    assert.deepEqual(ck.names().sort(), ['x', 'y'])
    assert.deepEqual(ck.readF32('y'), two)
    assert.equal(ck.file('x').path.endsWith('00001-of-00002.safetensors'), true)
  })

  it('header parser never throws anything but SparsifyError on arbitrary bytes (fuzzed)', () => {
    const parse = (bytes: Uint8Array) => {
      try {
        parseHeader('fuzz', bytes.length, bytes.subarray(0, 8), (n) => bytes.subarray(8, 8 + n))
      } catch (err) {
        if (!(err instanceof SparsifyError)) throw err
      }
    }
    fc.assert(fc.property(fc.uint8Array({maxLength: 200}), parse), {numRuns: 2000})
    // Structured inputs reach the deeper checks: a valid length prefix and JSON-ish headers.
    const entry = fc.record({
      dtype: fc.oneof(fc.constantFrom('F32', 'BF16', 'I64', 'U8', 'F12'), fc.anything()),
      shape: fc.oneof(fc.array(fc.integer({min: -2, max: 5}), {maxLength: 3}), fc.anything()),
      data_offsets: fc.oneof(fc.tuple(fc.integer({min: -5, max: 80}), fc.integer({min: -5, max: 80})), fc.anything()),
    }, {requiredKeys: []})
    const header = fc.dictionary(fc.oneof(fc.string(), fc.constant('__metadata__')), fc.oneof(entry, fc.anything()), {maxKeys: 4})
    fc.assert(fc.property(header, fc.integer({min: 0, max: 80}), (h, dataLen) => {
      const json = Buffer.from(JSON.stringify(h))
      const prefix = Buffer.alloc(8)
      prefix.writeBigUInt64LE(BigInt(json.length))
      parse(new Uint8Array(Buffer.concat([prefix, json, Buffer.alloc(dataLen)])))
    }), {numRuns: 3000})
  })
})
