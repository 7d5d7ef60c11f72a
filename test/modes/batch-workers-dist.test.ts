/**
 * runBatch's workers load from the built JavaScript as well as from the TypeScript sources: beforeAll compiles
 * src/ with tsconfig.build.json into a temporary folder (beside a node_modules link, so the build resolves its
 * dependencies as dist/ does), and a plain Node process (no tsx loader anywhere) runs a batch on two workers
 * there, checks the outputs bitwise against calling-thread runs, runs a second batch on the session's warm pool,
 * and exits normally after release() has ended the pooled threads.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, SILERO } from './models.js';

const dir = mkdtempSync(join(tmpdir(), 'tessera-batch-dist-'));
const dist = join(dir, 'dist');

beforeAll(() => {
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  try {
    execFileSync(join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.build.json', '--outDir', dist], { cwd: ROOT, stdio: 'pipe' });
  } catch (e) {
    // tsc still emits JavaScript when some file has a type error; the run below is the real check
    if (!existsSync(join(dist, 'graph', 'batch-worker.js'))) throw new Error(`the build emitted no graph/batch-worker.js:\n${String((e as { stdout?: Buffer }).stdout ?? '').slice(0, 2000)}`);
  }
}, 300_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('runBatch workers from the built JavaScript', () => {
  it('load batch-worker.js without a loader and give the calling thread\'s bits', () => {
    const url = (p: string): string => JSON.stringify(pathToFileURL(join(dist, p)).href);
    const script = join(dir, 'run.mjs');
    writeFileSync(
      script,
      [
        `import { InferenceSession } from ${url('graph/session.js')};`,
        `import { batchWorkerThreads } from ${url('graph/batch.js')};`,
        `import { Tensor } from ${url('tensor/tensor.js')};`,
        `const s = InferenceSession.createSync(${JSON.stringify(SILERO)}, { logSeverity: 3 });`,
        `const item = (k) => ({ input: new Tensor('float32', new Float32Array(512).map((_, i) => Math.sin(i * (k + 1) * 0.01) * 0.3), [1, 512]), state: new Tensor('float32', new Float32Array(256).fill(0.01 * k), [2, 1, 128]), sr: new Tensor('int64', BigInt64Array.of(16000n), []) });`,
        `const items = Array.from({ length: 6 }, (_, k) => item(k));`,
        `const r = await s.runBatch(items, { concurrency: 2, useCallingThread: false });`,
        `const bits = (t) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);`,
        `const same = items.every((f, i) => { const want = s.runSync(f); return ['output', 'stateN'].every((k) => bits(want[k]).equals(bits(r.outputs[i][k]))); });`,
        // the workers stay in the session's pool (idle) until release()
        `const pooled = batchWorkerThreads();`,
        `const again = await s.runBatch(items, { concurrency: 2, useCallingThread: false });`,
        `await s.release();`,
        `console.log(r.mode, r.workers, r.errors.length, same, pooled, again.warmWorkers, batchWorkerThreads());`,
      ].join('\n'),
    );
    const run = spawnSync(process.execPath, [script], { cwd: dir, encoding: 'utf8', timeout: 120_000 });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout.trim()).toBe('workers 2 0 true 2 2 0');
  });
});
