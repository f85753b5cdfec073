import {Command, Flags, type Interfaces} from '@oclif/core'

import {setThreads} from '../kernels/index.js'
import {EXIT, SparsifyError} from '../util/errors.js'
import {flagParseReason, intFlag} from './flags.js'
import {stderrLogger, type Logger} from '../util/log.js'

export type CommandFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof BaseCommand)['baseFlags'] & T['flags']>
export type CommandArgs<T extends typeof Command> = Interfaces.InferredArgs<T['args']>

/** Shared flags, JSON output and the one-line error contract of every sparsify command. */
export abstract class BaseCommand<T extends typeof Command> extends Command {
  static baseFlags = {
    threads: intFlag({description: 'compute threads (default: all cores)', min: 1, helpGroup: 'GLOBAL'}),
    json: Flags.boolean({description: 'print one JSON object on stdout and nothing else', helpGroup: 'GLOBAL'}),
    quiet: Flags.boolean({description: 'no progress on stderr (errors still print)', helpGroup: 'GLOBAL'}),
  }

  protected flags!: CommandFlags<T>
  protected args!: CommandArgs<T>
  protected log_!: Logger

  async init(): Promise<void> {
    await super.init()
    const {args, flags} = await this.parse({
      flags: this.ctor.flags,
      baseFlags: (this.ctor as unknown as typeof BaseCommand).baseFlags,
      args: this.ctor.args,
      strict: this.ctor.strict,
    })
    this.flags = flags as CommandFlags<T>
    this.args = args as CommandArgs<T>
    this.log_ = stderrLogger({quiet: this.flags.quiet})
    if (this.flags.threads) setThreads(this.flags.threads)
  }

  /** Prints the result: the object as JSON with --json, else the human lines. */
  protected emit(result: object, human: string[]): void {
    this.log_.stop()
    process.stdout.write(this.flags.json ? `${JSON.stringify(result)}\n` : `${human.join('\n')}\n`)
  }

  /** One line on stderr and a documented exit code; a stack trace only with SPARSIFY_DEBUG. */
  async catch(err: Error & {exitCode?: number; oclif?: {exit?: number}}): Promise<void> {
    let code: number = EXIT.runtime
    let line = flagParseReason(err.message) ?? err.message.split('\n')[0]
    if (err instanceof SparsifyError) {
      code = err.exitCode
      if (err.hint) line += ` (${err.hint})`
    } else if (err.oclif?.exit !== undefined) {
      code = err.oclif.exit === 0 ? 0 : EXIT.usage
      line += ` (see: sparsify ${this.id ?? ''} --help)`
    } else if ((err as NodeJS.ErrnoException).code === 'ENOSPC') {
      line = `disk full: ${err.message}`
    }
    this.log_?.stop()
    if (process.env.SPARSIFY_DEBUG) process.stderr.write(`${err.stack}\n`)
    if (code !== 0) process.stderr.write(`error: ${line}\n`)
    process.exitCode = code
  }
}
