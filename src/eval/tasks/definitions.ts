import {pyCapitalize, pyStrip} from './text.js'

/** One loglikelihood request: the sum of log p(continuation tokens | context). */
export interface Request {
  context: string
  continuation: string
}

/** A document as the harness scores it: one request per choice, in choice order. */
export interface Built {
  requests: Request[]
  /** The choices' own text (without the target delimiter): acc_norm divides by its length. */
  choices: string[]
  gold: number
}

/** What a field of a dataset row must hold; `label` is an integer, or its decimal string. */
export type FieldKind = 'string' | 'label' | 'strings' | 'choices'

export type Doc = Record<string, unknown>
export type Metric = 'acc' | 'acc_norm'

export interface TaskDef {
  name: string
  /** Hugging Face dataset repository, its config (subfolder) and split, as the harness's task YAML names them. */
  repo: string
  config: string | null
  split: string
  fields: Record<string, FieldKind>
  /** The field the gold answer comes from (named when it does not pick a choice). */
  goldField: string
  metrics: readonly Metric[]
  build(doc: Doc): Built
}

/** The harness's target_delimiter: every continuation starts with it. */
const DELIM = ' '

const label = (v: unknown) => Number(v)
const str = (v: unknown) => v as string
type Choices = {text: string[]; label: string[]}

/** Choices scored against one context, the gold given by its index. */
function multipleChoice(context: string, choices: string[], gold: number): Built {
  return {requests: choices.map((c) => ({context, continuation: DELIM + c})), choices, gold}
}

/**
 * The gold choice of ARC and OpenBookQA: the position of the answer key among the choice labels.
 * Labels are letters, or "1".."5" in some ARC documents, and the key is then a digit as well.
 */
function keyIndex(doc: Doc, key: string): number {
  return (doc.choices as Choices).label.indexOf(key)
}

/**
 * HellaSwag's preprocessing in the harness: strip first, then " [title]" → ". ", every bracketed
 * span removed (non-greedy), and one pass replacing double spaces with one.
 */
export function hellaswagPreprocess(text: string): string {
  return pyStrip(text).replaceAll(' [title]', '. ').replace(/\[.*?\]/g, '').replaceAll('  ', ' ')
}

const arc = (name: string, config: string): TaskDef => ({
  name, repo: 'allenai/ai2_arc', config, split: 'test',
  fields: {question: 'string', choices: 'choices', answerKey: 'string'}, goldField: 'answerKey',
  metrics: ['acc', 'acc_norm'],
  build: (d) => multipleChoice(`Question: ${str(d.question)}\nAnswer:`, (d.choices as Choices).text, keyIndex(d, str(d.answerKey))),
})

/** The seven zero-shot tasks of the Wanda, SparseGPT and OWL papers, as lm-evaluation-harness defines them. */
export const TASKS: Record<string, TaskDef> = {
  boolq: {
    name: 'boolq', repo: 'aps/super_glue', config: 'boolq', split: 'validation',
    fields: {passage: 'string', question: 'string', label: 'label'}, goldField: 'label',
    metrics: ['acc'],
    build: (d) => multipleChoice(`${str(d.passage)}\nQuestion: ${str(d.question)}?\nAnswer:`, ['no', 'yes'], label(d.label)),
  },
  rte: {
    // GLUE's RTE (the harness's `rte` task), not SuperGLUE's.
    name: 'rte', repo: 'nyu-mll/glue', config: 'rte', split: 'validation',
    fields: {sentence1: 'string', sentence2: 'string', label: 'label'}, goldField: 'label',
    metrics: ['acc'],
    build: (d) => multipleChoice(`${str(d.sentence1)}\nQuestion: ${str(d.sentence2)} True or False?\nAnswer:`, ['True', 'False'], label(d.label)),
  },
  hellaswag: {
    name: 'hellaswag', repo: 'Rowan/hellaswag', config: null, split: 'validation',
    fields: {activity_label: 'string', ctx_a: 'string', ctx_b: 'string', endings: 'strings', label: 'label'}, goldField: 'label',
    metrics: ['acc', 'acc_norm'],
    build: (d) => multipleChoice(
      hellaswagPreprocess(`${str(d.activity_label)}: ${str(d.ctx_a)} ${pyCapitalize(str(d.ctx_b))}`),
      (d.endings as string[]).map(hellaswagPreprocess), label(d.label)),
  },
  winogrande: {
    // Partial scoring: the two options give two contexts; the shared rest of the sentence is what is scored.
    name: 'winogrande', repo: 'allenai/winogrande', config: 'winogrande_xl', split: 'validation',
    fields: {sentence: 'string', option1: 'string', option2: 'string', answer: 'label'}, goldField: 'answer',
    metrics: ['acc'],
    build: (d) => {
      const s = str(d.sentence), i = s.indexOf('_')
      const contexts = [str(d.option1), str(d.option2)].map((o) => s.slice(0, i) + o)
      const continuation = DELIM + pyStrip(s.slice(i + 1))
      return {requests: contexts.map((context) => ({context, continuation})), choices: contexts, gold: label(d.answer) - 1}
    },
  },
  arc_easy: arc('arc_easy', 'ARC-Easy'),
  arc_challenge: arc('arc_challenge', 'ARC-Challenge'),
  openbookqa: {
    name: 'openbookqa', repo: 'allenai/openbookqa', config: 'main', split: 'test',
    fields: {question_stem: 'string', choices: 'choices', answerKey: 'string'}, goldField: 'answerKey',
    metrics: ['acc', 'acc_norm'],
    build: (d) => multipleChoice(str(d.question_stem), (d.choices as Choices).text, keyIndex(d, pyStrip(str(d.answerKey)))),
  },
}

export const TASK_NAMES = Object.keys(TASKS)
