import assert from 'node:assert/strict'
import {spawn, spawnSync} from 'node:child_process'
import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..')
export const BIN = path.join(ROOT, 'bin', 'run.js')
export const TINY_LLAMA = path.join(ROOT, 'fixtures', 'tiny-llama')

export interface CliResult {
  status: number | null
  stdout: string
  stderr: string
}

/**
 * Runs the real CLI as a user would, in a child process. The hub is off (HF_HUB_OFFLINE=1, a
 * cache of its own) unless a test points HF_ENDPOINT at its local server: no test reaches the internet.
 */
export function sparsify(args: string[], env: Record<string, string> = {}): CliResult {
  const base = {HF_HUB_OFFLINE: '1', HF_HUB_CACHE: path.join(tempDir('sparsify-hub-'), 'hub')}
  const r = spawnSync(process.execPath, [BIN, ...args], {encoding: 'utf8', env: {...process.env, ...base, ...env}, cwd: ROOT})
  return {status: r.status, stdout: r.stdout, stderr: r.stderr}
}

export const tempDir = (prefix = 'sparsify-test-') => mkdtempSync(path.join(tmpdir(), prefix))

/** The same, without blocking this process: for tests that serve the CLI from here (the local hub). */
export function sparsifyAsync(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const base = {HF_HUB_OFFLINE: '1', HF_HUB_CACHE: path.join(tempDir('sparsify-hub-'), 'hub')}
  const child = spawn(process.execPath, [BIN, ...args], {env: {...process.env, ...base, ...env}, cwd: ROOT})
  let stdout = '', stderr = ''
  child.stdout.on('data', (d) => { stdout += d })
  child.stderr.on('data', (d) => { stderr += d })
  return new Promise((resolve) => child.on('close', (status) => resolve({status, stdout, stderr})))
}

/** Runs the CLI and sends `signal` as soon as stderr matches `when` (once); resolves with the exit code and stderr. */
export function interruptedRun(args: string[], when: RegExp, signal: NodeJS.Signals = 'SIGINT'): Promise<{status: number | null; stderr: string}> {
  const child = spawn(process.execPath, [BIN, ...args], {cwd: ROOT})
  let stderr = ''
  return new Promise((resolve) => {
    child.stderr.on('data', (d) => {
      stderr += d
      if (when.test(stderr) && !child.killed) child.kill(signal)
    })
    child.on('exit', (status) => resolve({status, stderr}))
  })
}

/** Runs the CLI expecting the error contract: exit `code`, one `error:` line matching `pattern`, no stack, nothing on stdout. */
export function expectError(args: string[], code: number, pattern: RegExp): void {
  const r = sparsify(args)
  assert.equal(r.status, code, `exit ${r.status}, stderr: ${r.stderr}`)
  const lines = r.stderr.trim().split('\n')
  assert.equal(lines.length, 1, `expected one error line, got:\n${r.stderr}`)
  assert.match(lines[0], /^error: /)
  assert.match(lines[0], pattern)
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace')
  assert.equal(r.stdout, '')
}
