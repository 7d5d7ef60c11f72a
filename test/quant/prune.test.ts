/**
 * Prune passes and sparse execution:
 * - unstructured magnitude pruning hits the exact target count, global vs per-layer thresholds differ as
 *   defined, the smallest |w| go first;
 * - 2:4 pruning leaves exactly two nonzeros per group of four along each output's reduction axis (property
 *   test against a plain check), on Conv and MatMul layouts;
 * - structured channel pruning shrinks Conv / depthwise / consumer / per-channel constants consistently, keeps
 *   the output shape, merges spaces across residual Adds, refuses spaces reaching a Reshape, and its model
 *   equals the original with those channels' filters zeroed when the removed channels are dead;
 * - SparseConv (CSR) matches Conv on random shapes and sparsities, and sparsifyWeights picks only layers at or
 *   above the threshold; the crossover measurement reports ordered points.
 */
import fc from 'fast-check';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { InferenceSession } from '../../src/graph/index.js';
import { conv } from '../../src/ops/conv.js';
import { sparseConv } from '../../src/ops/quant-fused.js';
import { loadForCompression, saveModel, type CompressModel } from '../../src/quant/model.js';
import { pruneChannels } from '../../src/quant/prune-channels.js';
import { applyNM, pruneMagnitude, pruneNM, prunableWeights } from '../../src/quant/prune.js';
import { measureSparseCrossover, sparsifyWeights, toCsr } from '../../src/quant/sparse.js';
import { OpValidationError } from '../../src/tensor/errors.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { float, graph, modelBytes, node, value } from '../graph/build.js';
import { expectClose, randomTensor } from '../util/tensors.js';
import { smallModel } from './small-model.js';

const zeros = (t: Tensor): number => Array.from(t.numbers()).filter((v) => v === 0).length;
const init = (m: CompressModel, name: string): Tensor => {
  const n = m.graph.nodes.find((x) => x.name === name)!;
  return m.graph.initializers.get(n.inputs[1]!)!;
};

/** x -> Conv A (8) -> Relu -> depthwise Conv (8) -> Add(skip from A's Relu) -> Mul(per-channel) -> Conv C (4) -> y */
function blockModel(withReshape = false): Uint8Array {
  const nodes = [
    node('Conv', ['x', 'WA', 'BA'], ['a'], {}, 'convA'),
    node('Relu', ['a'], ['ra'], {}, 'reluA'),
    node('Conv', ['ra', 'WD', 'BD'], ['d'], { group: 8, pads: [1, 1, 1, 1] }, 'dw'),
    node('Add', ['d', 'ra'], ['s'], {}, 'add'),
    node('Mul', ['s', 'scale'], ['m'], {}, 'mul'),
    node('Clip', ['m'], ['c'], { min: float(0), max: float(6) }, 'clip'),
    node('Conv', ['c', 'WC'], ['y'], {}, 'convC'),
  ];
  if (withReshape) nodes.push(node('Reshape', ['c', 'shape'], ['flat'], {}, 'reshape'));
  const g = graph({
    nodes,
    inputs: [value('x', 'float32', [1, 3, 5, 5])],
    outputs: [value('y', 'float32', [1, 4, 5, 5]), ...(withReshape ? [value('flat', 'float32')] : [])],
    initializers: {
      WA: randomTensor('float32', [8, 3, 1, 1], 1, 1),
      BA: randomTensor('float32', [8], 2, 0.5),
      WD: randomTensor('float32', [8, 1, 3, 3], 3, 1),
      BD: randomTensor('float32', [8], 4, 0.5),
      scale: randomTensor('float32', [1, 8, 1, 1], 5, 1),
      WC: randomTensor('float32', [4, 8, 1, 1], 6, 1),
      shape: new Tensor('int64', BigInt64Array.from([1n, -1n]), [2]),
    },
  });
  return modelBytes(g, 9);
}

describe('pruneMagnitude', () => {
  it('zeros exactly round(sparsity * count) weights, smallest |w| first, globally or per layer', () => {
    const base = loadForCompression(smallModel());
    const weights = prunableWeights(base);
    expect(weights.map((w) => w.name).sort()).toEqual(['M', 'W']);
    const total = weights.reduce((p, w) => p + w.tensor.size, 0);
    for (const scope of ['global', 'layer'] as const) {
      const r = pruneMagnitude(base, { sparsity: 0.5, scope });
      expect(r.elements).toBe(total);
      expect(r.zeros).toBe(scope === 'layer' ? weights.reduce((p, w) => p + Math.round(0.5 * w.tensor.size), 0) : Math.round(0.5 * total));
      if (scope === 'layer') for (const w of weights) expect(zeros(r.model.graph.initializers.get(w.name)!)).toBe(Math.round(0.5 * w.tensor.size));
      // every kept weight is at least as large as every dropped one (within a tensor for 'layer', overall for 'global')
      const pairs = weights.map((w) => ({ before: Array.from(w.tensor.numbers()), after: Array.from(r.model.graph.initializers.get(w.name)!.numbers()) }));
      const groups = scope === 'layer' ? pairs.map((p) => [p]) : [pairs];
      for (const g of groups) {
        const dropped = g.flatMap((p) => p.before.filter((_, i) => p.after[i] === 0 && p.before[i] !== 0).map(Math.abs));
        const kept = g.flatMap((p) => p.after.filter((v) => v !== 0).map(Math.abs));
        expect(Math.max(...dropped)).toBeLessThanOrEqual(Math.min(...kept));
      }
    }
    // global and per-layer differ: the two weights have different scales (0.5 vs 0.2)
    const g = pruneMagnitude(base, { sparsity: 0.5, scope: 'global' });
    expect(zeros(g.model.graph.initializers.get('W')!)).not.toBe(Math.round(0.5 * 216));
    expect(() => pruneMagnitude(base, { sparsity: 1 })).toThrow(/sparsity must be in \[0, 1\)/);
  });
});

describe('pruneMagnitude with calibration', () => {
  it('ranks by |w| * rms(x_c) and moves the removed contribution of the channel means into the bias', () => {
    // one 1x1 Conv, 2 input channels: channel 0 is constant 10, channel 1 is constant 0.1
    const g = graph({
      nodes: [node('Conv', ['x', 'W', 'B'], ['y'], {}, 'conv')],
      inputs: [value('x', 'float32', [1, 2, 2, 2])],
      outputs: [value('y', 'float32', [1, 2, 2, 2])],
      initializers: { W: new Tensor('float32', Float32Array.from([0.5, 2, -0.3, 4]), [2, 2, 1, 1]), B: new Tensor('float32', Float32Array.from([1, -1]), [2]) },
    });
    const base = loadForCompression(modelBytes(g, 13));
    const x = new Tensor('float32', Float32Array.from([10, 10, 10, 10, 0.1, 0.1, 0.1, 0.1]), [1, 2, 2, 2]);
    const r = pruneMagnitude(base, { sparsity: 0.5, scope: 'global', minElements: 1, calibration: [new Map([['x', x]])] });
    // scores: 0.5*10 = 5, 2*0.1 = 0.2, 0.3*10 = 3, 4*0.1 = 0.4: the two weights on channel 1 go (plain magnitude would drop 0.5 and -0.3)
    const conv = r.model.graph.nodes[0]!;
    expect(Array.from(r.model.graph.initializers.get(conv.inputs[1]!)!.numbers())).toEqual([0.5, 0, Math.fround(-0.3), 0]);
    // bias += removed weight * channel mean: 1 + 2 * 0.1, -1 + 4 * 0.1
    const b = r.model.graph.initializers.get(conv.inputs[2]!)!.numbers();
    expect(b[0]).toBeCloseTo(1.2, 6);
    expect(b[1]).toBeCloseTo(-0.6, 6);
    // without calibration the smallest |w| go instead
    const plain = pruneMagnitude(base, { sparsity: 0.5, scope: 'global', minElements: 1 });
    expect(Array.from(plain.model.graph.initializers.get('W')!.numbers())).toEqual([0, 2, 0, 4]);
  });
});

describe('pruneNM', () => {
  it('keeps the 2 largest of every 4 along the reduction axis (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 4 }), fc.boolean(), fc.integer({ min: 1, max: 999 }), (outputs, groups, rowMajor, seed) => {
        const reduction = groups * 4;
        const v = randomTensor('float32', [outputs * reduction], seed, 1).numbers() as Float32Array;
        const before = Float32Array.from(v);
        applyNM(v, { outputs, reduction, rowMajor }, 2, 4);
        const at = (o: number, r: number): number => (rowMajor ? o * reduction + r : r * outputs + o);
        for (let o = 0; o < outputs; o++) {
          for (let g = 0; g < reduction; g += 4) {
            const idx = [0, 1, 2, 3].map((j) => at(o, g + j));
            const kept = idx.filter((i) => v[i] !== 0);
            expect(kept.length).toBe(2);
            const keptMin = Math.min(...kept.map((i) => Math.abs(before[i]!)));
            for (const i of idx) if (v[i] === 0) expect(Math.abs(before[i]!)).toBeLessThanOrEqual(keptMin);
            for (const i of kept) expect(v[i]).toBe(before[i]);
          }
        }
      }),
      { numRuns: 50 },
    );
  });

  it('prunes Conv (reduction 27 is skipped) and MatMul (K = 288) weights of a model', () => {
    const r = pruneNM(loadForCompression(smallModel()));
    expect(r.tensors).toBe(1); // W has C*kh*kw = 27 inputs per output: not a multiple of 4, left dense
    expect(zeros(r.model.graph.initializers.get('M')!)).toBe(288 * 4 / 2);
    expect(zeros(r.model.graph.initializers.get('W')!)).toBe(0);
  });
});

describe('pruneChannels', () => {
  it('removes channels through depthwise, residual Add, per-channel Mul and the consumer, keeping outputs of kept channels', async () => {
    const bytes = blockModel();
    const base = loadForCompression(bytes);
    const r = pruneChannels(base, { ratio: 0.5 });
    expect(r.prunedSpaces).toBe(1);
    expect(r.removedChannels).toBe(4);
    const m = r.model;
    expect(init(m, 'convA').dims).toEqual([4, 3, 1, 1]);
    expect(init(m, 'dw').dims).toEqual([4, 1, 3, 3]);
    expect(m.graph.nodes.find((n) => n.name === 'dw')!.attrs['group']).toBe(4);
    expect(init(m, 'convC').dims).toEqual([4, 4, 1, 1]);
    const mul = m.graph.nodes.find((n) => n.name === 'mul')!;
    expect(m.graph.initializers.get(mul.inputs[1]!)!.dims).toEqual([1, 4, 1, 1]);
    // equivalence: the pruned model equals the original whose removed channels are cut at convC's input
    const wc = base.graph.initializers.get('WC')!.numbers();
    const kept = init(m, 'convC').numbers();
    const keptChannels: number[] = [];
    for (let c = 0; c < 8; c++) if (kept.includes(wc[c]!)) keptChannels.push(c);
    expect(keptChannels.length).toBe(4);
    const masked = Float32Array.from(wc);
    for (let o = 0; o < 4; o++) for (let c = 0; c < 8; c++) if (!keptChannels.includes(c)) masked[o * 8 + c] = 0;
    const ed = new Map(base.graph.initializers);
    ed.set('WC', new Tensor('float32', masked, [4, 8, 1, 1]));
    const maskedModel: CompressModel = { ...base, graph: { ...base.graph, initializers: ed } as CompressModel['graph'] };
    const x = randomTensor('float32', [1, 3, 5, 5], 9, 1);
    const a = (await (await InferenceSession.create(saveModel(m))).run({ x }))['y']!;
    const b = (await (await InferenceSession.create(saveModel(maskedModel))).run({ x }))['y']!;
    expectClose(a, b, { rtol: 1e-5, atol: 1e-5 });
    // onnxruntime runs the smaller graph too
    const s = await ort.InferenceSession.create(saveModel(m));
    const o = await s.run({ x: new ort.Tensor('float32', Float32Array.from(x.data as Float32Array), [1, 3, 5, 5]) });
    expectClose(new Tensor('float32', Float32Array.from(o['y']!.data as Float32Array), [1, 4, 5, 5]), a, { rtol: 1e-4, atol: 1e-5 });
  });

  it('leaves a space alone when a Reshape reads it', () => {
    const r = pruneChannels(loadForCompression(blockModel(true)), { ratio: 0.5 });
    expect(r.prunedSpaces).toBe(0);
    expect(init(r.model, 'convA').dims).toEqual([8, 3, 1, 1]);
    expect(() => pruneChannels(loadForCompression(blockModel()), { ratio: 1 })).toThrow(/ratio must be in \[0, 1\)/);
  });
});

describe('SparseConv', () => {
  it('matches dense Conv for random shapes, sparsities, strides, pads, dilations and bias', () => {
    fc.assert(
      fc.property(
        fc.record({ m: fc.integer({ min: 1, max: 5 }), c: fc.integer({ min: 1, max: 4 }), h: fc.integer({ min: 1, max: 6 }), w: fc.integer({ min: 1, max: 6 }), k: fc.integer({ min: 1, max: 3 }), stride: fc.integer({ min: 1, max: 2 }), pad: fc.integer({ min: 0, max: 2 }), dil: fc.integer({ min: 1, max: 2 }), sparsity: fc.double({ min: 0, max: 1 }), bias: fc.boolean(), seed: fc.integer({ min: 1, max: 999 }) }),
        (p) => {
          if ((p.k - 1) * p.dil + 1 > Math.min(p.h, p.w) + 2 * p.pad) return;
          const x = randomTensor('float32', [2, p.c, p.h, p.w], p.seed, 1);
          const wv = randomTensor('float32', [p.m, p.c, p.k, p.k], p.seed + 1, 1).numbers() as Float32Array;
          const mask = randomTensor('float32', [wv.length], p.seed + 2, 1).numbers();
          for (let i = 0; i < wv.length; i++) if ((mask[i]! + 1) / 2 < p.sparsity) wv[i] = 0;
          const w = new Tensor('float32', wv, [p.m, p.c, p.k, p.k]);
          const b = p.bias ? randomTensor('float32', [p.m], p.seed + 3, 1) : undefined;
          const csr = toCsr(w);
          const opts = { strides: [p.stride, p.stride], pads: [p.pad, p.pad, p.pad, p.pad], dilations: [p.dil, p.dil] };
          const got = sparseConv(x, new Tensor('float32', csr.values, [csr.values.length]), new Tensor('int32', csr.columns, [csr.columns.length]), new Tensor('int32', csr.rowStarts, [p.m + 1]), b, { weightShape: [p.m, p.c, p.k, p.k], ...opts });
          expectClose(got, conv(x, w, b, opts), { rtol: 1e-4, atol: 1e-5 });
        },
      ),
      { numRuns: 60 },
    );
  });

  it('rejects inconsistent CSR inputs', () => {
    const x = randomTensor('float32', [1, 2, 4, 4], 1, 1);
    const v = new Tensor('float32', new Float32Array(3), [3]);
    const cols = new Tensor('int32', new Int32Array(3), [3]);
    expect(() => sparseConv(x, v, cols, new Tensor('int32', new Int32Array(3), [3]), undefined, { weightShape: [3, 2, 1, 1] })).toThrow(OpValidationError);
    expect(() => sparseConv(x, v, cols, new Tensor('int32', new Int32Array(3), [3]), undefined, { weightShape: [3, 2, 1, 1] })).toThrow(/input 'W_row_starts' has shape \[3\]; expected \[4\]/);
    expect(() => sparseConv(x, v, cols, new Tensor('int32', new Int32Array(4), [4]), undefined, { weightShape: [3, 5, 1, 1] })).toThrow(/input 'X' has shape \[1, 2, 4, 4\]; expected rank 4 with 5 channels/);
  });

  it('sparsifyWeights converts only Convs at or above the threshold, and the session agrees with the dense model', async () => {
    const base = loadForCompression(blockModel());
    const pruned = pruneMagnitude(base, { sparsity: 0.7, scope: 'layer', minElements: 16 }).model;
    const none = sparsifyWeights(pruned, { minSparsity: 0.9 });
    expect(none.sparseNodes).toBe(0);
    const some = sparsifyWeights(pruned, { minSparsity: 0.6 });
    // group-1 Convs only: convA and convC (the depthwise Conv stays dense)
    expect(some.sparseNodes).toBe(2);
    expect(some.model.graph.nodes.filter((n) => n.opType === 'SparseConv').map((n) => n.name).sort()).toEqual(['convA', 'convC']);
    const x = randomTensor('float32', [1, 3, 5, 5], 3, 1);
    const a = (await (await InferenceSession.create(saveModel(some.model))).run({ x }))['y']!;
    const b = (await (await InferenceSession.create(saveModel(pruned))).run({ x }))['y']!;
    expectClose(a, b, { rtol: 1e-5, atol: 1e-5 });
  });

  it('measures the crossover on ordered points', () => {
    const r = measureSparseCrossover({ outChannels: 8, inChannels: 8, kernel: 1, height: 4, width: 4 }, [0.5, 0.9], 1);
    expect(r.points.map((p) => p.sparsity)).toEqual([0.5, 0.9]);
    for (const p of r.points) expect(p.denseMs).toBeGreaterThan(0);
    if (r.crossover !== undefined) expect([0.5, 0.9]).toContain(r.crossover);
  });
});
