/**
 * CPython's `random` module generator (MT19937), enough of it to draw the same calibration
 * windows as the reference repositories: seed(int), getrandbits(k ≤ 32), randint(a, b).
 */
export class PythonRandom {
  private mt = new Uint32Array(624)
  private index = 624

  constructor(seed: number) {
    // random.seed(n) for an int: init_by_array over the 32-bit words of |n| ([0] for 0).
    let n = BigInt(Math.abs(Math.trunc(seed)))
    const key: number[] = []
    do { key.push(Number(n & 0xffffffffn)); n >>= 32n } while (n > 0n)
    this.initByArray(key)
  }

  private initGenrand(s: number): void {
    const mt = this.mt
    mt[0] = s >>> 0
    for (let i = 1; i < 624; i++) {
      const prev = mt[i - 1] ^ (mt[i - 1] >>> 30)
      mt[i] = (Math.imul(1812433253, prev) + i) >>> 0
    }
    this.index = 624
  }

  private initByArray(key: number[]): void {
    const mt = this.mt
    this.initGenrand(19650218)
    let i = 1, j = 0
    for (let k = Math.max(624, key.length); k > 0; k--) {
      const prev = mt[i - 1] ^ (mt[i - 1] >>> 30)
      mt[i] = ((mt[i] ^ Math.imul(prev, 1664525)) + key[j] + j) >>> 0
      i++; j++
      if (i >= 624) { mt[0] = mt[623]; i = 1 }
      if (j >= key.length) j = 0
    }
    for (let k = 623; k > 0; k--) {
      const prev = mt[i - 1] ^ (mt[i - 1] >>> 30)
      mt[i] = ((mt[i] ^ Math.imul(prev, 1566083941)) - i) >>> 0
      i++
      if (i >= 624) { mt[0] = mt[623]; i = 1 }
    }
    mt[0] = 0x80000000
  }

  private twist(): void {
    const mt = this.mt
    for (let i = 0; i < 624; i++) {
      const y = (mt[i] & 0x80000000) | (mt[(i + 1) % 624] & 0x7fffffff)
      mt[i] = mt[(i + 397) % 624] ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0)
    }
    this.index = 0
  }

  genrandUint32(): number {
    if (this.index >= 624) this.twist()
    let y = this.mt[this.index++]
    y ^= y >>> 11
    y = (y ^ ((y << 7) & 0x9d2c5680)) >>> 0
    y = (y ^ ((y << 15) & 0xefc60000)) >>> 0
    return (y ^ (y >>> 18)) >>> 0
  }

  /** random.randint(a, b), both ends included; b − a + 1 must be below 2³² (one 32-bit draw). */
  randint(a: number, b: number): number {
    const n = b - a + 1
    if (n <= 0 || n >= 2 ** 32) throw new RangeError(`randint(${a}, ${b}) is out of range`)
    const k = Math.floor(Math.log2(n)) + 1                      // n.bit_length()
    let r: number
    do { r = this.genrandUint32() >>> (32 - k) } while (r >= n)  // _randbelow_with_getrandbits
    return a + r
  }
}
