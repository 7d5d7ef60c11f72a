/**
 * int4 / uint4 end to end:
 * - the 4-bit codec (pack/unpack, odd counts) and Tensor's range check;
 * - ONNX TensorProto read/write of INT4/UINT4 (raw_data and int32_data, odd element counts, wrong sizes);
 * - QuantizeLinear / DequantizeLinear with int4/uint4 blocked parameters against their references;
 * - the MatMulInt4 kernel (packed weight, blocks along K, zero points, bias, activation, panels) against its
 *   reference twin, and the QDQ fusion that creates it from DequantizeLinear(int4 blocked) -> MatMul/Gemm;
 * - the int4 pass: quantizer against its plain-loop twin, the declared layout's byte accounting, the model it
 *   writes (opset 21, standard DequantizeLinear) run by Tessera with the weight packed and by onnxruntime-node.
 */
import fc from 'fast-check';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import '../../src/kernels/cpu/index.js';
import { unpackInt4Columns } from '../../src/kernels/cpu/int4-matmul.js';
import { refMatMulInt4 } from '../../src/kernels/cpu/reference/int4-matmul.js';
import { refDequantizeLinear, refQuantizeLinear } from '../../src/kernels/cpu/reference/quantize.js';
import { readNpy, writeNpy } from '../../src/cli/npy.js';
import { InferenceSession } from '../../src/graph/index.js';
import { decodeTensorProto } from '../../src/graph/onnx/decode.js';
import { encodeTensorProto } from '../../src/graph/onnx/encode.js';
import { TensorDataType } from '../../src/graph/onnx/proto.js';
import { tensorFromProto, tensorToProto } from '../../src/graph/onnx/tensor-proto.js';
import '../../src/ops/index.js';
import { matMulInt4 } from '../../src/ops/quant-fused.js';
import { dequantizeLinear, quantizeLinear } from '../../src/ops/quantize.js';
import { INT4_BLOCKED, quantizeInt4Blocked, quantizeInt4Weights } from '../../src/quant/int4.js';
import { loadForCompression, saveModel } from '../../src/quant/model.js';
import { refQuantizeInt4Blocked } from '../../src/quant/reference-int4.js';
import { modelStats } from '../../src/quant/stats.js';
import { bytesPerElement, DATA_TYPES, dataTypeFromOnnx, dataTypeFromOnnxCode, isDataType } from '../../src/tensor/dtype.js';
import { int4At, packInt4, unpackInt4 } from '../../src/tensor/int4.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { graph, modelBytes, node, value } from '../graph/build.js';
import { expectClose, randomTensor } from '../util/tensors.js';

const arbSigned = fc.boolean();
const codesOf = (signed: boolean, n: number): fc.Arbitrary<number[]> => fc.array(fc.integer({ min: signed ? -8 : 0, max: signed ? 7 : 15 }), { minLength: n, maxLength: n });

/** A 4-bit tensor of `dims` from a seed: int4 in [-8, 7] or uint4 in [0, 15]. */
function randomInt4(type: 'int4' | 'uint4', dims: number[], seed: number): Tensor {
  const u = randomTensor('int32', dims, seed, 8).numbers();
  const vals = Array.from(u, (v) => (type === 'int4' ? Math.min(7, v) : Math.min(15, v + 8)));
  return new Tensor(type, type === 'int4' ? Int8Array.from(vals) : Uint8Array.from(vals), dims);
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

async function ortRun(bytes: Uint8Array, x: Tensor, accuracyLevel = '0'): Promise<Float32Array> {
  // accuracy level 0: onnxruntime's own DequantizeLinear -> MatMul fusion keeps float activations (its default, 4,
  // quantizes them to int8 inside MatMulNBits)
  const s = await ort.InferenceSession.create(bytes, { extra: { session: { qdq_matmulnbits_accuracy_level: accuracyLevel } } });
  const out = await s.run({ x: new ort.Tensor('float32', Float32Array.from(x.data as Float32Array), x.dims.slice()) });
  return out[s.outputNames[0]!]!.data as Float32Array;
}

describe('4-bit dtypes and codec', () => {
  it('packs two values per byte, first in the low nibble, for any count', () => {
    expect(Array.from(packInt4([1, -1, 7], true))).toEqual([0xf1, 0x07]);
    expect(Array.from(packInt4([15, 0, 3], false))).toEqual([0x0f, 0x03]);
    expect(Array.from(unpackInt4(Uint8Array.from([0xf1, 0x87]), 4, true))).toEqual([1, -1, 7, -8]);
    fc.assert(
      fc.property(arbSigned.chain((s) => fc.tuple(fc.constant(s), fc.integer({ min: 0, max: 41 }).chain((n) => codesOf(s, n)))), ([signed, vals]) => {
        const packed = packInt4(vals, signed);
        expect(packed.length).toBe(Math.ceil(vals.length / 2));
        expect(Array.from(unpackInt4(packed, vals.length, signed))).toEqual(vals);
        vals.forEach((v, i) => expect(int4At(packed, i, signed)).toBe(v));
        // an odd count leaves the last high nibble zero
        if (vals.length % 2) expect(packed[packed.length - 1]! >> 4).toBe(0);
      }),
      { numRuns: 200 },
    );
    expect(() => packInt4([8], true)).toThrow(/element 0 is 8; int4 values are integers in \[-8, 7\]/);
    expect(() => packInt4([-1], false)).toThrow(/uint4/);
    expect(() => unpackInt4(new Uint8Array(1), 3, true)).toThrow(/3 requested/);
  });

  it('int4/uint4 are dtypes held one value per byte, range-checked, outside DATA_TYPES', () => {
    expect(isDataType('int4') && isDataType('uint4')).toBe(true);
    expect(DATA_TYPES).not.toContain('int4');
    expect(dataTypeFromOnnxCode(22)).toBe('int4');
    expect(dataTypeFromOnnxCode(21)).toBe('uint4');
    expect(dataTypeFromOnnx(22)).toBeUndefined();
    expect(bytesPerElement('int4')).toBe(1);
    expect(new Tensor('int4', [-8, 7], [2]).data).toBeInstanceOf(Int8Array);
    expect(() => new Tensor('int4', Int8Array.from([8]), [1])).toThrow(/element 0 is 8; int4 values lie in \[-8, 7\]/);
    expect(() => new Tensor('uint4', [16], [1])).toThrow(/uint4 values lie in \[0, 15\]/);
    expect(() => new Tensor('int4', Uint8Array.from([1]), [1])).toThrow(/stored in a Int8Array/);
    // numpy has no 4-bit dtype: .npy files hold them as int8 / uint8
    for (const type of ['int4', 'uint4'] as const) {
      const t = randomInt4(type, [3, 5], 7);
      const back = readNpy(writeNpy(t));
      expect(back.type).toBe(type === 'int4' ? 'int8' : 'uint8');
      expect(Array.from(back.numbers())).toEqual(Array.from(t.numbers()));
    }
  });
});

describe('TensorProto INT4 / UINT4', () => {
  it('round-trips through raw_data, odd element counts included', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 0, maxLength: 3 }), fc.integer({ min: 1, max: 1000 }), (signed, dims, seed) => {
        const t = randomInt4(signed ? 'int4' : 'uint4', dims, seed);
        const proto = tensorToProto(t, 'w');
        expect(proto.dataType).toBe(signed ? TensorDataType.INT4 : TensorDataType.UINT4);
        expect(proto.rawData!.length).toBe(Math.ceil(t.size / 2));
        const back = tensorFromProto(decodeTensorProto(encodeTensorProto(proto)), 'test');
        expect(back.type).toBe(t.type);
        expect([...back.dims]).toEqual([...t.dims]);
        expect(Array.from(back.data as Int8Array)).toEqual(Array.from(t.data as Int8Array));
      }),
      { numRuns: 150 },
    );
  });

  it('reads int32_data (one packed byte per entry) and refuses wrong sizes', () => {
    const base = { name: 'w', dataLocation: 0, externalData: [] };
    const t = tensorFromProto({ ...base, dims: [3], dataType: TensorDataType.INT4, int32Data: Int32Array.from([0xf1, 0x07]) }, 'test');
    expect(Array.from(t.data as Int8Array)).toEqual([1, -1, 7]);
    const u = tensorFromProto({ ...base, dims: [2, 1], dataType: TensorDataType.UINT4, int32Data: Int32Array.from([0xa5]) }, 'test');
    expect(Array.from(u.data as Uint8Array)).toEqual([5, 10]);
    expect(() => tensorFromProto({ ...base, dims: [5], dataType: TensorDataType.INT4, rawData: new Uint8Array(2) }, 'init')).toThrow(/raw_data has 2 bytes; 5 int4 values packed two per byte need 3/);
    expect(() => tensorFromProto({ ...base, dims: [5], dataType: TensorDataType.UINT4, int32Data: new Int32Array(2) }, 'init')).toThrow(/int32_data has 2 values; 5 uint4 values packed two per entry need 3/);
  });
});

describe('QuantizeLinear / DequantizeLinear with int4 / uint4', () => {
  it('blocked and per-axis parameters match the references', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 4 }), fc.boolean(), fc.integer({ min: 1, max: 999 }), (signed, k, n, bs, withZp, seed) => {
        const type = signed ? 'int4' : 'uint4';
        const blocks = Math.ceil(k / bs);
        const x = randomInt4(type, [k, n], seed);
        const scale = randomTensor('float32', [blocks, n], seed + 1, 1).numbers().map((v) => Math.abs(v) + 0.01);
        const s = new Tensor('float32', Float32Array.from(scale), [blocks, n]);
        const zp = withZp ? randomInt4(type, [blocks, n], seed + 2) : undefined;
        const y = dequantizeLinear(x, s, zp, { axis: 0, blockSize: bs });
        expectClose(y, refDequantizeLinear(x, s, zp, 0, bs), { rtol: 0, atol: 0 });
        const f = randomTensor('float32', [k, n], seed + 3, 10);
        const zq = zp ?? new Tensor(type, type === 'int4' ? new Int8Array(blocks * n) : new Uint8Array(blocks * n), [blocks, n]);
        const q = quantizeLinear(f, s, zq, { axis: 0, blockSize: bs });
        expect(q.type).toBe(type);
        expect(Array.from(q.numbers())).toEqual(Array.from(refQuantizeLinear(f, s, zq, 0, bs, type).numbers()));
      }),
      { numRuns: 60 },
    );
  });
});

describe('MatMulInt4 kernel', () => {
  it('matches its reference on random shapes, blocks, zero points, bias and activations', () => {
    fc.assert(
      fc.property(
        fc.record({
          signed: fc.boolean(),
          m: fc.integer({ min: 1, max: 5 }),
          k: fc.integer({ min: 1, max: 70 }),
          n: fc.integer({ min: 1, max: 19 }),
          bs: fc.constantFrom(1, 3, 16, 32, 64),
          zp: fc.boolean(),
          bias: fc.boolean(),
          activation: fc.constantFrom('', 'Relu', 'Sigmoid'),
          batch: fc.boolean(),
          seed: fc.integer({ min: 1, max: 10_000 }),
        }),
        (c) => {
          const type = c.signed ? 'int4' : 'uint4';
          const blocks = Math.ceil(c.k / c.bs);
          const q = randomInt4(type, [c.k, c.n], c.seed);
          const packed = new Tensor('uint8', packInt4(q.data as Int8Array, c.signed), [Math.ceil((c.k * c.n) / 2)]);
          const scales = new Tensor('float32', Float32Array.from(randomTensor('float32', [blocks * c.n], c.seed + 1, 0.5).numbers(), (v) => Math.abs(v) + 0.01), [blocks, c.n]);
          const zeroPoints = c.zp ? randomInt4(type, [blocks, c.n], c.seed + 2) : undefined;
          const bias = c.bias ? randomTensor('float32', [c.n], c.seed + 3, 1) : undefined;
          const a = randomTensor('float32', c.batch ? [2, c.m, c.k] : [c.m, c.k], c.seed + 4, 1);
          const o = { k: c.k, n: c.n, blockSize: c.bs, signed: c.signed, zeroPoints, bias, activation: c.activation };
          expectClose(matMulInt4(a, packed, scales, o), refMatMulInt4(a, packed, scales, o), { rtol: 1e-4, atol: 1e-4 });
        },
      ),
      { numRuns: 120 },
    );
  });

  it('unpacks panels that start on odd elements and spans several panels', () => {
    // N = 301 (odd) crosses the 256-column panel; K = 7 rows start alternately on low and high nibbles
    for (const signed of [true, false]) {
      const [k, n] = [7, 301];
      const q = randomInt4(signed ? 'int4' : 'uint4', [k, n], 5);
      const packed = packInt4(q.data as Int8Array, signed);
      const scales = Float32Array.from({ length: n }, (_, i) => 0.5 + (i % 7) * 0.25);
      const panel = new Float32Array(k * 45);
      unpackInt4Columns(packed, scales, undefined, k, n, 32, signed, 256, 45, panel);
      for (let r = 0; r < k; r++) for (let j = 0; j < 45; j++) expect(panel[r * 45 + j]).toBe(Math.fround((q.data as Int8Array)[r * n + 256 + j]! * scales[256 + j]!));
      const a = randomTensor('float32', [3, k], 6, 1);
      const t = new Tensor('uint8', packed, [packed.length]);
      const s = new Tensor('float32', scales, [1, n]);
      expectClose(matMulInt4(a, t, s, { k, n, blockSize: 32, signed }), refMatMulInt4(a, t, s, { k, n, blockSize: 32, signed }), { rtol: 1e-5, atol: 1e-5 });
    }
  });

  it('refuses inconsistent inputs with the expected shape', () => {
    const a = randomTensor('float32', [2, 40], 1, 1);
    const packed = new Tensor('uint8', new Uint8Array(60), [60]);
    const scales = new Tensor('float32', new Float32Array(6), [2, 3]);
    expect(() => matMulInt4(a, packed, scales, { k: 40, n: 3, blockSize: 32 })).not.toThrow();
    expect(() => matMulInt4(a, new Tensor('uint8', new Uint8Array(61), [61]), scales, { k: 40, n: 3, blockSize: 32 })).toThrow(/input 'B' has shape \[61\]; expected \[60\]/);
    expect(() => matMulInt4(a, packed, scales, { k: 40, n: 3, blockSize: 16 })).toThrow(/input 'scales' has shape \[2, 3\]; expected \[3, 3\]/);
    expect(() => matMulInt4(randomTensor('float32', [2, 41], 1, 1), packed, scales, { k: 40, n: 3, blockSize: 32 })).toThrow(/last dim to be K = 40/);
    expect(() => matMulInt4(a, packed, scales, { k: 40, n: 3, blockSize: 32, signed: false, zeroPoints: new Tensor('int4', new Int8Array(6), [2, 3]) })).toThrow(/'zero_points' is int4 but 'signed' is 0/);
  });
});

describe('int4 blocked quantizer', () => {
  it('matches its plain-loop twin and the declared layout', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 80 }), fc.integer({ min: 1, max: 9 }), fc.constantFrom(1, 5, 32), fc.integer({ min: 1, max: 9999 }), fc.boolean(), (k, n, bs, seed, zeroColumn) => {
        const w = randomTensor('float32', [k, n], seed, 3).numbers() as Float32Array;
        if (zeroColumn) for (let r = 0; r < k; r++) w[r * n] = 0;
        const q = quantizeInt4Blocked(w, k, n, bs);
        const ref = refQuantizeInt4Blocked(w, k, n, bs);
        expect(Array.from(q.codes)).toEqual(ref.codes);
        expect(Array.from(q.scales)).toEqual(ref.scales);
        // exactly QuantizeLinear(axis 0, block_size) with those scales, codes on the symmetric grid
        const viaOp = quantizeLinear(new Tensor('float32', w, [k, n]), new Tensor('float32', q.scales, [Math.ceil(k / bs), n]), new Tensor('int4', new Int8Array(Math.ceil(k / bs) * n), [Math.ceil(k / bs), n]), { axis: 0, blockSize: bs });
        expect(Array.from(viaOp.numbers())).toEqual(Array.from(q.codes));
        expect(q.codes.every((c) => c >= INT4_BLOCKED.codeMin && c <= INT4_BLOCKED.codeMax)).toBe(true);
      }),
      { numRuns: 100 },
    );
    expect(() => quantizeInt4Blocked(new Float32Array([NaN, 1]), 2, 1)).toThrow(/weight \[0, 0\] is NaN/);
    expect(() => quantizeInt4Blocked(new Float32Array(3), 2, 2)).toThrow(/3 weights given; \[2, 2\] needs 4/);
  });

  it('declares its bytes: 4 bits a weight plus one float32 per 32-weight block, no padding', () => {
    // PP-OCR rec's K = 120: 60 bytes of codes + 4 scales = 76 bytes per column against 480 float32 bytes
    expect(INT4_BLOCKED.bytes(120, 1)).toBe(60 + 16);
    expect(INT4_BLOCKED.bytes(120, 360) / (4 * 120 * 360)).toBeCloseTo(0.1583, 4);
    expect(INT4_BLOCKED.bytes(4096, 4096) / (4 * 4096 * 4096)).toBeCloseTo(0.15625, 6);
    const q = quantizeInt4Blocked(randomTensor('float32', [33, 5], 1, 1).numbers(), 33, 5);
    expect(packInt4(q.codes, true).byteLength + q.scales.byteLength).toBe(INT4_BLOCKED.bytes(33, 5));
  });
});

describe('int4 weight-only pass', () => {
  /** MatMul -> Relu -> Gemm(transB, C) at opset 13 with a ReduceMean (axes attribute) to upgrade. */
  function passModel(): Uint8Array {
    const g = graph({
      nodes: [
        node('MatMul', ['x', 'B'], ['h']),
        node('Relu', ['h'], ['r']),
        node('Gemm', ['r', 'G', 'GB'], ['g'], { transB: 1 }),
        node('ReduceMean', ['g'], ['y'], { axes: [1], keepdims: 1 }),
      ],
      inputs: [value('x', 'float32', [3, 120])],
      outputs: [value('y', 'float32', [3, 1])],
      initializers: { B: randomTensor('float32', [120, 40], 21, 0.3), G: randomTensor('float32', [6, 40], 22, 0.3), GB: randomTensor('float32', [6], 23, 0.1) },
    });
    return modelBytes(g, 13);
  }

  it('writes standard ONNX (opset 21, INT4 + blocked DequantizeLinear) with the declared bytes', () => {
    const r = quantizeInt4Weights(loadForCompression(passModel()), { minElements: 16 });
    expect(r.quantizedNodes).toBe(2);
    expect(r.model.opsets.get('')).toBe(21);
    expect(r.model.irVersion).toBeGreaterThanOrEqual(10);
    expect(r.model.graph.nodes.map((n) => n.opType)).toEqual(['DequantizeLinear', 'MatMul', 'Relu', 'DequantizeLinear', 'Gemm', 'ReduceMean']);
    // 120 x 40: 2400 bytes of codes + 4 blocks x 40 scales; 40 x 6 (after transB): 120 bytes + 2 x 6 scales
    expect(r.int4Bytes).toBe(2400 + 4 * 4 * 40 + 120 + 4 * 2 * 6);
    expect(r.int4Bytes).toBe(INT4_BLOCKED.bytes(120, 40) + INT4_BLOCKED.bytes(40, 6));
    expect(r.float32Bytes).toBe(4 * (120 * 40 + 40 * 6));
    const inits = [...r.model.graph.initializers.values()];
    expect(inits.filter((t) => t.type === 'int4').map((t) => [...t.dims])).toEqual([[120, 40], [40, 6]]);
    expect(r.model.graph.nodes.find((n) => n.opType === 'Gemm')!.attrs['transB']).toBeUndefined();
    expect(r.model.graph.nodes.find((n) => n.opType === 'ReduceMean')!.inputs.length).toBe(2);
  });

  it('runs in Tessera with the weights packed (fused MatMulInt4) and in onnxruntime-node with the same outputs', async () => {
    const bytes = passModel();
    const r = quantizeInt4Weights(loadForCompression(bytes), { minElements: 16 });
    const saved = saveModel(r.model);
    const x = randomTensor('float32', [3, 120], 24, 1);
    const s = await InferenceSession.create(saved);
    const literal = await InferenceSession.create(saved, { graphOptimizationLevel: 'basic' });
    const f = await InferenceSession.create(bytes);
    expect(s.model.graph.nodes.filter((n) => n.opType === 'MatMulInt4').length).toBe(2);
    // no int4 tensor is left: the weights are held as packed bytes (K * N / 2) plus scales
    const held = [...s.model.graph.initializers.values()];
    expect(held.some((t) => t.type === 'int4')).toBe(false);
    const packedBytes = held.filter((t) => t.type === 'uint8').reduce((p, t) => p + t.size, 0);
    expect(packedBytes).toBe(2400 + 120);
    const mine = (await s.run({ x }))['y']!.numbers();
    const plain = (await literal.run({ x }))['y']!.numbers();
    const float = (await f.run({ x }))['y']!.numbers();
    expect(maxDiff(mine, plain)).toBeLessThan(1e-5);
    // 4-bit weights: about 1/14 of a block's largest weight of error per weight
    expect(maxDiff(mine, float)).toBeLessThan(0.2);
    expect(maxDiff(mine, float)).toBeGreaterThan(0);
    expect(maxDiff(mine, await ortRun(saved, x))).toBeLessThan(1e-5);
    // onnxruntime's default fuses into MatMulNBits with int8 activations (accuracy level 4): close, not exact
    expect(maxDiff(mine, await ortRun(saved, x, '4'))).toBeLessThan(2e-2);
    // weight memory as the compression report counts it: the packed codes, not one byte per int4 value
    const stats = modelStats(s.model.graph, s.model.opsets, new Map([['x', x]]));
    const literalStats = modelStats(literal.model.graph, literal.model.opsets, new Map([['x', x]]));
    expect(literalStats.weightBytes - stats.weightBytes).toBe(120 * 40 + 40 * 6 - (2400 + 120));
    expect(stats.parameters).toBe(literalStats.parameters);
    expect(stats.flops).toBe(literalStats.flops);
    await s.release();
    await literal.release();
    await f.release();
  });

  it('fuses hand-written uint4 models with zero points and shares one packed copy between readers', async () => {
    const [k, n] = [70, 9];
    const blocks = Math.ceil(k / 16);
    const scale = new Tensor('float32', Float32Array.from({ length: blocks * n }, (_, i) => 0.01 + (i % 5) * 0.02), [blocks, n]);
    const g = graph({
      nodes: [
        node('DequantizeLinear', ['W', 'S', 'Z'], ['w'], { axis: 0, block_size: 16 }),
        node('MatMul', ['x', 'w'], ['a']),
        node('MatMul', ['x', 'w'], ['b']),
        node('Sub', ['a', 'b'], ['d']),
        node('Add', ['a', 'd'], ['y']),
      ],
      inputs: [value('x', 'float32', [2, 3, k])],
      outputs: [value('y', 'float32', [2, 3, n])],
      initializers: { W: randomInt4('uint4', [k, n], 31), S: scale, Z: randomInt4('uint4', [blocks, n], 32) },
    });
    const bytes = modelBytes(g, 21, 10);
    const s = await InferenceSession.create(bytes);
    const literal = await InferenceSession.create(bytes, { graphOptimizationLevel: 'basic' });
    const fused = s.model.graph.nodes.filter((m) => m.opType === 'MatMulInt4');
    expect(fused.length).toBe(2);
    expect(fused[0]!.inputs[1]).toBe(fused[1]!.inputs[1]);
    expect(fused[0]!.attrs['signed']).toBe(0);
    expect([...s.model.graph.initializers.values()].filter((t) => t.type === 'uint8').map((t) => t.size)).toEqual([Math.ceil((k * n) / 2)]);
    const x = randomTensor('float32', [2, 3, k], 33, 1);
    const mine = (await s.run({ x }))['y']!.numbers();
    expect(maxDiff(mine, (await literal.run({ x }))['y']!.numbers())).toBeLessThan(1e-5);
    expect(maxDiff(mine, await ortRun(bytes, x))).toBeLessThan(1e-4);
    await s.release();
    await literal.release();
  });
});
