/**
 * Single-precision GEMM: C = alpha * op(A) * op(B) + beta * C, row-major, op = optional transpose.
 *
 * This is the entry point every matrix product in the CPU backend goes through (MatMul, Gemm, Conv via
 * im2col, ConvTranspose, Einsum contractions, RNN gates). TODO(gemm helper): packed panels + register
 * micro-kernel + worker pool; the naive reference lives in reference/gemm.ts.
 */

/** Arguments of one GEMM call. Leading dimensions are row strides in elements. */
export interface GemmArgs {
  /** Rows of op(A) and C. */
  m: number;
  /** Columns of op(B) and C. */
  n: number;
  /** Columns of op(A) = rows of op(B). */
  k: number;
  a: Float32Array;
  aOffset?: number;
  /** Row stride of A as stored (k when not transposed, m when transposed, for a dense matrix). */
  lda: number;
  transA?: boolean;
  b: Float32Array;
  bOffset?: number;
  ldb: number;
  transB?: boolean;
  c: Float32Array;
  cOffset?: number;
  ldc: number;
  /** Scale of the product (default 1). */
  alpha?: number;
  /** Scale of the existing C (default 0: C is overwritten, its old contents ignored even if NaN). */
  beta?: number;
  /** Threads to use (default 1). The result is bitwise identical for any value. */
  threads?: number;
}

/** C = alpha * op(A) op(B) + beta * C. */
export function sgemm(args: GemmArgs): void {
  const { m, n, k, a, lda, b, ldb, c, ldc } = args;
  const ao = args.aOffset ?? 0;
  const bo = args.bOffset ?? 0;
  const co = args.cOffset ?? 0;
  const alpha = args.alpha ?? 1;
  const beta = args.beta ?? 0;
  const ta = args.transA ?? false;
  const tb = args.transB ?? false;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) {
        const av = ta ? a[ao + p * lda + i]! : a[ao + i * lda + p]!;
        const bv = tb ? b[bo + j * ldb + p]! : b[bo + p * ldb + j]!;
        s += av * bv;
      }
      const ci = co + i * ldc + j;
      c[ci] = beta === 0 ? alpha * s : alpha * s + beta * c[ci]!;
    }
  }
}
