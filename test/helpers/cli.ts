import {spawnSync} from 'node:child_process'
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

/** Runs the real CLI as a user would, in a child process. */
export function sparsify(args: string[], env: Record<string, string> = {}): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], {encoding: 'utf8', env: {...process.env, ...env}, cwd: ROOT})
  return {status: r.status, stdout: r.stdout, stderr: r.stderr}
}

export const tempDir = (prefix = 'sparsify-test-') => mkdtempSync(path.join(tmpdir(), prefix))
