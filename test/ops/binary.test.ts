import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import '../../src/kernels/cpu/index.js';
import { fromNumbers, ops, OpValidationError, runOp, Tensor } from '../../src/index.js';
import { refBinaryOp, refPow, refVariadic } from '../../src/kernels/cpu/reference/elementwise.js';
import type { DataType } from '../../src/tensor/dtype.js';
import { arbBroadcastPair, expectBitwise, expectClose, nonContiguous } from '../util/tensors.js';
import { arbAny, arbBroadcastShapes, arbUnidirectionalPair } from './elementwise-arbitraries.js';

const FLOATS: DataType[] = ['float32', 'float64', 'float16'];
const INTS: DataType[] = ['int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64'];
const TOL: Record<string, { rtol: number; atol: number }> = {
  float32: { rtol: 1e-6, atol: 1e-6 },
  float64: { rtol: 1e-12, atol: 1e-12 },
  float16: { rtol: 2e-3, atol: 2e-3 },
};

/** Compare exactly for integer and bool results, with the dtype's tolerance for floats. */
function expectMatch(actual: Tensor, expected: Tensor, label: string): void {
  if (TOL[expected.type]) expectClose(actual, expected, { ...TOL[expected.type]!, label });
  else expectBitwise(actual, expected, label);
}

/** Property: op(a, b) on random broadcast pairs (one input sometimes non-contiguous) equals the reference. */
function checkBinary(op: string, type: DataType, attrs: Record<string, number | string> = {}, arbB?: (dims: number[]) => fc.Arbitrary<Tensor>): void {
  fc.assert(
    fc.property(
      arbBroadcastPair().chain(([sa, sb]) => fc.tuple(arbAny(type, sa), arbB ? arbB(sb) : arbAny(type, sb))),
      fc.integer({ min: 0, max: 2 }),
      ([a, b], strided) => {
        const inA = strided === 1 ? nonContiguous(a) : a;
        const inB = strided === 2 ? nonContiguous(b) : b;
        const y = runOp(op, [inA, inB], attrs)[0]!;
        expectMatch(y, refBinaryOp(op, a, b, attrs), `${op} ${type}`);
      },
    ),
    { numRuns: 25 },
  );
}

describe('arithmetic matches the reference', () => {
  for (const op of ['Add', 'Sub', 'Mul', 'Div']) {
    for (const type of [...FLOATS, ...INTS]) it(`${op} ${type}`, () => checkBinary(op, type));
  }
  for (const type of INTS) it(`Mod ${type} (fmod=0, sign of divisor)`, () => checkBinary('Mod', type));
  for (const type of [...FLOATS, 'int32', 'int64'] as DataType[]) it(`Mod ${type} fmod=1`, () => checkBinary('Mod', type, { fmod: 1 }));
  for (const type of FLOATS) it(`Max/Min ${type}`, () => (checkBinary('Max', type), checkBinary('Min', type)));
  for (const type of INTS) it(`Max/Min ${type}`, () => (checkBinary('Max', type), checkBinary('Min', type)));
});

describe('comparisons, logic and bit operations match the reference', () => {
  for (const op of ['Equal', 'Less', 'LessOrEqual', 'Greater', 'GreaterOrEqual']) {
    for (const type of ['float32', 'float64', 'float16', 'int8', 'uint32', 'int64'] as DataType[]) it(`${op} ${type}`, () => checkBinary(op, type));
  }
  it('Equal bool', () => checkBinary('Equal', 'bool'));
  for (const op of ['And', 'Or', 'Xor']) it(`${op} bool`, () => checkBinary(op, 'bool'));
  for (const op of ['BitwiseAnd', 'BitwiseOr', 'BitwiseXor']) {
    for (const type of INTS) it(`${op} ${type}`, () => checkBinary(op, type));
  }
  for (const [type, bits] of [
    ['uint8', 8],
    ['uint16', 16],
    ['uint32', 32],
  ] as const) {
    for (const direction of ['LEFT', 'RIGHT']) {
      it(`BitShift ${direction} ${type}`, () =>
        checkBinary('BitShift', type, { direction }, (dims) =>
          fc.array(fc.integer({ min: 0, max: bits + 2 }), { minLength: dims.reduce((p, d) => p * d, 1), maxLength: dims.reduce((p, d) => p * d, 1) }).map((v) => fromNumbers(type, v, dims)),
        ));
    }
  }
});

describe('Pow with mixed base and exponent types', () => {
  const smallExponents = (type: DataType) => (dims: number[]) => {
    const n = dims.reduce((p, d) => p * d, 1);
    return fc.array(fc.integer({ min: -3, max: 6 }), { minLength: n, maxLength: n }).map((v) => fromNumbers(type, v, dims));
  };
  const cases: [DataType, DataType][] = [
    ['float32', 'float32'],
    ['float64', 'float64'],
    ['float16', 'float16'],
    ['float32', 'int64'],
    ['float32', 'int32'],
    ['float64', 'uint8'],
    ['int32', 'int32'],
    ['int64', 'int64'],
    ['int32', 'float32'],
    ['int64', 'float32'],
  ];
  for (const [base, exponent] of cases) {
    it(`${base} ^ ${exponent}`, () => {
      fc.assert(
        fc.property(
          arbBroadcastPair().chain(([sa, sb]) =>
            fc.tuple(
              base.startsWith('float') ? arbAny(base, sa, 4) : smallExponents(base)(sa),
              exponent.startsWith('float') ? arbAny(exponent, sb, 3) : smallExponents(exponent)(sb),
            ),
          ),
          ([x, y]) => expectMatch(ops.pow(x, y), refPow(x, y), `Pow ${base}^${exponent}`),
        ),
        { numRuns: 25 },
      );
    });
  }
  it('follows C pow on special values', () => {
    const x = fromNumbers('float32', [1, -1, 2, NaN, -8, 0], [6]);
    const y = fromNumbers('float32', [NaN, Infinity, 0.5, 0, 1 / 3, -1], [6]);
    expectClose(ops.pow(x, y), fromNumbers('float32', [1, 1, Math.SQRT2, 1, NaN, Infinity], [6]));
  });
  it('int64 powers wrap to 64 bits and negative exponents truncate', () => {
    const y = ops.pow(new Tensor('int64', [3n, 2n, 1n, -1n, 2n], [5]), new Tensor('int64', [40n, 64n, -5n, -3n, -1n], [5]));
    expect(Array.from(y.data as BigInt64Array)).toEqual([BigInt.asIntN(64, 3n ** 40n), 0n, 1n, -1n, 0n]);
  });
});

describe('PRelu', () => {
  for (const type of ['float32', 'float64', 'float16', 'int32', 'int64'] as DataType[]) {
    it(`matches the reference with unidirectional slopes (${type})`, () => {
      fc.assert(
        fc.property(
          arbUnidirectionalPair().chain(([sx, ss]) => fc.tuple(arbAny(type, sx), arbAny(type, ss))),
          fc.boolean(),
          ([x, slope], strided) => expectMatch(ops.prelu(strided ? nonContiguous(x) : x, slope), refBinaryOp('PRelu', x, slope), `PRelu ${type}`),
        ),
        { numRuns: 25 },
      );
    });
  }
  it('rejects a slope that would grow X', () => {
    const x = fromNumbers('float32', [1, 2, 3], [3]);
    expect(() => ops.prelu(x, fromNumbers('float32', [1, 2, 3, 4, 5, 6], [2, 3]))).toThrow(/slope.*\[2, 3\].*without growing/);
  });
});

describe('variadic Sum, Mean, Max, Min', () => {
  const cases: ['Sum' | 'Mean' | 'Max' | 'Min', DataType][] = [
    ['Sum', 'float32'],
    ['Sum', 'float16'],
    ['Mean', 'float32'],
    ['Mean', 'float64'],
    ['Max', 'float32'],
    ['Min', 'float64'],
    ['Max', 'int8'],
    ['Min', 'uint32'],
    ['Max', 'int64'],
    ['Min', 'float16'],
  ];
  for (const [op, type] of cases) {
    it(`${op} ${type} over 1-4 broadcast inputs`, () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 4 }).chain((k) => arbBroadcastShapes(k)).chain((shapes) => fc.tuple(...shapes.map((s) => arbAny(type, s)))),
          (xs) => {
            const y = runOp(op, xs.map((x, i) => (i === 0 ? nonContiguous(x) : x)))[0]!;
            expectMatch(y, refVariadic(op, xs), `${op} ${type}`);
          },
        ),
        { numRuns: 25 },
      );
    });
  }
  it('Max and Min propagate NaN from any input', () => {
    const a = fromNumbers('float32', [NaN, 1, 2], [3]);
    const b = fromNumbers('float32', [0, NaN, 1], [3]);
    const mx = ops.max(a, b).data as Float32Array;
    const mn = ops.min(b, a).data as Float32Array;
    expect([Number.isNaN(mx[0]!), Number.isNaN(mx[1]!), mx[2]]).toEqual([true, true, 2]);
    expect([Number.isNaN(mn[0]!), Number.isNaN(mn[1]!), mn[2]]).toEqual([true, true, 1]);
  });
  it('a single input gives a copy', () => {
    const x = fromNumbers('float32', [1, 2], [2]);
    const y = ops.sum(x);
    expect(y).not.toBe(x);
    expect(Array.from(y.data as Float32Array)).toEqual([1, 2]);
  });
  it('rejects no inputs and mixed dtypes', () => {
    expect(() => ops.sum()).toThrow(/Sum: needs at least one 'data' input/);
    expect(() => ops.max(fromNumbers('float32', [1], [1]), fromNumbers('int32', [1], [1]))).toThrow(/must match/);
  });
});

describe('binary known answers', () => {
  it('integer Div truncates toward zero', () => {
    const a = fromNumbers('int32', [7, -7, 7, -7, 1, -2147483648], [6]);
    const b = fromNumbers('int32', [2, 2, -2, -2, 3, -1], [6]);
    expect(Array.from(ops.div(a, b).data as Int32Array)).toEqual([3, -3, -3, 3, 0, -2147483648]);
    expect(Array.from(ops.div(new Tensor('int64', [-7n], [1]), new Tensor('int64', [2n], [1])).data as BigInt64Array)).toEqual([-3n]);
  });
  it('Mod sign rules: fmod=0 follows the divisor, fmod=1 the dividend', () => {
    const a = fromNumbers('int32', [-4, 7, 5, -9, 0], [5]);
    const b = fromNumbers('int32', [3, -3, 2, -4, 5], [5]);
    expect(Array.from(ops.mod(a, b).data as Int32Array)).toEqual([2, -2, 1, -1, 0]);
    expect(Array.from(ops.mod(a, b, { fmod: true }).data as Int32Array)).toEqual([-1, 1, 1, -1, 0]);
    const x = fromNumbers('float32', [-4.3, 7.2, 5, -9], [4]);
    const y = fromNumbers('float32', [2.1, -3.4, 3.6, 4], [4]);
    expectClose(ops.mod(x, y, { fmod: true }), fromNumbers('float32', [-0.1, 0.4, 1.4, -1], [4]), { rtol: 1e-5, atol: 1e-5 });
  });
  it('integer arithmetic wraps like C', () => {
    expect(Array.from(ops.add(fromNumbers('int8', [127], [1]), fromNumbers('int8', [1], [1])).data as Int8Array)).toEqual([-128]);
    expect(Array.from(ops.mul(fromNumbers('int32', [65536], [1]), fromNumbers('int32', [65537], [1])).data as Int32Array)).toEqual([65536]);
    expect(Array.from(ops.sub(fromNumbers('uint32', [0], [1]), fromNumbers('uint32', [1], [1])).data as Uint32Array)).toEqual([4294967295]);
  });
  it('BitShift from Operators.md', () => {
    expect(Array.from(ops.bitShift(fromNumbers('uint8', [16, 4, 1], [3]), fromNumbers('uint8', [1, 2, 3], [3]), 'RIGHT').data as Uint8Array)).toEqual([8, 1, 0]);
    expect(Array.from(ops.bitShift(fromNumbers('uint32', [16, 4, 1], [3]), fromNumbers('uint32', [1, 2, 32], [3]), 'LEFT').data as Uint32Array)).toEqual([32, 16, 0]);
  });
  it('comparisons with NaN are false, except nothing equals NaN', () => {
    const a = fromNumbers('float32', [NaN, 1], [2]);
    const b = fromNumbers('float32', [NaN, NaN], [2]);
    for (const f of [ops.equal, ops.less, ops.lessOrEqual, ops.greater, ops.greaterOrEqual]) expect(Array.from(f(a, b).data as Uint8Array)).toEqual([0, 0]);
  });
  it('broadcasts [2, 3, 1] with [4] to [2, 3, 4]', () => {
    const a = fromNumbers('float32', [0, 1, 2, 3, 4, 5], [2, 3, 1]);
    const b = fromNumbers('float32', [0, 10, 20, 30], [4]);
    const y = ops.add(a, b);
    expect(y.dims).toEqual([2, 3, 4]);
    expect(Array.from(y.data as Float32Array).slice(4, 8)).toEqual([1, 11, 21, 31]);
  });
  it('opset-6 broadcast=1 with axis aligns B from that axis', () => {
    const a = fromNumbers('float32', [1, 2, 3, 4, 5, 6], [2, 3]);
    const b = fromNumbers('float32', [100, 200], [2]);
    const y = runOp('Add', [a, b], { broadcast: 1, axis: 0 }, { opset: 6 })[0]!;
    expect(Array.from(y.data as Float32Array)).toEqual([101, 102, 103, 204, 205, 206]);
  });
});

describe('binary bad input', () => {
  const a = fromNumbers('float32', new Array(6).fill(1), [2, 3]);
  it('rejects shapes that do not broadcast, naming both', () => {
    const b = fromNumbers('float32', new Array(4).fill(1), [4]);
    expect(() => ops.add(a, b)).toThrow(OpValidationError);
    expect(() => ops.add(a, b)).toThrow(/Add: shapes \[2, 3\] and \[4\] cannot be broadcast/);
    expect(() => ops.where(fromNumbers('bool', [1, 0], [2]), a, a)).toThrow(/Where: shapes \[2\] and \[2, 3\] and \[2, 3\]/);
  });
  it('rejects mismatched dtypes', () => {
    expect(() => ops.mul(a, fromNumbers('float64', [1], [1]))).toThrow(/Mul: input 1 'B' has type float64 but 'A' has float32/);
    expect(() => ops.logicalAnd(a, a)).toThrow(/And: input 0 'A' has type float32; expected one of bool/);
    expect(() => ops.bitShift(fromNumbers('int32', [1], [1]), fromNumbers('int32', [1], [1]), 'LEFT')).toThrow(/BitShift.*int32/);
  });
  it('rejects bad attributes', () => {
    expect(() => ops.mod(a, a)).toThrow(/Mod: input 'A' has type float32; fmod=0/);
    expect(() => runOp('Mod', [a, a], { fmod: 2 })).toThrow(/fmod' is 2/);
    expect(() => runOp('BitShift', [fromNumbers('uint8', [1], [1]), fromNumbers('uint8', [1], [1])], { direction: 'UP' })).toThrow(/direction' is "UP"/);
    expect(() => runOp('BitShift', [fromNumbers('uint8', [1], [1]), fromNumbers('uint8', [1], [1])])).toThrow(/attribute 'direction' is required/);
  });
  it('legacy opset without broadcast=1 needs equal shapes', () => {
    expect(() => runOp('Add', [a, fromNumbers('float32', [1, 2, 3], [3])], {}, { opset: 6 })).toThrow(/opset 6 without broadcast=1 needs equal shapes/);
    expect(() => runOp('Add', [a, fromNumbers('float32', [1, 2, 3], [3])], { broadcast: 1, axis: 1 }, { opset: 6 })[0]).not.toThrow();
    expect(() => runOp('Add', [a, fromNumbers('float32', [1, 2, 3], [3])], { broadcast: 1, axis: 2 }, { opset: 6 })).toThrow(/does not fit A of shape \[2, 3\] at axis 2/);
  });
});
