import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import '../../src/kernels/cpu/index.js';
import { ops, Tensor, OpValidationError } from '../../src/index.js';
import { refBinary, refUnary } from '../../src/kernels/cpu/reference/elementwise.js';
import { arbBroadcastPair, arbShape, arbTensor, expectClose, nonContiguous } from '../util/tensors.js';

describe('Relu', () => {
  it('matches the reference on random shapes, contiguous or not', () => {
    fc.assert(
      fc.property(
        arbShape().chain((s) => arbTensor('float32', s)),
        fc.boolean(),
        (x, strided) => {
          const input = strided ? nonContiguous(x) : x;
          expectClose(ops.relu(input), refUnary(x, (v) => Math.max(v, 0)));
        },
      ),
    );
  });
});

describe('Add', () => {
  it('broadcasts like the reference', () => {
    fc.assert(
      fc.property(
        arbBroadcastPair().chain(([a, b]) => fc.tuple(arbTensor('float32', a), arbTensor('float32', b))),
        ([a, b]) => expectClose(ops.add(a, b), refBinary(a, b, (x, y) => Math.fround(x + y))),
      ),
    );
  });
  it('rejects shapes that do not broadcast, naming both', () => {
    const a = new Tensor('float32', new Float32Array(6), [2, 3]);
    const b = new Tensor('float32', new Float32Array(4), [4]);
    expect(() => ops.add(a, b)).toThrow(OpValidationError);
    expect(() => ops.add(a, b)).toThrow(/\[2, 3\] and \[4\]/);
  });
});
