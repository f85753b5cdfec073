/** Progress and notes go to stderr, so stdout carries only results (and --json stays parseable). */
export interface Logger {
  info(message: string): void
}

export const stderrLogger = (quiet = false): Logger => ({
  info(message) {
    if (!quiet) process.stderr.write(`${message}\n`)
  },
})
