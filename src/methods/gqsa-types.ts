// GQSA's options and per-linear state: shared by the method, its BQPO stage, packing and E2E-OQP.

/** Choices the paper leaves open (docs/gqsa.md), with our defaults. */
export interface GqsaOptions {
  bits: number
  /** Columns per group: a group is pruned or kept whole, and kept groups share one (scale, zero). */
  group: number
  /** Prune the same share of groups in every row, or across the layer (rows then differ: the kernel balances them). */
  budget: 'row' | 'layer'
  /** BQPO epochs over the calibration set per block (0: one-shot only). */
  epochs: number
  /** BQPO AdamW learning rates of the kept weights and of the scales and zeros. */
  lr: number
  qlr: number
}

export const GQSA_DEFAULTS: GqsaOptions = {bits: 4, group: 16, budget: 'layer', epochs: 4, lr: 1e-3, qlr: 1e-2}

/** A finished linear's groups: what --format gqsa stores and E2E-OQP trains. */
export interface GqsaState {
  rows: number
  cols: number
  group: number
  bits: number
  /** (rows, cols/group), 1 = pruned. */
  pruned: Uint8Array
  /** One code per weight (rows, cols); 0 in pruned groups. */
  codes: Uint8Array
  scales: Float32Array
  zeros: Float32Array
}
