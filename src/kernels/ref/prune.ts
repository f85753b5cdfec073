// References for the pruning kernels: plain loops and full sorts.

export function columnStats(sum: Float64Array, sumsq: Float64Array, varsum: Float64Array, x: Float32Array, nseq: number, seq: number, cols: number): void {
  for (let s = 0; s < nseq; s++) {
    for (let j = 0; j < cols; j++) {
      let t = 0, tt = 0
      for (let r = 0; r < seq; r++) { const v = x[(s * seq + r) * cols + j]; t += v; tt += v * v }
      sum[j] += t
      sumsq[j] += tt
      let v = 0
      for (let r = 0; r < seq; r++) v += (x[(s * seq + r) * cols + j] - t / seq) ** 2
      varsum[j] += v / seq
    }
  }
}

export function absScaled(out: Float32Array, w: Float32Array, scale: Float32Array, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) out[r * cols + j] = Math.abs(w[r * cols + j]) * scale[j]
}

/** Column indices of a row segment in ascending (score, index) order: a stable sort. */
const order = (s: Float32Array, from: number, n: number) =>
  Array.from({length: n}, (_, i) => i).sort((a, b) => s[from + a] - s[from + b] || a - b)

export function selectRowK(mask: Uint8Array, score: Float32Array, rows: number, cols: number, k: number): void {
  for (let r = 0; r < rows; r++) {
    mask.fill(0, r * cols, (r + 1) * cols)
    for (const j of order(score, r * cols, cols).slice(0, k)) mask[r * cols + j] = 1
  }
}

export function selectNM(mask: Uint8Array, score: Float32Array, rows: number, cols: number, n: number, m: number): void {
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < cols; g += m) {
      order(score, r * cols + g, m).forEach((j, rank) => { mask[r * cols + g + j] = rank < n ? 1 : 0 })
    }
  }
}

export function selectThreshold(mask: Uint8Array, score: Float32Array, k: number): void {
  const t = Float32Array.from(score).sort()[k]
  for (let i = 0; i < score.length; i++) mask[i] = score[i] <= t ? 1 : 0
}

export function applyMask(w: Float32Array, mask: Uint8Array): void {
  for (let i = 0; i < w.length; i++) if (mask[i]) w[i] = 0
}

export function sumF64(x: Float32Array): number {
  let s = 0
  for (const v of x) s += v
  return s
}

export function countAbove(x: Float32Array, t: number): number {
  let n = 0
  for (const v of x) if (v > t) n++
  return n
}

export function countNonFinite(x: Float32Array): number {
  let n = 0
  for (const v of x) if (!Number.isFinite(v)) n++
  return n
}

export function accumulateSquares(acc: Float32Array, g: Float32Array, scale: number): void {
  for (let i = 0; i < acc.length; i++) acc[i] += (scale * g[i]) ** 2
}

export function absMulAdd(out: Float32Array, w: Float32Array, g: Float32Array): void {
  for (let i = 0; i < out.length; i++) out[i] += Math.abs(w[i]) * g[i]
}

export function zeroStats(x: Float32Array, rows: number, cols: number, m: number): [number, number] {
  let zeros = 0, least = m
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < cols; g += m || cols) {
      let z = 0
      for (let j = g; j < Math.min(cols, g + (m || cols)); j++) if (x[r * cols + j] === 0) z++
      zeros += z
      if (m) least = Math.min(least, z)
    }
  }
  return [zeros, m ? least : 0]
}

export function weightedSqDiff(a: Float32Array, b: Float32Array, s: Float32Array, rows: number, cols: number): [number, number] {
  let err = 0, ref = 0
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) {
    const av = a[i * cols + j]
    err += (av - b[i * cols + j]) ** 2 * s[j]
    ref += av * av * s[j]
  }
  return [err, ref]
}

export function mirrorLower(h: Float32Array, n: number, scale: number): void {
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      h[i * n + j] *= scale
      h[j * n + i] = h[i * n + j]
    }
  }
}

const setBit = (bitmask: Uint8Array, bpr: number, r: number, c: number) => { bitmask[r * bpr + (c >> 3)] |= 1 << (c & 7) }

export function packBitmask(values: Float32Array, bitmask: Uint8Array, offsets: BigInt64Array, w: Float32Array, rows: number, cols: number): number {
  const bpr = Math.ceil(cols / 8)
  bitmask.fill(0, 0, rows * bpr)
  let k = 0
  for (let r = 0; r < rows; r++) {
    offsets[r] = BigInt(k)
    for (let c = 0; c < cols; c++) {
      const v = w[r * cols + c]
      if (v !== 0) { setBit(bitmask, bpr, r, c); values[k++] = v }
    }
  }
  return k
}

export function pack24(values: Float32Array, bitmask: Uint8Array, w: Float32Array, rows: number, cols: number): number {
  const bpr = Math.ceil(cols / 8)
  bitmask.fill(0, 0, rows * bpr)
  let k = 0
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < cols; g += 4) {
      const x = [0, 1, 2, 3].map((j) => w[r * cols + g + j])
      if (x.filter((v) => v !== 0).length > 2) return r * cols + g
      const top = [0, 1, 2, 3].sort((a, b) => Math.abs(x[b]) - Math.abs(x[a]) || a - b).slice(0, 2).sort((a, b) => a - b)
      for (const j of top) { setBit(bitmask, bpr, r, g + j); values[k++] = x[j] === 0 ? 0 : x[j] }
    }
  }
  return -1
}

export function unpackBitmask(out: Float32Array, values: Float32Array, bitmask: Uint8Array, rows: number, cols: number): number {
  const bpr = Math.ceil(cols / 8)
  let k = 0
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const set = (bitmask[r * bpr + (c >> 3)] & (1 << (c & 7))) !== 0
      if (set && k >= values.length) return -1
      out[r * cols + c] = set ? values[k++] : 0
    }
  }
  return k
}
