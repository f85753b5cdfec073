// Stable exit codes, documented in the README and in every command's --help.
export const EXIT = {
  ok: 0,
  runtime: 1,
  usage: 2,
  notFound: 3,
  memory: 4,
  invalidFormat: 5,
  gate: 10,
  sigint: 130,
  sigterm: 143,
} as const

export type ExitCode = (typeof EXIT)[keyof typeof EXIT]

export const EXIT_CODES_HELP = [
  'EXIT CODES',
  '  0  success',
  '  1  runtime error',
  '  2  usage error (bad flag or argument)',
  '  3  model or data not found',
  '  4  the job will not fit in memory (found before it starts)',
  '  5  invalid checkpoint or data format',
  ' 10  quality gate failed (--max-ppl-increase); the output is still written',
  '130  interrupted (Ctrl-C)',
  '143  terminated (SIGTERM)',
].join('\n')

/** An error the user can act on: one line of message, an exit code and what to do next. */
export class SparsifyError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode = EXIT.runtime,
    readonly hint?: string,
  ) {
    super(message)
    this.name = 'SparsifyError'
  }
}

export const notFound = (message: string, hint?: string) => new SparsifyError(message, EXIT.notFound, hint)
export const invalidFormat = (message: string, hint?: string) => new SparsifyError(message, EXIT.invalidFormat, hint)
export const usage = (message: string, hint?: string) => new SparsifyError(message, EXIT.usage, hint)
