/**
 * CI run of the model fuzzer: `tsx scripts/fuzz.ts --seconds 20` in a child process must find no crash, hang
 * or unclassified error. The seed is random unless TESSERA_FUZZ_SEED is set; it is printed by the fuzzer and
 * repeated in the assertion message, so a failure can be replayed.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

function fuzz(args: string[], env: Record<string, string> = {}, timeout = 80_000) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'scripts/fuzz.ts', ...args], { encoding: 'utf8', timeout, env: { ...process.env, ...env } });
}

describe('fuzz (brief CI run)', () => {
  it('20 s over every mutation class: no crash, hang or unclassified error', { timeout: 90_000 }, () => {
    const seed = process.env['TESSERA_FUZZ_SEED'] ?? String(Math.floor(Math.random() * 2 ** 31));
    const run = fuzz(['--seconds', '20', '--seed', seed, '--timeout-ms', '15000']);
    const report = `${run.stdout}\n${run.stderr}`;
    expect(run.status, `fuzz seed ${seed} failed:\n${report}`).toBe(0);
    expect(run.stdout).toContain(`fuzz: seed ${seed}`);
    expect(run.stdout).toMatch(/\| total\s+\|\s+\d+ \|/);
    expect(run.stdout).toContain('no crash, hang or unclassified error');
  });

  const injected: [string, string, RegExp][] = [
    ['hang', 'hang', /- hang in class truncate, case truncate:\d+/],
    ['die', 'crash', /- crash in class truncate.*\n.*\n.*\n\s+child process exited \(code 70/],
    ['throw', 'unclassified', /- unclassified in class truncate.*\n.*\n.*\n\s+TypeError: self-test/],
  ];
  for (const [mode, column, report] of injected) {
    it(`the watchdog reports an injected ${mode} as ${column}, with the seed and the input, and exits 1`, { timeout: 60_000 }, () => {
      const run = fuzz(['--seconds', '5', '--seed', '5', '--classes', 'truncate', '--timeout-ms', '2000'], { TESSERA_FUZZ_SELF_TEST: mode }, 50_000);
      expect(run.status, run.stdout + run.stderr).toBe(1);
      const row = /\| truncate \|\s+(\d+) \|\s+(\d+) \|\s+(\d+) \|\s+(\d+) \|\s+(\d+) \|\s+(\d+) \|/.exec(run.stdout);
      expect(row).not.toBeNull();
      const [cases, , , unclassified, crash, hang] = row!.slice(1).map(Number);
      expect({ unclassified, crash, hang }).toEqual({ unclassified: column === 'unclassified' ? 1 : 0, crash: column === 'crash' ? 1 : 0, hang: column === 'hang' ? 1 : 0 });
      expect(cases).toBeGreaterThan(1); // the fuzzer went on after the failure
      expect(run.stdout).toContain('failure(s) with seed 5');
      expect(run.stdout).toMatch(report);
      expect(run.stdout).toMatch(/input: .*truncated to \d+ of \d+ bytes/);
      expect(run.stdout).toMatch(/bytes: .*tessera-fuzz.*\.onnx/);
    });
  }
});
