import {describe, it} from 'node:test'
import assert from 'node:assert/strict'

import {sparsify, TINY_LLAMA} from '../helpers/cli.js'

describe('sparsify bench', () => {
  it('measures every format on the model\'s own linear shapes', () => {
    const r = sparsify(['bench', TINY_LLAMA, '--reps', '2', '--json'])
    assert.equal(r.status, 0, r.stderr)
    const {results} = JSON.parse(r.stdout)
    assert.deepEqual(results.map((x: {shape: number[]}) => x.shape.join('x')).sort(), ['192x192', '192x512', '512x192', '64x192'])
    for (const x of results) for (const k of ['f32_ms', 'bf16_ms', 'nm24_ms']) assert.ok(x[k] > 0)
    const human = sparsify(['bench', TINY_LLAMA, '--reps', '1'])
    assert.match(human.stdout, /2:4 vs bf16/)
  })
})
