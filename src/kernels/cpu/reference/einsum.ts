/**
 * Reference (naive) Einsum for explicit equations of single letters without ellipsis (`ij,jk->ik`): loop over
 * every assignment of values to all labels, multiply the operand elements it selects, add the product to the
 * output element it selects. Cost: product of all label sizes times the operand count. It defines the
 * semantics the planned kernel in ../einsum.ts is tested against; slow is fine.
 */
import { sizeOf } from '../../../tensor/shape.js';
import { fromNumbers, type Tensor } from '../../../tensor/tensor.js';
import { plainValues, ravel, unravel } from './reduce.js';

/** Einsum by brute force over all label assignments. */
export function refEinsum(equation: string, ...xs: Tensor[]): Tensor {
  const [lhs, out] = equation.replace(/ /g, '').split('->') as [string, string];
  const terms = lhs.split(',');
  const sizes = new Map<string, number>();
  terms.forEach((t, i) => [...t].forEach((l, k) => sizes.set(l, xs[i]!.dims[k]!)));
  const labels = [...sizes.keys()];
  const labelDims = labels.map((l) => sizes.get(l)!);
  const outDims = [...out].map((l) => sizes.get(l)!);
  const vals = xs.map(plainValues);
  const result = new Array<number>(sizeOf(outDims)).fill(0);
  for (let a = 0; a < sizeOf(labelDims); a++) {
    const assign = unravel(a, labelDims);
    const value = (l: string): number => assign[labels.indexOf(l)]!;
    let prod = 1;
    terms.forEach((t, i) => {
      prod *= vals[i]![ravel([...t].map(value), xs[i]!.dims)]!;
    });
    result[ravel([...out].map(value), outDims)] += prod;
  }
  return fromNumbers(xs[0]!.type, result, outDims);
}
