/**
 * Layer-wise least-squares refit (src/quant/refit.ts) against its plain twin (src/quant/refit-reference.ts),
 * and pruneMagnitude with refit and the 'error' allocation:
 * - the Cholesky solver matches Gaussian elimination on random symmetric positive definite systems;
 * - on random small Conv layers (groups, kernels, strides, pads, dilations, bias) the refit weights equal the
 *   ridge solution formed from explicit im2col rows, removed weights stay exactly zero, and the layer's output
 *   error after the refit is at most the error of the masked layer (computed from the explicit rows);
 * - MatMul layers (both weight layouts) likewise;
 * - the channel-mapped accumulation (structured pruning) equals the plain one on the dense-shaped input with the
 *   removed channels zero, restricted to the kept rows, columns and outputs (group-1 and depthwise);
 * - pruneChannels with refit lowers the model's output error on its calibration inputs when the last Conv is refit;
 * - pruneMagnitude zeroes exactly round(sparsity * count) prunable weights for every scope, with and without
 *   refit, the refit keeps the mask, and the refit model saved as ONNX runs in onnxruntime-node with the same outputs.
 */
import fc from 'fast-check';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { InferenceSession } from '../../src/graph/index.js';
import { loadForCompression, saveModel } from '../../src/quant/model.js';
import { prunableWeights, pruneMagnitude } from '../../src/quant/prune.js';
import { accumulateConv, accumulateConvMapped, accumulateMatMul, choleskySolve, newRefitProblem, refitLayer, type ConvGeometry } from '../../src/quant/refit.js';
import { pruneChannels } from '../../src/quant/prune-channels.js';
import { Executor } from '../../src/graph/executor.js';
import { convRowsReference, gaussianSolveReference, outputErrorReference, ridgeRefitReference } from '../../src/quant/refit-reference.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { graph, modelBytes, node, value } from '../graph/build.js';
import { expectClose, randomTensor } from '../util/tensors.js';
import { smallModel } from './small-model.js';

const floats = (n: number, seed: number, range = 1): Float32Array => Float32Array.from(randomTensor('float32', [n], seed, range).numbers());

describe('choleskySolve', () => {
  it('matches Gaussian elimination on random SPD systems (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 9999 }), (n, seed) => {
        const b = floats(n * (n + 2), seed);
        // A = B^T B + 0.1 I (B is (n + 2) x n): symmetric positive definite
        const a = new Float64Array(n * n);
        for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) for (let k = 0; k < n + 2; k++) a[i * n + j]! += b[k * n + i]! * b[k * n + j]!;
        for (let i = 0; i < n; i++) a[i * n + i]! += 0.1;
        const r = Float64Array.from(floats(n, seed + 7));
        const got = choleskySolve(a, n, r)!;
        const want = gaussianSolveReference(Array.from({ length: n }, (_, i) => Array.from(a.subarray(i * n, i * n + n))), Array.from(r));
        for (let i = 0; i < n; i++) expect(got[i]).toBeCloseTo(want[i]!, 8);
      }),
      { numRuns: 60 },
    );
  });

  it('reports a matrix that is not positive definite', () => {
    expect(choleskySolve(Float64Array.from([1, 2, 2, 1]), 2, Float64Array.from([1, 1]))).toBeUndefined();
  });
});

describe('refitLayer on Conv layers', () => {
  const arbConv = fc.record({
    group: fc.integer({ min: 1, max: 2 }),
    cg: fc.integer({ min: 1, max: 3 }),
    mg: fc.integer({ min: 1, max: 3 }),
    k: fc.integer({ min: 1, max: 3 }),
    stride: fc.integer({ min: 1, max: 2 }),
    pad: fc.integer({ min: 0, max: 1 }),
    dil: fc.integer({ min: 1, max: 2 }),
    size: fc.integer({ min: 3, max: 6 }),
    batch: fc.integer({ min: 1, max: 2 }),
    bias: fc.boolean(),
    damp: fc.constantFrom(0.01, 0.1, 1),
    seed: fc.integer({ min: 1, max: 9999 }),
  });

  it('equals the ridge solution of the explicit rows, keeps removed weights zero and never raises the output error (property)', () => {
    fc.assert(
      fc.property(arbConv, (p) => {
        if ((p.k - 1) * p.dil + 1 > p.size + 2 * p.pad) return;
        const c = p.group * p.cg;
        const m = p.group * p.mg;
        const red = p.cg * p.k * p.k;
        const dims = [p.batch, c, p.size, p.size];
        const xd = floats(dims.reduce((a, b) => a * b, 1), p.seed, 1);
        const noise = floats(xd.length, p.seed + 1, 0.3);
        const xp = xd.map((v, i) => v + noise[i]!); // the pruned network's input differs from the dense one
        const w = floats(m * red, p.seed + 2, 1);
        const b = p.bias ? floats(m, p.seed + 3, 0.5) : undefined;
        const geo: ConvGeometry = { group: p.group, kernel: [p.k, p.k], strides: [p.stride, p.stride], pads: [p.pad, p.pad, p.pad, p.pad], dilations: [p.dil, p.dil] };
        const removed = new Uint8Array(w.length);
        const mask = floats(w.length, p.seed + 4);
        for (let i = 0; i < w.length; i++) removed[i] = mask[i]! < 0 ? 1 : 0;
        const w0 = w.map((v, i) => (removed[i] ? 0 : v));
        const problem = newRefitProblem(p.group, p.mg, red, p.bias);
        accumulateConv(problem, xp, xd, dims, geo, w, b);
        const r = refitLayer(problem, { outputs: m, reduction: red, rowMajor: true }, w0, b ? Float32Array.from(b) : undefined, removed, p.damp);
        const rows = convRowsReference(xp, xd, dims, geo, w, b, m);
        expect(problem.rows).toBe(rows.x[0]!.length);
        for (let o = 0; o < m; o++) {
          const g = Math.floor(o / p.mg);
          const keep: number[] = [];
          for (let i = 0; i < red; i++) if (!removed[o * red + i]) keep.push(i);
          if (p.bias) keep.push(red);
          const start = keep.map((i) => (i === red ? b![o]! : w0[o * red + i]!));
          if (keep.length === 0) continue;
          const want = ridgeRefitReference(rows.x[g]!, rows.y[g]!, o % p.mg, keep, start, p.damp);
          keep.forEach((i, j) => {
            const got = i === red ? r.bias![o]! : r.weights[o * red + i]!;
            expect(Math.abs(got - want[j]!)).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(want[j]!)));
          });
        }
        for (let i = 0; i < w.length; i++) if (removed[i]) expect(r.weights[i]).toBe(0);
        const before = outputErrorReference(rows, w0, b, red);
        const after = outputErrorReference(rows, r.weights, r.bias, red);
        expect(after).toBeLessThanOrEqual(before * (1 + 1e-5) + 1e-9);
        expect(r.errorAfter).toBeLessThanOrEqual(r.errorBefore + 1e-12);
      }),
      { numRuns: 80 },
    );
  });

  it('rejects mismatched layers and missing rows', () => {
    const p = newRefitProblem(1, 2, 3, false);
    expect(() => refitLayer(p, { outputs: 2, reduction: 3, rowMajor: true }, new Float32Array(6), undefined, new Uint8Array(6), 0.1)).toThrow(/no rows were accumulated/);
    expect(() => refitLayer(p, { outputs: 3, reduction: 3, rowMajor: true }, new Float32Array(9), undefined, new Uint8Array(9), 0.1)).toThrow(/do not match a problem of 2 outputs x 3 weights/);
    expect(() => accumulateConv(p, new Float32Array(8), new Float32Array(8), [1, 2, 2, 2], { group: 1, kernel: [1, 1], strides: [1, 1], pads: [0, 0, 0, 0], dilations: [1, 1] }, new Float32Array(4), undefined)).toThrow(/does not match a problem of 1 groups x 3 weights/);
    expect(() => newRefitProblem(0, 1, 1, false)).toThrow(/at least one group/);
  });
});

describe('refitLayer on MatMul layers', () => {
  it('fits both weight layouts to the explicit least-squares solution (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 6 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 3, max: 12 }), fc.boolean(), fc.boolean(), fc.integer({ min: 1, max: 9999 }), (K, N, rows, rowMajor, bias, seed) => {
        const xd = floats(rows * K, seed);
        const xp = xd.map((v, i) => v + 0.2 * floats(xd.length, seed + 1)[i]!);
        const w = floats(K * N, seed + 2);
        const b = bias ? floats(N, seed + 3) : undefined;
        const at = (o: number, k: number): number => (rowMajor ? o * K + k : k * N + o);
        const removed = new Uint8Array(K * N);
        for (let o = 0; o < N; o++) removed[at(o, o % K)] = 1;
        const w0 = w.map((v, i) => (removed[i] ? 0 : v));
        const problem = newRefitProblem(1, N, K, bias);
        accumulateMatMul(problem, xp, xd, rows, w, rowMajor, b);
        const r = refitLayer(problem, { outputs: N, reduction: K, rowMajor }, w0, b ? Float32Array.from(b) : undefined, removed, 0.05);
        const x = Array.from({ length: rows }, (_, t) => [...Array.from(xp.subarray(t * K, t * K + K)), ...(bias ? [1] : [])]);
        const y = Array.from({ length: rows }, (_, t) => Array.from({ length: N }, (_, o) => {
          let s = b ? b[o]! : 0;
          for (let k = 0; k < K; k++) s += w[at(o, k)]! * xd[t * K + k]!;
          return s;
        }));
        for (let o = 0; o < N; o++) {
          const keep = [...Array(K).keys()].filter((k) => !removed[at(o, k)]);
          if (bias) keep.push(K);
          const want = ridgeRefitReference(x, y, o, keep, keep.map((k) => (k === K ? b![o]! : w0[at(o, k)]!)), 0.05);
          keep.forEach((k, j) => expect(Math.abs((k === K ? r.bias![o]! : r.weights[at(o, k)]!) - want[j]!)).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(want[j]!))));
          expect(r.weights[at(o, o % K)]).toBe(0);
        }
      }),
      { numRuns: 60 },
    );
  });
});

/** x -> Conv 3x3 (8) -> Relu -> depthwise 3x3 (8) -> Relu -> Conv 1x1 (6) -> y */
function chainModel(): Uint8Array {
  const g = graph({
    nodes: [
      node('Conv', ['x', 'WA', 'BA'], ['a'], { pads: [1, 1, 1, 1] }, 'convA'),
      node('Relu', ['a'], ['ra'], {}, 'reluA'),
      node('Conv', ['ra', 'WD', 'BD'], ['d'], { group: 8, pads: [1, 1, 1, 1], strides: [2, 2] }, 'dw'),
      node('Relu', ['d'], ['rd'], {}, 'reluD'),
      node('Conv', ['rd', 'WC', 'BC'], ['y'], {}, 'convC'),
    ],
    inputs: [value('x', 'float32', [1, 3, 8, 8])],
    outputs: [value('y', 'float32', [1, 6, 4, 4])],
    initializers: {
      WA: randomTensor('float32', [8, 3, 3, 3], 11, 0.5),
      BA: randomTensor('float32', [8], 12, 0.2),
      WD: randomTensor('float32', [8, 1, 3, 3], 13, 0.5),
      BD: randomTensor('float32', [8], 14, 0.2),
      WC: randomTensor('float32', [6, 8, 1, 1], 15, 0.5),
      BC: randomTensor('float32', [6], 16, 0.2),
    },
  });
  return modelBytes(g, 13);
}

describe('pruneMagnitude with refit', () => {
  const feeds = Array.from({ length: 6 }, (_, i) => new Map([['x', randomTensor('float32', [1, 3, 8, 8], 100 + i, 1)]]));

  it('zeroes exactly the requested share of the prunable weights for every scope, with and without refit', () => {
    const base = loadForCompression(chainModel());
    const weights = prunableWeights(base, 8);
    const total = weights.reduce((p, w) => p + w.tensor.size, 0);
    expect(total).toBe(216 + 72 + 48);
    for (const sparsity of [0.3, 0.5, 0.7]) {
      for (const scope of ['global', 'layer', 'error'] as const) {
        for (const refit of [false, true, { sequential: false }]) {
          const r = pruneMagnitude(base, { sparsity, scope, minElements: 8, calibration: feeds, refit });
          const expected = scope === 'layer' ? weights.reduce((p, w) => p + Math.round(sparsity * w.tensor.size), 0) : Math.round(sparsity * total);
          expect(r.elements).toBe(total);
          expect(r.zeros).toBe(expected);
          let counted = 0;
          for (const w of weights) counted += Array.from(r.model.graph.initializers.get(w.name)!.numbers()).filter((v) => v === 0).length;
          expect(counted).toBe(expected);
        }
      }
    }
  });

  it('keeps the magnitude-chosen mask, lowers every layer error on the calibration rows, and saves a model onnxruntime runs alike', async () => {
    const base = loadForCompression(chainModel());
    const plain = pruneMagnitude(base, { sparsity: 0.5, minElements: 8, calibration: feeds, refit: false });
    const refit = pruneMagnitude(base, { sparsity: 0.5, minElements: 8, calibration: feeds, refit: { damp: 0.05 } });
    for (const w of prunableWeights(base, 8)) {
      const a = plain.model.graph.initializers.get(w.name)!.numbers();
      const b = refit.model.graph.initializers.get(w.name)!.numbers();
      for (let i = 0; i < a.length; i++) expect(a[i] === 0).toBe(b[i] === 0);
    }
    expect(refit.refit!.map((l) => l.node)).toEqual(['convA', 'dw', 'convC']);
    for (const l of refit.refit!) expect(l.errorAfter).toBeLessThanOrEqual(l.errorBefore);
    expect(refit.refit![0]!.errorAfter).toBeLessThan(refit.refit![0]!.errorBefore);
    const bytes = saveModel(refit.model);
    const x = randomTensor('float32', [1, 3, 8, 8], 999, 1);
    const mine = (await (await InferenceSession.create(bytes)).run({ x }))['y']!;
    const s = await ort.InferenceSession.create(bytes);
    const o = await s.run({ x: new ort.Tensor('float32', Float32Array.from(x.numbers()), [1, 3, 8, 8]) });
    expectClose(new Tensor('float32', Float32Array.from(o['y']!.data as Float32Array), [1, 6, 4, 4]), mine, { rtol: 1e-4, atol: 1e-5 });
  });

  it('refits MatMul weights too, and needs calibration for refit and for the error allocation', () => {
    const base = loadForCompression(smallModel());
    const x = Array.from({ length: 3 }, (_, i) => new Map([['x', randomTensor('float32', [2, 3, 6, 6], 50 + i, 1)]]));
    const r = pruneMagnitude(base, { sparsity: 0.5, calibration: x, refit: true });
    expect(r.refit!.map((l) => l.node)).toEqual(['conv', 'matmul']);
    expect(r.zeros).toBe(Math.round(0.5 * (216 + 1152)));
    expect(() => pruneMagnitude(base, { sparsity: 0.5, refit: true })).toThrow(/refit needs calibration inputs/);
    expect(() => pruneMagnitude(base, { sparsity: 0.5, scope: 'error' })).toThrow(/scope 'error' needs calibration inputs/);
  });
});

describe('accumulateConvMapped', () => {
  it('equals accumulateConv on the zero-filled dense-shaped input, restricted to kept channels (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 5 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 }), fc.boolean(), fc.boolean(), fc.integer({ min: 1, max: 9999 }), (C, M, k, depthwise, bias, seed) => {
        const size = 4;
        const dims = [2, C, size, size];
        const xd = floats(2 * C * size * size, seed);
        const xpFull = floats(xd.length, seed + 1);
        const keepMask = floats(C, seed + 2);
        const keep = [...Array(C).keys()].filter((c) => keepMask[c]! > -0.3);
        if (keep.length === 0) keep.push(0);
        const outputsD = depthwise ? C : M;
        const outKeep = depthwise ? keep : [...Array(M).keys()].filter((o) => o % 2 === 0 || !bias);
        const cgD = depthwise ? 1 : C;
        const w = floats(outputsD * cgD * k * k, seed + 3);
        const b = bias ? floats(outputsD, seed + 4) : undefined;
        const pad = Math.floor(k / 2);
        const geoD: ConvGeometry = { group: depthwise ? C : 1, kernel: [k, k], strides: [1, 1], pads: [pad, pad, pad, pad], dilations: [1, 1] };
        // full problem on the dense-shaped pruned input whose removed channels are zero
        const zeroed = Float32Array.from(xpFull);
        for (let n = 0; n < 2; n++) for (let c = 0; c < C; c++) if (!keep.includes(c)) zeroed.fill(0, (n * C + c) * size * size, (n * C + c + 1) * size * size);
        const full = newRefitProblem(geoD.group, depthwise ? 1 : M, cgD * k * k, bias);
        accumulateConv(full, zeroed, xd, dims, geoD, w, b);
        // mapped problem on the sliced input
        const sub = new Float32Array(2 * keep.length * size * size);
        for (let n = 0; n < 2; n++) keep.forEach((c, j) => sub.set(xpFull.subarray((n * C + c) * size * size, (n * C + c + 1) * size * size), (n * keep.length + j) * size * size));
        const geoP: ConvGeometry = { ...geoD, group: depthwise ? keep.length : 1 };
        const redP = (depthwise ? 1 : keep.length) * k * k;
        const mapped = newRefitProblem(geoP.group, depthwise ? 1 : outKeep.length, redP, bias);
        accumulateConvMapped(mapped, sub, [2, keep.length, size, size], geoP, xd, { denseDims: dims, denseGroup: geoD.group, inputs: keep, outputs: outKeep }, w, b);
        expect(mapped.rows).toBe(full.rows);
        const RP = mapped.width;
        const RF = full.width;
        // pruned reduction index -> dense reduction index (the bias column maps to the bias column)
        const idx = (i: number): number => (i === redP ? RF - 1 : depthwise ? i : keep[Math.floor(i / (k * k))]! * k * k + (i % (k * k)));
        for (let g = 0; g < mapped.groups; g++) {
          const gD = depthwise ? keep[g]! : 0;
          for (let i = 0; i < RP; i++) {
            for (let j = i; j < RP; j++) expect(mapped.gram[g]![i * RP + j]).toBeCloseTo(full.gram[gD]![idx(i) * RF + idx(j)]!, 9);
            for (let o = 0; o < mapped.outputsPerGroup; o++) {
              const oD = depthwise ? 0 : outKeep[o]!;
              expect(mapped.cross[g]![i * mapped.outputsPerGroup + o]).toBeCloseTo(full.cross[gD]![idx(i) * full.outputsPerGroup + oD]!, 9);
            }
          }
        }
      }),
      { numRuns: 60 },
    );
  });
});

describe('pruneChannels with refit', () => {
  /** x -> Conv A (8) -> Relu -> depthwise (8) -> Relu -> Conv C (4) = y: A's 8 channels form the pruned space. */
  function spaceModel(): Uint8Array {
    const g = graph({
      nodes: [
        node('Conv', ['x', 'WA', 'BA'], ['a'], {}, 'convA'),
        node('Relu', ['a'], ['ra'], {}, 'reluA'),
        node('Conv', ['ra', 'WD', 'BD'], ['d'], { group: 8, pads: [1, 1, 1, 1] }, 'dw'),
        node('Relu', ['d'], ['rd'], {}, 'reluD'),
        node('Conv', ['rd', 'WC', 'BC'], ['y'], {}, 'convC'),
      ],
      inputs: [value('x', 'float32', [1, 3, 6, 6])],
      outputs: [value('y', 'float32', [1, 4, 6, 6])],
      initializers: {
        WA: randomTensor('float32', [8, 3, 1, 1], 21, 1),
        BA: randomTensor('float32', [8], 22, 0.5),
        WD: randomTensor('float32', [8, 1, 3, 3], 23, 1),
        BD: randomTensor('float32', [8], 24, 0.5),
        WC: randomTensor('float32', [4, 8, 1, 1], 25, 1),
        BC: randomTensor('float32', [4], 26, 0.5),
      },
    });
    return modelBytes(g, 13);
  }

  it('refits the consumer so the output error on the calibration inputs drops, keeps the shapes, and onnxruntime agrees', async () => {
    const base = loadForCompression(spaceModel());
    const feeds = Array.from({ length: 5 }, (_, i) => new Map([['x', randomTensor('float32', [1, 3, 6, 6], 300 + i, 1)]]));
    const plain = pruneChannels(base, { ratio: 0.5 });
    const refit = pruneChannels(base, { ratio: 0.5, calibration: feeds, refit: { damp: 0.01 } });
    expect(refit.removedChannels).toBe(4);
    expect(refit.refit!.map((l) => l.node)).toEqual(['dw', 'convC']);
    const wc = refit.model.graph.nodes.find((n) => n.name === 'convC')!;
    expect(refit.model.graph.initializers.get(wc.inputs[1]!)!.dims).toEqual([4, 4, 1, 1]);
    const ex = new Executor(base.opsets, { backend: 'cpu' });
    const sse = (m: typeof base): number => {
      let e = 0;
      for (const f of feeds) {
        const a = ex.run(m.graph, f, ['y']).outputs[0]!.numbers();
        const d = ex.run(base.graph, f, ['y']).outputs[0]!.numbers();
        for (let i = 0; i < a.length; i++) e += (a[i]! - d[i]!) ** 2;
      }
      return e;
    };
    expect(sse(refit.model)).toBeLessThan(sse(plain.model));
    const bytes = saveModel(refit.model);
    const x = randomTensor('float32', [1, 3, 6, 6], 777, 1);
    const mine = (await (await InferenceSession.create(bytes)).run({ x }))['y']!;
    const s = await ort.InferenceSession.create(bytes);
    const o = await s.run({ x: new ort.Tensor('float32', Float32Array.from(x.numbers()), [1, 3, 6, 6]) });
    expectClose(new Tensor('float32', Float32Array.from(o['y']!.data as Float32Array), [1, 4, 6, 6]), mine, { rtol: 1e-4, atol: 1e-5 });
    expect(() => pruneChannels(base, { ratio: 0.5, refit: true })).toThrow(/refit needs calibration inputs/);
  });

  it('refits a MatMul downstream of the pruned space when asked, lowering the output error further', () => {
    // x -> Conv A (8) -> Relu -> Conv C (4) -> Relu -> Reshape [N, 64] -> MatMul [64, 3] = y
    const g = graph({
      nodes: [
        node('Conv', ['x', 'WA', 'BA'], ['a'], {}, 'convA'),
        node('Relu', ['a'], ['ra'], {}, 'reluA'),
        node('Conv', ['ra', 'WC', 'BC'], ['c'], {}, 'convC'),
        node('Relu', ['c'], ['rc'], {}, 'reluC'),
        node('Reshape', ['rc', 'shape'], ['flat'], {}, 'reshape'),
        node('MatMul', ['flat', 'M'], ['y'], {}, 'matmul'),
      ],
      inputs: [value('x', 'float32', [4, 3, 4, 4])],
      outputs: [value('y', 'float32', [4, 3])],
      initializers: {
        WA: randomTensor('float32', [8, 3, 1, 1], 31, 1),
        BA: randomTensor('float32', [8], 32, 0.5),
        WC: randomTensor('float32', [4, 8, 1, 1], 33, 1),
        BC: randomTensor('float32', [4], 34, 0.5),
        shape: new Tensor('int64', BigInt64Array.from([4n, 64n]), [2]),
        M: randomTensor('float32', [64, 3], 35, 0.5),
      },
    });
    const base = loadForCompression(modelBytes(g, 13));
    const feeds = Array.from({ length: 6 }, (_, i) => new Map([['x', randomTensor('float32', [4, 3, 4, 4], 400 + i, 1)]]));
    const convsOnly = pruneChannels(base, { ratio: 0.5, calibration: feeds, refit: { damp: 0.01 } });
    const withMatMul = pruneChannels(base, { ratio: 0.5, calibration: feeds, refit: { damp: 0.01, matMul: true } });
    expect(convsOnly.refit!.map((l) => l.node)).toEqual(['convC']);
    expect(withMatMul.refit!.map((l) => l.node)).toEqual(['convC', 'matmul']);
    const ex = new Executor(base.opsets, { backend: 'cpu' });
    const sse = (m: typeof base): number => {
      let e = 0;
      for (const f of feeds) {
        const a = ex.run(m.graph, f, ['y']).outputs[0]!.numbers();
        const d = ex.run(base.graph, f, ['y']).outputs[0]!.numbers();
        for (let i = 0; i < a.length; i++) e += (a[i]! - d[i]!) ** 2;
      }
      return e;
    };
    expect(sse(withMatMul.model)).toBeLessThan(sse(convsOnly.model));
  });
});
