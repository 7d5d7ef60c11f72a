/**
 * Exact integer matrix products for the int8 family, computed in float64.
 *
 * JavaScript has no fast int8 arithmetic (FIELD-NOTES: Math.imul paths run slower than float), so operands are
 * unpacked once to Float64Array with zero points subtracted. Every partial sum of products of 8-bit values is
 * an integer far below 2^53, so float64 accumulation is exact; callers wrap to int32 with `| 0`, which matches
 * 32-bit accumulation including overflow. Cost: 2*M*N*K flops, M*K + K*N unpacked elements.
 *
 * Fast path of `integerMatmul` (./gemm-int8.ts, WebAssembly SIMD i32x4.dot_i16x8_s): when every centered B value
 * fits int8 ([-128, 127]: int8 weights with a zero point of 0, the dynamic quantizer's form), every centered A
 * value fits [-255, 255] and K <= INT8_GEMM_MAX_K, the int32 accumulation is exact, so the product is the same
 * integers; B is packed per batch matrix into int8 panels and A into int16 panels. Otherwise the float64 loop.
 */
import type { NumericArray } from '../../tensor/dtype.js';
import type { Tensor } from '../../tensor/tensor.js';
import { int8Gemm, int8GemmAvailable, INT8_GEMM_MAX_K, INT8_GEMM_MR, packInt8B, rowMajorRows } from './gemm-int8.js';
import { ScratchSlot } from './scratch.js';

/** B of one batch matrix as int8 for the fast path. */
const B_INT8_WORK = new ScratchSlot();

/** Whether every value of v lies in [lo, hi]. */
function allWithin(v: Float64Array, lo: number, hi: number): boolean {
  for (let i = 0; i < v.length; i++) {
    const x = v[i]!;
    if (!(x >= lo && x <= hi)) return false;
  }
  return true;
}

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
  if (m * n * k > 0 && k <= INT8_GEMM_MAX_K && int8GemmAvailable() && allWithin(b, -128, 127) && allWithin(a, -255, 255)) {
    for (let bi = 0; bi < nb; bi++) {
      const aOff = batchOffset(bi, batch, aB) * m * k;
      const bOff = batchOffset(bi, batch, bB) * k * n;
      const oOff = bi * m * n;
      const bq = B_INT8_WORK.take('int8', k * n);
      for (let i = 0; i < k * n; i++) bq[i] = b[bOff + i]!;
      int8Gemm(m, packInt8B(bq, 0, n, 1, k, n), rowMajorRows(a, aOff, k), (acc, at, ldc, row0, rows) => {
        for (let r = 0; r < rows; r++) {
          const o = oOff + (row0 + r) * n;
          const ai = at + r * ldc;
          for (let j = 0; j < n; j++) out[o + j] = acc[ai + j]!;
        }
      });
    }
    return out;
  }
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

/** Weights of one ConvInteger group as int8 for the fast path. */
const W_INT8_WORK = new ScratchSlot();

/**
 * out[outOff + i * n + j] = sum_p w[wOff + i * k + p] * cols[p * n + j] for i < m, j < n: a ConvInteger group's
 * centred weights (m x k) times its centred im2col columns (k x n), exact integers as float64. Fast path when the
 * weights fit int8 and the columns [-255, 255] (./gemm-int8.ts, computed transposed: columns as the int16 rows of
 * A, weights as the int8 B, ACC[j, i] stored to out[i, j]); otherwise one `integerRowTimesMatrix` per row.
 */
export function integerRowsTimesMatrix(w: Float64Array, wOff: number, m: number, k: number, cols: Float64Array, n: number, out: Float64Array, outOff: number): void {
  // m < 4 (a depthwise group: one row) would be mostly packing; the row loop is faster there
  if (m >= INT8_GEMM_MR && n * k > 0 && k <= INT8_GEMM_MAX_K && int8GemmAvailable() && allWithin(w.subarray(wOff, wOff + m * k), -128, 127) && allWithin(cols.subarray(0, k * n), -255, 255)) {
    const wq = W_INT8_WORK.take('int8', m * k);
    for (let i = 0; i < m * k; i++) wq[i] = w[wOff + i]!;
    // B[p, i] = w[i * k + p]
    int8Gemm(n, packInt8B(wq, 0, 1, k, k, m), (dst, at, kp, row0, rows) => {
      const kp8 = kp * 8;
      for (let p = 0; p < k; p++) {
        const src = p * n + row0;
        const base = at + (p >> 1) * 8 + (p & 1);
        for (let r = 0; r < rows; r++) dst[base + (r >> 2) * kp8 + (r & 3) * 2] = cols[src + r]!;
      }
    }, (acc, at, ldc, row0, rows) => {
      for (let i = 0; i < m; i++) {
        const o = outOff + i * n + row0;
        let ai = at + i;
        for (let r = 0; r < rows; r++, ai += ldc) out[o + r] = acc[ai]!;
      }
    });
    return;
  }
  const row = new Float64Array(n);
  for (let i = 0; i < m; i++) {
    integerRowTimesMatrix(w, wOff + i * k, cols, 0, k, n, row);
    out.set(row, outOff + i * n);
  }
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

