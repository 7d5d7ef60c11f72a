/**
 * Shape and data-movement operators: property tests of every fast kernel against the naive references in
 * src/kernels/cpu/reference/shape.ts (random shapes with 0/1 dims, negative axes, strided inputs, several
 * dtypes including int64, bool and float16, compared bit for bit), known answers from Operators.md, the
 * older opset forms, and bad inputs.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
// only this family's modules, so the file does not depend on other families being importable
import '../../src/kernels/cpu/shape.js';
import * as ops from '../../src/ops/shape.js';
import { runOp } from '../../src/ops/dispatch.js';
import type { DataType } from '../../src/tensor/dtype.js';
import { OpValidationError } from '../../src/tensor/errors.js';
import { Tensor } from '../../src/tensor/tensor.js';
import {
  refConcat,
  refExpand,
  refNonZero,
  refPad,
  refRange,
  refSlice,
  refSplit,
  refTile,
  refTranspose,
} from '../../src/kernels/cpu/reference/shape.js';
import { arbBroadcastPair, arbShape, arbTensor, expectBitwise, nonContiguous, randomTensor } from '../util/tensors.js';

const TYPES: DataType[] = ['float32', 'float16', 'float64', 'int64', 'bool', 'int8', 'uint16', 'int32'];
const arbType = fc.constantFrom(...TYPES);

/** A random tensor of a random dtype and the given dims, possibly as a non-contiguous view. */
function arbInput(dims: readonly number[]): fc.Arbitrary<{ x: Tensor; input: Tensor }> {
  return fc.tuple(arbType, fc.boolean()).chain(([type, strided]) =>
    arbTensor(type, dims).map((x) => ({ x, input: strided ? nonContiguous(x) : x })),
  );
}

const f32 = (values: number[], dims: number[]): Tensor => new Tensor('float32', values, dims);
const i64 = (values: number[], dims?: number[]): Tensor => new Tensor('int64', values.map(BigInt), dims ?? [values.length]);
const values = (t: Tensor): number[] => (t.type === 'int64' ? Array.from(t.data as BigInt64Array, Number) : Array.from(t.numbers()));

function expectFails(f: () => unknown, message: RegExp): void {
  expect(f).toThrow(OpValidationError);
  expect(f).toThrow(message);
}

describe('Transpose', () => {
  it('matches the reference for random permutations, dtypes and strided inputs', () => {
    fc.assert(
      fc.property(
        arbShape({ maxRank: 5, maxDim: 4 }).chain((dims) =>
          fc.tuple(arbInput(dims), fc.shuffledSubarray([...dims.keys()], { minLength: dims.length, maxLength: dims.length }), fc.boolean()),
        ),
        ([{ x, input }, perm, explicit]) => {
          const y = explicit ? ops.transpose(input, perm) : ops.transpose(input);
          expectBitwise(y, refTranspose(x, explicit ? perm : undefined));
        },
      ),
      { numRuns: 200 },
    );
  });
  it('handles shapes larger than one tile on both sides (blocked path)', () => {
    for (const type of ['float32', 'int64', 'float16', 'uint8'] as DataType[]) {
      const x = randomTensor(type, [3, 67, 41], 7, 100);
      for (const perm of [[2, 1, 0], [0, 2, 1], [1, 2, 0], [2, 0, 1]]) expectBitwise(ops.transpose(x, perm), refTranspose(x, perm), `${type} ${perm}`);
    }
  });
  it('moves bits exactly: NaN payloads, -0 and large int64 values survive', () => {
    const bits = Uint32Array.of(0x7fa00001, 0x80000000, 0xffc12345, 0x3f800000, 0x7f800001, 0);
    const x = new Tensor('float32', new Float32Array(bits.buffer), [2, 3]);
    const y = ops.transpose(x);
    expect(Array.from(new Uint32Array((y.data as Float32Array).buffer, (y.data as Float32Array).byteOffset, 6))).toEqual([0x7fa00001, 0x3f800000, 0x80000000, 0x7f800001, 0xffc12345, 0]);
    const big = new Tensor('int64', [2n ** 62n + 1n, -(2n ** 63n), 7n, -1n], [2, 2]);
    expect(Array.from(ops.transpose(big).data as BigInt64Array)).toEqual([2n ** 62n + 1n, 7n, -(2n ** 63n), -1n]);
  });
  it('gives the Operators.md default (reversed) answer', () => {
    const y = ops.transpose(f32([1, 2, 3, 4, 5, 6], [2, 3]));
    expect(y.dims).toEqual([3, 2]);
    expect(values(y)).toEqual([1, 4, 2, 5, 3, 6]);
  });
  it('rejects a perm that is not a permutation', () => {
    const x = f32([1, 2, 3, 4, 5, 6], [2, 3]);
    expectFails(() => ops.transpose(x, [0, 0]), /perm \[0, 0\] is not a permutation of the 2 axes of input 'data' with shape \[2, 3\]/);
    expectFails(() => ops.transpose(x, [0, 1, 2]), /not a permutation/);
    expectFails(() => ops.transpose(x, [0, 2]), /not a permutation/);
  });
});

describe('Reshape, Flatten, Squeeze, Unsqueeze, Identity', () => {
  it('reshape keeps the row-major data, infers -1, copies 0 and returns a view', () => {
    fc.assert(
      fc.property(
        arbShape({ maxRank: 4 }).chain((dims) => fc.tuple(arbInput(dims), fc.shuffledSubarray(dims, { minLength: dims.length, maxLength: dims.length }), fc.nat(), fc.boolean())),
        ([{ x, input }, target, pick, useZero]) => {
          const shape = [...target];
          // a literal 0 in the target needs allowzero; otherwise 0 means "copy the input dim"
          const allowzero = target.includes(0);
          if (shape.length && !allowzero && pick % 2 === 0) shape[pick % shape.length] = -1;
          if (useZero && !allowzero && shape.length && shape[0] === input.dims[0] && shape[0] !== -1) shape[0] = 0;
          const y = ops.reshape(input, shape, { allowzero });
          expect([...y.dims]).toEqual(target);
          expectBitwise(y.reshape(x.dims), x);
          if (input.isContiguous && input.offset === 0 && input.raw().length === input.size) expect(y.raw()).toBe(input.raw());
        },
      ),
      { numRuns: 60 },
    );
  });
  it('follows the Operators.md examples', () => {
    const x = f32([...Array(24).keys()], [2, 3, 4]);
    expect(ops.reshape(x, [4, 2, 3]).dims).toEqual([4, 2, 3]);
    expect(ops.reshape(x, [2, -1, 2]).dims).toEqual([2, 6, 2]);
    expect(ops.reshape(x, [-1, 2, 3, 4]).dims).toEqual([1, 2, 3, 4]);
    expect(ops.reshape(x, [2, 0, 4, 1]).dims).toEqual([2, 3, 4, 1]);
    expect(ops.reshape(x, [0, 4, -1]).dims).toEqual([2, 4, 3]);
    expect(ops.reshape(x, i64([3, 8])).dims).toEqual([3, 8]);
    const z = new Tensor('float32', new Float32Array(0), [0, 3, 4]);
    expect(ops.reshape(z, [3, 4, 0], { allowzero: true }).dims).toEqual([3, 4, 0]);
  });
  it('flatten to 2-D for every axis including negative ones', () => {
    fc.assert(
      fc.property(
        arbShape({ maxRank: 4 }).chain((dims) => fc.tuple(arbInput(dims), fc.integer({ min: -dims.length, max: dims.length }))),
        ([{ x, input }, axis]) => {
          const y = ops.flatten(input, axis);
          const a = axis < 0 ? axis + x.rank : axis;
          const outer = x.dims.slice(0, a).reduce((p, d) => p * d, 1);
          expect([...y.dims]).toEqual([outer, x.size / outer || x.dims.slice(a).reduce((p, d) => p * d, 1)]);
          expectBitwise(y.reshape(x.dims), x);
        },
      ),
      { numRuns: 50 },
    );
  });
  it('squeeze and unsqueeze are inverse on random axes', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 2, max: 4 }), { maxLength: 3 }).chain((dims) =>
          fc.tuple(arbInput(dims), fc.uniqueArray(fc.integer({ min: 0, max: dims.length + 2 }), { maxLength: 3 }), fc.boolean()),
        ),
        ([{ x, input }, rawAxes, negative]) => {
          const kept = rawAxes.filter((a) => a < x.rank + rawAxes.length);
          const outRank = x.rank + kept.length;
          const axes = kept.filter((a) => a < outRank).map((a) => (negative ? a - outRank : a));
          fc.pre(axes.length === kept.length);
          const up = ops.unsqueeze(input, axes);
          const expected = [...x.dims];
          [...axes.map((a) => (a < 0 ? a + x.rank + axes.length : a))].sort((p, q) => p - q).forEach((a) => expected.splice(a, 0, 1));
          expect([...up.dims]).toEqual(expected);
          const down = ops.squeeze(up, axes);
          expectBitwise(down, x);
          // with no axes every 1 goes (x has no 1-dims here)
          expectBitwise(ops.squeeze(up), x);
        },
      ),
      { numRuns: 50 },
    );
  });
  it('squeeze refuses a dim that is not 1; unsqueeze refuses repeated or out-of-range axes', () => {
    const x = f32([1, 2, 3, 4, 5, 6], [1, 2, 3]);
    expect(ops.squeeze(x, [-3]).dims).toEqual([2, 3]);
    expectFails(() => ops.squeeze(x, [1]), /cannot squeeze axis 1 of input 'data' with shape \[1, 2, 3\]: its size is 2/);
    expectFails(() => ops.squeeze(x, [3]), /axes 3 is out of range/);
    expectFails(() => ops.unsqueeze(x, [0, 0]), /repeats an axis/);
    expectFails(() => ops.unsqueeze(x, [5]), /axes \[5\]: 5 is out of range for the output rank 4 \(input 'data' with shape \[1, 2, 3\] plus 1 new axes\)/);
    expect(ops.unsqueeze(x, [4, 0]).dims).toEqual([1, 1, 2, 3, 1]);
  });
  it('identity is a new view with the same data', () => {
    const x = randomTensor('int64', [2, 3], 3, 1000);
    const y = ops.identity(x);
    expect(y).not.toBe(x);
    expectBitwise(y, x);
  });
  it('rejects reshapes that do not fit', () => {
    const x = f32([1, 2, 3, 4, 5, 6], [2, 3]);
    expectFails(() => ops.reshape(x, [4, 2]), /input 'data' with shape \[2, 3\] \(6 elements\) cannot be reshaped to \[4, 2\]: the new shape has 8 elements/);
    expectFails(() => ops.reshape(x, [-1, -1]), /more than one -1/);
    expectFails(() => ops.reshape(x, [4, -1]), /cannot be inferred/);
    expectFails(() => ops.reshape(x, [0, 0, 0]), /dimension 2 is 0 .* rank 2/);
    expectFails(() => ops.reshape(x, [-2, -3]), /expected >= -1/);
    expectFails(() => ops.reshape(x, [0, -1], { allowzero: true }), /both 0 and -1/);
    expectFails(() => ops.flatten(x, 3), /axis 3 is out of range .* expected \[-2, 2\]/);
  });
});

describe('Concat', () => {
  it('matches the reference on random shapes, axes (also negative), sizes incl. 0, dtypes and strided inputs', () => {
    fc.assert(
      fc.property(
        arbShape({ minRank: 1, maxRank: 4 }).chain((dims) =>
          fc.tuple(
            fc.nat(dims.length - 1),
            fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 4 }),
            arbType,
            fc.boolean(),
            fc.boolean(),
          ).chain(([axis, sizes, type, negative, strided]) =>
            fc.tuple(...sizes.map((s) => arbTensor(type, dims.map((d, k) => (k === axis ? s : d))))).map((xs) => ({ xs, axis, negative, strided, dims })),
          ),
        ),
        ({ xs, axis, negative, strided }) => {
          const inputs = strided ? xs.map(nonContiguous) : xs;
          expectBitwise(ops.concat(inputs, negative ? axis - xs[0]!.rank : axis), refConcat(xs, axis));
        },
      ),
      { numRuns: 80 },
    );
  });
  it('gives the Operators.md 2-D answers', () => {
    const a = f32([1, 2, 3, 4], [2, 2]);
    const b = f32([5, 6, 7, 8], [2, 2]);
    expect(values(ops.concat([a, b], 0))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(values(ops.concat([a, b], -1))).toEqual([1, 2, 5, 6, 3, 4, 7, 8]);
  });
  it('rejects rank and dim mismatches, naming shapes', () => {
    const a = f32([1, 2, 3, 4], [2, 2]);
    expectFails(() => ops.concat([a, f32([1, 2], [2])], 0), /input 'inputs\[1\]' has shape \[2\] but 'inputs\[0\]' has \[2, 2\]/);
    expectFails(() => ops.concat([a, f32([1, 2, 3], [3, 1])], 0), /equal dims except on axis 0/);
    expectFails(() => ops.concat([a, a], 2), /axis 2 is out of range for input 'inputs\[0\]' with shape \[2, 2\]/);
    expectFails(() => ops.concat([f32([1], []), f32([2], [])], 0), /is a scalar/);
    expectFails(() => ops.concat([a, new Tensor('int32', [1, 2, 3, 4], [2, 2])], 0), /they must match/);
    expectFails(() => runOp('Concat', [a, a], {}), /attribute 'axis' is required/);
  });
});

describe('Split', () => {
  it('matches the reference for random sizes (incl. 0), axes, dtypes and strided inputs', () => {
    fc.assert(
      fc.property(
        arbShape({ minRank: 1, maxRank: 3, maxDim: 3 }).chain((base) =>
          fc.tuple(fc.nat(base.length - 1), fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 4 })).chain(([axis, sizes]) =>
            arbInput(base.map((d, k) => (k === axis ? sizes.reduce((p, s) => p + s, 0) : d))).map((inp) => ({ ...inp, axis, sizes })),
          ),
        ),
        ({ x, input, axis, sizes }) => {
          const parts = ops.split(input, { axis: axis - x.rank, split: sizes });
          const expected = refSplit(x, axis, sizes);
          expect(parts.length).toBe(sizes.length);
          parts.forEach((p, i) => expectBitwise(p.contiguous(), expected[i]!));
        },
      ),
      { numRuns: 60 },
    );
  });
  it('splits into num_outputs parts with a smaller last chunk (opset 18) and equal parts from the output count (opset 13)', () => {
    const x = f32([1, 2, 3, 4, 5, 6, 7], [7]);
    expect(ops.split(x, { numOutputs: 3 }).map(values)).toEqual([[1, 2, 3], [4, 5, 6], [7]]);
    const y = f32([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [2, 6]);
    expect(runOp('Split', [y], { axis: 1 }, { opset: 13, numOutputs: 3 }).map(values)).toEqual([[1, 2, 7, 8], [3, 4, 9, 10], [5, 6, 11, 12]]);
    expect(runOp('Split', [y], { axis: 1, split: [2, 4] }, { opset: 11 }).map((t) => [...t.dims])).toEqual([[2, 2], [2, 4]]);
    expect(runOp('Split', [y, i64([1, 5])], { axis: -1 }, { opset: 13 }).map(values)).toEqual([[1, 7], [2, 3, 4, 5, 6, 8, 9, 10, 11, 12]]);
  });
  it('rejects sizes that do not sum to the dim, uneven equal splits and unknown output counts', () => {
    const x = f32([1, 2, 3, 4, 5, 6], [6]);
    expectFails(() => ops.split(x, { split: [2, 3] }), /split sizes \[2, 3\] must be >= 0 and sum to 6, the size of axis 0 of input 'input' with shape \[6\]/);
    expectFails(() => ops.split(x, { split: [7, -1] }), /must be >= 0/);
    expectFails(() => runOp('Split', [x], {}, { opset: 13, numOutputs: 4 }), /does not split into 4 equal parts/);
    expectFails(() => runOp('Split', [x], {}, { opset: 13 }), /number of outputs is unknown/);
    expectFails(() => ops.split(x, { numOutputs: 5 }), /too small for 5 outputs/);
    expectFails(() => ops.split(x, { split: [3, 3], numOutputs: 2 }), /not both/);
    expectFails(() => ops.split(x, { axis: 1, numOutputs: 2 }), /axis 1 is out of range for input 'input' with shape \[6\]/);
    expectFails(() => ops.split(f32([1], []), { numOutputs: 1 }), /input 'input' is a scalar/);
    expectFails(() => runOp('Split', [x, i64([3, 3])], {}, { numOutputs: 3 }), /give 2 outputs but the node has 3/);
  });
});

describe('Slice', () => {
  const arbBound = fc.oneof(fc.integer({ min: -7, max: 7 }), fc.constantFrom(-(2 ** 62), 2 ** 62));
  it('matches the reference for random starts/ends/steps (negative, out of range), axes and dtypes', () => {
    fc.assert(
      fc.property(
        arbShape({ minRank: 1, maxRank: 4 }).chain((dims) =>
          fc.tuple(
            arbInput(dims),
            fc.shuffledSubarray([...dims.keys()], { minLength: 1 }),
            fc.array(fc.tuple(arbBound, arbBound, fc.constantFrom(1, 2, 3, -1, -2)), { minLength: dims.length, maxLength: dims.length }),
            fc.boolean(),
          ),
        ),
        ([{ x, input }, axes, bounds, negativeAxes]) => {
          const starts = axes.map((_, i) => bounds[i]![0]);
          const ends = axes.map((_, i) => bounds[i]![1]);
          const steps = axes.map((_, i) => bounds[i]![2]);
          const givenAxes = negativeAxes ? axes.map((a) => a - x.rank) : axes;
          expectBitwise(ops.slice(input, starts, ends, givenAxes, steps).contiguous(), refSlice(x, starts, ends, axes, steps));
        },
      ),
      { numRuns: 200 },
    );
  });
  it('clamps INT64 max/min given as int64 inputs, and defaults axes and steps', () => {
    const x = f32([...Array(20).keys()], [4, 5]);
    const big = new Tensor('int64', [9223372036854775807n], [1]);
    const small = new Tensor('int64', [-9223372036854775808n], [1]);
    expect(values(runOp('Slice', [x, i64([1]), big, i64([1])])[0]!)).toEqual([1, 2, 3, 4, 6, 7, 8, 9, 11, 12, 13, 14, 16, 17, 18, 19]);
    expect(values(runOp('Slice', [x, i64([-1]), small, i64([1]), i64([-1])])[0]!)).toEqual([4, 3, 2, 1, 0, 9, 8, 7, 6, 5, 14, 13, 12, 11, 10, 19, 18, 17, 16, 15]);
    expect(values(runOp('Slice', [x, new Tensor('int32', [0, 1], [2]), new Tensor('int32', [3, 10], [2])])[0]!)).toEqual([1, 2, 3, 4, 6, 7, 8, 9, 11, 12, 13, 14]);
  });
  it('gives the Operators.md examples and the opset-1 attribute form', () => {
    const x = f32([1, 2, 3, 4, 5, 6, 7, 8], [2, 4]);
    expect(values(ops.slice(x, [1, 0], [2, 3], [0, 1], [1, 2]))).toEqual([5, 7]);
    expect(values(ops.slice(x, [0, 1], [-1, 1000]))).toEqual([2, 3, 4]);
    const y = runOp('Slice', [x], { starts: [0, 1], ends: [-1, 1000] }, { opset: 1 })[0]!;
    expect(values(y)).toEqual([2, 3, 4]);
    expect(values(runOp('Slice', [x], { starts: [1], ends: [3], axes: [-1] }, { opset: 9 })[0]!)).toEqual([2, 3, 6, 7]);
  });
  it('clamps a backward start into [0, d - 1] (the ONNX text; onnxruntime-node 1.30 agrees, numpy does not)', () => {
    const x = f32([1, 2, 3, 4, 5], [5]);
    expect(values(ops.slice(x, [-7], [-7], [0], [-1]))).toEqual([1]);
    expect(values(ops.slice(x, [-6], [0], [0], [-1]))).toEqual([]);
    expect(values(ops.slice(x, [10], [-10], [0], [-1]))).toEqual([5, 4, 3, 2, 1]);
    expect(values(ops.slice(x, [2], [-10], [0], [-2]))).toEqual([3, 1]);
  });
  it('returns a zero-copy view when the slice is contiguous', () => {
    const x = randomTensor('float32', [6, 4], 2);
    const y = ops.slice(x, [2], [5]);
    expect(y.raw()).toBe(x.raw());
    expect(y.dims).toEqual([3, 4]);
  });
  it('rejects mismatched lengths, zero steps and bad axes', () => {
    const x = f32([1, 2, 3, 4, 5, 6], [2, 3]);
    expectFails(() => ops.slice(x, [0, 0], [1]), /starts \[0, 0\], ends \[1\] must have the same length/);
    expectFails(() => ops.slice(x, [0], [1], [0], [0]), /steps must be non-zero/);
    expectFails(() => ops.slice(x, [0], [1], [2]), /axes 2 is out of range for input 'data' with shape \[2, 3\]/);
    expectFails(() => ops.slice(x, [0, 0], [1, 1], [1, -1]), /repeats an axis/);
    expectFails(() => runOp('Slice', [x, new Tensor('float32', [0], [1]), i64([1])]), /'starts' must be int32 or int64, got float32/);
  });
});

describe('Expand and Tile', () => {
  it('expand matches the reference in both broadcast directions', () => {
    fc.assert(
      fc.property(
        arbBroadcastPair().chain(([a, b]) => fc.tuple(arbInput(a), fc.constant(b))),
        ([{ x, input }, shape]) => {
          const rank = Math.max(x.rank, shape.length);
          const xd = [...Array(rank - x.rank).fill(1), ...x.dims];
          const sd = [...Array(rank - shape.length).fill(1), ...shape];
          const dims = xd.map((d, i) => (d === 1 ? sd[i]! : d));
          expectBitwise(ops.expand(input, shape), refExpand(x, dims));
        },
      ),
      { numRuns: 80 },
    );
  });
  it('gives the Operators.md expand answers and rejects shapes that do not broadcast', () => {
    const x = f32([1, 2, 3], [3, 1]);
    expect(values(ops.expand(x, [2, 1, 6])).slice(0, 12)).toEqual([1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2]);
    expect(ops.expand(x, [3, 4]).dims).toEqual([3, 4]);
    expect(ops.expand(x, [1, 1]).dims).toEqual([3, 1]);
    expectFails(() => ops.expand(x, [2, 4]), /shapes \[3, 1\] and \[2, 4\] cannot be broadcast together/);
    expectFails(() => ops.expand(x, [-1]), /dims must be >= 0/);
  });
  it('tile matches the reference for repeats 0..3', () => {
    fc.assert(
      fc.property(
        arbShape({ maxRank: 4, maxDim: 3 }).chain((dims) => fc.tuple(arbInput(dims), fc.array(fc.integer({ min: 0, max: 3 }), { minLength: dims.length, maxLength: dims.length }))),
        ([{ x, input }, repeats]) => expectBitwise(ops.tile(input, repeats), refTile(x, repeats)),
      ),
      { numRuns: 80 },
    );
  });
  it('tiles the Operators.md example and rejects wrong repeats', () => {
    const x = f32([0, 1, 2, 3], [2, 2]);
    expect(values(ops.tile(x, [2, 2]))).toEqual([0, 1, 0, 1, 2, 3, 2, 3, 0, 1, 0, 1, 2, 3, 2, 3]);
    expectFails(() => ops.tile(x, [2]), /input 'repeats' has 1 values \[2\] for input 'input' with shape \[2, 2\]; expected 2/);
    expectFails(() => ops.tile(x, [1, -1]), /repeats must be >= 0/);
  });
});

describe('Pad', () => {
  const modes = ['constant', 'reflect', 'edge', 'wrap'] as const;
  it('matches the reference for every mode, negative pads (crop), dtypes and strided inputs', () => {
    fc.assert(
      fc.property(
        arbShape({ maxRank: 4, maxDim: 4 }).chain((dims) =>
          fc.tuple(
            arbInput(dims),
            fc.constantFrom(...modes),
            fc.array(fc.integer({ min: -2, max: 5 }), { minLength: 2 * dims.length, maxLength: 2 * dims.length }),
            fc.integer({ min: -3, max: 3 }),
          ),
        ),
        ([{ x, input }, mode, rawPads, value]) => {
          const r = x.rank;
          // keep the problem valid: never crop below zero; in copy modes keep an element wherever we pad
          const pads = [...rawPads];
          for (let k = 0; k < r; k++) {
            const d = x.dims[k]!;
            pads[k] = Math.max(pads[k]!, -d);
            pads[k + r] = Math.max(pads[k + r]!, -(d - Math.max(0, -pads[k]!)));
            const kept = d - Math.max(0, -pads[k]!) - Math.max(0, -pads[k + r]!);
            if (mode !== 'constant' && kept === 0) {
              pads[k] = Math.min(pads[k]!, 0);
              pads[k + r] = Math.min(pads[k + r]!, 0);
            }
          }
          const v = mode === 'constant' ? (x.type === 'bool' ? Math.abs(value) % 2 : x.type.startsWith('uint') ? Math.abs(value) : value) : 0;
          const y = ops.pad(input, pads, { mode, value: v });
          const vt = new Tensor(x.type, x.type === 'int64' ? [BigInt(v)] : [v], []);
          const raw = (vt.data as unknown as ArrayLike<number | bigint>)[0]!;
          expectBitwise(y, refPad(x, pads, mode, raw));
        },
      ),
      { numRuns: 200 },
    );
  });
  it('gives the Operators.md answers for the four modes', () => {
    const x = f32([1.0, 1.2, 2.3, 3.4, 4.5, 5.7], [3, 2]);
    const fr = (a: number[]) => a.map(Math.fround);
    expect(values(ops.pad(x, [0, 2, 0, 0]))).toEqual(fr([0, 0, 1.0, 1.2, 0, 0, 2.3, 3.4, 0, 0, 4.5, 5.7]));
    expect(values(ops.pad(x, [0, 2, 0, 0], { mode: 'reflect' }))).toEqual(fr([1.0, 1.2, 1.0, 1.2, 2.3, 3.4, 2.3, 3.4, 4.5, 5.7, 4.5, 5.7]));
    expect(values(ops.pad(x, [0, 2, 0, 0], { mode: 'edge' }))).toEqual(fr([1.0, 1.0, 1.0, 1.2, 2.3, 2.3, 2.3, 3.4, 4.5, 4.5, 4.5, 5.7]));
    expect(values(ops.pad(x, [2, 1, 1, 1], { mode: 'wrap' }))).toEqual(
      fr([3.4, 2.3, 3.4, 2.3, 5.7, 4.5, 5.7, 4.5, 1.2, 1.0, 1.2, 1.0, 3.4, 2.3, 3.4, 2.3, 5.7, 4.5, 5.7, 4.5, 1.2, 1.0, 1.2, 1.0]),
    );
  });
  it('accepts the axes input (opset 18), the constant_value input and the opset-2 attribute form', () => {
    const x = f32([1, 2, 3, 4], [2, 2]);
    expect(values(ops.pad(x, [1, 0], { axes: [-1], value: 9 }))).toEqual([9, 1, 2, 9, 3, 4]);
    const viaAttrs = runOp('Pad', [x], { pads: [0, 1, 0, 0], value: 7 }, { opset: 2 })[0]!;
    expect(values(viaAttrs)).toEqual([7, 1, 2, 7, 3, 4]);
    const viaPaddings = runOp('Pad', [x], { paddings: [1, 0, 0, 0], mode: 'edge' }, { opset: 1 })[0]!;
    expect(values(viaPaddings)).toEqual([1, 2, 1, 2, 3, 4]);
    const big = new Tensor('int64', [1n << 60n], []);
    const y = runOp('Pad', [new Tensor('int64', [5n], [1]), i64([1, 0]), big], {})[0]!;
    expect(Array.from(y.data as BigInt64Array)).toEqual([1n << 60n, 5n]);
  });
  it('rejects pads of the wrong length, a bad mode and impossible crops', () => {
    const x = f32([1, 2, 3, 4], [2, 2]);
    expectFails(() => ops.pad(x, [1, 1]), /pads \[1, 1\] has 2 values for input 'data' with shape \[2, 2\] \(rank 2\); expected 4/);
    expectFails(() => ops.pad(x, [1, 1], { axes: [0, 1] }), /has 2 values for 2 axes; expected 4/);
    expectFails(() => ops.pad(x, [0, 0, 0, 0], { mode: 'mirror' as 'edge' }), /mode 'mirror' is not one of/);
    expectFails(() => ops.pad(x, [-3, 0, 0, 0]), /crop 3 elements from axis 0 of input 'data' with shape \[2, 2\], which has 2/);
    expectFails(() => ops.pad(x, [3, 0, -3, 0]), /crop 3 elements from axis 0/);
    expectFails(() => ops.pad(new Tensor('float32', new Float32Array(0), [0, 2]), [1, 0, 0, 0], { mode: 'edge' }), /no elements are left/);
    expectFails(() => runOp('Pad', [x, i64([0, 0, 0, 0]), f32([1, 2], [2])]), /'constant_value' has shape \[2\]; expected a scalar/);
  });
});

describe('Shape, Size, ConstantOfShape, Range, Constant, NonZero', () => {
  it('shape with start/end clamps like Operators.md', () => {
    const x = new Tensor('bool', new Uint8Array(24), [2, 3, 4]);
    const s = (o: { start?: number; end?: number }) => values(ops.shape(x, o));
    expect(s({})).toEqual([2, 3, 4]);
    expect(s({ start: -1 })).toEqual([4]);
    expect(s({ end: -1 })).toEqual([2, 3]);
    expect(s({ start: 1, end: 2 })).toEqual([3]);
    expect(s({ start: -10, end: 10 })).toEqual([2, 3, 4]);
    expect(s({ start: 2, end: 1 })).toEqual([]);
    expect(ops.shape(x).type).toBe('int64');
    const n = ops.size(x);
    expect(n.dims).toEqual([]);
    expect(n.item()).toBe(24n);
  });
  it('constantOfShape fills with the value attribute, default float32 0, scalar for an empty shape', () => {
    const z = ops.constantOfShape([2, 3]);
    expect(z.type).toBe('float32');
    expect(values(z)).toEqual([0, 0, 0, 0, 0, 0]);
    const ones = ops.constantOfShape([4, 3, 2], new Tensor('int64', [-(1n << 40n)], [1]));
    expect(ones.type).toBe('int64');
    expect(Array.from(ones.data as BigInt64Array).every((v) => v === -(1n << 40n))).toBe(true);
    expect(ops.constantOfShape([], new Tensor('float16', [1.5], [1])).dims).toEqual([]);
    expect(values(ops.constantOfShape([0, 2])).length).toBe(0);
    expect(ops.constantOfShape(i64([3])).dims).toEqual([3]);
    expectFails(() => ops.constantOfShape([2, -1]), /dims must be >= 0/);
    expectFails(() => ops.constantOfShape([2], f32([1, 2], [2])), /attribute 'value' has shape \[2\]; expected one element/);
  });
  it('range matches a stepping reference for int and float types', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<DataType>('float32', 'float64', 'int16', 'int32', 'int64', 'float16'),
        fc.integer({ min: -20, max: 20 }),
        fc.integer({ min: -20, max: 20 }),
        fc.integer({ min: -5, max: 5 }).filter((d) => d !== 0),
        (type, start, limit, delta) => {
          const y = ops.range(start, limit, delta, type);
          const big = type === 'int64';
          expectBitwise(y, refRange(type, big ? BigInt(start) : start, big ? BigInt(limit) : limit, big ? BigInt(delta) : delta));
        },
      ),
      { numRuns: 80 },
    );
    expect(values(ops.range(3, 9, 3, 'int32'))).toEqual([3, 6]);
    expect(values(ops.range(10, 4, -2, 'int32'))).toEqual([10, 8, 6]);
    expect(values(ops.range(1, 5, 2))).toEqual([1, 3]);
    expect(values(ops.range(0, 1, 0.25, 'float64'))).toEqual([0, 0.25, 0.5, 0.75]);
    expectFails(() => ops.range(0, 5, 0, 'int32'), /'delta' is 0/);
    expectFails(() => ops.range(0, 1e12, 1e-3, 'float64'), /more than/);
    expectFails(() => runOp('Range', [i64([0]), new Tensor('int32', [3], []), i64([1])]), /they must match/);
    expectFails(() => runOp('Range', [f32([0, 1], [2]), f32([3], []), f32([1], [])]), /'start' has shape \[2\]; expected a scalar/);
  });
  it('constant builds every attribute form and rejects strings and sparse values', () => {
    const v = randomTensor('float16', [2, 2], 5);
    expectBitwise(runOp('Constant', [], { value: v })[0]!, v);
    expect(values(runOp('Constant', [], { value_float: 1.5 })[0]!)).toEqual([1.5]);
    expect(runOp('Constant', [], { value_float: 1.5 })[0]!.dims).toEqual([]);
    expect(values(runOp('Constant', [], { value_floats: [1, 2] })[0]!)).toEqual([1, 2]);
    const vi = runOp('Constant', [], { value_int: 7 })[0]!;
    expect([vi.type, vi.dims.length, vi.item()]).toEqual(['int64', 0, 7n]);
    expect(values(runOp('Constant', [], { value_ints: [3, -4] })[0]!)).toEqual([3, -4]);
    expectFails(() => runOp('Constant', [], { value_string: 'hi' }), /string tensors/);
    expectFails(() => runOp('Constant', [], { value_strings: ['a'] }), /string tensors/);
    expectFails(() => runOp('Constant', [], { sparse_value: v }), /sparse_value.*not supported/);
    expectFails(() => runOp('Constant', [], {}), /exactly one .* got none/);
    expectFails(() => runOp('Constant', [], { value_int: 1, value_float: 2 }), /exactly one/);
  });
  it('nonZero matches the reference, including -0, NaN and scalars', () => {
    fc.assert(
      fc.property(
        arbShape({ maxRank: 4 }).chain((dims) => fc.tuple(arbType, fc.boolean()).chain(([type, strided]) => arbTensor(type, dims, 1).map((x) => ({ x, strided })))),
        ({ x, strided }) => expectBitwise(ops.nonZero(strided ? nonContiguous(x) : x), refNonZero(x)),
      ),
      { numRuns: 80 },
    );
    const y = ops.nonZero(new Tensor('float32', [1, 0, 0, 1, -0, NaN], [2, 3]));
    expect(y.dims).toEqual([2, 3]);
    expect(values(y)).toEqual([0, 1, 1, 0, 0, 2]);
    expect(ops.nonZero(new Tensor('float64', [-0], [])).dims).toEqual([1, 0]);
    expect(values(ops.nonZero(new Tensor('int64', [5n], [])))).toEqual([0]);
    expect(values(ops.nonZero(new Tensor('float16', [0, -0, 2], [3])))).toEqual([2]);
  });
});

describe('older opset forms', () => {
  const x = f32([1, 2, 3, 4, 5, 6], [1, 2, 3, 1]);
  it('takes axes and shape as attributes before opset 13 / 5', () => {
    expect(runOp('Squeeze', [x], { axes: [0, 3] }, { opset: 11 })[0]!.dims).toEqual([2, 3]);
    expect(runOp('Squeeze', [x], {}, { opset: 11 })[0]!.dims).toEqual([2, 3]);
    expect(runOp('Unsqueeze', [x], { axes: [-1] }, { opset: 11 })[0]!.dims).toEqual([1, 2, 3, 1, 1]);
    expect(runOp('Reshape', [x], { shape: [3, 2], consumed_inputs: [0] }, { opset: 1 })[0]!.dims).toEqual([3, 2]);
    expect(runOp('Concat', [x, x], {}, { opset: 1 })[0]!.dims).toEqual([1, 4, 3, 1]);
  });
  it('refuses a missing required index input or a value given twice', () => {
    expectFails(() => runOp('Unsqueeze', [x], {}, { opset: 13 }), /input 1 'axes' is required/);
    expectFails(() => runOp('Reshape', [x], {}), /input 1 'shape' is required/);
    expectFails(() => runOp('Squeeze', [x, i64([0])], { axes: [0] }), /given both as input 1 and as attribute 'axes'/);
    expectFails(() => runOp('Reshape', [x, new Tensor('float32', [6], [1])]), /'shape' must be int32 or int64, got float32/);
    expectFails(() => runOp('Tile', [x, i64([1, 1, 1, 1])], {}, { opset: 5 }), /not supported/);
    expectFails(() => runOp('Transpose', [x], { perms: [0] }), /unknown attribute 'perms'/);
  });
});

describe('tensor lifetimes', () => {
  it('eager calls release every temporary: only the outputs stay alive', () => {
    const x = randomTensor('float32', [2, 3, 4], 9);
    const strided = nonContiguous(x);
    const before = Tensor.liveCount;
    const outputs: Tensor[] = [
      ops.transpose(strided, [2, 0, 1]),
      ops.reshape(strided, [6, -1]),
      ops.flatten(x, -1),
      ops.squeeze(ops.unsqueeze(x, [0])),
      ops.concat([x, strided], 1),
      ...ops.split(strided, { axis: 2, split: [1, 3] }),
      ...ops.split(x, { numOutputs: 2 }),
      ops.slice(strided, [0, 2], [2, 0], [1, 2], [1, -1]),
      ops.expand(x, [2, 2, 3, 4]),
      ops.tile(strided, [1, 2, 1]),
      ops.pad(strided, [1, 0, 0, 0, 1, 0], { value: 2 }),
      ops.pad(x, [1, 1], { mode: 'reflect', axes: [2] }),
      ops.shape(x),
      ops.size(x),
      ops.constantOfShape([2]),
      ops.range(0, 4, 1, 'int64'),
      ops.identity(strided),
      ops.nonZero(strided),
    ];
    // the unsqueezed intermediate is the caller's to dispose
    expect(Tensor.liveCount).toBe(before + outputs.length + 1);
    for (const o of outputs) o.dispose();
  });
});
