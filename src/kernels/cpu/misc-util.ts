/**
 * Float input/output helpers for the further-operator kernels (./misc.ts, ./losses.ts, ./attention.ts):
 * read a float tensor as a Float32Array/Float64Array (float16 decoded once through the shared table) and
 * build the output tensor of a float dtype from computed values (float16 encoded with round-to-nearest-even).
 */
import { Tensor } from '../../tensor/tensor.js';
import type { DataType } from '../../tensor/dtype.js';
import { float32ToHalfBits } from './half.js';

/** Float values of a float tensor: float32/float64 data as stored (do not write to it), float16 decoded. */
export function readFloats(t: Tensor): Float32Array | Float64Array {
  if (t.type === 'float16') return t.numbers() as Float32Array;
  return t.data as Float32Array | Float64Array;
}

/** A work array for computing values of float `type`: Float64Array for float64, else Float32Array. */
export function floatArray(type: DataType, n: number): Float32Array | Float64Array {
  return type === 'float64' ? new Float64Array(n) : new Float32Array(n);
}

/** A tensor of float `type` from values computed in `floatArray(type, ...)` (float16 encoded from float32). */
export function floatTensor(type: DataType, values: Float32Array | Float64Array, dims: readonly number[]): Tensor {
  if (type === 'float16') {
    const f32 = values instanceof Float32Array ? values : Float32Array.from(values);
    return new Tensor('float16', float32ToHalfBits(f32), dims);
  }
  if (type === 'float64') return new Tensor('float64', values instanceof Float64Array ? values : Float64Array.from(values), dims);
  return new Tensor('float32', values instanceof Float32Array ? values : Float32Array.from(values), dims);
}
