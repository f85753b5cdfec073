import {spawnSync} from 'node:child_process'
import {fileURLToPath} from 'node:url'

/** Runs the real CLI; returns its parsed --json output. */
export function cli(args: string[]): any {
  const bin = fileURLToPath(new URL('../../bin/run.js', import.meta.url))
  const r = spawnSync(process.execPath, [bin, ...args, '--json'], {encoding: 'utf8', maxBuffer: 1 << 26})
  if (r.status !== 0) throw new Error(r.stderr)
  return JSON.parse(r.stdout)
}
