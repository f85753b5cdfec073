// Run by kernels.test.ts with SPARSIFY_ISA set: prints the GEMM's error against the reference.
import {nativeKernels, refBackend} from '../../src/kernels/index.js'
import {randomNormal, seededRandom} from '../../src/util/random.js'

const rand = seededRandom(3)
let maxRelErr = 0
for (const [m, n, k] of [[13, 37, 300], [1, 65, 17], [50, 3, 129]]) {
  const a = randomNormal(m * k, rand), b = randomNormal(n * k, rand)
  const want = new Float32Array(m * n), got = new Float32Array(m * n)
  refBackend.gemm(want, a, b, m, n, k, {transB: true})
  nativeKernels().gemm(got, a, b, m, n, k, {transB: true})
  for (let i = 0; i < want.length; i++) maxRelErr = Math.max(maxRelErr, Math.abs(got[i] - want[i]) / (1 + Math.abs(want[i])))
}
process.stdout.write(JSON.stringify({isa: nativeKernels().name, maxRelErr}))
