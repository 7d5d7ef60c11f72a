/**
 * Batch mode on worker threads: a model without a symbolic batch dim (Silero VAD: its `sr` input is a scalar)
 * has its items spread over worker threads, each holding its own session. Results come back in input order and
 * bit for bit equal to calling-thread runs; failures keep their index under both onError modes (including a
 * worker that exits mid-item); async sources are read with bounded read-ahead; the worker count follows
 * `concurrency`; every dtype crosses the thread boundary intact; a session's release() terminates the workers
 * of a running call; workers that cannot start or a model that cannot be re-created fall back to the calling
 * thread with the reason reported; a process that used workers exits normally.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { BatchItemError, BatchWorkerError, batchWorkerThreads, ITEMS_PER_WORKER, runBatch, type BatchRunner, type Feeds } from '../../src/graph/batch.js';
import { InputValidationError } from '../../src/graph/errors.js';
import { InferenceSession } from '../../src/graph/session.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { graph, modelBytes, node, value } from '../graph/build.js';
import { bitwiseEqual, OWW, ROOT, SILERO, sileroConstants, signal } from './models.js';

const vad = InferenceSession.createSync(SILERO, { logSeverity: 3 });
const FETCHES = ['output', 'stateN'];
/**
 * Every item goes to a worker: by default the calling thread runs items until the first worker is ready, which
 * on these small items would often be all of them. Each call has its own workers here ('per-call'); the
 * session's pool kept between calls is tested in ./batch-pool.test.ts.
 */
const ONLY_WORKERS = { useCallingThread: false, workers: 'per-call' } as const;
const PER_CALL = { workers: 'per-call' } as const;

/** Silero item i: a 512-sample chunk (scaled so the speech probability varies) with a random state. */
function vadItem(i: number): Record<string, Tensor> {
  return { input: signal([1, 512], 1000 + i, 0.5), state: signal([2, 1, 128], 2000 + i, 0.2), ...sileroConstants() };
}
/** An item the session refuses (input of rank 3). */
function badItem(): Record<string, Tensor> {
  return { input: signal([1, 1, 512], 1), state: signal([2, 1, 128], 2), ...sileroConstants() };
}

const items = Array.from({ length: 8 }, (_, i) => vadItem(i));
const expected = items.map((f) => vad.runSync(f, FETCHES));

function expectSame(out: Record<string, Tensor> | undefined, i: number): void {
  expect(out, `item ${i}`).toBeDefined();
  for (const name of FETCHES) expect(bitwiseEqual(out![name]!, expected[i]![name]!), `item ${i} output ${name}`).toBe(true);
}

/** A runner over `session` whose worker model carries the test hook that makes a worker exit on item `index`. */
function exitingRunner(session: InferenceSession, index: number): BatchRunner {
  const bytes = new Uint8Array(new SharedArrayBuffer(readFileSync(SILERO).byteLength));
  bytes.set(readFileSync(SILERO));
  return {
    inputMetadata: session.inputMetadata,
    outputNames: session.outputNames,
    runSync: (feeds: Feeds, fetches?: readonly string[]) => session.runSync(feeds, fetches),
    batchWorkerModel: () => ({ bytes, options: {}, exitOnIndexForTest: index }),
  };
}

afterEach(() => {
  // every call ends its workers before it returns
  expect(batchWorkerThreads()).toBe(0);
});

afterAll(async () => {
  await vad.release();
});

describe('runBatch on worker threads', () => {
  it('spreads items over workers, in input order, bitwise equal to calling-thread runs', async () => {
    const progress: number[] = [];
    const r = await vad.runBatch(items, { ...ONLY_WORKERS, concurrency: 2, fetches: FETCHES, onProgress: (d) => progress.push(d) });
    expect(r.mode).toBe('workers');
    expect(r.workers).toBe(2);
    expect(r.modeReason).toMatch(/no symbolic batch dim.*2 worker threads/);
    expect(r.stacked).toBe(false);
    expect(r.items).toBe(8);
    expect(r.runs).toBe(8);
    expect(r.errors).toEqual([]);
    expect(r.itemsPerSecond).toBeGreaterThan(0);
    expect(progress).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    r.outputs.forEach((out, i) => expectSame(out, i));
    // items differ, so a shuffled order would be caught
    expect(bitwiseEqual(r.outputs[0]!['stateN']!, r.outputs[1]!['stateN']!)).toBe(false);

    const seq = await vad.runBatch(items, { concurrency: 1, fetches: FETCHES });
    expect(seq.mode).toBe('sequential');
    expect(seq.workers).toBe(0);
    expect(seq.modeReason).toMatch(/concurrency 1.*calling thread/);
    seq.outputs.forEach((out, i) => expectSame(out, i));
  });

  it('starts min(items, cores) workers by default, and none for a single item', async () => {
    const cores = availableParallelism();
    const r = await vad.runBatch(items.slice(0, 3), { ...ONLY_WORKERS, fetches: FETCHES });
    if (Math.min(3, cores) >= 2) {
      expect(r.mode).toBe('workers');
      expect(r.workers).toBe(Math.min(3, cores));
    } else {
      expect(r.mode).toBe('sequential');
      expect(r.modeReason).toMatch(/1 core available/);
    }
    r.outputs.forEach((out, i) => expectSame(out, i));
    const one = await vad.runBatch(items.slice(0, 1), { concurrency: 4, fetches: FETCHES });
    expect(one.mode).toBe('sequential');
    expect(one.modeReason).toMatch(/1 item, so items ran one at a time on the calling thread/);
    expectSame(one.outputs[0], 0);
  });

  it('by default the calling thread runs the first items and starts workers only for a long batch', async () => {
    // a few milliseconds of work: starting workers would cost more than it saves
    const r = await vad.runBatch(items, { ...PER_CALL, concurrency: 2, fetches: FETCHES });
    expect(r.mode).toBe('sequential');
    expect(r.workers).toBe(0);
    expect(r.modeReason).toMatch(/came to about \d+\.\d\d s of work, under the 8 s that starting workers needs to pay off \(minSecondsForWorkers\), so they ran one at a time on the calling thread$/);
    expect(batchWorkerThreads()).toBe(0);
    r.outputs.forEach((out, i) => expectSame(out, i));
    // a batch estimated above the threshold: the calling thread keeps going while the workers start, then they
    // take over (how many items each side runs depends on the machine's load)
    const many = Array.from({ length: 300 }, (_, i) => items[i % items.length]!);
    const big = await vad.runBatch(many, { ...PER_CALL, concurrency: 2, fetches: FETCHES, minSecondsForWorkers: 0.1 });
    expect(big.outputs.every((out, i) => out !== undefined && bitwiseEqual(out['stateN']!, expected[i % items.length]!['stateN']!))).toBe(true);
    if (big.mode === 'workers') expect(big.modeReason).toMatch(/spread over 2 worker threads, all started by this call; \d+ items? ran on the calling thread/);
    else expect(big.modeReason).toMatch(/every item finished on the calling thread before a worker was ready/);
    expect(big.modeReason).not.toMatch(/under the/);
  });

  it("onError 'collect': bad items fail with their index and error class, every other item keeps its result", async () => {
    // item 6 fails before it is sent (a disposed feed), items 2 and 4 in the workers
    const disposed = vadItem(6);
    disposed.state!.dispose();
    const list = [items[0]!, items[1]!, badItem(), items[3]!, badItem(), items[5]!, disposed, items[7]!];
    const r = await vad.runBatch(list, { ...ONLY_WORKERS, concurrency: 2, onError: 'collect', fetches: FETCHES });
    expect(r.mode).toBe('workers');
    expect(r.errors.map((e) => e.index)).toEqual([2, 4, 6]);
    for (const { error } of r.errors) {
      expect(error).toBeInstanceOf(InputValidationError);
      expect(error.name).toBe('InputValidationError');
    }
    expect(r.errors[0]!.error.message).toMatch(/input 'input' has shape \[1, 1, 512\]/);
    expect(r.errors[1]!.error.message).toMatch(/input 'input' has shape \[1, 1, 512\]/);
    expect(r.errors[2]!.error.message).toMatch(/input 'state' was disposed/);
    [2, 4, 6].forEach((i) => expect(r.outputs[i]).toBeUndefined());
    [0, 1, 3, 5, 7].forEach((i) => expectSame(r.outputs[i], i));
  });

  it("onError 'throw': throws the lowest failing index after the running items finish, with the results so far", async () => {
    const list = [items[0]!, items[1]!, items[2]!, badItem(), items[4]!, badItem(), items[6]!, items[7]!];
    const err = await vad.runBatch(list, { ...ONLY_WORKERS, concurrency: 2, fetches: FETCHES }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BatchItemError);
    const e = err as BatchItemError;
    expect(e.index).toBe(3);
    expect(e.cause).toBeInstanceOf(InputValidationError);
    expect(e.message).toMatch(/^batch item 3 failed: input 'input' has shape/);
    expect(e.partial.mode).toBe('workers');
    [0, 1, 2].forEach((i) => expectSame(e.partial.outputs[i], i));
    expect(e.partial.errors[0]!.index).toBe(3);
  });

  it('a worker that exits mid-item fails that item with a clear error; the others complete on a replacement', async () => {
    const r = await runBatch(exitingRunner(vad, 3), items, { ...ONLY_WORKERS, concurrency: 2, onError: 'collect', fetches: FETCHES });
    expect(r.mode).toBe('workers');
    expect(r.errors.map((x) => x.index)).toEqual([3]);
    expect(r.errors[0]!.error).toBeInstanceOf(BatchWorkerError);
    expect(r.errors[0]!.error.message).toMatch(/batch worker \d exited with code 70 while running item 3/);
    [0, 1, 2, 4, 5, 6, 7].forEach((i) => expectSame(r.outputs[i], i));
    // the two first workers ran items; the replacement counts if it started before the survivor took the rest
    expect(r.workers).toBeGreaterThanOrEqual(2);
    expect(r.workers).toBeLessThanOrEqual(3);

    const err = await runBatch(exitingRunner(vad, 1), items.slice(0, 4), { ...ONLY_WORKERS, concurrency: 2, fetches: FETCHES }).catch((x: unknown) => x);
    expect(err).toBeInstanceOf(BatchItemError);
    expect((err as BatchItemError).index).toBe(1);
    expect((err as BatchItemError).cause).toBeInstanceOf(BatchWorkerError);
    expectSame((err as BatchItemError).partial.outputs[0], 0);
  });

  it('reads async sources in order with bounded read-ahead', async () => {
    let produced = 0;
    let done = 0;
    let maxAhead = 0;
    async function* source(): AsyncGenerator<Record<string, Tensor>> {
      for (let i = 0; i < items.length; i++) {
        await new Promise((r) => setTimeout(r, 1));
        maxAhead = Math.max(maxAhead, produced - done);
        produced++;
        yield items[i]!;
      }
    }
    const r = await vad.runBatch(source(), { ...ONLY_WORKERS, concurrency: 2, fetches: FETCHES, onProgress: (d) => (done = d) });
    expect(r.mode).toBe('workers');
    expect(produced).toBe(items.length);
    r.outputs.forEach((out, i) => expectSame(out, i));
    // at most ITEMS_PER_WORKER x concurrency items queued or in workers, plus `concurrency` requested ahead
    expect(maxAhead).toBeLessThanOrEqual(ITEMS_PER_WORKER * 2 + 2);
  });

  it("a source that throws fails the call with the source's error (read-ahead requests never go unhandled)", async () => {
    async function* broken(): AsyncGenerator<Record<string, Tensor>> {
      for (let i = 0; i < 5; i++) {
        await new Promise((r) => setTimeout(r, 2));
        yield items[i]!;
      }
      throw new Error('the source broke');
    }
    await expect(vad.runBatch(broken(), { ...ONLY_WORKERS, concurrency: 2, fetches: FETCHES })).rejects.toThrow('the source broke');
  });

  it('carries every dtype across the thread boundary (string, int64, float16, bool, float64) and never detaches shared buffers', async () => {
    // w is an initializer returned as an output: each worker must keep it intact from item to item
    const w = new Tensor('float32', new Float32Array([1.5, -2.25]), [2]);
    const bytes = modelBytes(
      graph({
        nodes: [
          node('Identity', ['s'], ['s_out']),
          node('Add', ['i', 'i'], ['i_out']),
          node('Identity', ['h'], ['h_out']),
          node('Not', ['b'], ['b_out']),
          node('Mul', ['d', 'd'], ['d_out']),
        ],
        inputs: [value('s', 'string', [2]), value('i', 'int64', [3]), value('h', 'float16', [2]), value('b', 'bool', [2]), value('d', 'float64', [2])],
        outputs: [value('s_out', 'string', [2]), value('i_out', 'int64', [3]), value('h_out', 'float16', [2]), value('b_out', 'bool', [2]), value('d_out', 'float64', [2]), value('w', 'float32', [2])],
        initializers: { w },
      }),
    );
    const session = InferenceSession.createSync(bytes, { logSeverity: 3 });
    const feeds = Array.from({ length: 4 }, (_, k) => ({
      s: new Tensor('string', [`a${k}`, `ü${k}`], [2]),
      // a view over part of a larger buffer: only its elements may cross
      i: new Tensor('int64', new BigInt64Array([0n, 2n ** 40n + BigInt(k), -3n, BigInt(k), 9n]).subarray(1, 4), [3]),
      h: new Tensor('float16', new Uint16Array([0x3c00 + k, 0xfc00]), [2]),
      b: new Tensor('bool', new Uint8Array([k % 2, 1]), [2]),
      d: new Tensor('float64', new Float64Array([Math.PI * k, 1e-300]), [2]),
    }));
    const r = await session.runBatch(feeds, { ...ONLY_WORKERS, concurrency: 2 });
    expect(r.mode).toBe('workers');
    feeds.forEach((f, k) => {
      const want = session.runSync(f);
      const got = r.outputs[k]!;
      expect(Object.keys(got)).toEqual(session.outputNames);
      expect(got['s_out']!.data).toEqual([`a${k}`, `ü${k}`]);
      for (const name of ['i_out', 'h_out', 'b_out', 'd_out', 'w']) {
        expect(got[name]!.type).toBe(want[name]!.type);
        expect(bitwiseEqual(got[name]!, want[name]!), `${name} of item ${k}`).toBe(true);
      }
    });
    expect(r.outputs[0]!['i_out']!.data).toEqual(new BigInt64Array([2n * (2n ** 40n), -6n, 0n]));
    // the caller's feeds are untouched (copied, never transferred)
    expect(feeds[1]!.i.data).toEqual(new BigInt64Array([2n ** 40n + 1n, -3n, 1n]));
    await session.release();
  });

  it("release() terminates the workers of a running call; its items fail with the reason", async () => {
    const session = InferenceSession.createSync(SILERO, { logSeverity: 3 });
    const many = Array.from({ length: 400 }, (_, i) => items[i % items.length]!);
    let releasing: Promise<void> | undefined;
    let threadsAfterRelease = -1;
    const r = await session.runBatch(many, {
      ...ONLY_WORKERS,
      concurrency: 2,
      onError: 'collect',
      fetches: FETCHES,
      onProgress: (d) => {
        if (d === 3 && !releasing) releasing = session.release().then(() => void (threadsAfterRelease = batchWorkerThreads()));
      },
    });
    await releasing;
    expect(threadsAfterRelease).toBe(0);
    const ok = r.outputs.filter((o) => o !== undefined).length;
    expect(ok).toBeGreaterThanOrEqual(3);
    expect(ok).toBeLessThan(many.length);
    expect(ok + r.errors.length).toBe(many.length);
    for (const { error } of r.errors) expect(error.message).toMatch(/the session was released/);
    expect(r.modeReason).toMatch(/workers were stopped: the session was released/);
  });

  it('falls back to the calling thread, saying why, when workers cannot load the model', async () => {
    // a runner that cannot be re-created at all
    const plain: BatchRunner = { inputMetadata: vad.inputMetadata, outputNames: vad.outputNames, runSync: (f, x) => vad.runSync(f, x) };
    const a = await runBatch(plain, items.slice(0, 3), { concurrency: 2, fetches: FETCHES });
    expect(a.mode).toBe('sequential');
    expect(a.modeReason).toMatch(/cannot be re-created in a worker thread/);
    a.outputs.forEach((out, i) => expectSame(out, i));

    // a runner that says why not (as a GPU session does)
    const gpuLike: BatchRunner = { ...plain, batchWorkerModel: () => "backend 'gpu': worker threads cannot share the GPU context" };
    const b = await runBatch(gpuLike, items.slice(0, 2), { concurrency: 2, fetches: FETCHES });
    expect(b.mode).toBe('sequential');
    expect(b.modeReason).toMatch(/workers cannot load this model: backend 'gpu'/);

    // workers that fail to start: the items run on the calling thread
    const broken: BatchRunner = { ...plain, batchWorkerModel: () => ({ bytes: new Uint8Array([1, 2, 3, 4]), options: {} }) };
    const c = await runBatch(broken, items.slice(0, 4), { ...ONLY_WORKERS, concurrency: 2, fetches: FETCHES });
    expect(c.mode).toBe('sequential');
    expect(c.workers).toBe(0);
    expect(c.modeReason).toMatch(/no batch worker could start.*could not start \(batch worker \d failed to start: .*\).*4 items ran on the calling thread/);
    c.outputs.forEach((out, i) => expectSame(out, i));
  });

  it('does not hand workers a model file or bytes that changed since the session was created', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-batch-'));
    try {
      const path = join(dir, 'vad.onnx');
      copyFileSync(SILERO, path);
      const fromFile = InferenceSession.createSync(path, { logSeverity: 3 });
      copyFileSync(join(OWW, 'hey_rhasspy_v0.1.onnx'), path);
      const r = await fromFile.runBatch(items.slice(0, 2), { concurrency: 2, fetches: FETCHES });
      expect(r.mode).toBe('sequential');
      expect(r.modeReason).toMatch(/model file '.*vad\.onnx' holds other bytes/);
      r.outputs.forEach((out, i) => expectSame(out, i));
      await fromFile.release();

      const bytes = new Uint8Array(readFileSync(SILERO));
      const fromBytes = InferenceSession.createSync(bytes, { logSeverity: 3 });
      const ok = await fromBytes.runBatch(items.slice(0, 2), { ...ONLY_WORKERS, concurrency: 2, fetches: FETCHES });
      expect(ok.mode).toBe('workers');
      ok.outputs.forEach((out, i) => expectSame(out, i));
      bytes.fill(0);
      const r2 = await fromBytes.runBatch(items.slice(0, 2), { concurrency: 2, fetches: FETCHES });
      expect(r2.mode).toBe('sequential');
      expect(r2.modeReason).toMatch(/model bytes given to create\(\) were modified/);
      await fromBytes.release();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a process that ran items on workers (kept in the pool, the default) exits normally without release()', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-batch-'));
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
          `const r = await s.runBatch([item(), item(), item()], { concurrency: 2, useCallingThread: false });`,
          `console.log(r.mode, r.workers, r.errors.length);`,
        ].join('\n'),
      );
      const run = spawnSync(process.execPath, ['--import', 'tsx', script], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
      expect(run.stderr).toBe('');
      expect(run.status).toBe(0);
      expect(run.stdout.trim()).toBe('workers 2 0');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
