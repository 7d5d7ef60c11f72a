import { afterAll, describe, expect, it } from 'vitest';
import { sgemm } from '../../src/kernels/cpu/gemm.js';
import { randomFloats } from '../util/tensors.js';
import { poolStats, poolSupported, readyWorkerCount, runChunked, shutdownPool, startPool, TASK_THROW_FOR_TEST } from '../../src/kernels/cpu/pool.js';

/** C = A B for square n x n random matrices on `threads` threads. */
function square(n: number, threads: number, seed = 1): Float32Array {
  const a = randomFloats(n * n, seed);
  const b = randomFloats(n * n, seed + 1);
  const c = new Float32Array(n * n);
  sgemm({ m: n, n, k: n, a, lda: n, b, ldb: n, c, ldc: n, threads });
  return c;
}

function sameBits(x: Float32Array, y: Float32Array): boolean {
  return Buffer.compare(Buffer.from(x.buffer, x.byteOffset, x.byteLength), Buffer.from(y.buffer, y.byteOffset, y.byteLength)) === 0;
}

describe('worker pool', () => {
  afterAll(async () => {
    await shutdownPool();
  });

  it('is supported under Node and starts workers on demand', async () => {
    expect(poolSupported()).toBe(true);
    await startPool(3);
    expect(readyWorkerCount(2)).toBe(2);
    expect(poolStats().ready).toBeGreaterThanOrEqual(2);
  });

  it('fails the call with the worker error and replaces the worker', async () => {
    await startPool(2);
    const before = poolStats();
    // the calling thread claims nothing, so the worker must take the chunk and throw
    expect(() => runChunked(TASK_THROW_FOR_TEST, [7], 1, 1, () => {}, { callerClaims: false })).toThrow('pool self-test failure 7');
    // the very next call works (on the ready threads; the replacement may still be starting)
    expect(sameBits(square(140, 2), square(140, 1))).toBe(true);
    await startPool(2);
    const tasks = poolStats().tasksRun;
    expect(sameBits(square(140, 2, 5), square(140, 1, 5))).toBe(true);
    expect(poolStats().tasksRun).toBeGreaterThan(tasks);
    expect(poolStats().workers).toBeGreaterThanOrEqual(before.workers);
  });

  it('replaces every worker that failed, and the pool keeps working', async () => {
    await startPool(3);
    expect(() => runChunked(TASK_THROW_FOR_TEST, [3], 6, 2, () => {}, { callerClaims: false })).toThrow('pool self-test failure 3');
    await startPool(3);
    const tasks = poolStats().tasksRun;
    expect(sameBits(square(200, 3, 4), square(200, 1, 4))).toBe(true);
    expect(poolStats().tasksRun).toBeGreaterThan(tasks);
  });

  it('runs every chunk on the caller without workers and rethrows its error after the others', () => {
    const seen: number[] = [];
    const call = () =>
      runChunked(TASK_THROW_FOR_TEST, [0], 3, 0, (chunk) => {
        seen.push(chunk);
        if (chunk === 1) throw new Error('local failure');
      });
    expect(call).toThrow('local failure');
    expect(seen).toEqual([0, 1, 2]);
    expect(Array.from(runChunked(TASK_THROW_FOR_TEST, [0], 2, 0, () => {}).owners)).toEqual([0, 0]);
  });

  it('grows the shared arena and workers pick up the new buffer', async () => {
    await startPool(2);
    const small = square(140, 2);
    expect(sameBits(small, square(140, 1))).toBe(true);
    const gen = poolStats().arenaGeneration;
    // 600 x 600 needs about 3 x 360,000 floats of arena, more than the first 1 MiB
    const big = square(600, 2, 3);
    expect(poolStats().arenaGeneration).toBeGreaterThan(gen);
    expect(sameBits(big, square(600, 1, 3))).toBe(true);
  });

  it('restarts after shutdownPool', async () => {
    await shutdownPool();
    expect(poolStats().workers).toBe(0);
    // first call after shutdown may run on one thread while workers start; results are identical anyway
    expect(sameBits(square(140, 2, 8), square(140, 1, 8))).toBe(true);
    await startPool(2);
    const tasks = poolStats().tasksRun;
    expect(sameBits(square(140, 2, 9), square(140, 1, 9))).toBe(true);
    expect(poolStats().tasksRun).toBeGreaterThan(tasks);
  });
});
