import type {PruneReport} from './report.js'
import {taskPanel} from './task-chart.js'

const COLORS: Record<string, string> = {
  q_proj: '#4e79a7', k_proj: '#59a14f', v_proj: '#9c755f', o_proj: '#f28e2b', gate_proj: '#e15759', up_proj: '#b07aa1', down_proj: '#76b7b2',
}

/** The sparsity asked of each block: its own (OWL, a plan) or the one target; N:M as N/M. */
function requestedPerBlock(r: PruneReport): number[] {
  return r.layer_sparsity ?? r.layer_pattern!.map((p) => { const [n, m] = p.split(':').map(Number); return n / m })
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;')

/**
 * Two bar panels over the decoder linears in order (block by block): achieved sparsity, and the
 * relative reconstruction error estimate; with --eval-tasks, accuracy per task below. Plain SVG, drawn here: no library needed for bars.
 */
export function sparsityChart(r: PruneReport): string {
  const ls = r.sparsity.linears
  // Bars share at least 660 px (room for the title and legend) and at most 18 px each beyond that.
  const bw = Math.max(4, Math.floor(Math.max(660, Math.min(18 * ls.length, 1400)) / Math.max(1, ls.length)))
  const left = 70, top = 40, panel = 150, gap = 60
  const outliers = r.outlier_ratio
  const panelCount = outliers ? 3 : 2
  const sparsityHeight = top + panelCount * panel + (panelCount - 1) * gap + 70
  const tasks = taskPanel(r, left, sparsityHeight + 20)
  const width = Math.max(left + ls.length * bw + 30, tasks.width), height = sparsityHeight + tasks.height
  const errs = ls.map((l) => l.rel_error ?? 0)
  const maxErr = Math.max(1e-12, ...errs)
  const out: string[] = []
  const text = (x: number, y: number, s: string, extra = '') => out.push(`<text x="${x}" y="${y}" ${extra}>${esc(s)}</text>`)
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`)
  out.push(`<rect width="${width}" height="${height}" fill="white"/>`)
  text(left, 20, `${r.method.id} ${r.target.pattern}: per-linear sparsity (— requested per block) and relative reconstruction error`, 'font-size="13" font-weight="bold"')
  const panels: [string, (i: number) => number, (v: number) => string][] = [
    ['sparsity', (i) => ls[i].sparsity, (v) => `${(100 * v).toFixed(0)}%`],
    ['rel. error (est.)', (i) => errs[i] / maxErr, (v) => (v * maxErr).toPrecision(2)],
  ]
  panels.forEach(([label, value, tick], p) => {
    const y0 = top + p * (panel + gap)
    out.push(`<line x1="${left}" y1="${y0 + panel}" x2="${left + ls.length * bw}" y2="${y0 + panel}" stroke="#333"/>`)
    out.push(`<line x1="${left}" y1="${y0}" x2="${left}" y2="${y0 + panel}" stroke="#333"/>`)
    for (const f of [0, 0.5, 1]) {
      const y = y0 + panel - f * panel
      out.push(`<line x1="${left - 4}" y1="${y}" x2="${left + ls.length * bw}" y2="${y}" stroke="#ddd"/>`)
      text(left - 6, y + 4, tick(f), 'text-anchor="end"')
    }
    text(12, y0 + panel / 2, label, `transform="rotate(-90 12 ${y0 + panel / 2})" text-anchor="middle"`)
    ls.forEach((l, i) => {
      const h = Math.max(0, Math.min(1, value(i))) * panel
      const kind = l.name.split('.').at(-2) ?? ''
      out.push(`<rect x="${left + i * bw + 1}" y="${y0 + panel - h}" width="${bw - 2}" height="${h}" fill="${COLORS[kind] ?? '#888'}"><title>${esc(l.name)}: ${label} ${tick(value(i))}</title></rect>`)
    })
  })
  // Blocks differ in their number of linears (dense and mixture blocks): each block's marks sit over its own bars.
  const blockOf = (name: string) => Number(/\.layers\.(\d+)\./.exec(name)?.[1] ?? 0)
  const starts = ls.flatMap((l, i) => (i === 0 || blockOf(ls[i - 1].name) !== blockOf(l.name) ? [i] : []))
  const span = (b: number) => [left + starts[b] * bw, left + (starts[b + 1] ?? ls.length) * bw]
  // Each block's requested sparsity, a line across its bars in the sparsity panel.
  requestedPerBlock(r).forEach((v, b) => {
    if (b >= starts.length) return
    const y = top + panel - v * panel, [x1, x2] = span(b)
    out.push(`<line x1="${x1}" y1="${y}" x2="${x2}" y2="${y}" stroke="#000" stroke-width="2"><title>block ${b}: requested ${(100 * v).toFixed(2)}%</title></line>`)
  })
  if (outliers) {
    const y0 = top + 2 * (panel + gap), most = Math.max(1e-12, ...outliers)
    out.push(`<line x1="${left}" y1="${y0 + panel}" x2="${left + ls.length * bw}" y2="${y0 + panel}" stroke="#333"/>`)
    text(12, y0 + panel / 2, 'outlier ratio (OWL)', `transform="rotate(-90 12 ${y0 + panel / 2})" text-anchor="middle"`)
    text(left - 6, y0 + 4, `${most.toFixed(2)}%`, 'text-anchor="end"')
    outliers.forEach((o, b) => {
      if (b >= starts.length) return
      const h = (o / most) * panel, [x1, x2] = span(b)
      out.push(`<rect x="${x1 + 1}" y="${y0 + panel - h}" width="${x2 - x1 - 2}" height="${h}" fill="#bab0ac"><title>block ${b}: ${o.toFixed(3)}% outliers</title></rect>`)
    })
  }
  // Block labels under the lower panel.
  const yb = top + panelCount * panel + (panelCount - 1) * gap + 16
  starts.forEach((start, b) => {
    if (starts.length > 24 && b % Math.ceil(starts.length / 24) !== 0) return
    const end = starts[b + 1] ?? ls.length
    text(left + ((start + end) / 2) * bw, yb - 2, String(blockOf(ls[start].name)), 'text-anchor="middle"')
  })
  text(left + (ls.length * bw) / 2, yb + 14, 'decoder block', 'text-anchor="middle"')
  Object.entries(COLORS).forEach(([k, c], i) => {
    const x = left + i * 88
    out.push(`<rect x="${x}" y="${sparsityHeight - 18}" width="10" height="10" fill="${c}"/>`)
    text(x + 14, sparsityHeight - 9, k)
  })
  out.push(...tasks.svg)
  out.push('</svg>')
  return `${out.join('\n')}\n`
}
