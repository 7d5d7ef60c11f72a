/**
 * Real-time mode: after a warm-up run, a steady loop of run + recycle on the bundled real models allocates no
 * typed-array buffer at all, counted three ways: the session's buffer arena makes no fresh buffer (kernel
 * outputs come through `allocate`), the kernels' scratch slots do not grow (src/kernels/cpu/scratch.ts), and
 * no typed array is constructed directly or by slice/map/filter anywhere (global constructors swapped for
 * counting ones). The arena never hands out a buffer that a live value still uses: results equal a fresh
 * session's bit for bit.
 *
 * Slice and Split return zero-copy views; the dispatcher (src/ops/dispatch.ts) passes contiguous views to CPU
 * kernels as they are (kernels read `.data`, an offset subarray), so those cost no copy either. `viewCopies`
 * counts copies of views made by Tensor.contiguous; it is zero for every model.
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BufferArena } from '../../src/graph/arena.js';
import { InferenceSession } from '../../src/graph/session.js';
import { startPool } from '../../src/kernels/cpu/pool.js';
import { scratchStats } from '../../src/kernels/cpu/scratch.js';
import { getDefaultThreads } from '../../src/ops/dispatch.js';
import { allocate } from '../../src/tensor/dtype.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { bitwiseEqual, countTypedArrays, OCR, OWW, signal, SILERO, sileroConstants } from './models.js';

describe('BufferArena', () => {
  it('reuses a reclaimed buffer for the next request of the same dtype and length, zero-filled', () => {
    const arena = new BufferArena();
    const a = arena.use(() => allocate('float32', 6));
    a.fill(7);
    const t = new Tensor('float32', a, [2, 3]);
    expect(arena.reclaim(t, [])).toBe(true);
    expect(t.disposed).toBe(true);
    const b = arena.use(() => allocate('float32', 6));
    expect(b).toBe(a);
    expect([...b]).toEqual([0, 0, 0, 0, 0, 0]);
    const c = arena.use(() => allocate('float32', 5));
    expect(c).not.toBe(a);
    expect(arena.stats).toMatchObject({ requests: 3, reused: 1, fresh: 2, recycled: 1 });
  });

  it('keeps a buffer that a live view still shares, and takes it back when the view goes', () => {
    const arena = new BufferArena();
    const base = new Tensor('float32', arena.use(() => allocate('float32', 4)), [4]);
    const view = base.reshape([2, 2]);
    expect(arena.reclaim(base, [view])).toBe(false);
    expect(arena.reclaim(view, [])).toBe(true);
  });

  it('never recycles buffers it did not make, nor one buffer twice', () => {
    const arena = new BufferArena();
    expect(arena.reclaim(new Tensor('float32', new Float32Array(3), [3]), [])).toBe(false);
    const t = new Tensor('int64', arena.use(() => allocate('int64', 2)), [2]);
    const v = t.reshape([1, 2]);
    arena.recycle([t, v]);
    expect(arena.stats.recycled).toBe(1);
    const again = arena.use(() => allocate('int64', 2));
    const other = arena.use(() => allocate('int64', 2));
    expect(other).not.toBe(again);
    expect([...again]).toEqual([0n, 0n]);
  });

  it('a disowned buffer (an output the caller keeps) is never handed out again', () => {
    const arena = new BufferArena();
    const out = new Tensor('float32', arena.use(() => allocate('float32', 2)), [2]);
    arena.disown([out]);
    const copy = out.reshape([2]);
    expect(arena.reclaim(copy, [])).toBe(false);
    expect(arena.use(() => allocate('float32', 2))).not.toBe(out.data);
  });
});

describe('steady-state session.run', () => {
  // all pool workers ready before the warm-up: a worker that becomes ready mid-test changes how large GEMMs
  // are split (a new chunk schedule, a bigger shared arena), which is warm-up, not steady state
  beforeAll(() => startPool(getDefaultThreads()), 60_000);
  const cases = [
    { name: 'hey_rhasspy', path: join(OWW, 'hey_rhasspy_v0.1.onnx'), feeds: () => ({ 'onnx::Flatten_0': signal([1, 16, 96], 3) }), viewCopies: 0 },
    { name: 'melspectrogram', path: join(OWW, 'melspectrogram.onnx'), feeds: () => ({ input: signal([1, 1760], 5, 3000) }), viewCopies: 0 },
    { name: 'openWakeWord embedding (NHWC CNN)', path: join(OWW, 'embedding_model.onnx'), feeds: () => ({ input_1: signal([1, 76, 32, 1], 6) }), viewCopies: 0 },
    {
      name: 'silero VAD (If subgraph, LSTM)',
      path: SILERO,
      feeds: () => ({ input: signal([1, 576], 7, 0.3), state: signal([2, 1, 128], 8, 0.1), ...sileroConstants() }),
      viewCopies: 0,
    },
    { name: 'PP-OCR cls (MobileNetV3)', path: join(OCR, 'ch_ppocr_mobile_v2.0_cls_infer.onnx'), feeds: () => ({ x: signal([1, 3, 48, 192], 9) }), viewCopies: 0 },
  ];
  /** Split counted sites into the dispatcher's copies of partial views and everything else. */
  const classify = (sites: Record<string, number>): { viewCopies: number; other: Record<string, number> } => {
    let viewCopies = 0;
    const other: Record<string, number> = {};
    for (const [site, n] of Object.entries(sites)) {
      if (/\.slice @ Tensor\.contiguous /.test(site)) viewCopies += n;
      else other[site] = n;
    }
    return { viewCopies, other };
  };
  for (const c of cases) {
    const what = c.viewCopies ? `only the dispatcher's ${c.viewCopies} view copies` : 'zero typed-array allocations';
    it(`${c.name}: ${what} per run after the first, same results as a fresh session`, () => {
      const session = InferenceSession.createSync(c.path, { logSeverity: 3 });
      const reference = InferenceSession.createSync(c.path, { logSeverity: 3 });
      const feeds = c.feeds();
      const expected = reference.runSync(feeds);
      session.recycle(session.runSync(feeds)); // warm-up: sizes the arena, the scratch slots and the plan caches
      const warm = { ...session.arenaStats };
      const scratchBefore = scratchStats.grown;
      for (let i = 0; i < 4; i++) {
        const { result, total, sites } = countTypedArrays(() => session.runSync(feeds));
        const { viewCopies, other } = classify(sites);
        expect(other, `${c.name} run ${i}: typed arrays made outside the arena and scratch`).toEqual({});
        expect(viewCopies, `${c.name} run ${i}: copies of partial views by the dispatcher`).toBe(c.viewCopies);
        expect(total).toBe(c.viewCopies);
        for (const [name, t] of Object.entries(result)) expect(bitwiseEqual(t, expected[name]!), `${c.name} run ${i} output ${name}`).toBe(true);
        session.recycle(result);
      }
      const s = session.arenaStats;
      expect(s.requests - warm.requests).toBeGreaterThan(0);
      expect(s.fresh - warm.fresh).toBe(0);
      expect(s.reused - warm.reused).toBe(s.requests - warm.requests);
      expect(scratchStats.grown - scratchBefore).toBe(0);
    });
  }

  it('the counter sees direct constructions and slice copies (it can fail)', () => {
    const kept = new Float32Array(4);
    const { total, counts } = countTypedArrays(() => {
      new Int32Array(3);
      kept.slice();
      return new Float64Array(kept.buffer, 0, 2); // a view: not an allocation
    });
    expect(counts).toEqual({ Int32Array: 1, 'Float32Array.slice': 1 });
    expect(total).toBe(2);
  });

  it('outputs kept by the caller stay valid across later runs (they are not recycled behind its back)', () => {
    const session = InferenceSession.createSync(join(OWW, 'hey_rhasspy_v0.1.onnx'), { logSeverity: 3 });
    const a = session.runSync({ 'onnx::Flatten_0': signal([1, 16, 96], 11) });
    const kept = Float32Array.from(a['39']!.data as Float32Array);
    for (let i = 0; i < 3; i++) session.recycle(session.runSync({ 'onnx::Flatten_0': signal([1, 16, 96], 20 + i) }));
    expect([...(a['39']!.data as Float32Array)]).toEqual([...kept]);
  });
});
