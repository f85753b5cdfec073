/** Small seeded generator (mulberry32) for reproducible test data and fixtures. */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Approximately normal values (sum of uniforms), scaled by std. */
export function randomNormal(n: number, rand: () => number, std = 1): Float32Array {
  const out = new Float32Array(n)
  for (let i = 0; i < n; i++) out[i] = (rand() + rand() + rand() + rand() - 2) * std * Math.sqrt(3)
  return out
}
