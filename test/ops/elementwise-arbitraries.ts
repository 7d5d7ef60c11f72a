/**
 * fast-check arbitraries shared by the elementwise tests: full-range integer tensors, broadcast pairs that
 * only grow one side (PRelu), broadcast triples (Where) and lists (Sum/Max...).
 */
import fc from 'fast-check';
import type { DataType } from '../../src/tensor/dtype.js';
import { sizeOf } from '../../src/tensor/shape.js';
import { Tensor, fromNumbers } from '../../src/tensor/tensor.js';
import { arbShape, arbTensor } from '../util/tensors.js';

const INT_RANGE: Partial<Record<DataType, [number, number]>> = {
  int8: [-128, 127],
  uint8: [0, 255],
  int16: [-32768, 32767],
  uint16: [0, 65535],
  int32: [-(2 ** 31), 2 ** 31 - 1],
  uint32: [0, 2 ** 32 - 1],
};

/** Integer tensor with values over the dtype's full range (small values drawn often), int64 included. */
export function arbIntTensor(type: DataType, dims: readonly number[]): fc.Arbitrary<Tensor> {
  const n = sizeOf(dims);
  if (type === 'int64') {
    const v = fc.oneof(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), fc.bigInt({ min: -20n, max: 20n }));
    return fc.array(v, { minLength: n, maxLength: n }).map((vals) => new Tensor('int64', BigInt64Array.from(vals), dims));
  }
  const [lo, hi] = INT_RANGE[type]!;
  const v = fc.oneof(fc.integer({ min: lo, max: hi }), fc.integer({ min: Math.max(lo, -20), max: Math.min(hi, 20) }));
  return fc.array(v, { minLength: n, maxLength: n }).map((vals) => fromNumbers(type, vals, dims));
}

/** Any tensor of `type`: full-range integers, floats in [-range, range], random bools. */
export function arbAny(type: DataType, dims: readonly number[], range = 10): fc.Arbitrary<Tensor> {
  if (type === 'bool') return fc.array(fc.boolean(), { minLength: sizeOf(dims), maxLength: sizeOf(dims) }).map((v) => fromNumbers('bool', v.map(Number), dims));
  if (type === 'float32' || type === 'float64' || type === 'float16') return arbTensor(type, dims, range);
  return arbIntTensor(type, dims);
}

/** A version of `full` that broadcasts to it: some leading dims dropped, some dims set to 1. */
function arbShrunk(full: readonly number[]): fc.Arbitrary<number[]> {
  return fc
    .tuple(fc.integer({ min: 0, max: full.length }), fc.array(fc.boolean(), { minLength: full.length, maxLength: full.length }))
    .map(([drop, ones]) => full.slice(drop).map((d, i) => (ones[i + drop] ? 1 : d)));
}

/** [x, slope] shapes where slope broadcasts to x without growing it. */
export function arbUnidirectionalPair(): fc.Arbitrary<[number[], number[]]> {
  return arbShape({ maxRank: 4, maxDim: 4 }).chain((x) => arbShrunk(x).map((s) => [x, s] as [number[], number[]]));
}

/** `count` shapes that broadcast together; each is a shrunk version of a common full shape. */
export function arbBroadcastShapes(count: number): fc.Arbitrary<number[][]> {
  return arbShape({ maxRank: 4, maxDim: 4 }).chain((full) =>
    fc.tuple(fc.array(arbShrunk(full), { minLength: count, maxLength: count }), fc.integer({ min: 0, max: count - 1 })).map(([shapes, keep]) => {
      const out = shapes.map((s) => [...s]);
      out[keep] = [...full]; // at least one input carries the full shape
      return out;
    }),
  );
}
