/**
 * Leaks: repeated runs of a real model keep Tensor.liveCount exactly flat and RSS flat within a margin; a
 * released session frees its initializers; shutdownPool ends the worker threads. Reduced counts here; the full
 * 10,000-run soak is `tsx scripts/soak.ts`.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { poolStats, shutdownPool, startPool } from '../../src/kernels/cpu/pool.js';
import { InferenceSession } from '../../src/graph/session.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { REAL_MODEL_FILES } from './hostile.js';
import { forceGc, soakClassifier } from './soak-run.js';

/** RSS may move this much over the reduced soak (allocator and JIT noise); a per-run leak of one output (8 bytes) would not show, the live count catches that. */
const RSS_MARGIN_MIB = 32;

describe('soak (reduced)', () => {
  afterAll(async () => {
    await shutdownPool();
  });

  it('250 runs of the PP-OCR classifier: live tensors exactly flat, RSS within 32 MiB', async () => {
    const r = await soakClassifier(250, { warmup: 10, sampleEvery: 25 });
    expect(r.maxLiveDelta).toBe(0);
    expect(r.endLiveDelta).toBe(0);
    expect(r.rssMaxMiB - r.rssStartMiB).toBeLessThan(RSS_MARGIN_MIB);
  });

  it('failed runs leak nothing either', async () => {
    const s = await InferenceSession.create(REAL_MODEL_FILES['cls']!);
    const base = Tensor.liveCount;
    for (let i = 0; i < 20; i++) {
      // a height the classifier cannot pool down to a valid shape fails inside the graph, after some nodes ran
      const x = new Tensor('float32', new Float32Array(3 * 4 * 8), [1, 3, 4, 8]);
      await expect(s.run({ x })).rejects.toThrow();
      x.dispose();
    }
    expect(Tensor.liveCount).toBe(base);
    await s.release();
  });

  it('a released session frees its buffers and refuses to run (rewrites disabled: the live count returns exactly)', async () => {
    forceGc();
    const before = Tensor.liveCount;
    const s = await InferenceSession.create(REAL_MODEL_FILES['cls']!, { graphOptimizationLevel: 'disabled' });
    expect(Tensor.liveCount - before).toBeGreaterThan(100);
    await s.release();
    expect(Tensor.liveCount).toBe(before);
    await expect(s.run({})).rejects.toThrow(/the session was released/);
    await s.release(); // idempotent
  });

  it('with the default rewrites (every level), the live count also returns exactly after release', async () => {
    for (const level of ['basic', 'all'] as const) {
      forceGc();
      const before = Tensor.liveCount;
      const s = await InferenceSession.create(REAL_MODEL_FILES['cls']!, { graphOptimizationLevel: level });
      await s.release();
      expect(Tensor.liveCount, `level ${level}`).toBe(before);
    }
  });

  it('with the default rewrites, release disposes every tensor the optimized graph holds', async () => {
    const s = await InferenceSession.create(REAL_MODEL_FILES['cls']!);
    const held = [...s.model.graph.initializers.values()];
    for (const n of s.model.graph.nodes) for (const v of Object.values(n.attrs)) if (v instanceof Tensor) held.push(v);
    expect(held.length).toBeGreaterThan(50);
    await s.release();
    expect(held.filter((t) => !t.disposed)).toEqual([]);
  });

  it('shutdownPool ends the worker threads a multi-threaded session used, and a later session starts them again', async () => {
    await startPool(2);
    const s = await InferenceSession.create(REAL_MODEL_FILES['cls']!, { threads: 2 });
    const x = new Tensor('float32', new Float32Array(3 * 48 * 192).fill(0.25), [1, 3, 48, 192]);
    const first = (await s.run({ x }))[s.outputNames[0]!]!;
    expect(poolStats().workers).toBeGreaterThanOrEqual(1);
    await s.release();
    await shutdownPool();
    expect(poolStats().workers).toBe(0);
    await startPool(2);
    const again = await InferenceSession.create(REAL_MODEL_FILES['cls']!, { threads: 2 });
    const second = (await again.run({ x }))[again.outputNames[0]!]!;
    expect(Array.from(second.data as Float32Array)).toEqual(Array.from(first.data as Float32Array));
    await again.release();
  });
});
