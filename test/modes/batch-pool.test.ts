/**
 * runBatch's worker pool kept by the session between calls (BatchOptions.workers 'keep', the default): a second
 * call reuses the first call's threads with no startup (same threadIds, `warmWorkers`, no new thread), warm
 * workers take short batches that a cold start would leave on the calling thread (unless they were measured
 * slower than the calling thread, then only every WARM_PROBE_EVERY-th call tries them), two calls at once on one
 * session get their own items back (no cross-talk), a worker that crashes is replaced in the pool, a failing
 * item does not spoil its worker, idle workers are terminated after workerIdleSeconds and by release(), and a
 * script that used the pool exits at once without release(). Outputs stay bitwise equal to calling-thread runs.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { BatchWorkerError, batchWorkerThreads, closeBatchPool, newBatchPoolHolder, runBatch, WARM_PROBE_EVERY, type BatchPoolHolder, type BatchRunner, type Feeds } from '../../src/graph/batch.js';
import { InputValidationError } from '../../src/graph/errors.js';
import { InferenceSession } from '../../src/graph/session.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { bitwiseEqual, ROOT, SILERO, sileroConstants, signal } from './models.js';

const vad = InferenceSession.createSync(SILERO, { logSeverity: 3 });
const FETCHES = ['output', 'stateN'];
const ONLY_WORKERS = { useCallingThread: false, concurrency: 2, fetches: FETCHES } as const;

function vadItem(i: number): Record<string, Tensor> {
  return { input: signal([1, 512], 3000 + i, 0.5), state: signal([2, 1, 128], 4000 + i, 0.2), ...sileroConstants() };
}
const items = Array.from({ length: 12 }, (_, i) => vadItem(i));
const expected = items.map((f) => vad.runSync(f, FETCHES));

function expectSame(out: Record<string, Tensor> | undefined, i: number, names: readonly string[] = FETCHES): void {
  expect(out, `item ${i}`).toBeDefined();
  expect(Object.keys(out!).sort()).toEqual([...names].sort());
  for (const name of names) expect(bitwiseEqual(out![name]!, expected[i]![name]!), `item ${i} output ${name}`).toBe(true);
}

/** A runner over `vad` with its own pool holder (so a test can look at it); `exitOn` makes a worker exit on that item index. */
function pooledRunner(holder: BatchPoolHolder, exitOn?: number): BatchRunner {
  const file = readFileSync(SILERO);
  const bytes = new Uint8Array(new SharedArrayBuffer(file.byteLength));
  bytes.set(file);
  return {
    inputMetadata: vad.inputMetadata,
    outputNames: vad.outputNames,
    runSync: (feeds: Feeds, fetches?: readonly string[]) => vad.runSync(feeds, fetches),
    batchWorkerModel: () => ({ bytes, options: {}, exitOnIndexForTest: exitOn }),
    batchPool: holder,
  };
}

afterEach(() => {
  // every test releases its session or closes its pool
  expect(batchWorkerThreads()).toBe(0);
});

afterAll(async () => {
  await vad.release();
});

describe('runBatch worker pool kept between calls', () => {
  it('a second call reuses the same threads with no startup; release() terminates them', async () => {
    const session = InferenceSession.createSync(SILERO, { logSeverity: 3 });
    const first = await session.runBatch(items.slice(0, 6), ONLY_WORKERS);
    expect(first.mode).toBe('workers');
    expect(first.workers).toBe(2);
    expect(first.warmWorkers).toBe(0);
    expect(first.modeReason).toMatch(/2 worker threads, all started by this call \(kept by the session for later calls\)/);
    first.outputs.forEach((out, i) => expectSame(out, i));
    // the threads outlive the call, idle
    expect(batchWorkerThreads()).toBe(2);

    const second = await session.runBatch(items.slice(6), ONLY_WORKERS);
    expect(second.mode).toBe('workers');
    expect(second.warmWorkers).toBe(2);
    expect([...second.workerThreadIds].sort()).toEqual([...first.workerThreadIds].sort());
    expect(second.modeReason).toMatch(/2 worker threads, all warm from earlier calls/);
    second.outputs.forEach((out, i) => expectSame(out, i + 6));
    expect(batchWorkerThreads()).toBe(2);

    // a call that asks for more workers grows the pool (the two warm ones plus a new one)
    const third = await session.runBatch(items, { ...ONLY_WORKERS, concurrency: 3 });
    expect(third.workers).toBe(3);
    expect(third.warmWorkers).toBe(2);
    third.outputs.forEach((out, i) => expectSame(out, i));
    expect(batchWorkerThreads()).toBe(3);

    await session.release();
    expect(batchWorkerThreads()).toBe(0);
  });

  it('with warm workers a short batch goes to them; without, it stays on the calling thread', async () => {
    const session = InferenceSession.createSync(SILERO, { logSeverity: 3 });
    // no pool yet: 12 items are far under the cold-start threshold
    const cold = await session.runBatch(items, { concurrency: 2, fetches: FETCHES });
    expect(cold.mode).toBe('sequential');
    expect(cold.modeReason).toMatch(/under the 8 s that starting workers needs to pay off/);
    expect(batchWorkerThreads()).toBe(0);
    // start the pool
    await session.runBatch(items.slice(0, 4), ONLY_WORKERS);
    // the same 12 items with warm workers (threshold tiny, so the machine's load cannot flip the decision)
    const warm = await session.runBatch(items, { concurrency: 2, fetches: FETCHES, minSecondsForWarmWorkers: 1e-6 });
    expect(warm.mode).toBe('workers');
    expect(warm.warmWorkers).toBe(warm.workers);
    warm.outputs.forEach((out, i) => expectSame(out, i));
    // and under a warm threshold that 2 items cannot reach, they stay on the calling thread
    const tiny = await session.runBatch(items.slice(0, 2), { concurrency: 2, fetches: FETCHES, minSecondsForWarmWorkers: 60 });
    expect(tiny.mode).toBe('sequential');
    expect(tiny.modeReason).toMatch(/under the 60 s for which warm workers pay off \(minSecondsForWarmWorkers\)/);
    tiny.outputs.forEach((out, i) => expectSame(out, i));
    await session.release();
  });

  it("in 'keep' mode the cold-start rule counts the session's earlier calling-thread work; 'per-call' does not keep workers", async () => {
    const holder = newBatchPoolHolder();
    const runner = pooledRunner(holder);
    const first = await runBatch(runner, items, { concurrency: 2, fetches: FETCHES, minSecondsForWorkers: 1000 });
    expect(first.mode).toBe('sequential');
    expect(holder.callerSeconds).toBeGreaterThan(0);
    expect(holder.recent.length).toBeGreaterThan(0);
    // a threshold this call alone does not reach after its 8 timed items, but the session's calls together do
    const threshold = holder.callerSeconds * 1.1;
    const second = await runBatch(runner, items, { concurrency: 2, fetches: FETCHES, minSecondsForWorkers: threshold });
    second.outputs.forEach((out, i) => expectSame(out, i));
    // workers were started (whether any was ready before the calling thread finished depends on the load)
    expect(second.modeReason).not.toMatch(/under the/);
    expect(holder.pool!.size).toBeGreaterThan(0);
    await closeBatchPool(holder, 'test');

    const perCall = await perCallBatch();
    expect(perCall.mode).toBe('workers');
    expect(batchWorkerThreads()).toBe(0);
  });

  it('two calls at once on one session each get their own items and outputs', async () => {
    const session = InferenceSession.createSync(SILERO, { logSeverity: 3 });
    await session.runBatch(items.slice(0, 4), ONLY_WORKERS);
    // different items and different fetches, so a result routed to the wrong call would show
    const [a, b, c] = await Promise.all([
      session.runBatch(items.slice(0, 6), ONLY_WORKERS),
      session.runBatch(items.slice(6), { ...ONLY_WORKERS, fetches: ['stateN'] }),
      session.runBatch(items.slice(3, 9), { concurrency: 2, fetches: ['output'], minSecondsForWarmWorkers: 0 }),
    ]);
    a.outputs.forEach((out, i) => expectSame(out, i));
    b.outputs.forEach((out, i) => expectSame(out, i + 6, ['stateN']));
    c.outputs.forEach((out, i) => expectSame(out, i + 3, ['output']));
    expect(a.mode).toBe('workers');
    expect(b.mode).toBe('workers');
    // the pool never grows past the largest concurrency asked for: the calls shared (or waited for) two threads
    expect(batchWorkerThreads()).toBe(2);
    const threads = new Set([...a.workerThreadIds, ...b.workerThreadIds, ...c.workerThreadIds]);
    expect(threads.size).toBeLessThanOrEqual(2);
    await session.release();
  });

  it('a worker that crashes is replaced in the pool; a failing item does not spoil its worker', async () => {
    const holder = newBatchPoolHolder();
    // the worker given the last item exits: no item is left for a replacement in this call, yet the pool
    // replaces it for the calls to come
    const runner = pooledRunner(holder, 11);
    const r = await runBatch(runner, items, { ...ONLY_WORKERS, onError: 'collect' });
    expect(r.errors.map((e) => e.index)).toEqual([11]);
    expect(r.errors[0]!.error).toBeInstanceOf(BatchWorkerError);
    r.outputs.forEach((out, i) => i !== 11 && expectSame(out, i));
    // the replacement took the crashed worker's place (it may still be starting)
    expect(holder.pool!.size).toBe(2);
    const pooled = holder.pool!.threadIds();

    // bad items fail in the workers; the same threads then run good items bit for bit
    const bad = { input: signal([1, 1, 512], 1), state: signal([2, 1, 128], 2), ...sileroConstants() };
    const withBad = await runBatch(runner, [items[0]!, bad, items[2]!, bad], { ...ONLY_WORKERS, onError: 'collect' });
    expect(withBad.errors.map((e) => e.index)).toEqual([1, 3]);
    for (const { error } of withBad.errors) expect(error).toBeInstanceOf(InputValidationError);
    const after = await runBatch(runner, items.slice(0, 8), ONLY_WORKERS);
    after.outputs.forEach((out, i) => expectSame(out, i));
    expect(after.warmWorkers).toBe(after.workers);
    for (const id of after.workerThreadIds) expect(pooled).toContain(id);
    await closeBatchPool(holder, 'test');
  });

  it('warm workers measured slower than the calling thread are left idle, and tried again every WARM_PROBE_EVERY-th call', async () => {
    const holder = newBatchPoolHolder();
    const runner = pooledRunner(holder);
    // fresh workers (cold JIT) are not measured; warm ones that took every item are
    await runBatch(runner, items, ONLY_WORKERS);
    expect(holder.poolRate).toBeUndefined();
    const first = await runBatch(runner, items, ONLY_WORKERS);
    expect(first.warmWorkers).toBe(2);
    expect(holder.poolRate).toBeGreaterThan(0);
    // as if the last measured pool call had crawled (a loaded machine) against a calling thread at 1 ms an item
    holder.poolRate = 1;
    holder.recent.splice(0, Infinity, 0.001);
    holder.calls = 1;
    const slow = await runBatch(runner, items, { concurrency: 2, fetches: FETCHES, minSecondsForWarmWorkers: 0 });
    expect(slow.mode).toBe('sequential');
    expect(slow.modeReason).toMatch(/warm workers ran 1 items\/s in this session's last call that measured them, slower than the calling thread's \d+ items\/s .*tried again every 8th call/);
    slow.outputs.forEach((out, i) => expectSame(out, i));
    expect(batchWorkerThreads()).toBe(2);
    // the next call is the 8th: the pool is tried (and measured) again
    holder.poolRate = 1;
    holder.calls = WARM_PROBE_EVERY - 1;
    const probe = await runBatch(runner, items, { concurrency: 2, fetches: FETCHES, minSecondsForWarmWorkers: 0 });
    expect(probe.mode).toBe('workers');
    expect(probe.warmWorkers).toBe(2);
    probe.outputs.forEach((out, i) => expectSame(out, i));
    expect(holder.poolRate).toBeGreaterThan(1);
    await closeBatchPool(holder, 'test');
  });

  it('idle workers are terminated after workerIdleSeconds', async () => {
    const holder = newBatchPoolHolder();
    const runner = pooledRunner(holder);
    await runBatch(runner, items.slice(0, 4), { ...ONLY_WORKERS, workerIdleSeconds: 0.2 });
    expect(batchWorkerThreads()).toBe(2);
    const deadline = Date.now() + 5000;
    while (batchWorkerThreads() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(batchWorkerThreads()).toBe(0);
    const again = await runBatch(runner, items.slice(0, 4), ONLY_WORKERS);
    expect(again.warmWorkers).toBe(0);
    expect(again.workers).toBe(2);
    await closeBatchPool(holder, 'test');
  });

  it('a script that used the pool twice exits at once without release()', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-batch-pool-'));
    try {
      const script = join(dir, 'exit.mts');
      const src = (p: string): string => JSON.stringify(pathToFileURL(join(ROOT, p)).href);
      writeFileSync(
        script,
        [
          `import { InferenceSession } from ${src('src/graph/session.ts')};`,
          `import { Tensor } from ${src('src/tensor/tensor.ts')};`,
          `const s = InferenceSession.createSync(${JSON.stringify(SILERO)}, { logSeverity: 3 });`,
          `const item = () => ({ input: new Tensor('float32', new Float32Array(512), [1, 512]), state: new Tensor('float32', new Float32Array(256), [2, 1, 128]), sr: new Tensor('int64', BigInt64Array.of(16000n), []) });`,
          `const a = await s.runBatch([item(), item(), item()], { concurrency: 2, useCallingThread: false });`,
          `const b = await s.runBatch([item(), item(), item()], { concurrency: 2, useCallingThread: false });`,
          `console.log(a.mode, a.workers, b.warmWorkers, Date.now());`,
        ].join('\n'),
      );
      // the idle timeout (30 s by default) is longer than this run may take: only unref'd workers let it end
      const run = spawnSync(process.execPath, ['--import', 'tsx', script], { cwd: ROOT, encoding: 'utf8', timeout: 25_000 });
      const ended = Date.now();
      expect(run.stderr).toBe('');
      expect(run.status).toBe(0);
      const [mode, workers, warm, printedAt] = run.stdout.trim().split(' ');
      expect([mode, workers, warm]).toEqual(['workers', '2', '2']);
      // from the last line of the script to the process's end
      expect(ended - Number(printedAt)).toBeLessThan(3000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses bad pool options', async () => {
    await expect(vad.runBatch(items, { workers: 'always' as 'keep' })).rejects.toThrow(/workers must be 'keep' or 'per-call', got 'always'/);
    await expect(vad.runBatch(items, { workerIdleSeconds: -1 })).rejects.toThrow(/workerIdleSeconds must be a non-negative number/);
    await expect(vad.runBatch(items, { minSecondsForWarmWorkers: Number.NaN })).rejects.toThrow(/minSecondsForWarmWorkers must be a non-negative finite number/);
  });
});

/** A 'per-call' batch on a fresh session: its workers end with the call. */
async function perCallBatch(): Promise<{ mode: string }> {
  const session = InferenceSession.createSync(SILERO, { logSeverity: 3 });
  const r = await session.runBatch(items.slice(0, 4), { ...ONLY_WORKERS, workers: 'per-call' });
  expect(batchWorkerThreads()).toBe(0);
  await session.release();
  return r;
}
