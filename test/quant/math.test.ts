/**
 * The quantization math (src/quant/math.ts) against its plain-loop references (src/quant/reference.ts) on
 * random tensors, plus the properties that define it (zero exactly representable, error at most half a step,
 * symmetric zero points, saturation, ties to even), agreement with the QuantizeLinear/DequantizeLinear
 * kernels, float16 rounding and the int4 block layout's size and round trip.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import '../../src/kernels/cpu/quantize.js';
import { dequantizeLinear, quantizeLinear } from '../../src/ops/quantize.js';
import {
  INT4_BLOCK,
  chooseQuantParams,
  dequantizeInt4,
  dequantizeTensor,
  int4WeightBytes,
  quantizeInt4,
  quantizeTensor,
  quantizeValue,
  toFloat16,
  type QuantScheme,
} from '../../src/quant/math.js';
import { chooseQuantParamsReference, dequantizeReference, int4ValueReference, quantizeInt4Reference, quantizeReference, roundHalfEvenReference } from '../../src/quant/reference.js';
import { roundHalfEven } from '../../src/tensor/numeric.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { arbShape } from '../util/tensors.js';

const SCHEMES: QuantScheme[] = [
  { type: 'int8', symmetric: true },
  { type: 'int8', symmetric: false },
  { type: 'uint8', symmetric: true },
  { type: 'uint8', symmetric: false },
];
const arbScheme = fc.constantFrom(...SCHEMES);

/** A float32 tensor of `dims` with values in [-range, range] (fast-check drawn, float32-representable). */
function arbFloatTensor(dims: readonly number[], range = 8): fc.Arbitrary<Tensor<'float32'>> {
  const size = dims.reduce((p, d) => p * d, 1);
  return fc
    .array(fc.float({ min: Math.fround(-range), max: Math.fround(range), noNaN: true, noDefaultInfinity: true }), { minLength: size, maxLength: size })
    .map((v) => new Tensor('float32', Float32Array.from(v, (x) => (Object.is(x, -0) ? 0 : x)), dims));
}

/** A random tensor together with an axis of it (or undefined for per tensor). */
const arbCase = arbShape({ minRank: 1, maxRank: 4, maxDim: 5 }).chain((dims) =>
  fc.tuple(arbFloatTensor(dims), fc.option(fc.integer({ min: 0, max: dims.length - 1 }), { nil: undefined }), arbScheme),
);

describe('roundHalfEven', () => {
  it('matches the definition on halves and random values', () => {
    for (const [v, want] of [[2.5, 2], [3.5, 4], [-2.5, -2], [-3.5, -4], [0.5, 0], [1.5, 2], [-0.5, -0], [2.4, 2], [-2.6, -3]] as const) {
      expect(roundHalfEven(v)).toBe(want);
      expect(roundHalfEvenReference(v)).toBe(want === 0 ? 0 : want);
    }
    fc.assert(fc.property(fc.double({ min: -1e6, max: 1e6, noNaN: true }), (v) => roundHalfEven(v) === roundHalfEvenReference(v) || roundHalfEven(v) + 0 === 0), { numRuns: 200 });
  });
});

describe('chooseQuantParams', () => {
  it('equals the reference on random ranges', () => {
    fc.assert(
      fc.property(fc.double({ min: -100, max: 100, noNaN: true }), fc.double({ min: -100, max: 100, noNaN: true }), arbScheme, (a, b, scheme) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        expect(chooseQuantParams(lo, hi, scheme)).toEqual(chooseQuantParamsReference(lo, hi, scheme));
      }),
      { numRuns: 200 },
    );
  });

  it('represents 0 exactly and keeps the range inside the codes', () => {
    fc.assert(
      fc.property(fc.double({ min: -50, max: 50, noNaN: true }), fc.double({ min: -50, max: 50, noNaN: true }), arbScheme, (a, b, scheme) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        const { scale, zeroPoint } = chooseQuantParams(lo, hi, scheme);
        expect(Number.isInteger(zeroPoint)).toBe(true);
        expect(scale).toBeGreaterThan(0);
        // zero quantizes to the zero point and back to 0
        expect((roundHalfEven(0 / scale) + zeroPoint - zeroPoint) * scale).toBe(0);
        const [tlo, thi] = scheme.type === 'int8' ? [-128, 127] : [0, 255];
        expect(zeroPoint).toBeGreaterThanOrEqual(tlo);
        expect(zeroPoint).toBeLessThanOrEqual(thi);
        if (scheme.symmetric) expect(zeroPoint).toBe(scheme.type === 'int8' ? 0 : 128);
      }),
      { numRuns: 200 },
    );
  });

  it('known answers', () => {
    expect(chooseQuantParams(-1, 1, { type: 'int8', symmetric: true })).toEqual({ scale: Math.fround(1 / 127), zeroPoint: 0 });
    expect(chooseQuantParams(0, 2.55, { type: 'uint8', symmetric: false })).toEqual({ scale: Math.fround(0.01), zeroPoint: 0 });
    // [-1, 3] on uint8: scale 4/255, zero point round(1 / (4/255)) = round(63.75) = 64
    expect(chooseQuantParams(-1, 3, { type: 'uint8', symmetric: false })).toEqual({ scale: Math.fround(4 / 255), zeroPoint: 64 });
    // a range not containing 0 is widened to contain it
    expect(chooseQuantParams(2, 4, { type: 'uint8', symmetric: false }).zeroPoint).toBe(0);
    expect(chooseQuantParams(0, 0, { type: 'int8', symmetric: false })).toEqual({ scale: 1, zeroPoint: -128 });
    expect(() => chooseQuantParams(1, 0, { type: 'int8', symmetric: true })).toThrow(/min <= max/);
    expect(() => chooseQuantParams(NaN, 0, { type: 'int8', symmetric: true })).toThrow(/finite/);
  });
});

describe('quantizeTensor / dequantizeTensor', () => {
  it('equal the plain-loop reference (per tensor and per channel, all schemes)', () => {
    fc.assert(
      fc.property(arbCase, ([t, axis, scheme]) => {
        const got = quantizeTensor(t, scheme, axis);
        const ref = quantizeReference(t.numbers(), t.dims, scheme, axis);
        expect(Array.from(got.q.numbers())).toEqual(ref.q);
        expect(Array.from(got.scale.numbers())).toEqual(ref.scales);
        expect(Array.from(got.zeroPoint.numbers())).toEqual(ref.zeroPoints);
        expect(got.scale.dims).toEqual(axis === undefined ? [] : [t.dims[axis]]);
        const back = dequantizeTensor(got);
        expect(Array.from(back.numbers())).toEqual(dequantizeReference(ref.q, t.dims, ref.scales, ref.zeroPoints, axis));
      }),
      { numRuns: 80 },
    );
  });

  it('round-trips within half a step of every value', () => {
    fc.assert(
      fc.property(arbCase, ([t, axis, scheme]) => {
        const qt = quantizeTensor(t, scheme, axis);
        const back = dequantizeTensor(qt).numbers();
        const x = t.numbers();
        const scales = qt.scale.numbers();
        const inner = axis === undefined ? 1 : t.dims.slice(axis + 1).reduce((p, d) => p * d, 1);
        const channels = axis === undefined ? 1 : t.dims[axis]!;
        for (let i = 0; i < x.length; i++) {
          const s = scales[axis === undefined ? 0 : Math.floor(i / inner) % channels]!;
          expect(Math.abs(back[i]! - x[i]!)).toBeLessThanOrEqual(s / 2 + 1e-6 * Math.abs(x[i]!) + 1e-12);
        }
      }),
      { numRuns: 80 },
    );
  });

  it('agrees with the QuantizeLinear and DequantizeLinear kernels', () => {
    fc.assert(
      fc.property(arbCase, ([t, axis, scheme]) => {
        const qt = quantizeTensor(t, scheme, axis);
        const viaOp = quantizeLinear(t, qt.scale, qt.zeroPoint, { axis: axis ?? 1 });
        expect(viaOp.type).toBe(scheme.type);
        expect(Array.from(viaOp.numbers())).toEqual(Array.from(qt.q.numbers()));
        const deq = dequantizeLinear(qt.q, qt.scale, qt.zeroPoint, { axis: axis ?? 1 });
        expect(Array.from(deq.numbers())).toEqual(Array.from(dequantizeTensor(qt).numbers()));
      }),
      { numRuns: 50 },
    );
  });

  it('per channel keeps a small channel that per tensor flattens', () => {
    const t = new Tensor('float32', new Float32Array([100, -100, 0.01, -0.02]), [2, 2]);
    const perTensor = dequantizeTensor(quantizeTensor(t, { type: 'int8', symmetric: true }));
    const perChannel = dequantizeTensor(quantizeTensor(t, { type: 'int8', symmetric: true }, 0));
    expect(Array.from(perTensor.numbers()).slice(2)).toEqual([0, 0]);
    expect(perChannel.numbers()[3]).toBeCloseTo(-0.02, 6);
  });

  it('saturates codes and refuses non-finite values and bad axes', () => {
    const t = new Tensor('float32', new Float32Array([-1, 1]), [2]);
    expect(quantizeValue(1000, 0.1, 0, -128, 127)).toBe(127);
    expect(quantizeValue(-1000, 0.1, 3, 0, 255)).toBe(0);
    expect(quantizeValue(0.25, 0.1, 3, 0, 255)).toBe(5); // 2.5 rounds to 2 (even)
    const q = quantizeTensor(t, { type: 'int8', symmetric: false });
    expect(q.q.numbers()[0]).toBe(-128);
    expect(() => quantizeTensor(new Tensor('float32', new Float32Array([1, NaN]), [2]), { type: 'int8', symmetric: true })).toThrow(/element 1 is NaN/);
    expect(() => quantizeTensor(t, { type: 'int8', symmetric: true }, 1)).toThrow(/axis 1 is out of range for a tensor of rank 1/);
  });
});

describe('float16 weights', () => {
  it('rounds to the nearest half, ties to even, keeping values exact when representable', () => {
    const t = new Tensor('float32', new Float32Array([1, 0.1, 65504, 1e6, 2049, 2051, -3e-8]), [7]);
    const h = toFloat16(t);
    expect(h.type).toBe('float16');
    expect(h.data.byteLength).toBe(14);
    expect(Array.from(h.numbers())).toEqual([1, 0.0999755859375, 65504, Infinity, 2048, 2052, -(2 ** -24)]);
  });
});

describe('int4 weight-only blocks', () => {
  it('declares a 20-byte block of 32 weights and sizes the packed weight by it', () => {
    expect(INT4_BLOCK.bytes).toBe(20);
    expect(INT4_BLOCK.weights * 4).toBe(128);
    expect(int4WeightBytes(64, 3)).toBe(3 * 2 * 20);
    expect(int4WeightBytes(33, 1)).toBe(2 * 20);
    const w = quantizeInt4(new Float32Array(33 * 5).fill(0.5), 33, 5);
    expect(w.codes.byteLength + w.scales.byteLength).toBe(int4WeightBytes(33, 5));
    expect(int4WeightBytes(4096, 4096) / (4096 * 4096 * 4)).toBeLessThanOrEqual(0.16);
  });

  it('equals the element-by-element reference and reads back nibble by nibble', () => {
    const arb = fc.tuple(fc.integer({ min: 1, max: 80 }), fc.integer({ min: 1, max: 5 })).chain(([k, n]) => fc.tuple(fc.constant(k), fc.constant(n), arbFloatTensor([k, n], 4)));
    fc.assert(
      fc.property(arb, ([k, n, t]) => {
        const w = quantizeInt4(t.numbers(), k, n);
        const back = dequantizeInt4(w);
        const ref = quantizeInt4Reference(t.numbers(), k, n);
        for (let r = 0; r < k; r++) {
          for (let c = 0; c < n; c++) {
            expect(back[r * n + c]).toBe(Math.fround(ref[r]![c]!));
            expect(int4ValueReference(w.codes, w.scales, k, r, c)).toBe(back[r * n + c]);
          }
        }
        // every value within half a block step
        const x = t.numbers();
        for (let i = 0; i < x.length; i++) {
          const block = Math.floor(Math.floor(i / n) / 32);
          const scale = w.scales[(i % n) * w.blocksPerColumn + block]!;
          expect(Math.abs(back[i]! - x[i]!)).toBeLessThanOrEqual(scale / 2 + 1e-6);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('known answer: one block of 0..31 scaled to max 7', () => {
    const v = Float32Array.from({ length: 32 }, (_, i) => (i - 16) * 0.25); // -4 .. 3.75, scale 4/7
    const w = quantizeInt4(v, 32, 1);
    expect(w.scales[0]).toBe(Math.fround(4 / 7));
    expect(w.codes[0]! & 15).toBe(1); // -4 / (4/7) = -7 -> code 1
    expect(w.codes[0]! >> 4).toBe(8 + roundHalfEven(Math.fround(-3.75 / Math.fround(4 / 7))));
    expect(() => quantizeInt4(new Float32Array(3), 2, 2)).toThrow(/do not form a \[2, 2\] matrix/);
    expect(() => quantizeInt4(new Float32Array([Infinity, 0]), 2, 1)).toThrow(/non-finite/);
  });
});
