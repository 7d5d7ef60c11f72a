/**
 * Quantized-weight operators and the passes that emit them:
 * - QDQConv / QDQMatMul / QDQGemm kernels against their reference twins (fake-quantized input, per-channel
 *   int8 weights, bias, activations, grouped and depthwise convolutions), the fake-quantize loop against
 *   QuantizeLinear -> DequantizeLinear on ties, saturation and NaN, and bad calls;
 * - the QDQ fusion pass: a statically quantized model loaded in a session runs QDQ* nodes with int8 weights
 *   and gives exactly the literal QDQ graph's outputs (and onnxruntime's within a quantization step), with a
 *   written-out HardSwish folded in;
 * - MatMulNBits (int4 blocks) against its reference and the int4 pass (bytes, fused MatMulInt4, onnxruntime round trip;
 *   the int4 details are in ./int4.test.ts);
 * - compactNames keeps results and shrinks the file.
 */
import fc from 'fast-check';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import '../../src/kernels/cpu/index.js';
import { fakeQuantize } from '../../src/kernels/cpu/quant-fused.js';
import { refFakeQuantize, refMatMulNBits, refQdqConv, refQdqGemm, refQdqMatMul } from '../../src/kernels/cpu/reference/quant-fused.js';
import { InferenceSession } from '../../src/graph/index.js';
import '../../src/ops/index.js';
import { matMulNBits, qdqOp } from '../../src/ops/quant-fused.js';
import { quantizeInt4Weights } from '../../src/quant/int4.js';
import { quantizeInt4, quantizeTensor } from '../../src/quant/math.js';
import { compactNames, loadForCompression, saveModel } from '../../src/quant/model.js';
import { quantizeStatic } from '../../src/quant/passes.js';
import { OpValidationError } from '../../src/tensor/errors.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { float, graph, modelBytes, node, value } from '../graph/build.js';
import { expectClose, randomTensor } from '../util/tensors.js';
import { smallModel } from './small-model.js';

const f32 = (values: number[], dims: number[]): Tensor => new Tensor('float32', Float32Array.from(values), dims);
const scalar = (v: number): Tensor => new Tensor('float32', Float32Array.from([v]), []);
const u8 = (v: number): Tensor => new Tensor('uint8', Uint8Array.from([v]), []);

/** Symmetric per-channel int8 weight and its scales for a random float weight. */
function int8Weight(dims: number[], axis: number, seed: number): { w: Tensor; scale: Tensor } {
  const q = quantizeTensor(randomTensor('float32', dims, seed, 1), { type: 'int8', symmetric: true }, axis);
  return { w: q.q, scale: q.scale };
}

describe('fakeQuantize', () => {
  it('equals QuantizeLinear -> DequantizeLinear on ties, saturation, huge values and NaN', () => {
    const scale = 0.5;
    const xs = [0.25, 0.75, -0.25, -0.75, 1.25, 63.75, 64.25, -64.5, 200, -200, 1e30, -Infinity, Infinity, 0, -0];
    for (const [zp, type] of [[128, 'uint8'], [0, 'uint8'], [0, 'int8'], [-5, 'int8']] as const) {
      const [lo, hi] = type === 'uint8' ? [0, 255] : [-128, 127];
      const out = new Float32Array(xs.length);
      fakeQuantize(Float32Array.from(xs), scale, zp, lo, hi, out);
      const zpT = type === 'uint8' ? u8(zp) : new Tensor('int8', Int8Array.from([zp]), []);
      const ref = refFakeQuantize(f32(xs, [xs.length]), scalar(scale), zpT).numbers();
      expect(Array.from(out)).toEqual(Array.from(ref));
    }
    // known answers: ties to even (0.25 / 0.5 = 0.5 -> 0; 0.75 / 0.5 = 1.5 -> 2), saturation at 255 - 128
    const out = new Float32Array(4);
    fakeQuantize(Float32Array.from([0.25, 0.75, 1000, NaN]), 0.5, 128, 0, 255, out);
    expect(Array.from(out)).toEqual([0, 1, 63.5, -64]);
  });

  it('matches the reference on random inputs', () => {
    fc.assert(
      fc.property(fc.array(fc.float({ min: -50, max: 50, noNaN: true }), { minLength: 0, maxLength: 40 }), fc.integer({ min: 0, max: 255 }), fc.float({ min: Math.fround(0.01), max: 2, noNaN: true }), (xs, zp, s) => {
        const out = new Float32Array(xs.length);
        fakeQuantize(Float32Array.from(xs), s, zp, 0, 255, out);
        expect(Array.from(out)).toEqual(Array.from(refFakeQuantize(f32(xs, [xs.length]), scalar(s), u8(zp)).numbers()));
      }),
      { numRuns: 60 },
    );
  });
});

describe('QDQConv / QDQMatMul / QDQGemm kernels', () => {
  it('QDQConv matches the reference (groups, depthwise, strides, pads, bias, activations, size-1 dims)', () => {
    const arb = fc.record({
      n: fc.integer({ min: 1, max: 2 }),
      groups: fc.integer({ min: 1, max: 3 }),
      cPerGroup: fc.integer({ min: 1, max: 3 }),
      mPerGroup: fc.integer({ min: 1, max: 3 }),
      h: fc.integer({ min: 1, max: 6 }),
      w: fc.integer({ min: 1, max: 6 }),
      k: fc.integer({ min: 1, max: 3 }),
      stride: fc.integer({ min: 1, max: 2 }),
      pad: fc.integer({ min: 0, max: 1 }),
      withBias: fc.boolean(),
      withInput: fc.boolean(),
      activation: fc.constantFrom('', 'Relu', 'HardSwish', 'HardSigmoid'),
      seed: fc.integer({ min: 1, max: 1000 }),
    });
    fc.assert(
      fc.property(arb, (p) => {
        const c = p.groups * p.cPerGroup;
        const m = p.groups * p.mPerGroup;
        const k = Math.min(p.k, p.h + 2 * p.pad, p.w + 2 * p.pad);
        const x = randomTensor('float32', [p.n, c, p.h, p.w], p.seed, 2);
        const { w, scale } = int8Weight([m, p.cPerGroup, k, k], 0, p.seed + 1);
        const bias = p.withBias ? randomTensor('float32', [m], p.seed + 2, 1) : undefined;
        const input = p.withInput ? { scale: scalar(0.02), zeroPoint: u8(100) } : undefined;
        const attrs = { strides: [p.stride, p.stride], pads: [p.pad, p.pad, p.pad, p.pad], dilations: [1, 1], group: p.groups };
        const params = p.activation === 'HardSigmoid' ? [0.2, 0.5] : [];
        const got = qdqOp('Conv', x, w, scale, bias, input, { ...attrs, activation: p.activation });
        const want = refQdqConv({ x, w, wScale: scale, xScale: input?.scale, xZeroPoint: input?.zeroPoint, bias }, attrs, p.activation, params);
        expectClose(got, want, { rtol: 1e-4, atol: 1e-5 });
      }),
      { numRuns: 40 },
    );
  });

  it('QDQMatMul and QDQGemm match the reference (batched A, transB, C, per-tensor scale)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 7 }), fc.boolean(), fc.boolean(), fc.integer({ min: 1, max: 999 }), (m, k, n, transB, perTensor, seed) => {
        const a = randomTensor('float32', [2, m, k], seed, 3);
        const mm = int8Weight([k, n], 1, seed + 1);
        const mmScale = perTensor ? scalar(mm.scale.numbers()[0]!) : mm.scale;
        const input = { scale: scalar(0.05), zeroPoint: u8(128) };
        expectClose(qdqOp('MatMul', a, mm.w, mmScale, undefined, input), refQdqMatMul({ x: a, w: mm.w, wScale: mmScale, xScale: input.scale, xZeroPoint: input.zeroPoint }), { rtol: 1e-4, atol: 1e-5 });
        const a2 = randomTensor('float32', [m, k], seed + 3, 3);
        const g = int8Weight(transB ? [n, k] : [k, n], transB ? 0 : 1, seed + 4);
        const cBias = randomTensor('float32', [n], seed + 5, 1);
        const got = qdqOp('Gemm', a2, g.w, g.scale, cBias, undefined, { transB: transB ? 1 : 0, alpha: 0.5, activation: 'Relu' });
        const want = refQdqGemm({ x: a2, w: g.w, wScale: g.scale, bias: cBias }, { transB, alpha: 0.5 }, 'Relu');
        expectClose(got, want, { rtol: 1e-4, atol: 1e-5 });
      }),
      { numRuns: 40 },
    );
  });

  it('rejects bad calls with messages naming the input', () => {
    const x = randomTensor('float32', [1, 2, 4, 4], 1, 1);
    const { w, scale } = int8Weight([3, 2, 3, 3], 0, 2);
    const call = (fn: () => unknown, msg: RegExp): void => {
      expect(fn).toThrow(OpValidationError);
      expect(fn).toThrow(msg);
    };
    call(() => qdqOp('Conv', x, w, f32([1, 2], [2])), /QDQConv: input 'W_scale' has shape \[2\]; expected a scalar or \[3\]/);
    call(() => qdqOp('Conv', x, w, scale, undefined, { scale: f32([1, 2], [2]) }), /input 'X_scale' has shape \[2\]; expected a scalar/);
    call(() => qdqOp('Conv', x, randomTensor('float32', [3, 2, 3, 3], 3, 1), scale), /QDQConv.*W/);
    call(() => qdqOp('Conv', x, w, scale, undefined, undefined, { activation: 'Softplus' }), /attribute 'activation' is 'Softplus'/);
    call(() => qdqOp('Conv', randomTensor('float32', [1, 5, 4, 4], 1, 1), w, scale), /QDQConv|Conv/);
    call(() => qdqOp('MatMul', randomTensor('float32', [2, 4], 1, 1), int8Weight([5, 3], 1, 1).w, int8Weight([5, 3], 1, 1).scale), /MatMul/);
  });
});

describe('MatMulNBits (int4 blocks)', () => {
  it('matches the reference for K with and without a partial block, with bias', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 80 }), fc.integer({ min: 1, max: 300 }), fc.boolean(), fc.integer({ min: 1, max: 999 }), (m, k, n, withBias, seed) => {
        const b = randomTensor('float32', [k, n], seed, 1);
        const q = quantizeInt4(b.numbers(), k, n);
        const codes = new Tensor('uint8', q.codes, [n, q.blocksPerColumn, 16]);
        const scales = new Tensor('float32', q.scales, [n * q.blocksPerColumn]);
        const a = randomTensor('float32', [m, k], seed + 1, 2);
        const bias = withBias ? randomTensor('float32', [n], seed + 2, 1) : undefined;
        expectClose(matMulNBits(a, codes, scales, k, n, bias), refMatMulNBits(a, codes, scales, k, n, bias), { rtol: 1e-4, atol: 1e-5 });
      }),
      { numRuns: 30 },
    );
  });

  it('rejects layouts other than the declared one', () => {
    const a = randomTensor('float32', [2, 40], 1, 1);
    const codes = new Tensor('uint8', new Uint8Array(5 * 2 * 16), [5, 2, 16]);
    const scales = new Tensor('float32', new Float32Array(10), [10]);
    expect(() => matMulNBits(a, codes, scales, 40, 5)).not.toThrow();
    expect(() => matMulNBits(a, new Tensor('uint8', new Uint8Array(5 * 16), [5, 1, 16]), scales, 40, 5)).toThrow(/input 'B' has shape \[5, 1, 16\]; expected \[5, 2, 16\]/);
    expect(() => matMulNBits(a, codes, new Tensor('float32', new Float32Array(5), [5]), 40, 5)).toThrow(/input 'scales' has shape \[5\]; expected \[10\]/);
    expect(() => matMulNBits(randomTensor('float32', [2, 39], 1, 1), codes, scales, 40, 5)).toThrow(/input 'A' has shape \[2, 39\]; expected its last dim to be K = 40/);
  });
});

const feeds = (seed: number): Map<string, Tensor> => new Map([['x', randomTensor('float32', [2, 3, 6, 6], seed, 1)]]);

async function ortRun(bytes: Uint8Array, x: Tensor): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(bytes);
  const out = await s.run({ x: new ort.Tensor('float32', Float32Array.from(x.data as Float32Array), x.dims.slice()) });
  return out[s.outputNames[0]!]!.data as Float32Array;
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

/** Conv -> written-out HardSwish -> Conv -> Relu -> Flatten -> Gemm(transB): the patterns the fusion handles. */
function hardSwishModel(): Uint8Array {
  const g = graph({
    nodes: [
      node('Conv', ['x', 'W1', 'B1'], ['c1'], { pads: [1, 1, 1, 1] }),
      node('Add', ['c1', 'three'], ['a']),
      node('Clip', ['a'], ['r6'], { min: float(0), max: float(6) }),
      node('Mul', ['c1', 'r6'], ['p']),
      node('Div', ['p', 'six'], ['h']),
      node('Conv', ['h', 'W2'], ['c2'], { strides: [2, 2] }),
      node('Relu', ['c2'], ['r']),
      node('Flatten', ['r'], ['f']),
      node('Gemm', ['f', 'G', 'GB'], ['y'], { transB: 1 }),
    ],
    inputs: [value('x', 'float32', [2, 3, 6, 6])],
    outputs: [value('y', 'float32', [2, 5])],
    initializers: {
      W1: randomTensor('float32', [8, 3, 3, 3], 11, 0.5),
      B1: randomTensor('float32', [8], 12, 0.5),
      W2: randomTensor('float32', [4, 8, 2, 2], 13, 0.5),
      G: randomTensor('float32', [5, 36], 14, 0.3),
      GB: randomTensor('float32', [5], 15, 0.1),
      three: new Tensor('float32', Float32Array.from([3]), []),
      six: new Tensor('float32', Float32Array.from([6]), []),
    },
  });
  return modelBytes(g, 9);
}

describe('QDQ fusion in a session', () => {
  for (const [label, make] of [['small CNN (Conv + Clip, MatMul)', smallModel], ['HardSwish + Relu + Gemm(transB)', hardSwishModel]] as const) {
    it(`${label}: int8 weights stay int8, outputs equal the literal QDQ graph and onnxruntime`, async () => {
      const calibration = [feeds(1), feeds(2), feeds(3)];
      const q = quantizeStatic(loadForCompression(make()), { calibration });
      const bytes = saveModel(q.model);
      const fused = await InferenceSession.create(bytes);
      const literal = await InferenceSession.create(bytes, { graphOptimizationLevel: 'basic' });
      const ops = fused.model.graph.nodes.map((n) => n.opType);
      expect(ops.filter((o) => o.startsWith('QDQ')).length).toBe(q.quantizedNodes);
      expect(ops).not.toContain('DequantizeLinear');
      expect(ops).not.toContain('QuantizeLinear');
      for (const n of fused.model.graph.nodes.filter((m) => m.opType.startsWith('QDQ'))) expect(fused.model.graph.initializers.get(n.inputs[1]!)?.type).toBe('int8');
      if (label.startsWith('HardSwish')) {
        expect(fused.model.graph.nodes.map((n) => `${n.opType}:${String(n.attrs['activation'])}`)).toEqual(['QDQConv:HardSwish', 'QDQConv:Relu', 'Flatten:undefined', 'QDQGemm:']);
      }
      const x = feeds(9).get('x')!;
      const out = fused.outputNames[0]!;
      const a = (await fused.run({ x }))[out]!.numbers();
      const b = (await literal.run({ x }))[out]!.numbers();
      // the fused kernels sum exact integer products and scale once (the graph rounds x' and w' to float32 and
      // sums float products): rounding-level differences; the HardSwish kernel also computes
      // x * clamp(x / 6 + 0.5) where the graph wrote x * clip(x + 3, 0, 6) / 6
      expect(maxDiff(a, b)).toBeLessThanOrEqual(1e-5);
      expect(maxDiff(a, await ortRun(bytes, x))).toBeLessThan(2e-2);
      await fused.release();
      await literal.release();
    });
  }
});

describe('int4 weight-only pass', () => {
  it('stores MatMul/Gemm weights as int4 blocks behind DequantizeLinear, runs packed and close to float, and loads in onnxruntime', async () => {
    const g = graph({
      nodes: [node('MatMul', ['x', 'B'], ['h']), node('Relu', ['h'], ['r']), node('Gemm', ['r', 'G', 'GB'], ['y'], { transB: 1 })],
      inputs: [value('x', 'float32', [3, 64])],
      outputs: [value('y', 'float32', [3, 6])],
      initializers: { B: randomTensor('float32', [64, 40], 21, 0.3), G: randomTensor('float32', [6, 40], 22, 0.3), GB: randomTensor('float32', [6], 23, 0.1) },
    });
    const bytes = modelBytes(g, 13);
    const r = quantizeInt4Weights(loadForCompression(bytes), { minElements: 16 });
    expect(r.quantizedNodes).toBe(2);
    expect(r.model.graph.nodes.map((n) => n.opType)).toEqual(['DequantizeLinear', 'MatMul', 'Relu', 'DequantizeLinear', 'Gemm']);
    // 64 x 40: 1280 bytes of codes + 2 x 40 scales; 40 x 6 (after transB): 120 bytes + 2 x 6 scales (the second block is 8 rows)
    expect(r.int4Bytes).toBe(1280 + 4 * 2 * 40 + 120 + 4 * 2 * 6);
    expect(r.float32Bytes).toBe(4 * (64 * 40 + 40 * 6));
    const saved = saveModel(r.model);
    const x = randomTensor('float32', [3, 64], 24, 1);
    const s = await InferenceSession.create(saved);
    // the Relu is fused first (FusedMatMul), then the int4 weight: MatMulInt4 carries the activation
    expect(s.model.graph.nodes.map((n) => [n.opType, n.attrs['activation']])).toEqual([['MatMulInt4', 'Relu'], ['MatMulInt4', '']]);
    const f = await InferenceSession.create(bytes);
    const mine = (await s.run({ x }))['y']!.numbers();
    const float = (await f.run({ x }))['y']!.numbers();
    expect(maxDiff(mine, float)).toBeLessThan(0.2);
    expect(maxDiff(mine, float)).toBeGreaterThan(0);
    // onnxruntime's default DequantizeLinear -> MatMul fusion quantizes activations to int8 (MatMulNBits accuracy level 4)
    expect(maxDiff(mine, await ortRun(saved, x))).toBeLessThan(2e-2);
  });
});

describe('compactNames', () => {
  it('keeps outputs bit-identical and shrinks the saved file', async () => {
    const q = quantizeStatic(loadForCompression(smallModel()), { calibration: [feeds(1)] }).model;
    const long = saveModel(q);
    const short = saveModel(compactNames(q));
    expect(short.length).toBeLessThan(long.length);
    const x = feeds(4).get('x')!;
    const a = await (await InferenceSession.create(long)).run({ x });
    const b = await (await InferenceSession.create(short)).run({ x });
    expect(Array.from(b['y']!.numbers())).toEqual(Array.from(a['y']!.numbers()));
    expect(maxDiff(b['y']!.numbers(), await ortRun(short, x))).toBeLessThan(2e-2);
  });
});
