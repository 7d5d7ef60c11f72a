/**
 * Exact integer matrix products for the int8 family, computed in float64.
 *
 * JavaScript has no fast int8 arithmetic (FIELD-NOTES: Math.imul paths run slower than float), so operands are
 * unpacked once to Float64Array with zero points subtracted. Every partial sum of products of 8-bit values is
 * an integer far below 2^53, so float64 accumulation is exact; callers wrap to int32 with `| 0`, which matches
 * 32-bit accumulation including overflow. Cost: 2*M*N*K flops, M*K + K*N unpacked elements.
 */
import type { NumericArray } from '../../tensor/dtype.js';
import type { Tensor } from '../../tensor/tensor.js';

/**
 * Unpack a (batch..., rows, cols) integer tensor to float64 with zero points subtracted: `zpPerRow` picks
 * zp[r] per row, `zpPerCol` zp[c] per column, otherwise zp[0].
 */
export function unpackCentered(t: Tensor, zp: Tensor | undefined, rows: number, cols: number, mode: 'row' | 'col'): Float64Array {
  const src = t.data as NumericArray;
  const out = new Float64Array(src.length);
  const z = zp ? zp.numbers() : undefined;
  if (!z || z.length === 1) {
    const c = z ? z[0]! : 0;
    for (let i = 0; i < src.length; i++) out[i] = src[i]! - c;
    return out;
  }
  const plane = rows * cols;
  for (let i = 0; i < src.length; i++) {
    const r = Math.floor((i % plane) / cols);
    out[i] = src[i]! - z[mode === 'row' ? r : i % cols]!;
  }
  return out;
}

/**
 * Batched numpy matmul of float64 operands holding integers: out[b] = A[b] (m x k) * B[b] (k x n).
 * Batch indices broadcast from `aDims`/`bDims` (already 1-D-promoted, rank >= 2) to `batch`.
 */
export function integerMatmul(a: Float64Array, aDims: readonly number[], b: Float64Array, bDims: readonly number[], batch: readonly number[], m: number, k: number, n: number): Float64Array {
  const nb = batch.reduce((p, d) => p * d, 1);
  const out = new Float64Array(nb * m * n);
  const aB = aDims.slice(0, -2);
  const bB = bDims.slice(0, -2);
  const row = new Float64Array(n);
  for (let bi = 0; bi < nb; bi++) {
    const aOff = batchOffset(bi, batch, aB) * m * k;
    const bOff = batchOffset(bi, batch, bB) * k * n;
    const oOff = bi * m * n;
    for (let i = 0; i < m; i++) {
      integerRowTimesMatrix(a, aOff + i * k, b, bOff, k, n, row);
      out.set(row, oOff + i * n);
    }
  }
  return out;
}

/**
 * row[0..n) = a[aOff .. aOff+k) (one row) times the k x n matrix at b[bOff..]: an axpy per nonzero a value,
 * so the inner loop streams one row of b (unit stride).
 */
export function integerRowTimesMatrix(a: Float64Array, aOff: number, b: Float64Array, bOff: number, k: number, n: number, row: Float64Array): void {
  row.fill(0, 0, n);
  for (let p = 0; p < k; p++) {
    const av = a[aOff + p]!;
    if (av === 0) continue;
    const bo = bOff + p * n;
    for (let j = 0; j < n; j++) row[j]! += av * b[bo + j]!;
  }
}

/** Flat batch index into an operand with batch dims `own` for broadcast batch position `bi` of `batch`. */
function batchOffset(bi: number, batch: readonly number[], own: readonly number[]): number {
  let off = 0;
  let stride = 1;
  let rest = bi;
  for (let d = batch.length - 1; d >= 0; d--) {
    const coord = rest % batch[d]!;
    rest = Math.floor(rest / batch[d]!);
    const od = d - (batch.length - own.length);
    if (od >= 0) {
      if (own[od]! !== 1) off += coord * stride;
      stride *= own[od]!;
    }
  }
  return off;
}

