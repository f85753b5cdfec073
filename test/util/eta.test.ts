import {describe, it} from 'node:test'
import assert from 'node:assert/strict'

import {clock, Eta} from '../../src/util/log.js'

/** An Eta on a clock the test moves, in seconds. */
function fakeEta() {
  let now = 0
  const eta = new Eta(() => now * 1000)
  return {eta, at: (s: number) => { now = s }}
}

describe('progress ETA from the measured time per finished unit', () => {
  it('a 16-block prune at 45 s a block: 15 × 45 s left after the first block, 14 × 45 s after the second', () => {
    const {eta, at} = fakeEta()
    at(8)   // the phase starts after 8 s of loading and calibration, which must not count
    assert.equal(eta.text('pruning', 0, 16), 'ETA …')
    at(53)
    assert.equal(eta.seconds('pruning', 1, 16), 15 * 45)
    at(98)
    assert.equal(eta.seconds('pruning', 2, 16), 14 * 45)
    assert.equal(eta.text('pruning', 2, 16), 'ETA 10m30s')
    at(8 + 16 * 45)
    assert.equal(eta.text('pruning', 16, 16), '', 'a finished phase has no ETA')
  })

  it('without a reported start, the first finished unit gives no estimate (never 0 s), the second one does', () => {
    const {eta, at} = fakeEta()
    at(53)
    assert.equal(eta.seconds('pruning', 1, 16), null)
    assert.equal(eta.text('pruning', 1, 16), 'ETA …')
    at(98)
    assert.equal(eta.seconds('pruning', 2, 16), 14 * 45)
  })

  it('interleaved phases keep their own clocks; a phase run again starts afresh', () => {
    const {eta, at} = fakeEta()
    at(0); eta.seconds('pruning', 0, 4)
    at(1); eta.seconds('BQPO block 0', 1, 10)
    at(9); eta.seconds('BQPO block 0', 9, 10)
    at(10)
    assert.equal(eta.seconds('pruning', 1, 4), 30, 'the BQPO steps in between do not reset the block clock')
    at(100); eta.seconds('evaluating blocks', 0, 8)
    at(102); assert.equal(eta.seconds('evaluating blocks', 1, 8), 14)
    at(200); assert.equal(eta.seconds('evaluating blocks', 0, 8), null, 'done went back: a new run of the phase')
    at(201); assert.equal(eta.seconds('evaluating blocks', 1, 8), 7)
  })

  it('formats seconds, minutes and hours without a 60 in the lower place', () => {
    assert.deepEqual([0.04, 9.96, 42, 59.7, 119.6, 675, 3599.6, 7380].map(clock), ['0.0s', '10s', '42s', '1m00s', '2m00s', '11m15s', '1h00m', '2h03m'])
  })
})
