import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {fileURLToPath} from 'node:url'

import {nativeKernels, refBackend, setThreads} from '../../src/kernels/index.js'
import {randomNormal, seededRandom} from '../../src/util/random.js'
import {randomGqsa, spmvFailures} from './spmv-cases.js'

const nat = nativeKernels()

describe('decode kernels (dense, N:M, bitmask, GQSA) equal their references', () => {
  it('on odd shapes, empty and fully dense rows, 1 to 9 tokens', () => {
    assert.deepEqual(spmvFailures(), [])
  })

  it('on every instruction set this CPU has (portable, avx2, avx512)', () => {
    const script = fileURLToPath(new URL('./spmv-isa-check.js', import.meta.url))
    for (const isa of ['portable', 'avx2', 'avx512']) {
      const r = spawnSync(process.execPath, [script], {env: {...process.env, SPARSIFY_ISA: isa}, encoding: 'utf8'})
      assert.equal(r.status, 0, r.stderr)
      assert.deepEqual(JSON.parse(r.stdout).failures, [], isa)
    }
  })

  it('N:M packing refuses a group with too many non-zeros and says where', () => {
    const w = Float32Array.of(1, 0, 0, 0, 1, 2, 3, 0)
    assert.equal(nat.packNm(new Float32Array(4), new Uint8Array(2), w, 1, 8, 2, 4), 4)
    assert.equal(refBackend.packNm(new Float32Array(4), new Uint8Array(2), w, 1, 8, 2, 4), 4)
  })

  it('GQSA over several tasks (rows cut between tasks) equals its reference, with identical bits for any thread count', () => {
    const rand = seededRandom(5), rows = 700, cols = 1024, group = 16
    const q = randomGqsa(rows, cols, group), x = randomNormal(2 * cols, rand)
    assert.ok(q.rowPtr[rows] > 2 * 8192, 'spans at least three tasks of 8192 groups')
    const one = new Float32Array(2 * rows), two = new Float32Array(2 * rows), want = new Float32Array(2 * rows)
    setThreads(1); nat.matmulGqsa(one, q.rowPtr, q.col, q.pairs, q.scales, q.offsetZeros, x, 2, rows, cols, group)
    setThreads(2); nat.matmulGqsa(two, q.rowPtr, q.col, q.pairs, q.scales, q.offsetZeros, x, 2, rows, cols, group)
    assert.deepEqual(one, two)
    refBackend.matmulGqsa(want, q.rowPtr, q.col, q.pairs, q.scales, q.offsetZeros, x, 2, rows, cols, group)
    for (let i = 0; i < want.length; i++) assert.ok(Math.abs(one[i] - want[i]) <= 1e-4 * (1 + Math.abs(want[i])), `${i}: ${one[i]} vs ${want[i]}`)
  })
})
