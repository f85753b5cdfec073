/** The shapes of data sets, below both the loaders of named sets and the dispatcher that picks one. */

/** Text documents to tokenize, or token-id rows to use as they are. */
export type Dataset =
  | {kind: 'text'; name: string; documents: string[]; protocol?: EvalProtocol}
  | {kind: 'tokens'; name: string; rows: number[][]}

/** How evaluation joins documents and how many chunks it keeps (C4's protocol differs from WikiText's). */
export interface EvalProtocol {
  join: string
  maxChunks?: number
}

/** Named sets have a split for evaluation and one for calibration. */
export type Purpose = 'eval' | 'calib'
