import {existsSync, readdirSync, statSync} from 'node:fs'
import path from 'node:path'
import {asyncBufferFromFile, parquetReadObjects} from 'hyparquet'
import {compressors} from 'hyparquet-compressors'

import {readJsonlLines} from '../../data/files.js'
import {snapshot} from '../../hub/download.js'
import {SparsifyError, invalidFormat, notFound, usage} from '../../util/errors.js'
import type {Logger} from '../../util/log.js'
import {TASK_NAMES, TASKS, type Built, type Doc, type FieldKind, type TaskDef} from './definitions.js'

/** A task as asked for: its definition, and a local file in the dataset's own schema or null for the hub. */
export interface TaskSpec {
  def: TaskDef
  file: string | null
}

/** `--tasks`: "all", or a comma list of names, each optionally `name=PATH`. */
export function parseTasks(list: string): TaskSpec[] {
  const items = list.trim() === 'all' ? TASK_NAMES : list.split(',').map((s) => s.trim()).filter(Boolean)
  if (items.length === 0) throw usage('--tasks is empty', `name one or more of: ${TASK_NAMES.join(', ')} (or all)`)
  return items.map((item) => {
    const eq = item.indexOf('=')
    const name = eq < 0 ? item : item.slice(0, eq)
    const def = TASKS[name]
    if (!def) throw usage(`unknown task ${name}`, `known tasks: ${TASK_NAMES.join(', ')} (or all)`)
    return {def, file: eq < 0 ? null : item.slice(eq + 1)}
  })
}

/** A task's documents, built as the harness builds them, with where they came from. */
export interface TaskData {
  docs: Built[]
  dataset: string
  commit: string | null
}

const KIND_TEXT: Record<FieldKind, string> = {
  string: 'a string', label: 'an integer', strings: 'a list of strings', choices: 'an object {text: [...], label: [...]}',
}

const isStrings = (v: unknown) => Array.isArray(v) && v.every((s) => typeof s === 'string')

function fits(v: unknown, kind: FieldKind): boolean {
  switch (kind) {
    case 'string': return typeof v === 'string'
    case 'label': return (typeof v === 'number' && Number.isInteger(v)) || typeof v === 'bigint' || (typeof v === 'string' && /^\s*-?\d+\s*$/.test(v))
    case 'strings': return isStrings(v)
    case 'choices': {
      const c = v as {text?: unknown; label?: unknown} | null
      return typeof c === 'object' && c !== null && isStrings(c.text) && isStrings(c.label) && (c.text as string[]).length === (c.label as string[]).length
    }
  }
}

/** Checks the fields the task reads, builds the document, and checks that its gold answer picks a choice. */
function buildDoc(def: TaskDef, doc: Doc, where: string): Built {
  for (const [field, kind] of Object.entries(def.fields)) {
    if (!(field in doc) || doc[field] === null || doc[field] === undefined) {
      throw invalidFormat(`${where}: no field "${field}", which ${def.name} needs`, `${def.name} rows have the fields ${Object.keys(def.fields).join(', ')}`)
    }
    if (!fits(doc[field], kind)) throw invalidFormat(`${where}: field "${field}" should be ${KIND_TEXT[kind]}`, `${def.name} rows have the fields ${Object.keys(def.fields).join(', ')}`)
  }
  if (def.name === 'winogrande' && !(doc.sentence as string).includes('_')) {
    throw invalidFormat(`${where}: field "sentence" has no "_" to put an option in`)
  }
  const built = def.build(doc)
  if (!(built.gold >= 0 && built.gold < built.requests.length)) {
    throw invalidFormat(`${where}: field "${def.goldField}" (${String(doc[def.goldField])}) picks none of the ${built.requests.length} choices`)
  }
  return built
}

async function readRows(file: string): Promise<{rows: Doc[]; where: (i: number) => string}> {
  if (file.toLowerCase().endsWith('.parquet')) {
    let rows: Doc[]
    try {
      rows = await parquetReadObjects({file: await asyncBufferFromFile(file), compressors}) as Doc[]
    } catch (err) {
      throw invalidFormat(`${file}: cannot read parquet (${(err as Error).message})`, 'check that the file is a complete parquet file')
    }
    return {rows, where: (i) => `${file}: row ${i + 1}`}
  }
  const hint = 'each line of a .jsonl file is one JSON object'
  const lines = readJsonlLines(file, hint)
  for (const {value, line} of lines) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidFormat(`${file}:${line}: not a JSON object`, hint)
  }
  return {rows: lines.map((l) => l.value as Doc), where: (i) => `${file}:${lines[i].line}`}
}

/** The parquet shards of the task's split, in the layouts the hub's parquet datasets use (<config>/ or data/). */
function splitFiles(def: TaskDef): (file: string) => boolean {
  const dir = def.config ? `${def.config.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/` : '(?:data/)?'
  const re = new RegExp(`^${dir}${def.split}(?:-\\d+-of-\\d+)?\\.parquet$`)
  return (f) => re.test(f)
}

function listFiles(dir: string, prefix = ''): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name)
    return statSync(p).isDirectory() ? listFiles(p, `${prefix}${name}/`) : [`${prefix}${name}`]
  })
}

/** The task's split in the hub cache, fetched unless it is there: its parquet files (full paths) and commit. */
export async function fetchTask(def: TaskDef, log: Logger): Promise<{files: string[]; commit: string; dir: string}> {
  const wanted = splitFiles(def)
  let snap
  try {
    snap = await snapshot({type: 'dataset', id: def.repo, revision: 'main'}, wanted, log)
  } catch (err) {
    if (!(err instanceof SparsifyError)) throw err
    throw new SparsifyError(`${def.name}: ${err.message}`, err.exitCode, `fetch it beforehand with \`sparsify download ${def.name}\`, or pass ${def.name}=PATH with a local file`)
  }
  const files = listFiles(snap.dir).filter(wanted).sort().map((f) => path.join(snap.dir, f))
  if (files.length === 0) throw notFound(`${def.repo}@${snap.commit.slice(0, 12)} has no parquet file for ${def.config ?? 'its'} ${def.split} split`, `pass ${def.name}=PATH with a local copy`)
  return {files, commit: snap.commit, dir: snap.dir}
}

/** The first `limit` documents of a task, from its local file or its hub dataset (the commit recorded). */
export async function loadTask(spec: TaskSpec, limit: number | undefined, log: Logger): Promise<TaskData> {
  const {def} = spec
  let files: string[], dataset: string, commit: string | null = null
  if (spec.file !== null) {
    if (!existsSync(spec.file) || !statSync(spec.file).isFile()) throw notFound(`${def.name}: file ${spec.file} not found`, 'pass name=PATH with a .jsonl or .parquet file')
    if (!/\.(jsonl|parquet)$/i.test(spec.file)) throw usage(`${def.name}: ${spec.file} is neither .jsonl nor .parquet`, 'pass a .jsonl or .parquet file in the dataset\'s own schema')
    files = [spec.file]
    dataset = spec.file
  } else {
    const snap = await fetchTask(def, log)
    files = snap.files
    dataset = `${def.repo}${def.config ? `/${def.config}` : ''}:${def.split}`
    commit = snap.commit
  }
  const docs: Built[] = []
  for (const file of files) {
    const {rows, where} = await readRows(file)
    for (let i = 0; i < rows.length && (limit === undefined || docs.length < limit); i++) docs.push(buildDoc(def, rows[i], where(i)))
  }
  if (docs.length === 0) throw invalidFormat(`${def.name}: ${dataset} has no documents`)
  return {docs, dataset, commit}
}
