/**
 * Python's string semantics where the harness's prompts depend on them: JavaScript's trim() and
 * String.length disagree with str.strip() and len() on a few characters.
 */

// str.isspace(): Unicode White_Space plus the four information separators \x1c-\x1f; not U+FEFF, which trim() strips.
const WS = '\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000'
const LEADING = new RegExp(`^[${WS}]+`)
const TRAILING = new RegExp(`[${WS}]+$`)

export const pyRstrip = (s: string) => s.replace(TRAILING, '')
export const pyStrip = (s: string) => pyRstrip(s).replace(LEADING, '')

/** str.capitalize(): the first character upper-cased (title case for the few digraphs that have one), the rest lower-cased. */
export function pyCapitalize(s: string): string {
  const first = s.codePointAt(0)
  if (first === undefined) return s
  const head = String.fromCodePoint(first)
  return titleCase(head) + s.slice(head.length).toLowerCase()
}

// Python 3.8+ title-cases the first character; upper case differs only for these (and ß → Ss, ligatures).
const TITLE: Record<string, string> = {'Ǆ': 'ǅ', 'ǅ': 'ǅ', 'ǆ': 'ǅ', 'Ǉ': 'ǈ', 'ǈ': 'ǈ', 'ǉ': 'ǈ', 'Ǌ': 'ǋ', 'ǋ': 'ǋ', 'ǌ': 'ǋ',
  'Ǳ': 'ǲ', 'ǲ': 'ǲ', 'ǳ': 'ǲ', 'ß': 'Ss', 'ﬀ': 'Ff', 'ﬁ': 'Fi', 'ﬂ': 'Fl', 'ﬃ': 'Ffi', 'ﬄ': 'Ffl', 'ﬅ': 'St', 'ﬆ': 'St'}
const titleCase = (c: string) => TITLE[c] ?? c.toUpperCase()

/** Python's len(): Unicode code points (String.length counts UTF-16 units, two for an emoji). */
export function codePoints(s: string): number {
  let n = 0
  for (const _ of s) n++
  return n
}
