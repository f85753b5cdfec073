import type {PruneReport} from './report.js'

const DENSE = '#9aa7b8', PRUNED = '#e15759'
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;')

/** A panel of zero-shot accuracy under the sparsity chart: per task a dense bar beside a pruned one (acc, 0–100 %). */
export function taskPanel(r: PruneReport, left: number, y0: number): {svg: string[]; width: number; height: number} {
  const t = r.tasks
  if (!t) return {svg: [], width: 0, height: 0}
  const names = Object.keys(t.dense)
  const panel = 150, slot = 64, bar = 22
  const svg: string[] = []
  const text = (x: number, y: number, s: string, extra = '') => svg.push(`<text x="${x}" y="${y}" ${extra}>${esc(s)}</text>`)
  text(left, y0, 'zero-shot accuracy (acc) per task: dense beside pruned', 'font-size="13" font-weight="bold"')
  const top = y0 + 16, right = left + names.length * slot
  for (const f of [0, 0.5, 1]) {
    const y = top + panel - f * panel
    svg.push(`<line x1="${left - 4}" y1="${y}" x2="${right}" y2="${y}" stroke="#ddd"/>`)
    text(left - 6, y + 4, `${(100 * f).toFixed(0)}%`, 'text-anchor="end"')
  }
  svg.push(`<line x1="${left}" y1="${top + panel}" x2="${right}" y2="${top + panel}" stroke="#333"/>`)
  names.forEach((name, i) => {
    const x = left + i * slot + (slot - 2 * bar) / 2
    for (const [j, who, color] of [[0, 'dense', DENSE], [1, 'pruned', PRUNED]] as const) {
      const acc = t[who][name].acc, h = Math.max(0, Math.min(1, acc)) * panel
      svg.push(`<rect x="${x + j * bar}" y="${top + panel - h}" width="${bar - 2}" height="${h}" fill="${color}"><title>${esc(name)} ${who}: acc ${(100 * acc).toFixed(2)}%</title></rect>`)
    }
    text(left + i * slot + slot / 2, top + panel + 14, name, 'text-anchor="middle" font-size="10"')
  })
  const ly = top + panel + 30
  for (const [i, label, color] of [[0, 'dense', DENSE], [1, `${r.method.id} ${r.target.pattern}`, PRUNED]] as const) {
    svg.push(`<rect x="${left + i * 120}" y="${ly}" width="10" height="10" fill="${color}"/>`)
    text(left + i * 120 + 14, ly + 9, label)
  }
  return {svg, width: right + 30, height: panel + 70}
}
