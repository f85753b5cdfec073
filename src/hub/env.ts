import {homedir} from 'node:os'
import path from 'node:path'

/** The settings Python's huggingface_hub reads, read the same way. */
export const hubEndpoint = () => (process.env.HF_ENDPOINT ?? 'https://huggingface.co').replace(/\/+$/, '')
export const hubToken = () => process.env.HF_TOKEN || undefined
export const hubOffline = () => ['1', 'ON', 'YES', 'TRUE'].includes((process.env.HF_HUB_OFFLINE ?? '').toUpperCase())
export const hubCache = () => process.env.HF_HUB_CACHE
  ?? path.join(process.env.HF_HOME ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(homedir(), '.cache'), 'huggingface'), 'hub')
