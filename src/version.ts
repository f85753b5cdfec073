import {readFileSync} from 'node:fs'

/** The package version, from package.json (dist/src/version.js sits two folders below it). */
export const VERSION: string = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version
