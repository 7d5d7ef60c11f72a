/**
 * Test helpers: fast-check arbitraries for shapes and tensors, non-contiguous views with given values, and
 * tolerance comparison of tensors.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import { Tensor, fromNumbers } from '../../src/tensor/tensor.js';
import type { DataType, NumericArray, TypedArray } from '../../src/tensor/dtype.js';
import { sizeOf } from '../../src/tensor/shape.js';

/** Shapes of rank in [minRank, maxRank], dims in [minDim, maxDim]; dims 0 and 1 are drawn often. */
export function arbShape(opts: { minRank?: number; maxRank?: number; minDim?: number; maxDim?: number } = {}): fc.Arbitrary<number[]> {
  const { minRank = 0, maxRank = 4, minDim = 0, maxDim = 5 } = opts;
  const dim = fc.oneof(
    { weight: 1, arbitrary: fc.constantFrom(...[0, 1].filter((d) => d >= minDim && d <= maxDim)) },
    { weight: 4, arbitrary: fc.integer({ min: Math.max(minDim, 1), max: maxDim }) },
  );
  return fc.array(dim, { minLength: minRank, maxLength: maxRank });
}

/** Two shapes that broadcast together: b is a (possibly shorter) version of a with some dims set to 1. */
export function arbBroadcastPair(opts: { maxRank?: number; maxDim?: number } = {}): fc.Arbitrary<[number[], number[]]> {
  return arbShape({ maxRank: opts.maxRank ?? 4, maxDim: opts.maxDim ?? 4 }).chain((a) =>
    fc.tuple(fc.integer({ min: 0, max: a.length }), fc.array(fc.boolean(), { minLength: a.length, maxLength: a.length }), fc.boolean()).map(
      ([drop, ones, swap]) => {
        const b = a.slice(drop).map((d, i) => (ones[i + drop] ? 1 : d));
        return (swap ? [b, a] : [a, b]) as [number[], number[]];
      },
    ),
  );
}

/** Random values for a tensor of `type` and `dims` (floats in [-lo, hi], ints in a small range). */
export function arbTensor(type: DataType, dims: readonly number[], range = 10): fc.Arbitrary<Tensor> {
  const n = sizeOf(dims);
  const isF = type === 'float32' || type === 'float64' || type === 'float16';
  const lo = type.startsWith('uint') || type === 'bool' ? 0 : -range;
  const hi = type === 'bool' ? 1 : range;
  const v = isF
    ? fc.float({ min: Math.fround(lo), max: Math.fround(hi), noNaN: true, noDefaultInfinity: true })
    : fc.integer({ min: lo, max: hi });
  return fc.array(v, { minLength: n, maxLength: n }).map((vals) => fromNumbers(type, vals, dims));
}

/** A random-valued tensor from a seeded generator (for deterministic non-property tests). */
export function randomTensor(type: DataType, dims: readonly number[], seed = 1, range = 1): Tensor {
  let s = seed >>> 0 || 1;
  const n = sizeOf(dims);
  const vals = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    const u = s / 4294967296;
    vals[i] = type === 'float32' || type === 'float64' || type === 'float16' ? (u * 2 - 1) * range : Math.floor(u * (2 * range + 1)) - range;
  }
  return fromNumbers(type, vals, dims);
}

/**
 * A non-contiguous view holding the same values as `t`: the data is stored in reversed-axis order and the
 * view transposes it back. For rank < 2 it returns a strided slice of a doubled buffer.
 */
export function nonContiguous(t: Tensor): Tensor {
  if (t.rank >= 2) {
    const rev = [...Array(t.rank).keys()].reverse();
    return t.transpose(rev).contiguous().transpose(rev);
  }
  const flat = t.reshape([t.size]);
  const big = fromNumbers(t.type, new Array<number>(2 * t.size).fill(0), [2 * t.size]);
  const src = flat.data as unknown as ArrayLike<number | bigint>;
  const dst = big.data as unknown as { [i: number]: number | bigint };
  for (let i = 0; i < t.size; i++) dst[2 * i] = src[i]!;
  return big.slice([0], [2 * t.size], [0], [2]).reshape(t.dims.length ? t.dims : []);
}

/** Compare two tensors: same type and dims, values within atol + rtol*|expected| (NaN equals NaN). */
export function expectClose(actual: Tensor, expected: Tensor, opts: { rtol?: number; atol?: number; label?: string } = {}): void {
  const { rtol = 1e-5, atol = 1e-6, label = '' } = opts;
  expect(actual.type, `${label} dtype`).toBe(expected.type);
  expect([...actual.dims], `${label} dims`).toEqual([...expected.dims]);
  const a = actual.type === 'int64' ? Array.from(actual.data as BigInt64Array, Number) : Array.from(actual.numbers() as NumericArray);
  const e = expected.type === 'int64' ? Array.from(expected.data as BigInt64Array, Number) : Array.from(expected.numbers() as NumericArray);
  for (let i = 0; i < e.length; i++) {
    const x = a[i]!;
    const y = e[i]!;
    if (Number.isNaN(y) && Number.isNaN(x)) continue;
    if (x === y) continue;
    if (!(Math.abs(x - y) <= atol + rtol * Math.abs(y))) {
      throw new Error(`${label} element ${i}: got ${x}, expected ${y} (rtol ${rtol}, atol ${atol}); dims [${expected.dims.join(', ')}]`);
    }
  }
}

/** Compare bitwise: same type, dims and identical bytes. */
export function expectBitwise(actual: Tensor, expected: Tensor, label = ''): void {
  expect(actual.type, `${label} dtype`).toBe(expected.type);
  expect([...actual.dims], `${label} dims`).toEqual([...expected.dims]);
  const a = actual.data as TypedArray;
  const e = expected.data as TypedArray;
  const ab = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const eb = new Uint8Array(e.buffer, e.byteOffset, e.byteLength);
  expect(Buffer.compare(Buffer.from(ab), Buffer.from(eb)), `${label} bytes differ`).toBe(0);
}

/** `n` deterministic xorshift32 values in [-1, 1) from `seed` (for GEMM and pool tests). */
export function randomFloats(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = (s / 4294967296) * 2 - 1;
  }
  return out;
}
