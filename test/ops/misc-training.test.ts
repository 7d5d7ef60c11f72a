import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import '../../src/kernels/cpu/index.js';
import { fromNumbers, ops, type DataType } from '../../src/index.js';
import { refOptimizerStep } from '../../src/kernels/cpu/reference/training.js';
import { arbShape, arbTensor, expectClose } from '../util/tensors.js';

describe('ai.onnx.preview.training optimizers', () => {
  for (const op of ['Adagrad', 'Adam', 'Momentum'] as const) {
    it(`${op} matches the reference (several tensors, update counts, attributes)`, () => {
      const blocks = op === 'Adam' ? 4 : 3;
      fc.assert(
        fc.property(
          fc
            .tuple(fc.array(arbShape({ maxRank: 2, maxDim: 3 }), { minLength: 1, maxLength: 2 }), fc.constantFrom<DataType>('float32', 'float64'))
            .chain(([shapes, type]) =>
              fc.tuple(
                fc.constant(type),
                // X and G may be any sign; states (accumulated squares) stay non-negative
                fc.tuple(...Array.from({ length: blocks }, (_, b) => fc.tuple(...shapes.map((s) => arbTensor(type, s, 2).map((t) => (b >= 2 ? fromNumbers(type, Array.from(t.numbers()).map(Math.abs), s) : t)))))),
                fc.float({ min: Math.fround(0.01), max: Math.fround(1), noNaN: true }),
                fc.integer({ min: 0, max: 5 }),
                fc.float({ min: Math.fround(0), max: Math.fround(0.5), noNaN: true }),
                fc.boolean(),
              ),
            ),
          ([type, groups, r, t, coef, nesterov]) => {
            const tensors = groups.flat();
            const attrs: Record<string, number | string> =
              op === 'Adagrad'
                ? { decay_factor: coef, epsilon: 1e-3, norm_coefficient: coef }
                : op === 'Adam'
                  ? { alpha: 0.8, beta: 0.9, epsilon: 1e-3, norm_coefficient: coef, norm_coefficient_post: coef / 2 }
                  : { alpha: 0.7, beta: 0.3, mode: nesterov ? 'nesterov' : 'standard', norm_coefficient: coef };
            const got = ops.optimizerStep(op, fromNumbers(type, [r], []), fromNumbers('int64', [t], []), tensors, attrs);
            const want = refOptimizerStep(op, r, t, tensors, attrs);
            expect(got).toHaveLength(want.length);
            got.forEach((g, i) => expectClose(g, want[i]!, { rtol: 1e-4, atol: 1e-5 }));
          },
        ),
        { numRuns: 40 },
      );
    });
  }
  it('known answer: Momentum first step is X - R * G', () => {
    const x = fromNumbers('float32', [1, 2], [2]);
    const g = fromNumbers('float32', [0.5, -1], [2]);
    const v = fromNumbers('float32', [0, 0], [2]);
    const [xNew, vNew] = ops.optimizerStep('Momentum', fromNumbers('float32', [0.1], []), fromNumbers('int64', [0], []), [x, g, v], { alpha: 0.9, beta: 0.5, mode: 'standard', norm_coefficient: 0 });
    expect(Array.from(xNew!.numbers())).toEqual([Math.fround(1 - 0.05), Math.fround(2 + 0.1)]);
    expect(Array.from(vNew!.numbers())).toEqual([0.5, -1]);
  });
  it('rejects a wrong input count, mismatched shapes and a bad mode', () => {
    const x = fromNumbers('float32', [1, 2], [2]);
    const r = fromNumbers('float32', [0.1], []);
    const t = fromNumbers('int64', [0], []);
    expect(() => ops.optimizerStep('Adagrad', r, t, [x, x])).toThrow(/Adagrad: got 2 tensor inputs after R and T; expected a multiple of 3/);
    expect(() => ops.optimizerStep('Adagrad', r, t, [x, x, fromNumbers('float32', [1], [1])])).toThrow(/input 'H\[0\]' has shape \[1\]; expected the shape of 'X\[0\]' \[2\]/);
    expect(() => ops.optimizerStep('Momentum', r, t, [x, x, x], { alpha: 1, beta: 1, mode: 'heavy', norm_coefficient: 0 })).toThrow(/Momentum: attribute 'mode' is 'heavy'/);
  });
});
