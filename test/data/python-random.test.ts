import {describe, it} from 'node:test'
import assert from 'node:assert/strict'

import {PythonRandom} from '../../src/data/python-random.js'

// Expected values printed by CPython 3.11.7's random module on this machine.
describe("Python's random, bit for bit", () => {
  it('seed(0), randint(0, 356316) × 3 = 201979, 220500, 21225 (the spec test vector)', () => {
    const r = new PythonRandom(0)
    assert.deepEqual([r.randint(0, 356316), r.randint(0, 356316), r.randint(0, 356316)], [201979, 220500, 21225])
  })

  it('getrandbits(32) after seed(42); randint(1, 10) after seed(1), with rejections', () => {
    const r = new PythonRandom(42)
    assert.deepEqual([r.genrandUint32(), r.genrandUint32(), r.genrandUint32()], [2746317213, 478163327, 107420369])
    const s = new PythonRandom(1)
    assert.deepEqual(Array.from({length: 5}, () => s.randint(1, 10)), [3, 10, 2, 5, 2])
    const t = new PythonRandom(7)
    assert.deepEqual(Array.from({length: 4}, () => t.randint(0, 999)), [331, 970, 154, 404])
  })

  it('a seed wider than 32 bits is split into words as CPython does', () => {
    const r = new PythonRandom(2 ** 40 + 5)
    assert.deepEqual(Array.from({length: 3}, () => r.randint(0, 2 ** 31)), [1153647273, 117802120, 200118061])
    assert.throws(() => r.randint(0, 2 ** 32 - 1), /out of range/)
  })
})
