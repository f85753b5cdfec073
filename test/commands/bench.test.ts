import {describe, it} from 'node:test'
import assert from 'node:assert/strict'

import {sparsify, TINY_LLAMA} from '../helpers/cli.js'

describe('sparsify bench', () => {
  it('measures every format on the model\'s own linear shapes', () => {
    const r = sparsify(['bench', TINY_LLAMA, '--reps', '2', '--decode-tokens', '4', '--json'])
    assert.equal(r.status, 0, r.stderr)
    const {products, decode} = JSON.parse(r.stdout)
    assert.deepEqual(products.map((x: {shape: number[]}) => x.shape.join('x')).sort(), ['192x192', '192x512', '512x192', '64x192'])
    for (const p of products) {
      assert.deepEqual(p.formats.map((f: {format: string}) => f.format), ['f32', 'bf16', 'nm 2:4', 'bitmask 50%', 'gqsa W4S50'])
      for (const f of p.formats) assert.ok(f.gemv_ms > 0 && f.gemm_ms > 0 && f.bytes_per_weight > 0)
    }
    // the dense fixture decodes in f32, bf16 and bitmask; it is not 2:4 and carries no GQSA codes
    const by = Object.fromEntries(decode.map((d: {format: string}) => [d.format, d]))
    for (const f of ['f32', 'bf16', 'bitmask']) assert.ok(by[f].tokens_per_second > 0, f)
    assert.match(by.nm.skipped, /is not 2:4/)
    assert.match(by.gqsa.skipped, /needs a checkpoint written by/)
    const human = sparsify(['bench', TINY_LLAMA, '--reps', '1', '--decode-tokens', '2'])
    assert.match(human.stdout, /GEMV vs bf16/)
    assert.match(human.stdout, /decode format/)
  })
})
