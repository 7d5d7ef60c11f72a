import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import '../../src/kernels/cpu/quantize.js';
import * as ops from '../../src/ops/quantize.js';
import { Tensor, fromNumbers } from '../../src/tensor/tensor.js';
import { OpValidationError } from '../../src/tensor/errors.js';
import { refDequantizeLinear, refIntegerMatmul2D, refQuantizeLinear } from '../../src/kernels/cpu/reference/quantize.js';
import { roundHalfEven } from '../../src/tensor/numeric.js';
import { arbShape, arbTensor, expectClose, nonContiguous } from '../util/tensors.js';

const f32 = (v: number[], d: number[]) => new Tensor('float32', new Float32Array(v), d);

describe('roundHalfEven', () => {
  it('rounds ties to even and everything else to nearest', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4, 2.6, -2.6].map(roundHalfEven)).toEqual([0, 2, 2, -0, -2, -2, 2, 3, -3]);
    fc.assert(fc.property(fc.double({ min: -1e6, max: 1e6, noNaN: true }), (v) => {
      const r = roundHalfEven(v);
      expect(Math.abs(r - v)).toBeLessThanOrEqual(0.5);
      if (Math.abs(r - v) === 0.5) expect(Math.abs(r % 2)).toBe(0);
    }));
  });
});

describe('QuantizeLinear / DequantizeLinear', () => {
  it('known answer: per-tensor uint8 with half-even rounding and saturation (Operators.md example)', () => {
    const x = f32([0, 2, 3, 1000, -254, -1000], [6]);
    const y = ops.quantizeLinear(x, f32([2], []), new Tensor('uint8', new Uint8Array([128]), []));
    expect(Array.from(y.data as Uint8Array)).toEqual([128, 129, 130, 255, 1, 0]);
  });
  it('known answer: per-axis (Operators.md axis example)', () => {
    const x = f32([-162, 10, -100, 232, -20, -50, -76, 0, 0, 252, 32, -44, 245, -485, -960, -270, -375, -470], [1, 3, 3, 2]);
    const y = ops.quantizeLinear(x, f32([2, 4, 5], [3]), new Tensor('uint8', new Uint8Array([84, 24, 196]), [3]));
    expect(Array.from(y.data as Uint8Array)).toEqual([3, 89, 34, 200, 74, 59, 5, 24, 24, 87, 32, 13, 245, 99, 4, 142, 121, 102]);
  });
  const layouts = fc.oneof(
    arbShape({ minRank: 0, maxRank: 4, maxDim: 5 }).map((dims) => ({ dims, axis: 0, block: 0, scaleDims: [] as number[] })),
    arbShape({ minRank: 1, maxRank: 4, minDim: 1, maxDim: 5 }).chain((dims) =>
      fc.integer({ min: -dims.length, max: dims.length - 1 }).map((axis) => ({ dims, axis, block: 0, scaleDims: [dims[axis < 0 ? axis + dims.length : axis]!] })),
    ),
    arbShape({ minRank: 1, maxRank: 3, minDim: 1, maxDim: 6 }).chain((dims) =>
      fc.tuple(fc.integer({ min: 0, max: dims.length - 1 }), fc.integer({ min: 1, max: 4 })).map(([axis, block]) => ({
        dims,
        axis,
        block,
        scaleDims: dims.map((d, i) => (i === axis ? Math.ceil(d / block) : d)),
      })),
    ),
  );
  it('matches the reference for per-tensor, per-axis and blocked layouts, int8/uint8/int16', () => {
    fc.assert(
      fc.property(
        layouts.chain((l) =>
          fc.tuple(
            fc.constant(l),
            arbTensor('float32', l.dims, 300),
            arbTensor('float32', l.scaleDims, 4).map((s) => fromNumbers('float32', Array.from(s.data as Float32Array, (v) => Math.abs(v) + 0.05), l.scaleDims)),
            fc.constantFrom('int8' as const, 'uint8' as const, 'int16' as const),
            fc.boolean(),
          ),
        ),
        ([l, x, scale, qt, strided]) => {
          const zp = arbZp(qt, l.scaleDims);
          const y = ops.quantizeLinear(strided ? nonContiguous(x) : x, scale, zp, { axis: l.axis, blockSize: l.block });
          expectClose(y, refQuantizeLinear(x, scale, zp, l.axis, l.block, qt), { rtol: 0, atol: 0 });
          const back = ops.dequantizeLinear(y, scale, zp, { axis: l.axis, blockSize: l.block });
          expectClose(back, refDequantizeLinear(y, scale, zp, l.axis, l.block), { rtol: 0, atol: 0 });
        },
      ),
      { numRuns: 80 },
    );
  });
  it('rejects a scale that fits no layout and a zero point of another shape', () => {
    const x = f32(new Array(6).fill(1), [2, 3]);
    expect(() => ops.quantizeLinear(x, f32([1, 1], [2]), undefined, { axis: 1 })).toThrow(/per-axis scale has shape \[2\]; expected \[3\]/);
    expect(() => ops.quantizeLinear(x, f32([1, 1, 1], [3]), new Tensor('uint8', new Uint8Array(2), [2]))).toThrow(/zero point shape \[2\] must equal scale shape \[3\]/);
    expect(() => ops.quantizeLinear(x, f32([1, 1], [2, 1]), undefined, { axis: 1, blockSize: 2 })).toThrow(/blocked scale has shape \[2, 1\]; expected \[2, 2\]/);
    expect(() => ops.quantizeLinear(new Tensor('int8', new Int8Array(2), [2]), f32([1], []))).toThrow(OpValidationError);
  });
});

function arbZp(type: 'int8' | 'uint8' | 'int16', dims: number[]): Tensor {
  const n = dims.reduce((p, d) => p * d, 1);
  const vals = Array.from({ length: n }, (_, i) => (type === 'uint8' ? (i * 37) % 256 : ((i * 37) % 200) - 100));
  return fromNumbers(type, vals, dims);
}

describe('DynamicQuantizeLinear', () => {
  it('known answer (the ONNX conformance case test_dynamicquantizelinear)', () => {
    const { y, scale, zeroPoint } = ops.dynamicQuantizeLinear(f32([0, 2, -3, -2.5, 1.34, 0.5], [6]));
    expect(scale.data[0]).toBeCloseTo(0.0196078438, 8);
    expect(zeroPoint.data[0]).toBe(153);
    expect(Array.from(y.data as Uint8Array)).toEqual([153, 255, 0, 26, 221, 179]);
  });
  it('all-zero input uses scale 1/255 and zero point 0', () => {
    const { y, scale, zeroPoint } = ops.dynamicQuantizeLinear(f32([0, 0], [2]));
    expect(scale.data[0]).toBe(Math.fround(1 / 255));
    expect(zeroPoint.data[0]).toBe(0);
    expect(Array.from(y.data as Uint8Array)).toEqual([0, 0]);
  });
});

describe('MatMulInteger / QLinearMatMul', () => {
  const mats = fc.tuple(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0, max: 6 }));
  it('MatMulInteger equals the exact integer reference with per-tensor, per-row and per-column zero points', () => {
    fc.assert(
      fc.property(
        mats.chain(([m, k, n]) => fc.tuple(arbTensor('uint8', [m, k], 255), arbTensor('int8', [k, n], 127), fc.boolean(), fc.boolean(), fc.constant([m, n]))),
        ([a, b, rowZp, colZp, [m, n]]) => {
          const azp = rowZp ? fromNumbers('uint8', Array.from({ length: m! }, (_, i) => (i * 31) % 256), [m!]) : fromNumbers('uint8', [12], []);
          const bzp = colZp ? fromNumbers('int8', Array.from({ length: n! }, (_, i) => (i * 7) % 50 - 25), [n!]) : fromNumbers('int8', [-3], []);
          const y = ops.matMulInteger(a, b, azp, bzp);
          expect(Array.from(y.data as Int32Array)).toEqual(refIntegerMatmul2D(a, b, azp, bzp));
        },
      ),
      { numRuns: 60 },
    );
  });
  it('MatMulInteger broadcasts batch dims', () => {
    const a = fromNumbers('uint8', [1, 2, 3, 4, 5, 6, 7, 8], [2, 2, 2]);
    const b = fromNumbers('uint8', [1, 0, 0, 1], [2, 2]);
    const y = ops.matMulInteger(a, b);
    expect([...y.dims]).toEqual([2, 2, 2]);
    expect(Array.from(y.data as Int32Array)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });
  it('QLinearMatMul known answer (Operators.md 2-D uint8 example)', () => {
    const a = fromNumbers('uint8', [208, 236, 0, 238, 3, 214, 255, 29], [2, 4]);
    const b = fromNumbers('uint8', [152, 51, 244, 60, 26, 255, 0, 127, 246, 127, 254, 247], [4, 3]);
    const y = ops.qlinearMatMul(a, f32([0.0066], []), fromNumbers('uint8', [113], []), b, f32([0.00705], []), fromNumbers('uint8', [114], []), f32([0.0107], []), fromNumbers('uint8', [118], []));
    expect(Array.from(y.data as Uint8Array)).toEqual([168, 115, 255, 1, 66, 151]);
  });
  it('rejects mismatched inner dims and bad zero point shapes', () => {
    const a = fromNumbers('uint8', [1, 2, 3, 4, 5, 6], [2, 3]);
    expect(() => ops.matMulInteger(a, a)).toThrow(/inner dimensions differ: A \[2, 3\] has K=3, B \[2, 3\] has K=2/);
    expect(() => ops.matMulInteger(a, fromNumbers('uint8', [1, 2, 3], [3, 1]), fromNumbers('uint8', [1, 2, 3], [3]))).toThrow(/a_zero_point has shape \[3\]; expected a scalar or a 1-D tensor of 2 rows/);
  });
});

import { refConv } from '../../src/kernels/cpu/reference/conv.js';

describe('ConvInteger / QLinearConv', () => {
  it('ConvInteger known answer: per-channel weight zero points and padding (Operators.md with_padding)', () => {
    const x = fromNumbers('uint8', [2, 3, 4, 5, 6, 7, 8, 9, 10], [1, 1, 3, 3]);
    const w = fromNumbers('uint8', [1, 1, 1, 1, 1, 1, 1, 1], [2, 1, 2, 2]);
    const y = ops.convInteger(x, w, fromNumbers('uint8', [1], []), fromNumbers('uint8', [0, 1], [2]), { pads: [1, 1, 1, 1] });
    expect([...y.dims]).toEqual([1, 2, 4, 4]);
    expect(Array.from(y.data as Int32Array)).toEqual([1, 3, 5, 3, 5, 12, 16, 9, 11, 24, 28, 15, 7, 15, 17, 9, ...new Array(16).fill(0)]);
  });
  it('QLinearConv known answer (Operators.md example)', () => {
    const x = fromNumbers('uint8', [255, 174, 162, 25, 203, 168, 58, 15, 59, 237, 95, 129, 0, 64, 56, 242, 153, 221, 168, 12, 166, 232, 178, 186, 195, 237, 162, 237, 188, 39, 124, 77, 80, 102, 43, 127, 230, 21, 83, 41, 40, 134, 255, 154, 92, 141, 42, 148, 247], [1, 1, 7, 7]);
    const y = ops.qlinearConv(x, f32([0.00369204697], []), fromNumbers('uint8', [132], []), fromNumbers('uint8', [0], [1, 1, 1, 1]), f32([0.00172794575], [1]), fromNumbers('uint8', [255], [1]), f32([0.00162681262], []), fromNumbers('uint8', [123], []));
    expect(Array.from(y.data as Uint8Array)).toEqual([0, 81, 93, 230, 52, 87, 197, 240, 196, 18, 160, 126, 255, 191, 199, 13, 102, 34, 87, 243, 89, 23, 77, 69, 60, 18, 93, 18, 67, 216, 131, 178, 175, 153, 212, 128, 25, 234, 172, 214, 215, 121, 0, 101, 163, 114, 213, 107, 8]);
  });
  it('ConvInteger equals an exact float64 reference convolution of the centred values', () => {
    const arb = fc
      .record({
        n: fc.integer({ min: 1, max: 2 }),
        group: fc.integer({ min: 1, max: 2 }),
        cg: fc.integer({ min: 1, max: 3 }),
        mg: fc.integer({ min: 1, max: 3 }),
        h: fc.integer({ min: 1, max: 6 }),
        w: fc.integer({ min: 1, max: 6 }),
        kh: fc.integer({ min: 1, max: 3 }),
        kw: fc.integer({ min: 1, max: 3 }),
        stride: fc.integer({ min: 1, max: 2 }),
        dil: fc.integer({ min: 1, max: 2 }),
        pad: fc.integer({ min: 0, max: 2 }),
        perChannel: fc.boolean(),
      })
      .filter((r) => r.h + 2 * r.pad >= (r.kh - 1) * r.dil + 1 && r.w + 2 * r.pad >= (r.kw - 1) * r.dil + 1);
    fc.assert(
      fc.property(
        arb.chain((r) => fc.tuple(fc.constant(r), arbTensor('uint8', [r.n, r.cg * r.group, r.h, r.w], 255), arbTensor('int8', [r.mg * r.group, r.cg, r.kh, r.kw], 127))),
        ([r, x, w]) => {
          const M = r.mg * r.group;
          const xz = fromNumbers('uint8', [77], []);
          const wz = r.perChannel ? fromNumbers('int8', Array.from({ length: M }, (_, i) => i * 5 - 4), [M]) : fromNumbers('int8', [3], []);
          const attrs = { strides: [r.stride, r.stride], dilations: [r.dil, r.dil], pads: [r.pad, r.pad, r.pad, r.pad], group: r.group };
          const y = ops.convInteger(x, w, xz, wz, attrs);
          const xc = fromNumbers('float64', Array.from(x.data as Uint8Array, (v) => v - 77), x.dims);
          const wzv = wz.numbers();
          const per = r.cg * r.kh * r.kw;
          const wc = fromNumbers('float64', Array.from(w.data as Int8Array, (v, i) => v - wzv[wzv.length === 1 ? 0 : Math.floor(i / per)]!), w.dims);
          const ref = refConv(xc, wc, undefined, attrs);
          expect(Array.from(y.data as Int32Array)).toEqual(Array.from(ref.data as Float64Array));
        },
      ),
      { numRuns: 50 },
    );
  });
  it('reports Conv shape errors under the quantized op name', () => {
    const x = fromNumbers('uint8', new Array(9).fill(1), [1, 1, 3, 3]);
    const w = fromNumbers('uint8', new Array(8).fill(1), [2, 2, 1, 2]);
    expect(() => ops.convInteger(x, w)).toThrow(/^ConvInteger: input 'W' has shape \[2, 2, 1, 2\]/);
  });
});
