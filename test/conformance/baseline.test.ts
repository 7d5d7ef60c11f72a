/**
 * Conformance baseline: every case that the committed conformance/cpu.json marks "pass" must still pass.
 *
 * Cases run in process (no watchdog), one test per suite, and the failure message lists each regression
 * with its error line. Cases whose recorded time (conformance/cpu-details.json) exceeds SLOW_MS are left to
 * the full run (`npm run conformance`) to keep this file near a minute on two cores; their names are
 * printed so the exclusion is visible.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFORMANCE_ROOT, listCases, runCase, SUITES, type CaseResult, type Status } from './cases.js';

const SLOW_MS = 20_000;
const summaryFile = resolve(import.meta.dirname, '../../conformance/cpu.json');
const detailsFile = resolve(import.meta.dirname, '../../conformance/cpu-details.json');

const summary = JSON.parse(readFileSync(summaryFile, 'utf8')) as Record<string, Record<string, Status>>;
const details = existsSync(detailsFile) ? (JSON.parse(readFileSync(detailsFile, 'utf8')) as Record<string, Record<string, CaseResult>>) : {};

describe('conformance baseline (cpu)', () => {
  it('has the conformance data and a committed baseline', () => {
    expect(existsSync(CONFORMANCE_ROOT), `conformance data expected at ${CONFORMANCE_ROOT}`).toBe(true);
    expect(Object.values(summary).some((s) => Object.values(s).includes('pass'))).toBe(true);
  });
  for (const suite of SUITES) {
    const passing = Object.entries(summary[suite] ?? {})
      .filter(([, s]) => s === 'pass')
      .map(([name]) => name);
    if (passing.length === 0) continue;
    it(`${suite}: the ${passing.length} passing cases still pass`, async () => {
      const cases = new Map(listCases(suite).map((c) => [c.name, c]));
      const slow = passing.filter((n) => (details[suite]?.[n]?.ms ?? 0) > SLOW_MS);
      if (slow.length) console.log(`${suite}: left to the full conformance run (recorded > ${SLOW_MS} ms): ${slow.join(', ')}`);
      const regressions: string[] = [];
      for (const name of passing) {
        if (slow.includes(name)) continue;
        const c = cases.get(name);
        if (!c) {
          regressions.push(`${name}: case no longer exists`);
          continue;
        }
        const r = await runCase(c);
        if (r.status !== 'pass') regressions.push(`${name}: ${r.status}: ${r.error}`);
      }
      expect(regressions, regressions.join('\n')).toEqual([]);
    }, 180_000);
  }
});
