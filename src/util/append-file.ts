import {closeSync, openSync} from 'node:fs'

import {writeAt} from '../model/safetensors/writer.js'

/** A file written front to back, tracking its length (the exporters' streams of tensors). */
export class AppendFile {
  private fd: number
  length = 0

  constructor(readonly path: string) { this.fd = openSync(path, 'w') }

  append(bytes: Uint8Array): void {
    writeAt(this.fd, bytes, this.length)
    this.length += bytes.length
  }

  /** Zero bytes up to the next multiple of `alignment`. */
  pad(alignment: number): void {
    const n = (alignment - (this.length % alignment)) % alignment
    if (n) this.append(new Uint8Array(n))
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd)
    this.fd = -1
  }
}
