import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {golden} from '../helpers/golden.js'
import {interruptedRun, sparsify, tempDir} from '../helpers/cli.js'

/**
 * --resume on the architecture table's harder families: experts whose statistics are collected in
 * groups (mixtral; qwen3_moe with a dense block between mixtures) and Gemma 3's sliding-window
 * blocks with their own RoPE base. The interrupted, resumed run must equal an uninterrupted one.
 */
describe('prune --resume on the later families gives the bytes of an uninterrupted run', () => {
  for (const model of ['mixtral', 'qwen3_moe', 'gemma3']) {
    const g = golden(model)
    const dir = tempDir()
    const vocab: number = JSON.parse(readFileSync(path.join(g.dir, 'config.json'), 'utf8')).vocab_size
    // Enough calibration tokens that a block takes far longer than a signal takes to arrive.
    const calib = path.join(dir, 'calib.json')
    writeFileSync(calib, JSON.stringify(Array.from({length: 48}, (_, i) => Array.from({length: 64}, (_, j) => (i * 131 + j * 17 + 3) % vocab))))
    for (const method of ['sparsegpt', 'gblm']) {
      it(`${model} ${method}: SIGINT during the first block, then --resume`, async () => {
        const args = (out: string) => ['prune', g.dir, '--method', method, '--sparsity', '0.5', '--calib', calib,
          '--nsamples', '48', '--seqlen', '64', '--eval', 'none', '--out', out]
        const whole = path.join(dir, `${method}-whole`), out = path.join(dir, `${method}-out`)
        const full = sparsify(args(whole))
        assert.equal(full.status, 0, full.stderr)
        // The signal goes out when the phase starts; the job stops at the first block boundary after it arrives.
        const r = await interruptedRun(args(out), new RegExp(`pruning with ${method} 0/`))
        assert.equal(r.status, 130, r.stderr)
        assert.match(r.stderr, /error: interrupted by SIGINT after block \d+ of \d+/)
        assert.ok(!existsSync(out))
        const resumed = sparsify([...args(out), '--resume'])
        assert.equal(resumed.status, 0, resumed.stderr)
        assert.match(resumed.stderr, /resuming after block \d+/)
        assert.deepEqual(readFileSync(path.join(out, 'model.safetensors')), readFileSync(path.join(whole, 'model.safetensors')))
        const a = JSON.parse(readFileSync(path.join(out, 'sparsify-report.json'), 'utf8'))
        const b = JSON.parse(readFileSync(path.join(whole, 'sparsify-report.json'), 'utf8'))
        assert.deepEqual(a.sparsity, b.sparsity)
        if (b.experts) assert.deepEqual(a.experts, b.experts, 'per-expert token counts survive the resume')
      })
    }
  }
})
