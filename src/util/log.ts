import ora, {type Ora} from 'ora'

/** Progress and notes go to stderr, so stdout carries only results (and --json stays parseable). */
export interface Logger {
  /** A line that stays: notes, warnings, milestones. */
  info(message: string): void
  /** Where a phase stands: `done` of `total` units of `label`; `detail` (a rate) is shown, not part of the phase's name. */
  step(label: string, done: number, total: number, detail?: string): void
  /** Clears any live display (before results are printed). */
  stop(): void
}

export const clock = (s: number) => {
  if (s < 59.5) return `${s.toFixed(s < 9.95 ? 1 : 0)}s`
  const whole = Math.round(s)
  return whole >= 3600 ? `${Math.floor(whole / 3600)}h${String(Math.floor((whole % 3600) / 60)).padStart(2, '0')}m`
    : `${Math.floor(whole / 60)}m${String(whole % 60).padStart(2, '0')}s`
}

/**
 * Time left in each phase (a label), from the measured time per finished unit: the clock runs from
 * the phase's first report, so a phase whose start is reported (0 done) has an estimate after its
 * first unit, and one whose first report is a finished unit has one after its second. Until then
 * the estimate is unknown, never a guess such as 0 s.
 */
export class Eta {
  private readonly first = new Map<string, {at: number; done: number; last: number}>()

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** Seconds left, or null while no unit has finished since the first report (and when the phase is over). */
  seconds(label: string, done: number, total: number): number | null {
    const at = this.now()
    const first = this.first.get(label)
    if (done >= total) {
      this.first.delete(label)
      return null
    }
    if (!first || done < first.last) {
      this.first.set(label, {at, done, last: done})   // a new phase, or the same label run again
      return null
    }
    first.last = done
    if (done === first.done) return null
    return ((at - first.at) / 1000 / (done - first.done)) * (total - done)
  }

  text(label: string, done: number, total: number): string {
    const s = this.seconds(label, done, total)
    return done >= total ? '' : s === null ? 'ETA …' : `ETA ${clock(s)}`
  }
}

const bar = (done: number, total: number, width = 24) => {
  const full = Math.round((width * done) / Math.max(1, total))
  return `[${'#'.repeat(full)}${'-'.repeat(width - full)}]`
}

/** A terminal: an ora spinner with a bar, counts and ETA, redrawn in place. */
function ttyLogger(): Logger {
  const eta = new Eta()
  let spinner: Ora | null = null
  return {
    info(message) {
      if (spinner) spinner.clear()
      process.stderr.write(`${message}\n`)
      spinner?.render()
    },
    step(label, done, total, detail) {
      spinner ??= ora({stream: process.stderr, discardStdin: false}).start()
      spinner.text = `${label} ${bar(done, total)} ${done}/${total}${detail ? ` ${detail}` : ''} ${eta.text(label, done, total)}`
      spinner.render()
    },
    stop() {
      spinner?.stop()
      spinner = null
    },
  }
}

/** CI and pipes: plain timestamped lines, no ANSI codes, one per unit of progress. */
function plainLogger(): Logger {
  const eta = new Eta()
  const stamp = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z')
  return {
    info(message) { process.stderr.write(`${stamp()} ${message}\n`) },
    step(label, done, total, detail) {
      const notes = [detail, eta.text(label, done, total)].filter(Boolean).join(', ')
      process.stderr.write(`${stamp()} ${label} ${done}/${total}${notes ? ` (${notes})` : ''}\n`)
    },
    stop() {},
  }
}

const silent: Logger = {info() {}, step() {}, stop() {}}

export function stderrLogger({quiet = false, tty = process.stderr.isTTY === true} = {}): Logger {
  if (quiet) return silent
  return tty ? ttyLogger() : plainLogger()
}
