/**
 * Regression check between two result files: for every (case, implementation) measured in both, the ratio
 * new median / old median; entries slower by more than `margin` (0.10 = 10 %) are flagged, faster ones by
 * more than the margin are marked as improvements. Entries present in only one file are listed. Pure.
 */
import { entryKey, type BenchResults } from './results.js';

export interface CompareRow {
  readonly key: string;
  readonly caseName: string;
  readonly impl: string;
  readonly oldMs: number;
  readonly newMs: number;
  /** newMs / oldMs: above 1 is slower. */
  readonly ratio: number;
  readonly verdict: 'slower' | 'faster' | 'same';
}

export interface Comparison {
  readonly rows: readonly CompareRow[];
  /** Keys measured only in the old / only in the new file. */
  readonly onlyOld: readonly string[];
  readonly onlyNew: readonly string[];
  readonly regressions: number;
  readonly margin: number;
}

/** Compare `b` (new) against `a` (old). `implFilter` limits the comparison to some implementations. */
export function compareResults(a: BenchResults, b: BenchResults, margin: number, implFilter?: (impl: string) => boolean): Comparison {
  if (!(margin >= 0)) throw new RangeError(`compareResults: margin must be >= 0, got ${margin}`);
  const keep = implFilter ?? (() => true);
  const okA = new Map(a.entries.filter((e) => e.status === 'ok' && e.ms && keep(e.impl)).map((e) => [entryKey(e), e]));
  const okB = new Map(b.entries.filter((e) => e.status === 'ok' && e.ms && keep(e.impl)).map((e) => [entryKey(e), e]));
  const names = new Map([...a.cases, ...b.cases].map((c) => [c.id, c.name]));
  const rows: CompareRow[] = [];
  for (const [key, eb] of okB) {
    const ea = okA.get(key);
    if (!ea) continue;
    const ratio = eb.ms!.median / ea.ms!.median;
    const verdict = ratio > 1 + margin ? 'slower' : ratio < 1 / (1 + margin) ? 'faster' : 'same';
    rows.push({ key, caseName: names.get(eb.caseId) ?? eb.caseId, impl: eb.impl, oldMs: ea.ms!.median, newMs: eb.ms!.median, ratio, verdict });
  }
  return {
    rows,
    onlyOld: [...okA.keys()].filter((k) => !okB.has(k)),
    onlyNew: [...okB.keys()].filter((k) => !okA.has(k)),
    regressions: rows.filter((r) => r.verdict === 'slower').length,
    margin,
  };
}

/** Plain-text table of a comparison. */
export function formatComparison(c: Comparison, oldLabel: string, newLabel: string): string {
  const lines = [`old: ${oldLabel}`, `new: ${newLabel}`, `margin: ${(c.margin * 100).toFixed(0)} % (ratio = new / old median; above 1 is slower)`, ''];
  const w = Math.max(10, ...c.rows.map((r) => r.caseName.length + r.impl.length + 3));
  lines.push(`${'case | impl'.padEnd(w)}  ${'old ms'.padStart(10)}  ${'new ms'.padStart(10)}  ${'ratio'.padStart(7)}`);
  for (const r of c.rows) {
    const flag = r.verdict === 'slower' ? '  SLOWER' : r.verdict === 'faster' ? '  faster' : '';
    lines.push(`${`${r.caseName} | ${r.impl}`.padEnd(w)}  ${r.oldMs.toFixed(3).padStart(10)}  ${r.newMs.toFixed(3).padStart(10)}  ${r.ratio.toFixed(3).padStart(7)}${flag}`);
  }
  if (c.onlyOld.length) lines.push('', `only in old: ${c.onlyOld.join(', ')}`);
  if (c.onlyNew.length) lines.push('', `only in new: ${c.onlyNew.join(', ')}`);
  lines.push('', c.regressions ? `${c.regressions} of ${c.rows.length} entries slower by more than ${(c.margin * 100).toFixed(0)} %` : `no entry slower by more than ${(c.margin * 100).toFixed(0)} % (${c.rows.length} compared)`);
  return lines.join('\n');
}
