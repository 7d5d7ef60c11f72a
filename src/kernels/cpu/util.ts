/**
 * Small helpers shared by CPU kernels: output allocation and broadcast index walking.
 */
import { allocate, type DataType, type NumericArray, type TypedArray } from '../../tensor/dtype.js';
import { broadcastStrides, sizeOf } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import type { OutputSpec } from '../registry.js';

/** A zero-filled output tensor for an inferred output spec. */
export function outputTensor(spec: OutputSpec): Tensor {
  return new Tensor(spec.type, allocate(spec.type, sizeOf(spec.dims)) as TypedArray, spec.dims);
}

/** A tensor of `type`/`dims` over `data` (which must be the dtype's container). */
export function tensorOf(type: DataType, data: TypedArray, dims: readonly number[]): Tensor {
  return new Tensor(type, data, dims);
}

/**
 * For an output of shape `out` and an input of shape `inp` that broadcasts to it, the flat input index of
 * every output element (Int32Array of out-size). Cheap to build; lets broadcast kernels run one flat loop.
 */
export function broadcastIndex(inp: readonly number[], out: readonly number[]): Int32Array {
  const n = sizeOf(out);
  const idx = new Int32Array(n);
  const rank = out.length;
  if (n === 0) return idx;
  const st = broadcastStrides(inp, out);
  const counter = new Array<number>(rank).fill(0);
  let pos = 0;
  for (let i = 0; i < n; i++) {
    idx[i] = pos;
    for (let ax = rank - 1; ax >= 0; ax--) {
      counter[ax]!++;
      pos += st[ax]!;
      if (counter[ax]! < out[ax]!) break;
      pos -= st[ax]! * out[ax]!;
      counter[ax] = 0;
    }
  }
  return idx;
}

/** Float data of a tensor known to be float32 or float64 (callers convert float16 first). */
export function floatData(t: Tensor): NumericArray {
  return t.data as NumericArray;
}
