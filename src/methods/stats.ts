import type {Backend} from '../kernels/index.js'
import type {InputName} from '../model/weights.js'
import type {InputStats} from './types.js'

const HESSIAN_BLOCK = 256

/** Accumulates the statistics of one linear input over all calibration sequences of one block. */
export class InputCollector {
  private readonly sum: Float64Array
  private readonly sumsq: Float64Array
  private readonly varsum: Float64Array
  private readonly xtx: Float32Array | null
  private nseq = 0
  private rows = 0

  constructor(private readonly k: Backend, readonly cols: number, withHessian: boolean) {
    this.sum = new Float64Array(cols)
    this.sumsq = new Float64Array(cols)
    this.varsum = new Float64Array(cols)
    this.xtx = withHessian ? new Float32Array(cols * cols) : null
  }

  /** x: (nseq·seq, cols) holding whole sequences. */
  add(x: Float32Array, rows: number, seq: number): void {
    const nseq = rows / seq
    this.k.columnStats(this.sum, this.sumsq, this.varsum, x, nseq, seq, this.cols)
    if (this.xtx) {
      // XᵀX is symmetric: accumulate the lower block triangle only (half the flops); finish() mirrors it.
      const C = this.cols
      for (let j0 = 0; j0 < C; j0 += HESSIAN_BLOCK) {
        const bw = Math.min(HESSIAN_BLOCK, C - j0)
        this.k.gemm(this.xtx.subarray(j0 * C + j0), x.subarray(j0), x.subarray(j0), C - j0, bw, rows,
          {transA: true, accumulate: true, lda: C, ldb: C, ldc: C})
      }
    }
    this.nseq += nseq
    this.rows += rows
  }

  finish(): InputStats {
    const n = this.nseq
    const hessian = this.xtx
    if (hessian) this.k.mirrorLower(hessian, this.cols, 2 / n)
    return {
      nseq: n,
      tokens: this.rows,
      scaler: Float32Array.from(this.sumsq, (v) => v / n),
      sumMetric: Float32Array.from(this.sum, (v) => v / n),
      variance: Float32Array.from(this.varsum, (v) => v / n),
      hessian,
    }
  }
}

/** One collector per distinct input of the block (q/k/v share one, gate/up another, each expert its own). */
export function blockCollectors(k: Backend, widths: Map<InputName, number>, withHessian: boolean): Map<InputName, InputCollector> {
  return new Map([...widths].map(([input, cols]) => [input, new InputCollector(k, cols, withHessian)]))
}

/** Every collector's statistics, by input. */
export function finishAll(collectors: Map<InputName, InputCollector>): Map<InputName, InputStats> {
  return new Map([...collectors].map(([input, c]) => [input, c.finish()]))
}
