/**
 * examples/node-esm.mjs runs as its own Node process and imports the package by name ('tessera' -> dist/ via
 * the package.json "exports" map), so it exercises the built package as a user gets it. beforeAll builds
 * dist/ (`tsc -p tsconfig.build.json`) when dist/index.js is missing or older than a file under src/.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const DIST_ENTRY = join(ROOT, 'dist', 'index.js');

/** Newest modification time of a file under `dir`. */
function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

beforeAll(() => {
  if (existsSync(DIST_ENTRY) && statSync(DIST_ENTRY).mtimeMs >= newestMtime(join(ROOT, 'src'))) return;
  try {
    execFileSync(join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'pipe' });
  } catch (e) {
    // tsc still emits JavaScript when some file has a type error; the example run below is the real check
    const out = String((e as { stdout?: Buffer }).stdout ?? '');
    if (!existsSync(DIST_ENTRY)) throw new Error(`npm run build produced no dist/index.js:\n${out.slice(0, 2000)}`);
  }
}, 300_000);

describe('examples/node-esm.mjs', () => {
  it("imports 'tessera' from dist, runs eager ops and the melspectrogram model", () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'examples', 'node-esm.mjs')], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe('matmul: [7,10,15,22] dims [2,2]');
    // relu([[-3, 10], [5, 22]]) then softmax per row
    const row = (a: number, b: number): string[] => [Math.exp(a) / (Math.exp(a) + Math.exp(b)), Math.exp(b) / (Math.exp(a) + Math.exp(b))].map((v) => v.toFixed(6));
    expect(lines[1]).toBe(`softmax(relu(matmul + bias)): ${[...row(0, 10), ...row(5, 22)].join(' ')}`);
    expect(lines[2]).toMatch(/^model: melspectrogram\.onnx input \S+ \[.*\] -> \S+ \[1,1,8,32\]$/);
    expect(lines[3]).toMatch(/^mel frame 0: loudest bin \d+ of 32 \(-?\d+\.\d{3}\)$/);
  });

  it('exits non-zero with the path in the message when the model is missing', () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'examples', 'node-esm.mjs'), '/nonexistent/mel.onnx'], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/nonexistent\/mel\.onnx/);
  });
});
