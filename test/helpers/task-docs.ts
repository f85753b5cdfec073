import {writeFileSync} from 'node:fs'
import path from 'node:path'
import {parquetWriteBuffer} from 'hyparquet-writer'

/** Hand-made documents in each task's hub schema (field names and types as the parquet files hold them). */
export const TASK_DOCS: Record<string, Record<string, unknown>[]> = {
  boolq: [
    {question: 'is the sky blue on a clear day', passage: 'On a clear day the sky looks blue because air scatters blue light.', idx: 0, label: 1},
    {question: 'can fish fly like birds', passage: 'Fish live in the water and swim with their fins.', idx: 1, label: 0},
    {question: 'is ice colder than steam', passage: 'Ice forms when water freezes; steam forms when it boils.', idx: 2, label: 1},
  ],
  rte: [
    {sentence1: 'The man went to the store to buy bread.', sentence2: 'The man went shopping.', label: 0, idx: 0},
    {sentence1: 'The girl read a book in the garden.', sentence2: 'The girl was swimming.', label: 1, idx: 1},
    {sentence1: 'Rain fell on the city all night.', sentence2: 'It rained.', label: 0, idx: 2},
  ],
  hellaswag: [
    {ind: 4, activity_label: 'Removing ice from car', ctx_a: 'A man scrapes the snow covering the window of a car.', ctx_b: 'then', ctx: 'A man scrapes the snow covering the window of a car. then',
      endings: [', the man adds wax to the windshield.', ', a dog [header] jumps over the car.', '[substeps] the man puts on a coat.', ', the man keeps removing the snow on his car.'],
      source_id: 'activitynet~v_x', split: 'val', split_type: 'indomain', label: '3'},
    {ind: 9, activity_label: 'Baking cookies', ctx_a: 'A woman mixes flour and sugar in a bowl.', ctx_b: 'she', ctx: 'A woman mixes flour and sugar in a bowl. she',
      endings: ['adds eggs and stirs the dough.', 'throws the bowl out of the window.', 'paints the kitchen [title] Red walls.', 'sleeps on the floor.'],
      source_id: 'wikihow~1', split: 'val', split_type: 'zeroshot', label: '0'},
  ],
  winogrande: [
    {sentence: 'Sarah was a much better surgeon than Maria so _ always got the harder cases.', option1: 'Sarah', option2: 'Maria', answer: '1'},
    {sentence: 'The trophy does not fit into the suitcase because _ is too large.', option1: 'trophy', option2: 'suitcase', answer: '1'},
    {sentence: 'John gave his coat to Bill because _ was cold.', option1: 'John', option2: 'Bill', answer: '2'},
  ],
  arc_easy: [
    {id: 'e1', question: 'Which of these is a gas at room temperature?', choices: {text: ['water vapor', 'ice', 'rock'], label: ['1', '2', '3']}, answerKey: '1'},
    {id: 'e2', question: 'What do plants need to make food?', choices: {text: ['sunlight', 'sand', 'plastic', 'metal'], label: ['A', 'B', 'C', 'D']}, answerKey: 'A'},
  ],
  arc_challenge: [
    {id: 'c1', question: 'What happens to ice when it is heated?', choices: {text: ['it melts', 'it freezes', 'it grows', 'it sings'], label: ['A', 'B', 'C', 'D']}, answerKey: 'A'},
    {id: 'c2', question: 'Which tool measures temperature?', choices: {text: ['ruler', 'thermometer', 'scale', 'clock'], label: ['A', 'B', 'C', 'D']}, answerKey: 'B'},
  ],
  openbookqa: [
    {id: 'o1', question_stem: 'The sun is responsible for', choices: {text: ['puppies learning new tricks', 'plants sprouting, blooming and wilting', 'rocks', 'cars'], label: ['A', 'B', 'C', 'D']}, answerKey: 'B'},
    {id: 'o2', question_stem: 'A magnet will stick to', choices: {text: ['a wooden table', 'a steel door', 'a glass cup', 'paper'], label: ['A', 'B', 'C', 'D']}, answerKey: 'B'},
  ],
}

/** Each task's documents as <dir>/<task>.jsonl; the `--tasks` list naming them. */
export function writeTaskJsonl(dir: string): string {
  return Object.entries(TASK_DOCS).map(([task, docs]) => {
    const file = path.join(dir, `${task}.jsonl`)
    writeFileSync(file, docs.map((d) => JSON.stringify(d)).join('\n') + '\n')
    return `${task}=${file}`
  }).join(',')
}

/** Hub parquet columns: integer labels as INT64 (bigint), as the hub's files hold ClassLabel columns. */
export function taskParquet(task: string): Buffer {
  const docs = TASK_DOCS[task]
  const columnData = Object.keys(docs[0]).map((name) => {
    const data = docs.map((d) => d[name])
    if (typeof data[0] === 'number') return {name, data: data.map((x) => BigInt(x as number)), type: 'INT64' as const}
    if (typeof data[0] === 'string') return {name, data, type: 'STRING' as const}
    return {name, data}
  })
  return Buffer.from(parquetWriteBuffer({columnData} as Parameters<typeof parquetWriteBuffer>[0]))
}
