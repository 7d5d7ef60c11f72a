import { UnsupportedFeatureError } from '../../src/tensor/errors.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import '../../src/kernels/cpu/index.js';
import { fromNumbers, ops, OpValidationError, runOp, Tensor } from '../../src/index.js';
import { planRows } from '../../src/kernels/cpu/broadcast-rows.js';
import { float32ToHalfBits } from '../../src/kernels/cpu/half.js';
import { numberToHalfBits } from '../../src/tensor/float16.js';
import { refCast, refClip, refWhere } from '../../src/kernels/cpu/reference/elementwise.js';
import { DATA_TYPES, ONNX_TYPE_CODES, type DataType } from '../../src/tensor/dtype.js';
import { arbShape, expectBitwise, expectClose, nonContiguous } from '../util/tensors.js';
import { arbAny, arbBroadcastShapes } from './elementwise-arbitraries.js';

describe('row plans', () => {
  it('collapse equal shapes to one row and broadcast bias to rows', () => {
    const same = planRows([2, 3, 4], [[2, 3, 4], [2, 3, 4]]);
    expect([same.rows, same.rowLength, ...same.innerStrides]).toEqual([1, 24, 1, 1]);
    const bias = planRows([2, 3, 4, 5], [[2, 3, 4, 5], [1, 3, 1, 1]]);
    expect([bias.rows, bias.rowLength, ...bias.innerStrides]).toEqual([6, 20, 1, 0]);
    expect(Array.from(bias.rowOffsets[1]!)).toEqual([0, 1, 2, 0, 1, 2]);
    const scalar = planRows([3, 4], [[3, 4], []]);
    expect([scalar.rows, scalar.rowLength, ...scalar.innerStrides]).toEqual([1, 12, 1, 0]);
    expect(planRows([0, 3], [[0, 3], [3]]).rows).toBe(0);
  });
});

describe('float32 -> float16 bit encoder', () => {
  it('agrees with the shared correctly rounded encoder on random bit patterns and every boundary', () => {
    const bits = new Uint32Array(60000);
    let seed = 12345;
    for (let i = 0; i < bits.length; i++) {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      // half of the patterns land in the half-precision range, where rounding matters
      bits[i] = i % 2 ? seed : (0x33000000 + (seed % 0x15000000)) | (seed & 0x80000000);
    }
    const edges = [0, 0x80000000, 0x38800000, 0x387fffff, 0x477fe000, 0x477fefff, 0x477ff000, 0x7f800000, 0xff800000, 0x33000000, 0x33000001, 0x32ffffff, 0x3f801000, 0x3f803000];
    const values = new Float32Array(new Uint32Array([...bits, ...edges]).buffer);
    const fast = float32ToHalfBits(values);
    for (let i = 0; i < values.length; i++) {
      const want = numberToHalfBits(values[i]!);
      if (Number.isNaN(values[i]!)) {
        expect((fast[i]! & 0x7c00) === 0x7c00 && (fast[i]! & 0x3ff) !== 0).toBe(true);
        continue;
      }
      if (fast[i] !== want) throw new Error(`float ${values[i]} (bits ${new Uint32Array(values.buffer)[i]!.toString(16)}): got ${fast[i]!.toString(16)}, want ${want.toString(16)}`);
    }
    expect(float32ToHalfBits(new Float32Array([NaN]))[0]! & 0x7fff).toBeGreaterThan(0x7c00);
  });
});

describe('Where', () => {
  for (const type of ['float32', 'float16', 'float64', 'int8', 'uint32', 'int64', 'bool'] as DataType[]) {
    it(`matches the reference on three-way broadcasts (${type})`, () => {
      fc.assert(
        fc.property(
          arbBroadcastShapes(3).chain(([sc, sx, sy]) => fc.tuple(arbAny('bool', sc!), arbAny(type, sx!), arbAny(type, sy!))),
          fc.integer({ min: 0, max: 3 }),
          ([c, x, y], strided) => {
            const args = [c, x, y].map((t, i) => (i === strided ? nonContiguous(t) : t));
            expectBitwise(ops.where(args[0]!, args[1]!, args[2]!), refWhere(c, x, y), `Where ${type}`);
          },
        ),
        { numRuns: 30 },
      );
    });
  }
  it('example from Operators.md', () => {
    const c = fromNumbers('bool', [1, 0, 1, 1], [2, 2]);
    const x = fromNumbers('float32', [1, 2, 3, 4], [2, 2]);
    const y = fromNumbers('float32', [9, 8, 7, 6], [2, 2]);
    expect(Array.from(ops.where(c, x, y).data as Float32Array)).toEqual([1, 8, 3, 4]);
  });
  it('rejects a non-bool condition and mismatched branches', () => {
    const x = fromNumbers('float32', [1], [1]);
    expect(() => ops.where(x, x, x)).toThrow(/Where: input 0 'condition' has type float32; expected one of bool/);
    expect(() => ops.where(fromNumbers('bool', [1], [1]), x, fromNumbers('int32', [1], [1]))).toThrow(/input 2 'Y' has type int32 but 'X' has float32/);
  });
});

describe('Clip', () => {
  for (const type of ['float32', 'float64', 'float16', 'int8', 'uint8', 'int32', 'int64'] as DataType[]) {
    it(`matches Min(max, Max(x, min)) (${type})`, () => {
      fc.assert(
        fc.property(
          arbShape().chain((s) => arbAny(type, s)),
          arbAny(type, []),
          arbAny(type, []),
          fc.constantFrom('both', 'min', 'max', 'none'),
          fc.boolean(),
          (x, lo, hi, which, strided) => {
            const min = which === 'both' || which === 'min' ? lo : undefined;
            const max = which === 'both' || which === 'max' ? hi : undefined;
            const y = ops.clip(strided ? nonContiguous(x) : x, min, max);
            expectBitwise(y, refClip(x, min, max), `Clip ${type}`);
          },
        ),
        { numRuns: 30 },
      );
    });
  }
  it('known answers: in bounds, min > max gives max, NaN stays', () => {
    const x = fromNumbers('float32', [-2, 0, 2, NaN], [4]);
    const y = ops.clip(x, fromNumbers('float32', [-1], []), fromNumbers('float32', [1], []));
    expect(Array.from(y.data as Float32Array)).toEqual([-1, 0, 1, NaN]);
    const z = ops.clip(fromNumbers('float32', [-2, 0, 2], [3]), fromNumbers('float32', [2], []), fromNumbers('float32', [1], []));
    expect(Array.from(z.data as Float32Array)).toEqual([1, 1, 1]);
  });
  it('opset 6 form: min/max attributes', () => {
    const x = fromNumbers('float32', [-2, 0, 2], [3]);
    expect(Array.from(runOp('Clip', [x], { min: -1, max: 1 }, { opset: 6 })[0]!.data as Float32Array)).toEqual([-1, 0, 1]);
    expect(Array.from(runOp('Clip', [x], { max: 1 }, { opset: 6 })[0]!.data as Float32Array)).toEqual([-2, 0, 1]);
    expect(Array.from(runOp('Clip', [x], {}, { opset: 6 })[0]!.data as Float32Array)).toEqual([-2, 0, 2]);
  });
  it('rejects attributes at opset 11+, non-scalar bounds and a bound of another dtype', () => {
    const x = fromNumbers('float32', [-2, 0, 2], [3]);
    expect(() => runOp('Clip', [x], { min: -1 }, { opset: 11 })).toThrow(/opset 11 takes min and max as inputs/);
    expect(() => ops.clip(x, fromNumbers('float32', [0, 1], [2]))).toThrow(/Clip: input 'min' has shape \[2\]; expected a scalar/);
    expect(() => ops.clip(x, fromNumbers('int32', [0], []))).toThrow(/input 1 'min' has type int32 but 'input' has float32/);
  });
});

/** Values that exercise truncation, wrap-around, NaN, infinities, signed zero and half-precision rounding. */
const CAST_SPECIALS = [0, -0, 1, -1, 1.5, -1.5, 2.5, 127.9, -128.7, 255.5, 300.25, -300.25, 65504, 65520, 1e-8, 0.1, 70000.5, 2 ** 31 + 0.5, -(2 ** 33), NaN, Infinity, -Infinity];

describe('Cast', () => {
  for (const from of DATA_TYPES) {
    it(`matches the reference from ${from} to every dtype`, () => {
      fc.assert(
        fc.property(arbShape({ maxRank: 3 }).chain((s) => arbAny(from, s, 400)), fc.boolean(), (x, strided) => {
          for (const to of DATA_TYPES) expectBitwise(ops.cast(strided ? nonContiguous(x) : x, to), refCast(x, to), `${from} -> ${to}`);
        }),
        { numRuns: 15 },
      );
      if (from === 'float32' || from === 'float64' || from === 'float16') {
        const x = fromNumbers(from, CAST_SPECIALS, [CAST_SPECIALS.length]);
        for (const to of DATA_TYPES) expectBitwise(ops.cast(x, to), refCast(x, to), `${from} -> ${to} specials`);
      }
    });
  }
  it('known answers: float -> int truncates, ints wrap, NaN -> bool true', () => {
    const x = fromNumbers('float32', [1.9, -1.9, 200.7, -0.5], [4]);
    expect(Array.from(ops.cast(x, 'int32').data as Int32Array)).toEqual([1, -1, 200, 0]);
    expect(Array.from(ops.cast(x, 'int8').data as Int8Array)).toEqual([1, -1, -56, 0]);
    expect(Array.from(ops.cast(x, 'int64').data as BigInt64Array)).toEqual([1n, -1n, 200n, 0n]);
    expect(Array.from(ops.cast(fromNumbers('int16', [200, -1], [2]), 'uint8').data as Uint8Array)).toEqual([200, 255]);
    expect(Array.from(ops.cast(fromNumbers('float32', [NaN, 0, -0, 0.1], [4]), 'bool').data as Uint8Array)).toEqual([1, 0, 0, 1]);
    expect(Array.from(ops.cast(new Tensor('int64', [2n ** 40n + 5n], [1]), 'int32').data as Int32Array)).toEqual([5]);
  });
  it('rounds to float16 to nearest even', () => {
    // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: ties to even gives 1; 1 + 3*2^-11 rounds up to 1 + 2^-9
    const y = ops.cast(fromNumbers('float64', [1 + 2 ** -11, 1 + 3 * 2 ** -11, 65520, 1e-8], [4]), 'float16');
    expect(Array.from(y.data as Uint16Array)).toEqual([0x3c00, 0x3c02, 0x7c00, 0x0000]);
    expect(Array.from(ops.cast(y, 'float32').data as Float32Array)).toEqual([1, 1 + 2 ** -9, Infinity, 0]);
  });
  it('accepts saturate, rejects unsupported targets by name', () => {
    const x = fromNumbers('float32', [1], [1]);
    expect(runOp('Cast', [x], { to: ONNX_TYPE_CODES.float64, saturate: 0 })[0]!.type).toBe('float64');
    expect(() => runOp('Cast', [x], { to: 8 })).toThrow(/Cast: attribute 'to' is 8 \(STRING\), a type Tessera does not support/);
    expect(() => runOp('Cast', [x], { to: 17 })).toThrow(/17 \(FLOAT8E4M3FN\)/);
    expect(() => runOp('Cast', [x], { to: 16 })).toThrow(OpValidationError);
    expect(() => runOp('Cast', [x], {})).toThrow(/attribute 'to' is required/);
  });
  it('CastLike takes the dtype of its second input', () => {
    const x = fromNumbers('float32', [1.5, -2.5], [2]);
    const y = ops.castLike(x, fromNumbers('int16', [0], [1]));
    expect(y.type).toBe('int16');
    expect(Array.from(y.data as Int16Array)).toEqual([1, -2]);
    expect(ops.castLike(x, new Tensor('int64', [0n], [1])).type).toBe('int64');
  });
});

describe('Dropout (inference)', () => {
  const x = fromNumbers('float32', [1, 2, 3, 4], [2, 2]);
  it('returns the input values and an all-true mask', () => {
    const { output, mask } = ops.dropout(x, { ratio: fromNumbers('float32', [0.3], []), seed: 3 });
    expect(output).not.toBe(x);
    expect(Array.from(output.data as Float32Array)).toEqual([1, 2, 3, 4]);
    expect(mask.type).toBe('bool');
    expect(Array.from(mask.data as Uint8Array)).toEqual([1, 1, 1, 1]);
  });
  it('opset 7 mask has the data dtype; opset 6 needs is_test=1', () => {
    const [, mask] = runOp('Dropout', [x], { ratio: 0.5 }, { opset: 7 });
    expect(mask!.type).toBe('float32');
    expect(Array.from(mask!.data as Float32Array)).toEqual([1, 1, 1, 1]);
    expect(runOp('Dropout', [x], { is_test: 1 }, { opset: 6 })[0]!.dims).toEqual([2, 2]);
    expect(() => runOp('Dropout', [x], {}, { opset: 6 })).toThrow(/is_test=0 asks for training-mode dropout/);
    const half = runOp('Dropout', [fromNumbers('float16', [1], [1])], {}, { opset: 7 })[1]!;
    expect(half.numbers()[0]).toBe(1);
  });
  it('training_mode false is accepted, true is refused', () => {
    expect(runOp('Dropout', [x, undefined, fromNumbers('bool', [0], [])])[0]!.dims).toEqual([2, 2]);
    expect(() => runOp('Dropout', [x, undefined, fromNumbers('bool', [1], [])])).toThrow(UnsupportedFeatureError);
    expect(() => runOp('Dropout', [x, undefined, fromNumbers('bool', [1], [])])).toThrow(/Dropout: input 'training_mode' is true with ratio 0.5: training-mode dropout draws a random mask/);
    // ratio 0 keeps everything: training mode is then the identity with an all-true mask
    const [y, mask] = runOp('Dropout', [x, fromNumbers('float32', [0], []), fromNumbers('bool', [1], [])]);
    expect(Array.from(y!.data as Float32Array)).toEqual(Array.from(x.data as Float32Array));
    expect(Array.from(mask!.data as Uint8Array).every((v) => v === 1)).toBe(true);
    expect(() => runOp('Dropout', [x, fromNumbers('float32', [0.1, 0.2], [2])])).toThrow(/ratio' has shape \[2\]; expected a scalar/);
  });
});
