import {EXIT, SparsifyError} from '../util/errors.js'
import type {Logger} from '../util/log.js'

/**
 * Ctrl-C or SIGTERM stops the job after the block in progress: finished blocks stay in the work
 * folder for --resume, any previous output stays as it was, and the exit code is 130 or 143.
 * A second Ctrl-C exits at once.
 */
export function watchSignals(log: Logger): {check(): void; release(): void} {
  let caught: NodeJS.Signals | null = null
  const handler = (sig: NodeJS.Signals) => {
    if (caught) process.exit(sig === 'SIGTERM' ? EXIT.sigterm : EXIT.sigint)
    caught = sig
    log.info(`${sig}: stopping after the current block (again to quit at once)`)
  }
  process.on('SIGINT', handler)
  process.on('SIGTERM', handler)
  return {
    check() {
      if (caught) {
        throw new SparsifyError(`interrupted by ${caught}; --out is untouched`, caught === 'SIGTERM' ? EXIT.sigterm : EXIT.sigint,
          'run the same command again')
      }
    },
    release() {
      process.off('SIGINT', handler)
      process.off('SIGTERM', handler)
    },
  }
}
