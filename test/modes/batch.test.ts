/**
 * Batch mode: results come back in input order whether items are stacked along the model's symbolic batch dim
 * (openWakeWord's embedding model, [batch, 76, 32, 1]) or run one by one (hey_rhasspy, static [1, 16, 96]);
 * a failing item is reported with its index while the others keep their results, under both onError modes;
 * async sources work; bad options are refused.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BatchItemError, hasBatchDim, runBatch, type BatchRunner, type Feeds } from '../../src/graph/batch.js';
import { InferenceSession } from '../../src/graph/session.js';
import { Tensor, Tensor as TensorCtor } from '../../src/tensor/tensor.js';
import { bitwiseEqual, OWW, signal } from './models.js';

const embedding = InferenceSession.createSync(join(OWW, 'embedding_model.onnx'), { logSeverity: 3 });
const wake = InferenceSession.createSync(join(OWW, 'hey_rhasspy_v0.1.onnx'), { logSeverity: 3 });
const windows = Array.from({ length: 7 }, (_, i) => ({ input_1: signal([1, 76, 32, 1], 100 + i) }));
const single = windows.map((f) => embedding.runSync(f)['conv2d_19']!);

/**
 * A stand-in model y = 2x over x [n, 2] that fails on a negative value; `dropBatch` makes it sum over rows
 * (output [1] for any n), a model whose outputs do not keep the batch dim.
 */
function fakeRunner(dropBatch = false): BatchRunner & { calls: Tensor[] } {
  const calls: Tensor[] = [];
  return {
    calls,
    inputMetadata: [{ name: 'x', isTensor: true, type: 'float32', shape: ['n', 2] }],
    outputNames: ['y'],
    runSync(feeds: Feeds) {
      const x = feeds['x']!;
      calls.push(x);
      const v = x.data as Float32Array;
      if (v.some((e) => e < 0)) throw new Error('negative value in x');
      if (dropBatch) return { y: new Tensor('float32', new Float32Array([v.reduce((a, b) => a + b, 0)]), [1]) };
      return { y: new Tensor('float32', v.map((e) => 2 * e), x.dims) };
    },
  };
}

function embeddingOf(out: Record<string, Tensor> | undefined): Tensor {
  expect(out).toBeDefined();
  return out!['conv2d_19']!;
}

describe('runBatch', () => {
  it('detects which models have a batch dim', () => {
    expect(hasBatchDim(embedding.inputMetadata)).toBe(true);
    expect(hasBatchDim(wake.inputMetadata)).toBe(false);
  });

  it('stacks items along the symbolic batch dim and returns them in input order', async () => {
    const r = await embedding.runBatch(windows, { batchSize: 3 });
    expect(r.stacked).toBe(true);
    expect(r.mode).toBe('stacked');
    expect(r.workers).toBe(0);
    expect(r.modeReason).toBe('stacked along the symbolic batch dim in groups of up to 3 items');
    expect(r.runs).toBe(3); // 3 + 3 + 1
    expect(r.items).toBe(7);
    expect(r.errors).toEqual([]);
    expect(r.itemsPerSecond).toBeGreaterThan(0);
    r.outputs.forEach((out, i) => {
      const got = embeddingOf(out);
      expect(got.dims).toEqual([1, 1, 1, 96]);
      const want = single[i]!.numbers();
      const have = got.numbers();
      for (let k = 0; k < 96; k++) expect(Math.abs(have[k]! - want[k]!)).toBeLessThanOrEqual(1e-5 + 1e-5 * Math.abs(want[k]!));
    });
    // items differ, so a shuffled order would be caught
    expect(bitwiseEqual(embeddingOf(r.outputs[0]), embeddingOf(r.outputs[1]))).toBe(false);
  });

  it('runs items one by one when the model has no batch dim, in order', async () => {
    const inputs = Array.from({ length: 5 }, (_, i) => ({ 'onnx::Flatten_0': signal([1, 16, 96], 200 + i) }));
    const r = await wake.runBatch(inputs, { batchSize: 4 });
    expect(r.stacked).toBe(false);
    expect(r.runs).toBe(5);
    // these items (under 1 ms each) are too little work to start worker threads for
    // (test/modes/batch-workers.test.ts covers the worker path)
    expect(r.mode).toBe('sequential');
    expect(r.modeReason).toMatch(/^the model has no symbolic batch dim; the items came to about .* s of work, under the 8 s/);
    const seq = await wake.runBatch(inputs, { concurrency: 1 });
    expect(seq.mode).toBe('sequential');
    expect(seq.modeReason).toBe('the model has no symbolic batch dim; concurrency 1, so items ran one at a time on the calling thread');
    inputs.forEach((f, i) => expect(bitwiseEqual(seq.outputs[i]!['39']!, wake.runSync(f)['39']!)).toBe(true));
    inputs.forEach((f, i) => expect(bitwiseEqual(r.outputs[i]!['39']!, wake.runSync(f)['39']!)).toBe(true));
  });

  it("onError 'collect': the bad item fails with its index, every other item keeps its result", async () => {
    const items = [...windows.slice(0, 4), { input_1: signal([1, 75, 32, 1], 1) }, ...windows.slice(4)];
    const r = await embedding.runBatch(items, { batchSize: 4, onError: 'collect' });
    expect(r.errors.map((e) => e.index)).toEqual([4]);
    expect(r.errors[0]!.error.message).toMatch(/input_1.*75|dim 1 must be 76/);
    expect(r.outputs[4]).toBeUndefined();
    expect(r.outputs).toHaveLength(8);
    [0, 1, 2, 3, 5, 6, 7].forEach((i) => expect(embeddingOf(r.outputs[i]).dims).toEqual([1, 1, 1, 96]));
  });

  it('a failure inside a stacked group costs only the failing item (re-run one by one)', async () => {
    const runner = fakeRunner();
    const items = [1, 2, -1, 4, 5].map((v) => ({ x: new TensorCtor('float32', new Float32Array([v, v]), [1, 2]) }));
    const r = await runBatch(runner, items, { batchSize: 8, onError: 'collect' });
    expect(r.errors.map((e) => e.index)).toEqual([2]);
    expect(r.errors[0]!.error.message).toMatch(/negative value/);
    expect(r.outputs.map((o) => (o ? [...(o['y']!.data as Float32Array)] : undefined))).toEqual([[2, 2], [4, 4], undefined, [8, 8], [10, 10]]);
    expect(runner.calls.map((c) => c.dims[0])).toEqual([5, 1, 1, 1, 1, 1]); // one stacked try, then item by item
  });

  it('falls back to one by one when the outputs do not keep the batch dim', async () => {
    const runner = fakeRunner(true);
    const items = [1, 2, 3].map((v) => ({ x: new TensorCtor('float32', new Float32Array([v, v]), [1, 2]) }));
    const r = await runBatch(runner, items, { batchSize: 8 });
    expect(r.stacked).toBe(false);
    expect(r.mode).toBe('sequential');
    expect(r.modeReason).toMatch(/outputs do not keep the batch dim/);
    expect(r.outputs.map((o) => o!['y']!.dims)).toEqual([[1], [1], [1]]);
    expect(runner.calls.map((c) => c.dims[0])).toEqual([3, 1, 1, 1]);
  });

  it("onError 'throw' (default): throws a BatchItemError naming the index, with the earlier results", async () => {
    const items = [windows[0]!, windows[1]!, { input_1: signal([1, 76, 31, 1], 1) }, windows[2]!];
    const err = await embedding.runBatch(items, { batchSize: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BatchItemError);
    const e = err as BatchItemError;
    expect(e.index).toBe(2);
    expect(e.message).toMatch(/^batch item 2 failed: /);
    expect(e.partial.outputs.slice(0, 2).every((o) => o !== undefined)).toBe(true);
  });

  it('reads async sources (with read-ahead) and keeps their order', async () => {
    let produced = 0;
    async function* source(): AsyncGenerator<Record<string, Tensor>> {
      for (const w of windows.slice(0, 5)) {
        await new Promise((r) => setTimeout(r, 1));
        produced++;
        yield w;
      }
    }
    const r = await embedding.runBatch(source(), { batchSize: 2, concurrency: 2 });
    expect(produced).toBe(5);
    r.outputs.forEach((o, i) => expect(embeddingOf(o).numbers()[0]).toBeCloseTo(single[i]!.numbers()[0]!, 4));
  });

  it('refuses bad options with the value it got', async () => {
    await expect(embedding.runBatch(windows, { batchSize: 0 })).rejects.toThrow(/batchSize must be a positive integer, got 0/);
    await expect(embedding.runBatch(windows, { concurrency: 1.5 })).rejects.toThrow(/concurrency must be a positive integer, got 1.5/);
    await expect(wake.runBatch([], { concurrency: 0 })).rejects.toThrow(/concurrency must be a positive integer, got 0/);
    await expect(wake.runBatch([], { minSecondsForWorkers: -1 })).rejects.toThrow(/minSecondsForWorkers must be a non-negative finite number, got -1/);
    await expect(wake.runBatch(42 as unknown as Feeds[])).rejects.toThrow(/inputs must be an array or an \(async\) iterable of feeds/);
    await expect(embedding.runBatch(windows, { onError: 'skip' as 'throw' })).rejects.toThrow(/onError must be 'throw' or 'collect'/);
  });
});
