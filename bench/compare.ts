/**
 * Regression check between two benchmark result files (bench/results/*.json):
 *
 *   npm run bench:compare -- old.json new.json [--margin 0.10] [--impl tessera-cpu-1t,tessera-gpu]
 *
 * Prints new/old median ratio per (case, implementation) measured in both files and flags entries slower
 * by more than the margin (default 10 %). Exit code 0: no regression; 1: at least one entry slower by more
 * than the margin; 2: bad command line or unreadable file. Compare runs of the same machine: the machine
 * lines of both files are printed, and a warning when they differ.
 */
import { parseArgs } from 'node:util';
import { compareResults, formatComparison } from './lib/compare.js';
import { readResults } from './lib/write.js';

function main(): number {
  let parsed;
  try {
    parsed = parseArgs({ options: { margin: { type: 'string', default: '0.10' }, impl: { type: 'string' } }, allowPositionals: true });
  } catch (e) {
    console.error(`bench:compare: ${(e as Error).message}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const margin = Number(values.margin);
  if (positionals.length !== 2 || !(margin >= 0)) {
    console.error('usage: npm run bench:compare -- old.json new.json [--margin 0.10] [--impl NAME,NAME]');
    return 2;
  }
  const [oldPath, newPath] = positionals as [string, string];
  let a, b;
  try {
    a = readResults(oldPath);
    b = readResults(newPath);
  } catch (e) {
    console.error(`bench:compare: ${(e as Error).message}`);
    return 2;
  }
  const impls = values.impl?.split(',').map((s) => s.trim()).filter(Boolean);
  const c = compareResults(a, b, margin, impls ? (i) => impls.includes(i) : undefined);
  const machine = (r: typeof a): string => `${r.machine.cpu}, ${r.machine.cores} cores, ${r.machine.node ?? r.machine.userAgent ?? ''}`;
  console.log(formatComparison(c, `${oldPath} (${a.date}; ${machine(a)})`, `${newPath} (${b.date}; ${machine(b)})`));
  if (machine(a) !== machine(b)) console.log('warning: the two files come from different machines or runtimes; ratios mix hardware and code changes');
  return c.regressions > 0 ? 1 : 0;
}

process.exitCode = main();
