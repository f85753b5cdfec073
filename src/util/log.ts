import ora, {type Ora} from 'ora'

/** Progress and notes go to stderr, so stdout carries only results (and --json stays parseable). */
export interface Logger {
  /** A line that stays: notes, warnings, milestones. */
  info(message: string): void
  /** Where a phase stands: `done` of `total` units of `label`. */
  step(label: string, done: number, total: number): void
  /** Clears any live display (before results are printed). */
  stop(): void
}

const clock = (s: number) => (s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
  : s >= 60 ? `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${s.toFixed(s < 10 ? 1 : 0)}s`)

/** ETA per label, from the time its first unit started. */
class Eta {
  private label = ''
  private start = 0

  text(label: string, done: number, total: number): string {
    if (label !== this.label || done === 0) { this.label = label; this.start = performance.now() }
    if (done === 0 || done >= total) return ''
    const elapsed = (performance.now() - this.start) / 1000
    return `ETA ${clock((elapsed / done) * (total - done))}`
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
    step(label, done, total) {
      spinner ??= ora({stream: process.stderr, discardStdin: false}).start()
      spinner.text = `${label} ${bar(done, total)} ${done}/${total} ${eta.text(label, done, total)}`
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
    step(label, done, total) {
      const e = eta.text(label, done, total)
      process.stderr.write(`${stamp()} ${label} ${done}/${total}${e ? ` (${e})` : ''}\n`)
    },
    stop() {},
  }
}

const silent: Logger = {info() {}, step() {}, stop() {}}

export function stderrLogger({quiet = false, tty = process.stderr.isTTY === true} = {}): Logger {
  if (quiet) return silent
  return tty ? ttyLogger() : plainLogger()
}
