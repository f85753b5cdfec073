import assert from 'node:assert/strict'

/** Fails with the first mismatches when |actual − expected| > atol + rtol·|expected| anywhere. */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, {atol = 1e-5, rtol = 1e-4} = {}, label = ''): void {
  assert.equal(actual.length, expected.length, `${label}: length ${actual.length} != ${expected.length}`)
  const bad: string[] = []
  let count = 0
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i], e = expected[i]
    if (!(Math.abs(a - e) <= atol + rtol * Math.abs(e))) {
      count++
      if (bad.length < 5) bad.push(`[${i}] ${a} vs ${e}`)
    }
  }
  assert.equal(count, 0, `${label}: ${count} of ${expected.length} values differ; first: ${bad.join(', ')}`)
}

/** Norm of the difference over the norm of the expected values. */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let num = 0, den = 0
  for (let i = 0; i < expected.length; i++) {
    num += (actual[i] - expected[i]) ** 2
    den += expected[i] ** 2
  }
  return Math.sqrt(num / (den || 1))
}
