#!/usr/bin/env node
// Runs the vitest suite and ends with one line `N passed, N failed` (CI reads it).
// Two passes: the CPU tests with files in parallel, then the GPU and browser tests one file at a time (they
// share one X display and one GL driver; parallel contexts on llvmpipe were seen to fail intermittently).
// Extra arguments go to both vitest runs (e.g. a file filter).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';

mkdirSync('.test-results', { recursive: true });
const extra = process.argv.slice(2);
const passes = [
  { name: 'cpu', out: '.test-results/vitest-cpu.json', args: ['--exclude', 'test/gpu/**', '--exclude', 'test/browser/**'] },
  { name: 'gpu', out: '.test-results/vitest-gpu.json', args: ['--no-file-parallelism', 'test/gpu', 'test/browser'] },
];
let passed = 0;
let failed = 0;
for (const p of passes) {
  rmSync(p.out, { force: true });
  const args = ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${p.out}`, ...p.args, ...extra];
  const r = spawnSync('npx', args, { stdio: 'inherit' });
  let pf = 0;
  if (existsSync(p.out)) {
    const j = JSON.parse(readFileSync(p.out, 'utf8'));
    passed += j.numPassedTests ?? 0;
    // a file that fails to load has no test results but is a failure
    pf = (j.numFailedTests ?? 0) + (j.testResults ?? []).filter((s) => s.status === 'failed' && (s.assertionResults ?? []).length === 0).length;
  }
  if (r.status !== 0 && pf === 0) {
    // vitest exits 1 with "no test files" when a filter excludes a whole pass: that is not a failure
    const noFiles = existsSync(p.out) && (JSON.parse(readFileSync(p.out, 'utf8')).numTotalTestSuites ?? 0) === 0;
    if (!noFiles) pf = 1;
  }
  failed += pf;
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
