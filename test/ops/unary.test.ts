import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import '../../src/kernels/cpu/index.js';
import { fromNumbers, ops, OpValidationError, runOp, Tensor } from '../../src/index.js';
import { erf as erfScalar } from '../../src/kernels/cpu/erf.js';
import { refUnaryOp } from '../../src/kernels/cpu/reference/elementwise.js';
import type { DataType } from '../../src/tensor/dtype.js';
import { arbShape, arbTensor, expectBitwise, expectClose, nonContiguous } from '../util/tensors.js';
import { arbIntTensor } from './elementwise-arbitraries.js';

const FLOATS: DataType[] = ['float32', 'float64', 'float16'];
const TOL: Record<string, { rtol: number; atol: number }> = {
  float32: { rtol: 1e-5, atol: 1e-6 },
  float64: { rtol: 1e-9, atol: 1e-12 },
  float16: { rtol: 2e-3, atol: 2e-3 },
};

/** Ops with float attributes and the ranges their random values come from. */
const FLOAT_ATTRS: Record<string, Record<string, [number, number]>> = {
  LeakyRelu: { alpha: [0, 1] },
  Elu: { alpha: [0.1, 2] },
  Selu: { alpha: [0.5, 2], gamma: [0.5, 2] },
  Celu: { alpha: [0.2, 2] },
  HardSigmoid: { alpha: [0.05, 1], beta: [-1, 1] },
  ThresholdedRelu: { alpha: [-2, 2] },
};

const FLOAT_OPS = [
  'Relu', 'LeakyRelu', 'Elu', 'Selu', 'Celu', 'Sigmoid', 'HardSigmoid', 'HardSwish', 'Tanh', 'Gelu', 'Erf',
  'Softplus', 'Softsign', 'ThresholdedRelu', 'Mish', 'Exp', 'Log', 'Sqrt', 'Reciprocal', 'Abs', 'Neg',
  'Floor', 'Ceil', 'Round', 'Sign', 'Sin', 'Cos', 'Tan', 'Asin', 'Acos', 'Atan', 'Sinh', 'Cosh', 'Asinh',
  'Acosh', 'Atanh', 'IsNaN', 'IsInf',
];

/** Values for the inverse trig functions stay mostly inside their domain. */
const RANGE: Record<string, number> = { Asin: 1.2, Acos: 1.2, Atanh: 1.2, Exp: 20, Sinh: 20, Cosh: 20, Round: 4 };

const SPECIALS = [NaN, Infinity, -Infinity, 0, -0, 0.5, -0.5, 1.5, -2.5, 1, -1, 100, -100, 1e-6];

function arbAttrs(op: string): fc.Arbitrary<Record<string, number>> {
  const spec = FLOAT_ATTRS[op] ?? {};
  return fc.record(
    Object.fromEntries(Object.entries(spec).map(([k, [lo, hi]]) => [k, fc.float({ min: Math.fround(lo), max: Math.fround(hi), noNaN: true })])),
  ) as fc.Arbitrary<Record<string, number>>;
}

/** The resolved attributes the reference needs (defaults included). */
function withDefaults(op: string, attrs: Record<string, number | string>): Record<string, number | string> {
  const defaults: Record<string, Record<string, number | string>> = {
    LeakyRelu: { alpha: 0.01 },
    Elu: { alpha: 1 },
    Selu: { alpha: 1.67326319217681884765625, gamma: 1.05070102214813232421875 },
    Celu: { alpha: 1 },
    HardSigmoid: { alpha: 0.2, beta: 0.5 },
    ThresholdedRelu: { alpha: 1 },
    Gelu: { approximate: 'none' },
    IsInf: { detect_negative: 1, detect_positive: 1 },
  };
  return { ...(defaults[op] ?? {}), ...attrs };
}

describe('unary float ops match the reference', () => {
  for (const op of FLOAT_OPS) {
    for (const type of FLOATS) {
      it(`${op} ${type}`, () => {
        fc.assert(
          fc.property(
            arbShape({ maxRank: 4, maxDim: 4 }).chain((s) => arbTensor(type, s, RANGE[op] ?? 10)),
            arbAttrs(op),
            fc.boolean(),
            (x, attrs, strided) => {
              const y = runOp(op, [strided ? nonContiguous(x) : x], attrs)[0]!;
              expectClose(y, refUnaryOp(op, x, withDefaults(op, attrs)), { ...TOL[type]!, label: `${op} ${type}` });
            },
          ),
          { numRuns: 15 },
        );
        // special values: NaN, infinities, signed zeros, ties
        const x = fromNumbers(type, SPECIALS, [SPECIALS.length]);
        expectClose(runOp(op, [x])[0]!, refUnaryOp(op, x, withDefaults(op, {})), { ...TOL[type]!, label: `${op} ${type} specials` });
      });
    }
  }
  it('Gelu tanh approximation', () => {
    fc.assert(
      fc.property(arbShape().chain((s) => arbTensor('float32', s, 6)), (x) => {
        expectClose(ops.gelu(x, 'tanh'), refUnaryOp('Gelu', x, { approximate: 'tanh' }), TOL['float32']);
      }),
      { numRuns: 30 },
    );
  });
  it('IsInf with detect_negative / detect_positive switched off', () => {
    const x = fromNumbers('float32', [Infinity, -Infinity, 1, NaN], [4]);
    expect(Array.from(ops.isInf(x, { detectNegative: false }).data as Uint8Array)).toEqual([1, 0, 0, 0]);
    expect(Array.from(ops.isInf(x, { detectPositive: false }).data as Uint8Array)).toEqual([0, 1, 0, 0]);
    expect(Array.from(ops.isNan(x).data as Uint8Array)).toEqual([0, 0, 0, 1]);
  });
});

describe('unary integer ops match the exact reference', () => {
  const cases: [string, DataType[]][] = [
    ['Relu', ['int8', 'int16', 'int32', 'int64']],
    ['Abs', ['int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64']],
    ['Neg', ['int8', 'int16', 'int32', 'int64']],
    ['Sign', ['int8', 'uint8', 'int32', 'uint32', 'int64']],
    ['BitwiseNot', ['int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64']],
  ];
  for (const [op, types] of cases) {
    for (const type of types) {
      it(`${op} ${type}`, () => {
        fc.assert(
          fc.property(arbShape({ maxRank: 3 }).chain((s) => arbIntTensor(type, s)), fc.boolean(), (x, strided) => {
            expectBitwise(runOp(op, [strided ? nonContiguous(x) : x])[0]!, refUnaryOp(op, x), `${op} ${type}`);
          }),
          { numRuns: 20 },
        );
      });
    }
  }
  it('Not on bool', () => {
    const x = fromNumbers('bool', [1, 0, 1], [3]);
    expect(Array.from(ops.logicalNot(x).data as Uint8Array)).toEqual([0, 1, 0]);
  });
});

describe('unary known answers', () => {
  it('Round is half to even', () => {
    const x = fromNumbers('float32', [0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4999, 2.5001, -3.5, 7], [10]);
    expect(Array.from(ops.round(x).data as Float32Array)).toEqual([0, 2, 2, -0, -2, -2, 2, 3, -4, 7]);
  });
  it('Erf matches published values to 1e-14 and is odd', () => {
    const table: [number, number][] = [
      [0.1, 0.1124629160182849],
      [0.5, 0.5204998778130465],
      [1, 0.8427007929497149],
      [2, 0.9953222650189527],
      [3, 0.9999779095030014],
      [1e-5, 1.1283791670578999e-5],
    ];
    for (const [x, want] of table) {
      expect(Math.abs(erfScalar(x) - want) / want).toBeLessThan(1e-14);
      expect(erfScalar(-x)).toBe(-erfScalar(x));
    }
    expect(erfScalar(7)).toBe(1);
    expect(Number.isNaN(erfScalar(NaN))).toBe(true);
  });
  it('Erf float32 tensor is correctly rounded on a grid', () => {
    const xs = Array.from({ length: 801 }, (_, i) => -4 + i / 100);
    const y = ops.erf(fromNumbers('float32', xs, [xs.length])).data as Float32Array;
    xs.forEach((x, i) => expect(y[i]).toBe(Math.fround(erfScalar(Math.fround(x)))));
  });
  it('Relu keeps NaN, zeroes -Inf and -0 (float32 bit path)', () => {
    const y = ops.relu(fromNumbers('float32', [NaN, -Infinity, Infinity, -0, -1e-45, 3], [6])).data as Float32Array;
    expect(Number.isNaN(y[0]!)).toBe(true);
    expect(Array.from(y.slice(1))).toEqual([0, Infinity, 0, 0, 3]);
    expect(Object.is(y[3], 0)).toBe(true);
  });
  it('activations on Operators.md example values', () => {
    const x = fromNumbers('float32', [-1, 0, 1], [3]);
    expectClose(ops.leakyRelu(x, 0.1), fromNumbers('float32', [-0.1, 0, 1], [3]));
    expectClose(ops.elu(x, 2), fromNumbers('float32', [-1.2642411, 0, 1], [3]));
    expectClose(ops.selu(x, { alpha: 2, gamma: 3 }), fromNumbers('float32', [-3.7927232, 0, 3], [3]));
    expectClose(ops.hardSigmoid(x, { alpha: 0.5, beta: 0.6 }), fromNumbers('float32', [0.1, 0.6, 1], [3]));
    expectClose(ops.softplus(x), fromNumbers('float32', [0.31326166, 0.6931472, 1.3132616], [3]));
    expectClose(ops.softsign(x), fromNumbers('float32', [-0.5, 0, 0.5], [3]));
    expectClose(ops.sigmoid(x), fromNumbers('float32', [0.26894143, 0.5, 0.7310586], [3]));
    expectClose(ops.thresholdedRelu(fromNumbers('float32', [-1, 0, 1, 2.5], [4]), 2), fromNumbers('float32', [0, 0, 0, 2.5], [4]));
    expectClose(ops.gelu(x), fromNumbers('float32', [-0.15865526, 0, 0.8413447], [3]));
    expectClose(ops.gelu(x, 'tanh'), fromNumbers('float32', [-0.15880796, 0, 0.841192], [3]));
    expectClose(ops.mish(x), fromNumbers('float32', [-0.30340144, 0, 0.86509836], [3]));
    expectClose(ops.hardSwish(fromNumbers('float32', [-4, -1, 0, 1, 4], [5])), fromNumbers('float32', [-0, -1 / 3, 0, 2 / 3, 4], [5]));
    expectClose(ops.celu(x, 2), fromNumbers('float32', [-0.7869387, 0, 1], [3]));
  });
  it('integer Abs and Neg wrap like C', () => {
    const x = fromNumbers('int8', [-128, -5, 127], [3]);
    expect(Array.from(ops.abs(x).data as Int8Array)).toEqual([-128, 5, 127]);
    expect(Array.from(ops.neg(x).data as Int8Array)).toEqual([-128, 5, -127]);
  });
  it('float16 results are encoded with round-to-nearest-even', () => {
    const y = ops.sqrt(fromNumbers('float16', [2], [1]));
    expect(y.type).toBe('float16');
    expect((y.data as Uint16Array)[0]).toBe(0x3da8); // sqrt(2) = 1.41421 -> 1.4141 in half
  });
  it('returns a new tensor, not the input', () => {
    const x = fromNumbers('float32', [1, 2], [2]);
    expect(ops.abs(x)).not.toBe(x);
  });
});

describe('unary bad input', () => {
  const x = fromNumbers('float32', [1], [1]);
  it('rejects a dtype outside the constraint, naming it', () => {
    expect(() => ops.exp(fromNumbers('int32', [1], [1]))).toThrow(OpValidationError);
    expect(() => ops.exp(fromNumbers('int32', [1], [1]))).toThrow(/Exp: input 0 'X' has type int32/);
    expect(() => ops.neg(fromNumbers('uint8', [1], [1]))).toThrow(/type uint8/);
    expect(() => ops.logicalNot(x)).toThrow(/expected one of bool/);
  });
  it('rejects bad and unknown attributes', () => {
    expect(() => runOp('Gelu', [x], { approximate: 'erf' })).toThrow(/approximate.*"none" or "tanh"/);
    expect(() => runOp('LeakyRelu', [x], { alpha: 'big' })).toThrow(/attribute 'alpha' must be float/);
    expect(() => runOp('Relu', [x], { alpha: 1 })).toThrow(/unknown attribute 'alpha'/);
    expect(() => ops.celu(x, 0)).toThrow(/alpha.*nonzero/);
  });
  it('rejects a missing input', () => {
    expect(() => runOp('Sigmoid', [])).toThrow(/input 0 'X' is required/);
    expect(() => runOp('Sigmoid', [x, x])).toThrow(/expected at most 1/);
  });
  it('accepts opset-1 consumed_inputs and ignores it', () => {
    expect(Array.from(runOp('Relu', [fromNumbers('float32', [-1, 2], [2])], { consumed_inputs: [0] }, { opset: 1 })[0]!.data as Float32Array)).toEqual([0, 2]);
  });
  it('leaves the tensor count balanced', () => {
    const before = Tensor.liveCount;
    const y = ops.tanh(x);
    y.dispose();
    expect(Tensor.liveCount).toBe(before);
  });
});
