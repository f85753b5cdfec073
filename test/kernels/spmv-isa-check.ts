// Run by spmv.test.ts with SPARSIFY_ISA set: prints the decode kernels' disagreements with their references.
import {nativeKernels} from '../../src/kernels/index.js'
import {spmvFailures} from './spmv-cases.js'

process.stdout.write(JSON.stringify({isa: nativeKernels().name, failures: spmvFailures()}))
