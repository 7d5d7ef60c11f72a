/**
 * Cast and CastLike CPU kernels: conversion between every pair of Tessera dtypes.
 *
 * Rules (ONNX Cast, matching C conversions):
 * - float -> integer truncates toward zero; out-of-range values are undefined in ONNX: narrower integers keep
 *   the low bits of the truncated value (the typed-array store wraps), NaN gives 0, and for int64 NaN, +-Inf
 *   and |v| >= 2^63 give INT64_MIN as x86 conversions do;
 * - integer -> narrower integer keeps the low bits (two's complement), e.g. int16 200 -> int8 -56;
 * - anything -> bool is `v != 0` (NaN is true); bool -> anything is 0 or 1;
 * - -> float16 rounds to nearest even, from float32 bits (./half.ts) for float32 and small-integer sources and
 *   from the double value otherwise;
 * - int64 -> float rounds through the nearest double;
 * - int4 / uint4 (held one value per byte) read as int8 / uint8; casts to them go through int32 (the same
 *   truncation) and keep the low 4 bits, as ONNX's own tests expect (float 8 -> int4 -8, -1 -> uint4 15).
 * Number-to-number pairs use TypedArray.prototype.set, which applies exactly the store conversions above in
 * native code; float16 sources are decoded through the lookup table first. Cost: one pass over the data.
 */
import type { DataType, NumericArray, TypedArray } from '../../tensor/dtype.js';
import { allocate } from '../../tensor/dtype.js';
import { encodeFloat16 } from '../../tensor/float16.js';
import { Tensor } from '../../tensor/tensor.js';
import { registerKernel, type Kernel } from '../registry.js';
import { float32ToHalfBits } from './half.js';
import { ScratchSlot } from './scratch.js';

/** Small-integer sources widened to float32 before the float16 encoder. */
const SMALL_AS_FLOAT32 = new ScratchSlot();

const INT64_MIN = -(2n ** 63n);

/** A float value converted to int64 like C on x86: truncation; NaN, +-Inf and |v| >= 2^63 give INT64_MIN. */
export function floatToInt64(v: number): bigint {
  if (!(Math.abs(v) < 2 ** 63)) return INT64_MIN;
  return BigInt(Math.trunc(v));
}

/** Values of a non-int64 tensor as numbers (float16 decoded). */
function numberValues(x: Tensor): NumericArray {
  return x.type === 'float16' ? x.numbers() : (x.data as NumericArray);
}

/** Convert `x` to dtype `to` with output dims `dims` (x's element count). */
export function castTensor(x: Tensor, to: DataType, dims: readonly number[]): Tensor {
  const n = x.size;
  if (x.type !== to && (x.type === 'int4' || x.type === 'uint4')) x = new Tensor(x.type === 'int4' ? 'int8' : 'uint8', x.data as Int8Array | Uint8Array, x.dims);
  if (x.type !== to && (to === 'int4' || to === 'uint4')) {
    const wide = castTensor(x, 'int32', dims).data as Int32Array;
    const d = allocate(to, n);
    // low 4 bits; int4 reads them as two's complement
    if (to === 'int4') for (let i = 0; i < n; i++) d[i] = ((wide[i]! & 15) ^ 8) - 8;
    else for (let i = 0; i < n; i++) d[i] = wide[i]! & 15;
    return new Tensor(to, d, dims);
  }
  if (x.type === to) {
    const copy = allocate(to, n);
    if (Array.isArray(copy)) {
      const src = x.data as string[]; // string tensors: a plain array copy
      for (let i = 0; i < n; i++) copy[i] = src[i]!;
    }
    else (copy as { set(src: ArrayLike<number | bigint>): void }).set(x.data as TypedArray);
    return new Tensor(to, copy, dims);
  }
  if (to === 'bool') {
    const d = allocate('bool', n);
    if (x.type === 'int64') {
      const s = x.data as BigInt64Array;
      for (let i = 0; i < n; i++) d[i] = +(s[i] !== 0n);
    } else {
      const s = numberValues(x);
      for (let i = 0; i < n; i++) d[i] = +(s[i] !== 0);
    }
    return new Tensor('bool', d, dims);
  }
  if (to === 'float16') {
    // float32 and small integers are exact float32 values: the fast bit encoder; others round from doubles
    if (x.type === 'float32') return new Tensor('float16', float32ToHalfBits(x.data as Float32Array), dims);
    if (x.type === 'int8' || x.type === 'uint8' || x.type === 'int16' || x.type === 'uint16' || x.type === 'bool') {
      const values = SMALL_AS_FLOAT32.take('float32', n);
      values.set(x.data as NumericArray);
      return new Tensor('float16', float32ToHalfBits(values), dims);
    }
    const values = x.type === 'int64' ? Float64Array.from(x.data as BigInt64Array, Number) : (x.data as NumericArray);
    return new Tensor('float16', encodeFloat16(values), dims);
  }
  if (to === 'int64') {
    const d = allocate('int64', n);
    const s = numberValues(x);
    if (x.type === 'float32' || x.type === 'float64' || x.type === 'float16') {
      for (let i = 0; i < n; i++) d[i] = floatToInt64(s[i]!);
    } else {
      for (let i = 0; i < n; i++) d[i] = BigInt(s[i]!);
    }
    return new Tensor('int64', d, dims);
  }
  const d = allocate(to, n) as NumericArray;
  if (x.type === 'int64') {
    const s = x.data as BigInt64Array;
    if (to === 'float32' || to === 'float64') {
      for (let i = 0; i < n; i++) d[i] = Number(s[i]!);
    } else if (to === 'uint32') {
      for (let i = 0; i < n; i++) d[i] = Number(BigInt.asUintN(32, s[i]!));
    } else {
      // the low 32 bits as int32; the store into a narrower array keeps the low bits of that
      for (let i = 0; i < n; i++) d[i] = Number(BigInt.asIntN(32, s[i]!));
    }
  } else {
    d.set(numberValues(x));
  }
  return new Tensor(to, d as TypedArray, dims);
}

const cast: Kernel = (inputs, _attrs, outputs) => {
  const spec = outputs[0]!;
  return [castTensor(inputs[0]!, spec.type, spec.dims)];
};

registerKernel('Cast', 'cpu', cast);
registerKernel('CastLike', 'cpu', cast);
