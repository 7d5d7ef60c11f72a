import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import '../../src/kernels/cpu/index.js';
import { fromNumbers, ops, runOp, Tensor, UnsupportedFeatureError, type DataType } from '../../src/index.js';
import { refArrayFeatureExtractor, refBinarizer, refBitCast, refCenterCropPad, refCompress, refDet, refReverseSequence, refRotaryEmbedding, refUnique } from '../../src/kernels/cpu/reference/misc-extra.js';
import { arbShape, arbTensor, expectBitwise, expectClose, nonContiguous } from '../util/tensors.js';

const f32 = (values: number[], dims: number[]): Tensor => fromNumbers('float32', values, dims);
const i64 = (values: number[], dims: number[]): Tensor => fromNumbers('int64', values, dims);
const values = (t: Tensor): number[] => (t.type === 'int64' ? Array.from(t.data as BigInt64Array, Number) : Array.from(t.numbers()));
const anyType = fc.constantFrom<DataType>('float32', 'float16', 'float64', 'int8', 'uint16', 'int32', 'int64', 'bool');

describe('BitCast', () => {
  const pairs: [DataType, DataType][] = [
    ['float32', 'int32'],
    ['int32', 'float32'],
    ['uint32', 'int32'],
    ['float64', 'int64'],
    ['int64', 'float64'],
    ['float16', 'int16'],
    ['uint16', 'float16'],
    ['int8', 'uint8'],
    ['bool', 'uint8'],
    ['uint8', 'int8'],
  ];
  for (const [from, to] of pairs) {
    it(`matches the DataView reference (${from} -> ${to})`, () => {
      fc.assert(
        fc.property(arbShape({ maxRank: 3 }).chain((s) => arbTensor(from, s, 1000)), fc.boolean(), (x, strided) => {
          expectBitwise(ops.bitCast(strided ? nonContiguous(x) : x, to), refBitCast(x, to), `${from} -> ${to}`);
        }),
        { numRuns: 20 },
      );
    });
  }
  it('known answer: 1.0f is 0x3f800000', () => {
    expect(values(ops.bitCast(f32([1, -2], [2]), 'int32'))).toEqual([0x3f800000, -0x40000000]);
  });
  it('rejects different widths, unknown codes and types Tessera lacks', () => {
    expect(() => ops.bitCast(f32([1], [1]), 'int64')).toThrow(/BitCast: input 'input' has type float32 \(32 bits\) but 'to' is int64 \(64 bits\)/);
    expect(() => runOp('BitCast', [f32([1], [1])], { to: 99 })).toThrow(/attribute 'to' is 99/);
    expect(() => runOp('BitCast', [i64([1], [1])], { to: 13 })).toThrow(UnsupportedFeatureError);
  });
});

describe('Compress', () => {
  it('matches the reference (with and without axis, short conditions, any dtype)', () => {
    fc.assert(
      fc.property(
        fc.tuple(arbShape({ minRank: 1, maxRank: 3, maxDim: 4 }), anyType).chain(([s, t]) =>
          fc.tuple(
            arbTensor(t, s),
            fc.option(fc.integer({ min: -s.length, max: s.length - 1 }), { nil: undefined }),
            fc.array(fc.boolean(), { maxLength: 64 }),
          ),
        ),
        fc.boolean(),
        ([x, axis, cond], strided) => {
          const a = axis === undefined ? undefined : axis < 0 ? axis + x.rank : axis;
          const limit = a === undefined ? x.size : x.dims[a]!;
          const c = cond.slice(0, limit);
          expectBitwise(ops.compress(strided ? nonContiguous(x) : x, fromNumbers('bool', c.map(Number), [c.length]), axis), refCompress(x, c, axis), 'Compress');
        },
      ),
      { numRuns: 60 },
    );
  });
  it('known answer and errors', () => {
    const x = f32([1, 2, 3, 4, 5, 6], [3, 2]);
    expect(values(ops.compress(x, fromNumbers('bool', [0, 1, 1], [3]), 0))).toEqual([3, 4, 5, 6]);
    expect(values(ops.compress(x, fromNumbers('bool', [0, 1, 1], [3])))).toEqual([2, 3]);
    expect(() => ops.compress(x, fromNumbers('bool', [0, 0, 0, 1], [4]), 0)).toThrow(/Compress: input 'condition' \(shape \[4\]\) is true at 3, beyond the 3 entries of axis 0 of 'input' \[3, 2\]/);
    expect(() => ops.compress(x, fromNumbers('bool', [1], [1, 1]), 0)).toThrow(/input 'condition' has shape \[1, 1\] \(rank 2\); expected rank 1/);
    expect(() => ops.compress(x, fromNumbers('bool', [1], [1]), 2)).toThrow(/Compress: attribute axis 2 is out of range for input shape \[3, 2\]/);
  });
});

describe('ReverseSequence', () => {
  it('matches the reference (both axis orders, rank 2..4)', () => {
    fc.assert(
      fc.property(
        fc.tuple(arbShape({ minRank: 2, maxRank: 4, maxDim: 4 }), anyType, fc.integer({ min: 0, max: 1 })).chain(([s, t, batchAxis]) =>
          fc.tuple(arbTensor(t, s), fc.array(fc.integer({ min: 0, max: s[1 - batchAxis]! }), { minLength: s[batchAxis]!, maxLength: s[batchAxis]! }), fc.constant(batchAxis)),
        ),
        ([x, lens, batchAxis]) => {
          const got = ops.reverseSequence(nonContiguous(x), i64(lens, [lens.length]), { batchAxis, timeAxis: 1 - batchAxis });
          expectBitwise(got, refReverseSequence(x, lens, batchAxis, 1 - batchAxis), 'ReverseSequence');
        },
      ),
      { numRuns: 60 },
    );
  });
  it('known answer (Operators.md example 2) and errors', () => {
    const x = f32([...Array(16).keys()], [4, 4]);
    const y = ops.reverseSequence(x, i64([1, 2, 3, 4], [4]), { batchAxis: 0, timeAxis: 1 });
    expect(values(y)).toEqual([0, 1, 2, 3, 5, 4, 6, 7, 10, 9, 8, 11, 15, 14, 13, 12]);
    expect(() => ops.reverseSequence(x, i64([1, 2, 3, 5], [4]), { batchAxis: 0, timeAxis: 1 })).toThrow(/ReverseSequence: input 'sequence_lens'\[3\] is 5; expected \[0, 4\]/);
    expect(() => ops.reverseSequence(x, i64([1, 2], [2]))).toThrow(/input 'sequence_lens' has shape \[2\]; expected \[4\]/);
    expect(() => ops.reverseSequence(x, i64([1, 2, 3, 4], [4]), { batchAxis: 0, timeAxis: 0 })).toThrow(/batch_axis=0 and time_axis=0 must be 0 and 1/);
  });
});

describe('Det', () => {
  it('matches the Leibniz-formula reference (M 0..4, batches, float32/64)', () => {
    fc.assert(
      fc.property(
        fc.tuple(arbShape({ maxRank: 2, maxDim: 3 }), fc.integer({ min: 0, max: 4 }), fc.constantFrom<DataType>('float32', 'float64', 'float16')).chain(([batch, m, t]) => arbTensor(t, [...batch, m, m], 3)),
        (x) => {
          const tol = x.type === 'float16' ? { rtol: 3e-3, atol: 3e-2 } : { rtol: 1e-4, atol: 1e-3 };
          expectClose(ops.det(nonContiguous(x)), refDet(x), tol);
        },
      ),
      { numRuns: 60 },
    );
  });
  it('known answers and errors', () => {
    expect(values(ops.det(f32([1, 2, 3, 4], [2, 2])))[0]).toBeCloseTo(-2, 6);
    expect(values(ops.det(f32([2, 0, 0, 0, 3, 0, 0, 0, 4], [3, 3])))[0]).toBeCloseTo(24, 6);
    expect(values(ops.det(f32([1, 2, 2, 4], [2, 2])))[0]).toBe(0);
    expect(() => ops.det(f32([1, 2, 3, 4, 5, 6], [2, 3]))).toThrow(/Det: input 'X' has shape \[2, 3\]; the last two dims must be equal/);
    expect(() => ops.det(f32([1], [1]))).toThrow(/Det: input 'X' has shape \[1\] \(rank 1\); expected rank >= 2/);
  });
});

describe('CenterCropPad', () => {
  it('matches the reference (crop and pad per axis, subsets of axes, any dtype)', () => {
    fc.assert(
      fc.property(
        fc.tuple(arbShape({ minRank: 1, maxRank: 3, maxDim: 5 }), anyType).chain(([s, t]) =>
          fc.tuple(
            arbTensor(t, s),
            fc.subarray([...s.keys()]).chain((axes) => fc.tuple(fc.constant(axes), fc.array(fc.integer({ min: 0, max: 7 }), { minLength: axes.length, maxLength: axes.length }))),
            fc.boolean(),
          ),
        ),
        ([x, [axes, shape], negative]) => {
          const ax = negative ? axes.map((a) => a - x.rank) : axes;
          expectBitwise(ops.centerCropPad(nonContiguous(x), shape, ax), refCenterCropPad(x, shape, ax), 'CenterCropPad');
        },
      ),
      { numRuns: 80 },
    );
  });
  it('known answers: odd crop starts left, odd pad adds on the right', () => {
    expect(values(ops.centerCropPad(f32([1, 2, 3, 4], [4]), [1]))).toEqual([2]);
    expect(values(ops.centerCropPad(f32([1, 2], [2]), [5]))).toEqual([0, 1, 2, 0, 0]);
  });
  it('rejects a shape of the wrong length and repeated axes', () => {
    expect(() => ops.centerCropPad(f32([1, 2], [1, 2]), [1])).toThrow(/CenterCropPad: input 'shape' has 1 values; expected 2/);
    expect(() => ops.centerCropPad(f32([1, 2], [1, 2]), [1, 1], [0, -2])).toThrow(/attribute 'axes' \[0, -2\] repeats an axis/);
  });
});

describe('Unique', () => {
  it('matches the quadratic reference (sorted or not, with and without axis)', () => {
    fc.assert(
      fc.property(
        fc.tuple(arbShape({ minRank: 1, maxRank: 3, maxDim: 4 }), fc.constantFrom<DataType>('float32', 'int64', 'int8', 'bool', 'float16')).chain(([s, t]) =>
          fc.tuple(arbTensor(t, s, 2), fc.option(fc.integer({ min: -s.length, max: s.length - 1 }), { nil: undefined })),
        ),
        fc.boolean(),
        ([x, axis], sorted) => {
          const got = ops.unique(nonContiguous(x), { axis, sorted });
          const want = refUnique(x, axis, sorted);
          expectBitwise(got.y, want.y, 'Y');
          expect(values(got.indices)).toEqual(want.indices);
          expect(values(got.inverseIndices)).toEqual(want.inverse);
          expect(values(got.counts)).toEqual(want.counts);
        },
      ),
      { numRuns: 80 },
    );
  });
  it('Operators.md examples 1 and 3', () => {
    const e1 = ops.unique(f32([2, 1, 1, 3, 4, 3], [6]), { sorted: false });
    expect([values(e1.y), values(e1.indices), values(e1.inverseIndices), values(e1.counts)]).toEqual([
      [2, 1, 3, 4],
      [0, 1, 3, 4],
      [0, 1, 1, 2, 3, 2],
      [1, 2, 2, 1],
    ]);
    const e3 = ops.unique(f32([1, 0, 0, 1, 0, 0, 2, 3, 4], [3, 3]), { axis: 0 });
    expect([values(e3.y), values(e3.indices), values(e3.inverseIndices), values(e3.counts)]).toEqual([[1, 0, 0, 2, 3, 4], [0, 2], [0, 0, 1], [2, 1]]);
  });
  it('rejects a bad axis and a bad sorted flag', () => {
    expect(() => ops.unique(f32([1], [1]), { axis: 1 })).toThrow(/Unique: attribute axis 1 is out of range for input shape \[1\]/);
    expect(() => runOp('Unique', [f32([1], [1])], { sorted: 2 })).toThrow(/Unique: attribute 'sorted' is 2/);
  });
});

describe('RotaryEmbedding', () => {
  it('matches the reference (3-D/4-D, interleaved, partial, with and without position_ids)', () => {
    fc.assert(
      fc.property(
        fc
          .record({
            batch: fc.integer({ min: 0, max: 2 }),
            heads: fc.integer({ min: 1, max: 3 }),
            seq: fc.integer({ min: 0, max: 3 }),
            halfHead: fc.integer({ min: 1, max: 3 }),
            rotHalf: fc.integer({ min: 0, max: 3 }),
            three: fc.boolean(),
            interleaved: fc.boolean(),
            withPos: fc.boolean(),
            type: fc.constantFrom<DataType>('float32', 'float16'),
          })
          .chain((c) => {
            const head = 2 * c.halfHead;
            const rd = Math.min(2 * c.rotHalf, head);
            const half = (rd || head) / 2;
            const dims = c.three ? [c.batch, c.seq, c.heads * head] : [c.batch, c.heads, c.seq, head];
            const rows = 4;
            const cacheDims = c.withPos ? [rows, half] : [c.batch, c.seq, half];
            return fc.tuple(
              fc.constant(c),
              fc.constant(rd),
              arbTensor(c.type, dims, 2),
              arbTensor(c.type, cacheDims, 1),
              arbTensor(c.type, cacheDims, 1),
              fc.array(fc.integer({ min: 0, max: rows - 1 }), { minLength: c.batch * c.seq, maxLength: c.batch * c.seq }),
            );
          }),
        ([c, rd, x, cos, sin, pos]) => {
          const got = ops.rotaryEmbedding(nonContiguous(x), cos, sin, {
            positionIds: c.withPos ? i64(pos, [c.batch, c.seq]) : undefined,
            interleaved: c.interleaved,
            numHeads: c.three ? c.heads : undefined,
            rotaryEmbeddingDim: rd,
          });
          const want = refRotaryEmbedding(x, cos, sin, c.withPos ? pos : undefined, c.interleaved, c.heads, rd);
          expectClose(got, want, c.type === 'float16' ? { rtol: 3e-3, atol: 3e-3 } : { rtol: 1e-5, atol: 1e-6 });
        },
      ),
      { numRuns: 80 },
    );
  });
  it('known answer: a 90-degree rotation of one pair', () => {
    const y = ops.rotaryEmbedding(f32([1, 2], [1, 1, 1, 2]), f32([0], [1, 1, 1]), f32([1], [1, 1, 1]));
    expect(values(y)).toEqual([-2, 1]);
  });
  it('rejects missing num_heads, odd rotary dims, bad caches and out-of-range positions', () => {
    const x3 = f32([1, 2, 3, 4], [1, 1, 4]);
    const c = f32([1, 1], [1, 1, 2]);
    expect(() => ops.rotaryEmbedding(x3, c, c)).toThrow(/RotaryEmbedding: input 'X' has shape \[1, 1, 4\] \(3-D\); the attribute 'num_heads' must be given/);
    const x4 = f32([1, 2, 3, 4], [1, 1, 1, 4]);
    expect(() => ops.rotaryEmbedding(x4, c, c, { rotaryEmbeddingDim: 3 })).toThrow(/rotary_embedding_dim 3 must be even/);
    expect(() => ops.rotaryEmbedding(x4, f32([1], [1, 1, 1]), c)).toThrow(/input 'cos_cache' has shape \[1, 1, 1\]; expected \[1, 1, 2\]/);
    expect(() => ops.rotaryEmbedding(x4, f32([1, 1], [1, 2]), f32([1, 1], [1, 2]), { positionIds: i64([1], [1, 1]) })).toThrow(/input 'position_ids' holds 1 at flat index 0; expected \[0, 1\)/);
  });
});

describe('ai.onnx.ml Binarizer and ArrayFeatureExtractor', () => {
  it('match the references', () => {
    fc.assert(
      fc.property(
        fc.tuple(arbShape({ minRank: 1, maxRank: 3, minDim: 1, maxDim: 4 }), fc.constantFrom<DataType>('float32', 'float64', 'int32', 'int64')).chain(([s, t]) =>
          fc.tuple(arbTensor(t, s, 5), fc.array(fc.integer({ min: 0, max: s[s.length - 1]! - 1 }), { minLength: 1, maxLength: 4 }), fc.float({ min: Math.fround(-3), max: Math.fround(3), noNaN: true })),
        ),
        ([x, idx, threshold]) => {
          expectBitwise(ops.binarizer(nonContiguous(x), threshold), refBinarizer(x, threshold), 'Binarizer');
          expectBitwise(ops.arrayFeatureExtractor(nonContiguous(x), i64(idx, [idx.length])), refArrayFeatureExtractor(x, idx), 'ArrayFeatureExtractor');
        },
      ),
      { numRuns: 50 },
    );
  });
  it('rejects an out-of-range feature index', () => {
    expect(() => ops.arrayFeatureExtractor(f32([1, 2], [1, 2]), i64([2], [1]))).toThrow(/ArrayFeatureExtractor: input 'Y' holds 2 at 0; expected \[0, 2\)/);
  });
});
