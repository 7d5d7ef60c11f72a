/**
 * Determinism on the CPU: results are bitwise identical across repeated runs, across thread counts (session
 * option threads 1 vs 2, with the worker pool started so the second thread really takes GEMM chunks) and
 * across batch splits (an item alone vs stacked with others in groups of 2, 3 or 4). What is and is not
 * guaranteed is written in docs/determinism.md.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { poolStats, poolSupported, shutdownPool, startPool } from '../../src/kernels/cpu/pool.js';
import { InferenceSession } from '../../src/graph/session.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { bitwiseEqual, OCR, OWW, signal, SILERO, sileroConstants } from './models.js';

beforeAll(async () => {
  if (poolSupported()) await startPool(2);
});
afterAll(async () => {
  await shutdownPool();
});

const models = [
  { name: 'openWakeWord embedding (Conv)', path: join(OWW, 'embedding_model.onnx'), input: 'input_1', item: [76, 32, 1], output: 'conv2d_19', pooled: true },
  { name: 'PP-OCR direction classifier (Conv, BN, Gemm)', path: join(OCR, 'ch_ppocr_mobile_v2.0_cls_infer.onnx'), input: 'x', item: [3, 48, 192], output: 'softmax_0.tmp_0', pooled: false },
];

function outputsOf(session: InferenceSession, items: Record<string, Tensor>[], output: string): Tensor[] {
  return items.map((f) => session.runSync(f)[output]!);
}

describe.each(models)('$name', ({ path, input, item, output, pooled }) => {
  const one = InferenceSession.createSync(path, { logSeverity: 3, threads: 1 });
  const two = InferenceSession.createSync(path, { logSeverity: 3, threads: 2 });
  const items = Array.from({ length: 4 }, (_, i) => ({ [input]: signal([1, ...item], 300 + i) }));

  it('gives the same bits on every run', () => {
    const first = outputsOf(one, items, output);
    const again = outputsOf(one, items, output);
    first.forEach((t, i) => expect(bitwiseEqual(t, again[i]!), `item ${i}`).toBe(true));
  });

  it('gives the same bits with 1 and 2 threads', () => {
    const tasksBefore = poolStats().tasksRun;
    const a = outputsOf(one, items, output);
    const b = outputsOf(two, items, output);
    a.forEach((t, i) => expect(bitwiseEqual(t, b[i]!), `item ${i}`).toBe(true));
    // the embedding model's GEMMs are large enough for the pool to take chunks (the classifier's are not)
    if (pooled && poolSupported()) expect(poolStats().tasksRun).toBeGreaterThan(tasksBefore);
  });

  it('gives the same bits whether an item runs alone or stacked in a batch of 2, 3 or 4', async () => {
    const alone = outputsOf(one, items, output);
    for (const batchSize of [2, 3, 4]) {
      const r = await two.runBatch(items, { batchSize });
      expect(r.stacked).toBe(true);
      r.outputs.forEach((o, i) => expect(bitwiseEqual(o![output]!, alone[i]!), `batch ${batchSize} item ${i}`).toBe(true));
    }
  });
});

describe('Silero VAD (LSTM, If)', () => {
  it('gives the same bits with 1 and 2 threads over a stream of 10 chunks', async () => {
    const chunks = Array.from({ length: 10 }, (_, i) => ({ input: signal([1, 576], 60 + i, 0.4) }));
    const run = async (threads: number): Promise<Tensor[]> => {
      const s = InferenceSession.createSync(SILERO, { logSeverity: 3, threads });
      const out: Tensor[] = [];
      for await (const o of s.stream(chunks, { state: { stateN: 'state' }, constants: sileroConstants() })) out.push(o['output']!);
      return out;
    };
    const [a, b] = [await run(1), await run(2)];
    a.forEach((t, i) => expect(bitwiseEqual(t, b[i]!), `chunk ${i}`).toBe(true));
  });
});
