import {Args} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {HUB_SETS} from '../data/hub-sets.js'
import {fetchTask} from '../eval/tasks/data.js'
import {TASK_NAMES, TASKS} from '../eval/tasks/definitions.js'
import {MODEL_FILES, parseRepo, snapshot} from '../hub/download.js'
import {EXIT_CODES_HELP, usage} from '../util/errors.js'

export default class Download extends BaseCommand<typeof Download> {
  static summary = 'Fetch a model or a named dataset into the Hugging Face cache, for offline runs (HF_HUB_OFFLINE=1).'
  static description = `Models: the files a job reads (config, safetensors and index, tokenizer). Datasets: ${Object.keys(HUB_SETS).join(', ')} (both splits), and the evaluation split of the tasks ${TASK_NAMES.join(', ')}.\nThe cache is the one Python's huggingface_hub uses (HF_HOME, HF_HUB_CACHE); HF_ENDPOINT and HF_TOKEN are honoured.\n\n${EXIT_CODES_HELP}`
  static examples = ['<%= config.bin %> download meta-llama/Llama-3.2-1B', '<%= config.bin %> download Qwen/Qwen3-0.6B@main', '<%= config.bin %> download wikitext2', '<%= config.bin %> download hellaswag']
  static args = {what: Args.string({description: 'hub model id org/name[@revision], or a named dataset', required: true})}

  async run(): Promise<void> {
    const what = this.args.what
    const results: {repo: string; type: string; commit: string; path: string}[] = []
    if (what in TASKS) {
      const def = TASKS[what]
      const r = await fetchTask(def, this.log_)
      results.push({repo: def.repo, type: 'dataset', commit: r.commit, path: r.dir})
    } else if (what in HUB_SETS) {
      const set = HUB_SETS[what as keyof typeof HUB_SETS]
      const wanted = new Set<string>(Object.values(set.files))
      const r = await snapshot({type: 'dataset', id: set.repo, revision: set.commit}, (f) => wanted.has(f), this.log_)
      results.push({repo: set.repo, type: 'dataset', commit: r.commit, path: r.dir})
    } else {
      const ref = parseRepo(what, 'model')
      if (!ref) throw usage(`${what} is neither a hub id org/name[@revision] nor a named dataset`, `named datasets: ${[...Object.keys(HUB_SETS), ...TASK_NAMES].join(', ')}`)
      const r = await snapshot(ref, MODEL_FILES, this.log_)
      results.push({repo: ref.id, type: 'model', commit: r.commit, path: r.dir})
    }
    this.emit(results[0], results.map((r) => `${r.type} ${r.repo} at commit ${r.commit}: ${r.path}`))
  }
}
