/**
 * Reference (naive) elementwise kernels: one multi-index walk per output element, plain Math calls. They
 * define the semantics the fast kernels in ../elementwise.ts are tested against.
 */
import { allocate, type NumericArray, type TypedArray } from '../../../tensor/dtype.js';
import { broadcastShapes, sizeOf, stridesOf } from '../../../tensor/shape.js';
import { Tensor } from '../../../tensor/tensor.js';

/** Apply `f` to every element (numbers in, numbers out), same dtype. float16/int64 not handled here. */
export function refUnary(x: Tensor, f: (v: number) => number): Tensor {
  const src = x.data as NumericArray;
  const out = allocate(x.type, x.size) as NumericArray;
  for (let i = 0; i < x.size; i++) out[i] = f(src[i]!);
  return new Tensor(x.type, out as TypedArray, x.dims);
}

/** Binary op with broadcasting, by explicit multi-index arithmetic. */
export function refBinary(a: Tensor, b: Tensor, f: (x: number, y: number) => number): Tensor {
  const dims = broadcastShapes('ref', a.dims, b.dims);
  const n = sizeOf(dims);
  const out = allocate(a.type, n) as NumericArray;
  const ad = a.data as NumericArray;
  const bd = b.data as NumericArray;
  const os = stridesOf(dims);
  const as = stridesOf(a.dims);
  const bs = stridesOf(b.dims);
  for (let i = 0; i < n; i++) {
    let ai = 0;
    let bi = 0;
    for (let k = 0; k < dims.length; k++) {
      const c = Math.floor(i / os[k]!) % dims[k]!;
      const ka = k - (dims.length - a.dims.length);
      const kb = k - (dims.length - b.dims.length);
      if (ka >= 0 && a.dims[ka] !== 1) ai += c * as[ka]!;
      if (kb >= 0 && b.dims[kb] !== 1) bi += c * bs[kb]!;
    }
    out[i] = f(ad[ai]!, bd[bi]!);
  }
  return new Tensor(a.type, out as TypedArray, dims);
}
