/**
 * Reference (naive) single-precision GEMM: C = alpha * op(A) * op(B) + beta * C, one dot product per output
 * element in a triple loop. It defines the semantics the packed kernel in ../gemm.ts is tested against and
 * reads its arguments exactly as ../gemm.ts documents them (row-major, offsets, leading dimensions).
 *
 * Each element is summed in double precision in k order, then `alpha * sum + beta * C` is stored (rounded to
 * float32). With beta = 0 the old C is never read, so NaN or garbage there does not leak into the result.
 * Cost: 2mnk FLOPs with strided reads; slow, on purpose obvious.
 *
 * Also here: `referenceMatMul` and `referenceGemm`, the naive twins of the MatMul and Gemm kernels
 * (../matmul.ts), written over multi-indices on Tensors: floats summed in double and rounded once into the
 * output type; integers summed exactly in BigInt and wrapped to the type's width.
 */
import type { GemmArgs } from '../gemm.js';
import type { DataType } from '../../../tensor/dtype.js';
import { broadcastShapes, sizeOf, stridesOf } from '../../../tensor/shape.js';
import { fromNumbers, Tensor } from '../../../tensor/tensor.js';

/** C = alpha * op(A) op(B) + beta * C by the definition. `threads` is ignored. */
export function referenceSgemm(args: GemmArgs): void {
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

/** Element `i` of a tensor's row-major data as a bigint (integer types) or number (float types). */
function valuesOf(t: Tensor): (number | bigint)[] {
  if (t.type === 'int64') return Array.from(t.data as BigInt64Array);
  if (t.type === 'int32' || t.type === 'uint32') return Array.from(t.data as Int32Array, (v) => BigInt(v));
  return Array.from(t.numbers());
}

/** Wrap an exact integer to the dtype's width (as C casts and numpy do). */
function wrapInt(type: DataType, v: bigint): bigint {
  if (type === 'int32') return BigInt.asIntN(32, v);
  if (type === 'uint32') return BigInt.asUintN(32, v);
  return BigInt.asIntN(64, v);
}

function isIntType(type: DataType): boolean {
  return type === 'int32' || type === 'uint32' || type === 'int64';
}

function tensorFrom(type: DataType, values: (number | bigint)[], dims: readonly number[]): Tensor {
  if (type === 'int64') return new Tensor('int64', values as bigint[], dims);
  return fromNumbers(type, values.map(Number), dims);
}

/** numpy.matmul by the definition: promote 1-D operands, broadcast batch dims, one sum per output element. */
export function referenceMatMul(a: Tensor, b: Tensor): Tensor {
  const ad = a.rank === 1 ? [1, a.dims[0]!] : [...a.dims];
  const bd = b.rank === 1 ? [b.dims[0]!, 1] : [...b.dims];
  const m = ad[ad.length - 2]!;
  const k = ad[ad.length - 1]!;
  const n = bd[bd.length - 1]!;
  const aBatch = ad.slice(0, -2);
  const bBatch = bd.slice(0, -2);
  const batch = broadcastShapes('referenceMatMul', aBatch, bBatch);
  const full = [...batch, m, n];
  const av = valuesOf(a);
  const bv = valuesOf(b);
  const as = stridesOf(ad);
  const bs = stridesOf(bd);
  const os = stridesOf(full);
  const total = sizeOf(full);
  const out: (number | bigint)[] = [];
  const int = isIntType(a.type);
  for (let o = 0; o < total; o++) {
    const idx = full.map((d, ax) => Math.floor(o / os[ax]!) % d);
    const i = idx[batch.length]!;
    const j = idx[batch.length + 1]!;
    let aBase = 0;
    let bBase = 0;
    for (let ax = 0; ax < batch.length; ax++) {
      const axA = ax - (batch.length - aBatch.length);
      const axB = ax - (batch.length - bBatch.length);
      if (axA >= 0 && aBatch[axA] !== 1) aBase += idx[ax]! * as[axA]!;
      if (axB >= 0 && bBatch[axB] !== 1) bBase += idx[ax]! * bs[axB]!;
    }
    if (int) {
      let s = 0n;
      for (let p = 0; p < k; p++) s += (av[aBase + i * k + p] as bigint) * (bv[bBase + p * n + j] as bigint);
      out.push(wrapInt(a.type, s));
    } else {
      let s = 0;
      for (let p = 0; p < k; p++) s += (av[aBase + i * k + p] as number) * (bv[bBase + p * n + j] as number);
      out.push(s);
    }
  }
  const dims = [...batch];
  if (a.rank > 1) dims.push(m);
  if (b.rank > 1) dims.push(n);
  return tensorFrom(a.type, out, dims);
}

/** Attributes of `referenceGemm`. */
export interface ReferenceGemmAttrs {
  alpha?: number;
  beta?: number;
  transA?: boolean;
  transB?: boolean;
}

/**
 * ONNX Gemm by the definition: Y[i, j] = alpha * sum_p A'[i, p] B'[p, j] + beta * C[broadcast(i, j)], with C
 * ignored when absent or beta = 0. Integer types: exact wrapping arithmetic when alpha = beta = 1, else the
 * double expression of the wrapped product truncated toward zero.
 */
export function referenceGemm(a: Tensor, b: Tensor, c: Tensor | undefined, attrs: ReferenceGemmAttrs = {}): Tensor {
  const alpha = attrs.alpha ?? 1;
  const beta = attrs.beta ?? 1;
  const ta = attrs.transA ?? false;
  const tb = attrs.transB ?? false;
  const m = ta ? a.dims[1]! : a.dims[0]!;
  const k = ta ? a.dims[0]! : a.dims[1]!;
  const n = tb ? b.dims[0]! : b.dims[1]!;
  const av = valuesOf(a);
  const bv = valuesOf(b);
  const cv = c ? valuesOf(c) : undefined;
  const useC = cv !== undefined && beta !== 0;
  const int = isIntType(a.type);
  const out: (number | bigint)[] = [];
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let cVal: number | bigint = 0;
      if (useC) {
        // C aligned to the right of [m, n]; size-1 dims repeat
        const cd = c!.dims;
        const ci = cd.length === 2 ? (cd[0] === 1 ? 0 : i) * cd[1]! + (cd[1] === 1 ? 0 : j) : cd.length === 1 ? (cd[0] === 1 ? 0 : j) : 0;
        cVal = cv[ci]!;
      }
      if (int) {
        let s = 0n;
        for (let p = 0; p < k; p++) s += (av[ta ? p * m + i : i * k + p] as bigint) * (bv[tb ? j * k + p : p * n + j] as bigint);
        s = wrapInt(a.type, s);
        if (alpha === 1 && (beta === 1 || !useC)) out.push(wrapInt(a.type, s + (useC ? (cVal as bigint) : 0n)));
        else {
          const v = Math.trunc(alpha * Number(s) + (useC ? beta * Number(cVal) : 0));
          out.push(wrapInt(a.type, BigInt(Number.isFinite(v) ? v : 0)));
        }
      } else {
        let s = 0;
        for (let p = 0; p < k; p++) s += (av[ta ? p * m + i : i * k + p] as number) * (bv[tb ? j * k + p : p * n + j] as number);
        out.push(useC ? alpha * s + beta * (cVal as number) : alpha * s);
      }
    }
  }
  return tensorFrom(a.type, out, [m, n]);
}
