import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import '../../src/kernels/cpu/index.js';
import { ops, OpValidationError, runOp, fromNumbers, type DataType, type Tensor } from '../../src/index.js';
import { refEinsum } from '../../src/kernels/cpu/reference/einsum.js';
import { arbTensor, expectClose, nonContiguous, randomTensor } from '../util/tensors.js';

const f32 = (values: number[], dims: number[]): Tensor => fromNumbers('float32', values, dims);
const values = (t: Tensor): number[] => Array.from(t.numbers());

interface EinsumCase {
  terms: string[];
  out: string;
  sizes: Record<string, number>;
}

/** Random explicit equations over labels a-e: 1-3 operands, repeated labels (diagonals), sums, permutations. */
const arbEinsumCase: fc.Arbitrary<EinsumCase> = fc
  .tuple(
    fc.array(fc.oneof({ weight: 1, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constant(1) }, { weight: 5, arbitrary: fc.integer({ min: 2, max: 3 }) }), { minLength: 5, maxLength: 5 }),
    fc.array(fc.array(fc.constantFrom('a', 'b', 'c', 'd', 'e'), { minLength: 0, maxLength: 3 }), { minLength: 1, maxLength: 3 }),
  )
  .chain(([dimSizes, termLists]) => {
    const sizes: Record<string, number> = {};
    'abcde'.split('').forEach((l, i) => (sizes[l] = dimSizes[i]!));
    const used = [...new Set(termLists.flat())];
    return fc.shuffledSubarray(used).map((out) => ({ terms: termLists.map((t) => t.join('')), out: out.join(''), sizes }));
  });

function operandsFor(c: EinsumCase, type: DataType): fc.Arbitrary<Tensor[]> {
  return fc.tuple(...c.terms.map((t) => arbTensor(type, [...t].map((l) => c.sizes[l]!), 3)));
}

describe('Einsum', () => {
  it('matches the brute-force reference on random explicit equations (float32, float64, int32; strided)', () => {
    fc.assert(
      fc.property(
        arbEinsumCase.chain((c) => fc.constantFrom<DataType>('float32', 'float64', 'int32').chain((t) => fc.tuple(fc.constant(c), operandsFor(c, t)))),
        fc.boolean(),
        ([c, xs], strided) => {
          const eq = `${c.terms.join(',')}->${c.out}`;
          const inputs = strided ? xs.map(nonContiguous) : xs;
          expectClose(ops.einsum(eq, ...inputs), refEinsum(eq, ...xs), { rtol: 1e-4, atol: 1e-4, label: eq });
        },
      ),
      { numRuns: 100 },
    );
  });

  it('implicit output: labels used once, in alphabetical order', () => {
    fc.assert(
      fc.property(
        arbEinsumCase.chain((c) => fc.tuple(fc.constant(c), operandsFor(c, 'float64'))),
        ([c, xs]) => {
          const counts = new Map<string, number>();
          for (const l of c.terms.join('')) counts.set(l, (counts.get(l) ?? 0) + 1);
          const out = [...counts].filter(([, n]) => n === 1).map(([l]) => l).sort().join('');
          expectClose(ops.einsum(c.terms.join(','), ...xs), refEinsum(`${c.terms.join(',')}->${out}`, ...xs), { rtol: 1e-9, atol: 1e-9 });
        },
      ),
      { numRuns: 50 },
    );
  });

  it('uses transposed operands in place (transA/transB) and chains several contractions', () => {
    const cases: [string, number[][]][] = [
      ['ij,kj->ik', [[2, 3], [4, 3]]],
      ['ji,jk->ik', [[3, 2], [3, 5]]],
      ['ji,kj->ik', [[3, 2], [4, 3]]],
      ['bji,bkj->bik', [[2, 3, 4], [2, 5, 3]]],
      ['ij,jk,kl->il', [[2, 3], [3, 4], [4, 5]]],
      ['bij,jk,bk->bi', [[3, 2, 4], [4, 5], [3, 5]]],
      ['ik,jk->', [[2, 3], [4, 3]]],
    ];
    cases.forEach(([eq, shapes], n) => {
      for (const type of ['float32', 'float64'] as const) {
        const xs = shapes.map((s, i) => randomTensor(type, s, 10 * n + i + 1));
        expectClose(ops.einsum(eq, ...xs), refEinsum(eq, ...xs), { rtol: 1e-5, atol: 1e-6, label: `${eq} ${type}` });
      }
    });
  });

  it('ONNX examples: batch matmul, inner product, sum, transpose, batch diagonal, scalar', () => {
    const a = randomTensor('float32', [5, 2, 3], 1);
    const b = randomTensor('float32', [5, 3, 4], 2);
    expectClose(ops.einsum('bij, bjk -> bik', a, b), refEinsum('bij,bjk->bik', a, b), { rtol: 1e-5 });
    const v = f32([1, 2, 3], [3]);
    expect(values(ops.einsum('i,i', v, v))).toEqual([14]);
    const m = f32([1, 2, 3, 4, 5, 6], [2, 3]);
    expect(values(ops.einsum('ij->i', m))).toEqual([6, 15]);
    expect(values(ops.einsum('ij->ji', m))).toEqual([1, 4, 2, 5, 3, 6]);
    expect(values(ops.einsum('ij', m))).toEqual([1, 2, 3, 4, 5, 6]);
    expect(values(ops.einsum('ji', m))).toEqual([1, 4, 2, 5, 3, 6]);
    const sq = f32([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18], [2, 3, 3]);
    expect(values(ops.einsum('...ii ->...i', sq))).toEqual([1, 5, 9, 10, 14, 18]);
    expect(values(ops.einsum('ii', f32([1, 2, 3, 4], [2, 2])))).toEqual([5]);
    expect(values(ops.einsum('->', f32([7], [])))).toEqual([7]);
    expect(values(ops.einsum('i,j->ij', f32([1, 2], [2]), f32([3, 4, 5], [3])))).toEqual([3, 4, 5, 6, 8, 10]);
  });

  it('ellipsis broadcasting aligns from the right and expands size-1 dims', () => {
    const a = randomTensor('float32', [2, 1, 3, 4], 3);
    const b = randomTensor('float32', [5, 4, 2], 4);
    const got = ops.einsum('...ij,...jk->...ik', a, b);
    expect([...got.dims]).toEqual([2, 5, 3, 2]);
    expectClose(got, refEinsum('xij,yjk->xyik', a.reshape([2, 3, 4]), b), { rtol: 1e-5, atol: 1e-6 });
    // implicit mode puts the ellipsis dims first
    const c = randomTensor('float64', [3, 2, 4], 5);
    expectClose(ops.einsum('i...j', c), refEinsum('iaj->aij', c), { rtol: 1e-12 });
  });

  it('float16 and int64 operands', () => {
    const h = fromNumbers('float16', [1, 2, 3, 4], [2, 2]);
    const y = ops.einsum('ij,jk->ik', h, h);
    expect(y.type).toBe('float16');
    expect(values(y)).toEqual([7, 10, 15, 22]);
    const l = fromNumbers('int64', [1, 2, 3, 4], [2, 2]);
    expect(Array.from(ops.einsum('ij,jk', l, l).data as BigInt64Array, Number)).toEqual([7, 10, 15, 22]);
  });

  it('rejects bad equations with clear messages', () => {
    const m = f32([1, 2, 3, 4, 5, 6], [2, 3]);
    const bad = (eq: string, xs: Tensor[], msg: RegExp): void => {
      expect(() => ops.einsum(eq, ...xs)).toThrow(OpValidationError);
      expect(() => ops.einsum(eq, ...xs)).toThrow(msg);
    };
    bad('ijk->i', [m], /input term 0 'ijk' has 3 labels but input 0 has shape \[2, 3\] \(rank 2\)/);
    bad('ij,jk->ik', [m, m], /label 'j' has size 2 in input 1 \[2, 3\] but size 3 elsewhere/);
    bad('ij,jk->ik', [m], /2 input terms but 1 input was given/);
    bad('ij->k', [m], /label 'k', which no input term has/);
    bad('ij->ii', [m], /repeats label 'i'/);
    bad('i1->i', [m], /contains '1'/);
    bad('...i...->i', [m], /more than one ellipsis/);
    bad('ii', [m], /label 'i' has size 3/);
    bad('ij->i->j', [m], /more than one '->'/);
    expect(() => runOp('Einsum', [m])).toThrow(/attribute 'equation' is required/);
    expect(() => ops.einsum('i', fromNumbers('bool', [1], [1]))).toThrow(/type bool/);
  });
});
