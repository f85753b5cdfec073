import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import {readdirSync} from 'node:fs'
import path from 'node:path'
import {Flags} from '@oclif/core'

import {BaseCommand} from '../../src/cli/base-command.js'
import {allowed} from '../../src/cli/flags.js'
import {SparsifyError} from '../../src/util/errors.js'
import {ROOT, sparsify, tempDir, TINY_LLAMA} from '../helpers/cli.js'

/** exit 2 and one line that names the flag, what it allows and what it was given. */
function refused(args: string[], line: string): void {
  const r = sparsify(args)
  assert.equal(r.status, 2, r.stderr)
  assert.equal(r.stderr, `error: ${line}\n`)
  assert.equal(r.stdout, '')
}

describe('numeric flags out of range say what is allowed and what was given', () => {
  it('eval: --seqlen 0, --nsamples 0, --seqlen abc, --threads 0', () => {
    const evalArgs = ['eval', TINY_LLAMA, '--dataset', 'brown']
    refused([...evalArgs, '--seqlen', '0'], '--seqlen must be an integer of at least 2, got 0')
    refused([...evalArgs, '--nsamples', '0'], '--nsamples must be an integer of at least 1, got 0')
    refused([...evalArgs, '--seqlen', 'abc'], '--seqlen must be an integer of at least 2, got abc')
    refused([...evalArgs, '--threads', '0'], '--threads must be an integer of at least 1, got 0')
  })

  it('prune: integers, fractions, learning rates, percentages and sizes', () => {
    const prune = ['prune', TINY_LLAMA, '--method', 'gqsa', '--out', path.join(tempDir(), 'o')]
    refused([...prune, '--sparsity', '1'], '--sparsity must be a number of at least 0 and below 1, got 1')
    refused([...prune, '--sparsity', 'half'], '--sparsity must be a number of at least 0 and below 1, got half')
    refused([...prune, '--sparsity', '0.5', '--nsamples', '0'], '--nsamples must be an integer of at least 1, got 0')
    refused([...prune, '--sparsity', '0.5', '--seqlen', '1'], '--seqlen must be an integer of at least 2, got 1')
    refused([...prune, '--sparsity', '0.5', '--seed', '1.5'], '--seed must be an integer, got 1.5')
    refused([...prune, '--sparsity', '0.5', '--bits', '8'], '--bits must be an integer from 2 to 4, got 8')
    refused([...prune, '--sparsity', '0.5', '--bqpo-lr', '0'], '--bqpo-lr must be a number above 0, got 0')
    refused([...prune, '--sparsity', '0.5', '--max-ppl-increase', '-5'], '--max-ppl-increase must be a number of at least 0, got -5')
    refused([...prune, '--sparsity', '0.5', '--max-memory', 'lots'],
      '--max-memory must be a size in bytes, with an optional unit K, M, G or T (e.g. 16G, 1.5GiB), got lots')
  })

  it('bench and generate', () => {
    refused(['bench', '--reps', '0'], '--reps must be an integer of at least 1, got 0')
    refused(['generate', TINY_LLAMA, '--prompt', 'The', '--max-new-tokens', '-3'], '--max-new-tokens must be an integer of at least 1, got -3')
  })

  it('every numeric flag of every command refuses nonsense with such a message (none is a bare oclif integer)', async () => {
    const bare = Flags.integer().parse
    const dir = path.join(ROOT, 'dist', 'src', 'commands')
    let numeric = 0
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.js'))) {
      const command = (await import(path.join(dir, file))).default
      const flags = {...BaseCommand.baseFlags, ...command.flags} as Record<string, Record<string, unknown> & {parse?: unknown}>
      for (const [name, flag] of Object.entries(flags)) {
        assert.notEqual(flag.parse, bare, `${file}: --${name} is Flags.integer, whose refusal says only "Parsing --${name}"`)
        const bounds = ['min', 'max', 'above', 'below'].some((k) => k in flag)
        if (!bounds && typeof flag.default !== 'number') continue
        numeric++
        const parse = flag.parse as (input: string, ctx: unknown, opts: unknown) => Promise<unknown>
        await assert.rejects(parse('nonsense', {}, {...flag, name}), (err: Error) =>
          err instanceof SparsifyError && err.exitCode === 2 && new RegExp(`^--${name} must be (an integer|a number).*, got nonsense$`).test(err.message))
      }
    }
    assert.ok(numeric >= 15, `${numeric} numeric flags found`)
  })

  it('describes bounds in words', () => {
    assert.equal(allowed('an integer', {}), 'an integer')
    assert.equal(allowed('an integer', {min: 2, max: 4}), 'an integer from 2 to 4')
    assert.equal(allowed('a number', {min: 0, below: 1}), 'a number of at least 0 and below 1')
    assert.equal(allowed('a number', {above: 0}), 'a number above 0')
    assert.equal(allowed('an integer', {max: 9}), 'an integer at most 9')
  })
})
