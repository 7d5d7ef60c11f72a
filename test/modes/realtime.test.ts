/**
 * Real-time mode: a session's buffer arena serves the buffers its kernels request through `allocate` from the
 * previous runs, so after the first run a steady loop of run + recycle makes no fresh arena buffers; the arena
 * never hands out a buffer that a live value still uses (results equal a fresh session's); and the total number
 * of typed arrays a run allocates (arena or not) does not grow from run to run.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BufferArena } from '../../src/graph/arena.js';
import { InferenceSession } from '../../src/graph/session.js';
import { allocate } from '../../src/tensor/dtype.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { bitwiseEqual, countTypedArrays, OWW, signal, SILERO, sileroConstants } from './models.js';

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
  const cases = [
    { name: 'hey_rhasspy', path: join(OWW, 'hey_rhasspy_v0.1.onnx'), feeds: () => ({ 'onnx::Flatten_0': signal([1, 16, 96], 3) }) },
    { name: 'melspectrogram', path: join(OWW, 'melspectrogram.onnx'), feeds: () => ({ input: signal([1, 1760], 5, 3000) }) },
    {
      name: 'silero VAD (If subgraph, LSTM)',
      path: SILERO,
      feeds: () => ({ input: signal([1, 576], 7, 0.3), state: signal([2, 1, 128], 8, 0.1), ...sileroConstants() }),
    },
  ];
  for (const c of cases) {
    it(`${c.name}: no fresh arena buffers after the first run, same results as a fresh session`, () => {
      const session = InferenceSession.createSync(c.path, { logSeverity: 3 });
      const reference = InferenceSession.createSync(c.path, { logSeverity: 3 });
      const feeds = c.feeds();
      const expected = reference.runSync(feeds);
      session.recycle(session.runSync(feeds)); // warm-up: sizes the arena
      const warm = { ...session.arenaStats };
      const totals: number[] = [];
      for (let i = 0; i < 5; i++) {
        const { result, total } = countTypedArrays(() => session.runSync(feeds));
        totals.push(total);
        for (const [name, t] of Object.entries(result)) expect(bitwiseEqual(t, expected[name]!), `${c.name} run ${i} output ${name}`).toBe(true);
        session.recycle(result);
      }
      const s = session.arenaStats;
      expect(s.requests - warm.requests).toBeGreaterThan(0);
      expect(s.fresh - warm.fresh).toBe(0);
      expect(s.reused - warm.reused).toBe(s.requests - warm.requests);
      // allocations outside the arena (kernels that allocate directly) stay constant per run: nothing accumulates
      expect(new Set(totals).size).toBe(1);
    });
  }

  it('outputs kept by the caller stay valid across later runs (they are not recycled behind its back)', () => {
    const session = InferenceSession.createSync(join(OWW, 'hey_rhasspy_v0.1.onnx'), { logSeverity: 3 });
    const a = session.runSync({ 'onnx::Flatten_0': signal([1, 16, 96], 11) });
    const kept = Float32Array.from(a['39']!.data as Float32Array);
    for (let i = 0; i < 3; i++) session.recycle(session.runSync({ 'onnx::Flatten_0': signal([1, 16, 96], 20 + i) }));
    expect([...(a['39']!.data as Float32Array)]).toEqual([...kept]);
  });
});
