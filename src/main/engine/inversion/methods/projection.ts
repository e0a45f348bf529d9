/**
 * Nearest-vocabulary projection, the step PEZ and PH2P share: each continuous token embedding is
 * replaced by the vocabulary embedding with the highest cosine similarity (PEZ's `nn_project`:
 * both sides L2-normalised, then the largest dot product). The optimiser keeps the continuous
 * embeddings; the loss and its gradient are evaluated at the projected ones ("delayed
 * projection": the projection happens on every forward, never on the stored parameters).
 */

/** Row-normalised copy of a [rows, dim] table (all-zero rows stay zero). */
export function normaliseRows(table: Float32Array, dim: number): Float32Array {
  const out = new Float32Array(table.length);
  for (let r = 0; r * dim < table.length; r++) {
    let n = 0;
    for (let j = 0; j < dim; j++) n += table[r * dim + j]! ** 2;
    const s = n > 0 ? 1 / Math.sqrt(n) : 0;
    for (let j = 0; j < dim; j++) out[r * dim + j] = table[r * dim + j]! * s;
  }
  return out;
}

export interface Projection {
  /** Nearest vocabulary id of each embedding. */
  ids: Int32Array;
  /** Its cosine similarity to the embedding. */
  cosines: Float32Array;
}

/**
 * Project `embeds` ([n, dim]) onto the nearest rows of the vocabulary.
 * @param unitTable the vocabulary embeddings, row-normalised (normaliseRows), [V, dim]
 * @param allowed ids that may be chosen (default: every row); ties go to the lowest id
 */
export function projectToVocabulary(embeds: Float32Array, unitTable: Float32Array, dim: number, allowed?: ArrayLike<number>): Projection {
  const n = embeds.length / dim;
  const vocab = unitTable.length / dim;
  const ids = new Int32Array(n);
  const cosines = new Float32Array(n);
  const q = new Float64Array(dim);
  for (let i = 0; i < n; i++) {
    let norm = 0;
    for (let j = 0; j < dim; j++) norm += embeds[i * dim + j]! ** 2;
    const s = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    for (let j = 0; j < dim; j++) q[j] = embeds[i * dim + j]! * s;
    let best = -1;
    let bestDot = -Infinity;
    const count = allowed ? allowed.length : vocab;
    for (let k = 0; k < count; k++) {
      const v = allowed ? allowed[k]! : k;
      let dot = 0;
      const off = v * dim;
      for (let j = 0; j < dim; j++) dot += q[j]! * unitTable[off + j]!;
      if (dot > bestDot || (dot === bestDot && v < best)) {
        bestDot = dot;
        best = v;
      }
    }
    ids[i] = best;
    cosines[i] = bestDot;
  }
  return { ids, cosines };
}

/** Rows `ids` of a [V, dim] table, back to back ([ids.length, dim]). */
export function gatherRows(table: Float32Array, ids: ArrayLike<number>, dim: number): Float32Array {
  const out = new Float32Array(ids.length * dim);
  for (let i = 0; i < ids.length; i++) out.set(table.subarray(ids[i]! * dim, (ids[i]! + 1) * dim), i * dim);
  return out;
}
