/**
 * Reference int8-family kernels: per element, the parameter index comes from the full multi-index, and the
 * integer matmul is a triple loop over a multi-index of the broadcast batch. Semantics as Operators.md.
 */
import { f16round } from '@petamoriken/float16';
import type { DataType } from '../../../tensor/dtype.js';
import { integerRange, roundHalfEven } from '../../../tensor/numeric.js';
import { sizeOf, stridesOf } from '../../../tensor/shape.js';
import { fromNumbers, type Tensor } from '../../../tensor/tensor.js';

function multiIndex(flat: number, dims: readonly number[]): number[] {
  const st = stridesOf(dims);
  return dims.map((d, i) => Math.floor(flat / st[i]!) % d);
}

function paramAt(idx: number[], scaleDims: readonly number[], axis: number, block: number): number {
  if (scaleDims.length === 0 || (block === 0 && sizeOf(scaleDims) === 1 && scaleDims.length === 1)) return 0;
  if (block === 0) return idx[axis]!;
  const pidx = idx.map((v, i) => (i === axis ? Math.floor(v / block) : v));
  const st = stridesOf(scaleDims);
  return pidx.reduce((p, v, i) => p + v * st[i]!, 0);
}

/** Reference QuantizeLinear. */
export function refQuantizeLinear(x: Tensor, scale: Tensor, zp: Tensor | undefined, axis: number, block: number, outType: DataType): Tensor {
  const a = axis < 0 ? axis + x.rank : axis;
  const xs = x.numbers();
  const ss = scale.numbers();
  const zs = zp?.numbers();
  const [lo, hi] = integerRange(outType);
  const round = scale.type === 'float16' ? f16round : Math.fround;
  const out: number[] = [];
  for (let f = 0; f < x.size; f++) {
    const pi = paramAt(multiIndex(f, x.dims), scale.dims, a, block);
    const q = roundHalfEven(round(xs[f]! / ss[pi]!)) + (zs ? zs[pi]! : 0);
    out.push(Math.min(hi, Math.max(lo, q)));
  }
  return fromNumbers(outType, out, x.dims);
}

/** Reference DequantizeLinear. */
export function refDequantizeLinear(x: Tensor, scale: Tensor, zp: Tensor | undefined, axis: number, block: number): Tensor {
  const a = axis < 0 ? axis + x.rank : axis;
  const xs = x.numbers();
  const ss = scale.numbers();
  const zs = zp?.numbers();
  const out: number[] = [];
  for (let f = 0; f < x.size; f++) {
    const pi = paramAt(multiIndex(f, x.dims), scale.dims, a, block);
    out.push(Math.fround((xs[f]! - (zs ? zs[pi]! : 0)) * ss[pi]!));
  }
  return fromNumbers(scale.type, out, x.dims);
}

/** Reference 2-D integer matmul with per-tensor/per-row/per-column zero points, as plain numbers. */
export function refIntegerMatmul2D(a: Tensor, b: Tensor, azp: Tensor | undefined, bzp: Tensor | undefined): number[] {
  const [m, k] = a.dims as [number, number];
  const n = b.dims[1]!;
  const av = a.numbers();
  const bv = b.numbers();
  const az = azp?.numbers();
  const bz = bzp?.numbers();
  const out: number[] = [];
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) {
        const x = av[i * k + p]! - (az ? az[az.length === 1 ? 0 : i]! : 0);
        const y = bv[p * n + j]! - (bz ? bz[bz.length === 1 ? 0 : j]! : 0);
        s += x * y;
      }
      out.push(s);
    }
  }
  return out;
}
