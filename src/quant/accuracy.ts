/**
 * Accuracy measures the compression reports use, as pure functions of predictions and ground truth:
 * - `editDistance`: Levenshtein distance over Unicode code points (insert, delete, substitute cost 1), with
 *   the classic two-row dynamic programme; O(|a| * |b|) time, O(|b|) memory.
 * - `characterAccuracy`: 1 - (sum of edit distances) / (sum of reference lengths) over a set of lines, floored
 *   at 0: the share of reference characters a recogniser got right, counting insertions against it.
 * - `classificationAccuracy`: share of predictions equal to their labels.
 */
import { TesseraError } from '../tensor/errors.js';

/** Levenshtein distance between two strings, by code point. */
export function editDistance(a: string, b: string): number {
  const x = Array.from(a);
  const y = Array.from(b);
  let prev = Array.from({ length: y.length + 1 }, (_, j) => j);
  let cur = new Array<number>(y.length + 1).fill(0);
  for (let i = 1; i <= x.length; i++) {
    cur[0] = i;
    for (let j = 1; j <= y.length; j++) {
      const substitute = prev[j - 1]! + (x[i - 1] === y[j - 1] ? 0 : 1);
      cur[j] = Math.min(substitute, prev[j]! + 1, cur[j - 1]! + 1);
    }
    [prev, cur] = [cur, prev];
  }
  return prev[y.length]!;
}

/** Character accuracy of recognised lines against their references (see the file comment). */
export function characterAccuracy(pairs: readonly { predicted: string; reference: string }[]): number {
  let edits = 0;
  let chars = 0;
  for (const p of pairs) {
    edits += editDistance(p.predicted, p.reference);
    chars += Array.from(p.reference).length;
  }
  if (chars === 0) throw new TesseraError('characterAccuracy: the references hold no characters');
  return Math.max(0, 1 - edits / chars);
}

/** Share of `predicted[i] === labels[i]`. */
export function classificationAccuracy<T>(predicted: readonly T[], labels: readonly T[]): number {
  if (predicted.length !== labels.length || labels.length === 0) {
    throw new TesseraError(`classificationAccuracy: ${predicted.length} predictions for ${labels.length} labels; expected the same non-zero count`);
  }
  let right = 0;
  for (let i = 0; i < labels.length; i++) if (predicted[i] === labels[i]) right++;
  return right / labels.length;
}
