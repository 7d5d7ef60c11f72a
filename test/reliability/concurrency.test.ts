/**
 * Concurrency: many sessions at once, and concurrent `run` calls on one session, give bitwise the same results
 * as sequential runs; the worker pool survives a worker that throws (the failing call throws the worker's
 * error, the next session run works and gives the same bits).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { InferenceSession } from '../../src/graph/session.js';
import { runChunked, shutdownPool, startPool, TASK_THROW_FOR_TEST } from '../../src/kernels/cpu/pool.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { REAL_MODEL_FILES } from './hostile.js';

function image(seed: number): Tensor {
  const data = new Float32Array(3 * 48 * 96);
  for (let k = 0; k < data.length; k++) data[k] = Math.sin(k * 0.37 + seed * 1.3) * 0.5;
  return new Tensor('float32', data, [1, 3, 48, 96]);
}

function bits(t: Tensor): string {
  const d = t.data as Float32Array;
  return Buffer.from(d.buffer, d.byteOffset, d.byteLength).toString('hex');
}

async function classify(s: InferenceSession, seed: number): Promise<string> {
  const x = image(seed);
  const out = await s.run({ x });
  const name = s.outputNames[0]!;
  const b = bits(out[name]!);
  for (const t of Object.values(out)) t.dispose();
  x.dispose();
  return b;
}

describe('concurrency', () => {
  afterAll(async () => {
    await shutdownPool();
  });

  const seeds = [1, 2, 3, 4, 5, 6, 7, 8];
  let sequential: string[] = [];

  it('sequential reference', async () => {
    const s = await InferenceSession.create(REAL_MODEL_FILES['cls']!);
    sequential = [];
    for (const seed of seeds) sequential.push(await classify(s, seed));
    expect(new Set(sequential).size).toBe(seeds.length);
    await s.release();
  });

  it('concurrent run calls on one session give the same bits', async () => {
    const s = await InferenceSession.create(REAL_MODEL_FILES['cls']!);
    const results = await Promise.all(seeds.map((seed) => classify(s, seed)));
    expect(results).toEqual(sequential);
    await s.release();
  });

  it('many sessions created and run at once give the same bits', async () => {
    const sessions = await Promise.all(seeds.map(() => InferenceSession.create(REAL_MODEL_FILES['cls']!)));
    const results = await Promise.all(sessions.map((s, i) => classify(s, seeds[i]!)));
    expect(results).toEqual(sequential);
    // interleaved: every session runs every input, in a different order
    const grid = await Promise.all(sessions.map((s, i) => Promise.all(seeds.map((_, j) => classify(s, seeds[(i + j) % seeds.length]!)))));
    grid.forEach((row, i) => row.forEach((b, j) => expect(b).toBe(sequential[(i + j) % seeds.length])));
    await Promise.all(sessions.map((s) => s.release()));
  });

  it('multi-threaded sessions give the same bits as single-threaded ones', async () => {
    await startPool(2);
    const s = await InferenceSession.create(REAL_MODEL_FILES['cls']!, { threads: 2 });
    expect(await Promise.all(seeds.map((seed) => classify(s, seed)))).toEqual(sequential);
    await s.release();
  });

  it('the pool survives a worker that throws: the call fails with its error, the next runs work', async () => {
    await startPool(2);
    const s = await InferenceSession.create(REAL_MODEL_FILES['cls']!, { threads: 2 });
    expect(await classify(s, 1)).toBe(sequential[0]);
    // the calling thread claims nothing, so the worker takes the chunk and throws
    expect(() => runChunked(TASK_THROW_FOR_TEST, [42], 1, 1, () => {}, { callerClaims: false })).toThrow('pool self-test failure 42');
    expect(await classify(s, 2)).toBe(sequential[1]);
    await startPool(2); // the replacement worker comes up
    expect(await Promise.all(seeds.map((seed) => classify(s, seed)))).toEqual(sequential);
    await s.release();
  });
});
