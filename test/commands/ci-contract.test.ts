import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {writeRandomLlama} from '../../fixtures/gen/random-model.js'
import {golden} from '../helpers/golden.js'
import {interruptedRun, sparsify, tempDir, TINY_LLAMA} from '../helpers/cli.js'
import {brownDocuments} from '../../src/data/brown.js'

const g = golden('llama')
const ids = path.join(tempDir(), 'ids.json')
writeFileSync(ids, JSON.stringify([...g.rows('calib_ids'), ...g.rows('eval_ids')]))
const evalIds = path.join(tempDir(), 'eval.json')
writeFileSync(evalIds, JSON.stringify(g.rows('eval_ids')))
const base = ['prune', g.dir, '--method', 'wanda', '--sparsity', '0.5', '--calib', ids, '--nsamples', '4', '--seqlen', '32', '--eval', evalIds]

describe('a compression step that CI can trust', () => {
  it('--json prints exactly one JSON object on stdout; progress lines on stderr carry no ANSI codes', () => {
    const r = sparsify([...base, '--out', path.join(tempDir(), 'o'), '--json'])
    assert.equal(r.status, 0, r.stderr)
    const report = JSON.parse(r.stdout)
    assert.equal(r.stdout.trim(), JSON.stringify(report))
    assert.doesNotMatch(r.stderr, /\x1b\[/)
    assert.match(r.stderr, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ pruning with wanda 2\/2$/m)
    // The block clock starts with the phase: the first finished block already has an estimate, the last none.
    assert.match(r.stderr, /Z pruning with wanda 0\/2 \(ETA …\)$/m)
    assert.match(r.stderr, /Z pruning with wanda 1\/2 \(ETA \d+(\.\d)?s\)$/m)
    const human = sparsify([...base, '--out', path.join(tempDir(), 'h')])
    assert.doesNotMatch(human.stdout + human.stderr, /\x1b\[/)
    const quiet = sparsify([...base, '--out', path.join(tempDir(), 'q'), '--quiet'])
    assert.equal(quiet.stderr, '')
  })

  it('exit 10 when the quality gate fails, with the output written and the reason in the report', () => {
    const out = path.join(tempDir(), 'gate'), text = path.join(tempDir(), 'eval.txt')
    writeFileSync(text, brownDocuments('test').slice(0, 2).join('\n'))
    // 90% magnitude pruning of the trained fixture costs far more than 1% perplexity.
    const r = sparsify(['prune', TINY_LLAMA, '--method', 'magnitude', '--sparsity', '0.9', '--eval', text, '--seqlen', '128', '--max-ppl-increase', '1', '--out', out, '--json'])
    assert.equal(r.status, 10, r.stderr)
    const report = JSON.parse(r.stdout)
    assert.equal(report.gate.passed, false)
    assert.ok(report.gate.ppl_increase_pct > 1)
    assert.match(r.stderr, /error: quality gate failed: perplexity rose [\d.]+%, more than --max-ppl-increase 1%/)
    assert.ok(existsSync(path.join(out, 'model.safetensors')))
    assert.match(readFileSync(path.join(out, 'REPORT.md'), 'utf8'), /Quality gate: .*\*\*FAILED\*\*/)
    const ok = sparsify([...base, '--max-ppl-increase', '50', '--out', path.join(tempDir(), 'pass'), '--json'])
    assert.equal(ok.status, 0, ok.stderr)
    assert.equal(JSON.parse(ok.stdout).gate.passed, true)
  })

  it('exit 4 when the job cannot fit in memory, found before it starts', () => {
    const out = path.join(tempDir(), 'mem')
    const r = sparsify([...base, '--max-memory', '10M', '--out', out])
    assert.equal(r.status, 4)
    assert.match(r.stderr, /error: this job needs about [\d.]+ GiB of memory, more than the 0\.01 GiB allowed by --max-memory/)
    assert.ok(!existsSync(out))
  })

  for (const [signal, code] of [['SIGTERM', 143], ['SIGINT', 130]] as const) {
    it(`${signal} at a random block exits ${code}; --resume then gives the same bytes as an uninterrupted run`, async () => {
      const dir = tempDir()
      const layers = 10
      writeRandomLlama(path.join(dir, 'model'), {vocab: 512, hidden: 128, intermediate: 256, layers, heads: 4, kvHeads: 2, maxPositions: 256}, {seed: 1, dtype: 'BF16'})
      const calib = path.join(dir, 'calib.json')
      writeFileSync(calib, JSON.stringify(Array.from({length: 8}, (_, i) => Array.from({length: 128}, (_, j) => (i * 131 + j * 7) % 512))))
      const args = (out: string) => ['prune', path.join(dir, 'model'), '--method', 'sparsegpt', '--sparsity', '0.5', '--calib', calib,
        '--nsamples', '8', '--seqlen', '128', '--eval', 'none', '--out', out]
      const whole = path.join(dir, 'whole')
      assert.equal(sparsify(args(whole)).status, 0)
      const out = path.join(dir, 'out')
      const at = 1 + Math.floor(Math.random() * (layers - 2))
      const r = await interruptedRun(args(out), new RegExp(`pruning with sparsegpt ${at}/`), signal)
      assert.equal(r.status, code, r.stderr)
      assert.match(r.stderr, new RegExp(`error: interrupted by ${signal} after block \\d+ of ${layers}; --out is untouched \\(run the same command with --resume`))
      assert.ok(!existsSync(out))
      assert.ok(existsSync(path.join(dir, '.out.sparsify-work')), 'finished blocks kept')
      const again = sparsify(args(out))
      assert.equal(again.status, 2, 'an interrupted run is not silently discarded')
      assert.match(again.stderr, /pass --resume to continue it/)
      const resumed = sparsify([...args(out), '--resume'])
      assert.equal(resumed.status, 0, resumed.stderr)
      assert.match(resumed.stderr, /resuming after block \d+/)
      assert.deepEqual(readFileSync(path.join(out, 'model.safetensors')), readFileSync(path.join(whole, 'model.safetensors')), `interrupted at block ${at}`)
      assert.deepEqual(readdirSync(dir).filter((f) => f.includes('sparsify-work')), [], 'work folder removed on success')
      const a = JSON.parse(readFileSync(path.join(out, 'sparsify-report.json'), 'utf8')), b = JSON.parse(readFileSync(path.join(whole, 'sparsify-report.json'), 'utf8'))
      assert.deepEqual(a.sparsity, b.sparsity)
    })
  }

  it('a full disk leaves the previous output untouched and says so', (t) => {
    const mnt = tempDir()
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=400k', 'tmpfs', mnt]).status === 0
    if (!mounted) { t.skip('needs root to mount a small tmpfs'); return }
    try {
      const out = path.join(mnt, 'out')
      mkdirSync(out)
      writeFileSync(path.join(out, 'previous.txt'), 'the last good run')
      // The golden llama's weights are 0.5 MB: their copy cannot fit.
      const r = sparsify([...base, '--out', out, '--overwrite'])
      assert.equal(r.status, 1, r.stderr)
      assert.match(r.stderr, /error: disk full/)
      assert.equal(readFileSync(path.join(out, 'previous.txt'), 'utf8'), 'the last good run')
      assert.deepEqual(readdirSync(mnt), ['out'])
    } finally {
      spawnSync('umount', [mnt])
    }
  })
})
