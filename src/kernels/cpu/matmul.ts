/**
 * CPU kernels of the 'matmul' family: MatMul and Gemm.
 *
 * float32 goes through `sgemm` (./gemm.ts: packed panels, 4x8 register tile, worker threads per ctx.threads);
 * float16 is decoded to float32, multiplied by sgemm and encoded back (one rounding at the end). A MatMul
 * whose B has no batch dims folds A's batch into the rows (one [batch*M, K] x [K, N] product); otherwise one
 * sgemm per output batch element, with broadcast batch offsets precomputed. float64 uses an i-k-j loop in
 * double; int32/uint32 an i-k-j loop with Math.imul (wrapping like C and numpy); int64 BigInt sums wrapped
 * to 64 bits.
 *
 * Gemm with integer types: with alpha = beta = 1 the result is exact wrapping integer arithmetic; otherwise
 * alpha * (A B) + beta * C is evaluated in double from the wrapped product and truncated toward zero.
 * Gemm (every type) with beta = 0 ignores C, as BLAS does.
 *
 * Cost: 2 * batch * M * N * K operations; float32 runs at about 5 GFLOP/s per thread (see gemm.ts).
 */
import { allocate, type NumericArray } from '../../tensor/dtype.js';
import { decodeFloat16 } from '../../tensor/float16.js';
import { sizeOf } from '../../tensor/shape.js';
import { fromNumbers, Tensor } from '../../tensor/tensor.js';
import { registerKernel, type Kernel, type KernelContext, type OutputSpec } from '../registry.js';
import { cachedPackedB, chooseGemmPath, GEMM_PATH_PACKED, sgemm } from './gemm.js';
import { PlanCache, ScratchSlot } from './scratch.js';
import { broadcastIndex, outputTensor } from './util.js';

/** Batch plans by operand shapes (read-only once built). */
const batchPlans = new PlanCache<BatchPlan>((p) => 3 * p.aOffsets.length);
/** Row accumulator of the int32 product; float32 result of a float16 product before encoding. */
const INT_ACC = new ScratchSlot();
const HALF_WORK = new ScratchSlot();

/** One product's location: rows x depth x cols and the element offsets of A, B and C in their arrays. */
interface BatchPlan {
  m: number;
  n: number;
  k: number;
  /** Offsets (elements) of A, B and Y of each product. */
  aOffsets: Int32Array;
  bOffsets: Int32Array;
  yOffsets: Int32Array;
}

/** Plan the products of a MatMul of contiguous a and b (numpy promotion and batch broadcasting). */
function planMatMul(aDims: readonly number[], bDims: readonly number[]): BatchPlan {
  return batchPlans.get(`${aDims.join(',')}|${bDims.join(',')}`, () => buildBatchPlan(aDims, bDims));
}

function buildBatchPlan(aDims: readonly number[], bDims: readonly number[]): BatchPlan {
  const a2 = aDims.length === 1 ? [1, aDims[0]!] : [...aDims];
  const b2 = bDims.length === 1 ? [bDims[0]!, 1] : [...bDims];
  const m0 = a2[a2.length - 2]!;
  const k = a2[a2.length - 1]!;
  const n = b2[b2.length - 1]!;
  const aBatch = a2.slice(0, -2);
  const bBatch = b2.slice(0, -2);
  if (bBatch.every((d) => d === 1)) {
    // B is one matrix: fold A's batch into the rows (A's batch dims are row-major before M)
    const rows = sizeOf(aBatch) * m0;
    return { m: rows, n, k, aOffsets: Int32Array.of(0), bOffsets: Int32Array.of(0), yOffsets: Int32Array.of(0) };
  }
  const rank = Math.max(aBatch.length, bBatch.length);
  const outBatch: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = aBatch[i - (rank - aBatch.length)] ?? 1;
    const db = bBatch[i - (rank - bBatch.length)] ?? 1;
    outBatch.push(da === 1 ? db : da);
  }
  const ai = broadcastIndex(aBatch, outBatch);
  const bi = broadcastIndex(bBatch, outBatch);
  const count = ai.length;
  const aOffsets = new Int32Array(count);
  const bOffsets = new Int32Array(count);
  const yOffsets = new Int32Array(count);
  for (let t = 0; t < count; t++) {
    aOffsets[t] = ai[t]! * m0 * k;
    bOffsets[t] = bi[t]! * k * n;
    yOffsets[t] = t * m0 * n;
  }
  return { m: m0, n, k, aOffsets, bOffsets, yOffsets };
}

/**
 * Y = A B for each planned product, float32, through sgemm. `constantB` (the B tensor, when it is a constant
 * such as a session initializer) lets sgemm reuse B's packed panels, cached on that tensor.
 */
function matmulFloat32(a: Float32Array, b: Float32Array, y: Float32Array, plan: BatchPlan, threads: number, constantB?: Tensor): void {
  const { m, n, k } = plan;
  const packB = constantB !== undefined && chooseGemmPath(m, n, k) === GEMM_PATH_PACKED;
  for (let t = 0; t < plan.aOffsets.length; t++) {
    const bOffset = plan.bOffsets[t]!;
    const packedB = packB ? cachedPackedB(constantB, b, bOffset, n, false, k, n) : undefined;
    sgemm({ m, n, k, a, aOffset: plan.aOffsets[t]!, lda: k, b, bOffset, ldb: n, c: y, cOffset: plan.yOffsets[t]!, ldc: n, threads, packedB });
  }
}

/** Y = A B for float64 (i-k-j order: each Y row accumulates rows of B in p order). */
function matmulFloat64(a: Float64Array, b: Float64Array, y: Float64Array, plan: BatchPlan): void {
  const { m, n, k } = plan;
  for (let t = 0; t < plan.aOffsets.length; t++) {
    const ao = plan.aOffsets[t]!;
    const bo = plan.bOffsets[t]!;
    const yo = plan.yOffsets[t]!;
    for (let i = 0; i < m; i++) {
      const yr = yo + i * n;
      for (let p = 0; p < k; p++) {
        const av = a[ao + i * k + p]!;
        const br = bo + p * n;
        for (let j = 0; j < n; j++) y[yr + j] = y[yr + j]! + av * b[br + j]!;
      }
    }
  }
}

/** Y = A B for int32 or uint32 (wrapping 32-bit arithmetic through Math.imul; the typed store wraps too). */
function matmulInt32(a: Int32Array | Uint32Array, b: Int32Array | Uint32Array, y: Int32Array | Uint32Array, plan: BatchPlan): void {
  const { m, n, k } = plan;
  const acc = INT_ACC.take('int32', n);
  for (let t = 0; t < plan.aOffsets.length; t++) {
    const ao = plan.aOffsets[t]!;
    const bo = plan.bOffsets[t]!;
    const yo = plan.yOffsets[t]!;
    for (let i = 0; i < m; i++) {
      acc.fill(0);
      for (let p = 0; p < k; p++) {
        const av = a[ao + i * k + p]!;
        const br = bo + p * n;
        for (let j = 0; j < n; j++) acc[j] = (acc[j]! + Math.imul(av, b[br + j]!)) | 0;
      }
      const yr = yo + i * n;
      for (let j = 0; j < n; j++) y[yr + j] = acc[j]!;
    }
  }
}

/** Y = A B for int64 (BigInt sums, wrapped to 64 bits). */
function matmulInt64(a: BigInt64Array, b: BigInt64Array, y: BigInt64Array, plan: BatchPlan): void {
  const { m, n, k } = plan;
  for (let t = 0; t < plan.aOffsets.length; t++) {
    const ao = plan.aOffsets[t]!;
    const bo = plan.bOffsets[t]!;
    const yo = plan.yOffsets[t]!;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0n;
        for (let p = 0; p < k; p++) s += a[ao + i * k + p]! * b[bo + p * n + j]!;
        y[yo + i * n + j] = BigInt.asIntN(64, s);
      }
    }
  }
}

/** Dispatch a planned product by dtype into `y` (a zeroed output). */
function runProducts(a: Tensor, b: Tensor, y: Tensor, plan: BatchPlan, ctx: KernelContext): Tensor {
  switch (a.type) {
    case 'float32':
      matmulFloat32(a.data as Float32Array, b.data as Float32Array, y.data as Float32Array, plan, ctx.threads, ctx.constantInputs?.[1] ? b : undefined);
      return y;
    case 'float16': {
      const out = HALF_WORK.take('float32', y.size, true);
      matmulFloat32(decodeFloat16(a.data as Uint16Array), decodeFloat16(b.data as Uint16Array), out, plan, ctx.threads);
      return fromNumbers('float16', out, y.dims);
    }
    case 'float64':
      matmulFloat64(a.data as Float64Array, b.data as Float64Array, y.data as Float64Array, plan);
      return y;
    case 'int32':
    case 'uint32':
      matmulInt32(a.data as Int32Array, b.data as Int32Array, y.data as Int32Array, plan);
      return y;
    case 'int64':
      matmulInt64(a.data as BigInt64Array, b.data as BigInt64Array, y.data as BigInt64Array, plan);
      return y;
    default:
      throw new Error(`MatMul: no CPU kernel for ${a.type}`);
  }
}

const matMulKernel: Kernel = (inputs, _attrs, outputs, ctx) => {
  const a = inputs[0]!;
  const b = inputs[1]!;
  const y = outputTensor(outputs[0]!);
  if (y.size === 0) return [y];
  return [runProducts(a, b, y, planMatMul(a.dims, b.dims), ctx)];
};

// ---------------------------------------------------------------------------------------------------------
// Gemm

/** C's flat index for every element of an M x N output (C unidirectionally broadcast). */
function broadcastC(c: Tensor, m: number, n: number): Int32Array {
  return broadcastIndex(c.dims, [m, n]);
}

/** Fill Y (float32) with C broadcast to [M, N]. */
function fillWithC(y: Float32Array, c: NumericArray, cDims: readonly number[], m: number, n: number): void {
  if (c.length === 1) {
    y.fill(c[0]!);
    return;
  }
  if (c.length === m * n) {
    y.set(c);
    return;
  }
  // C is [M, 1], [1, N], [N] or [M, N]-shaped data of another broadcastable form: rows and columns of C
  const rank = cDims.length;
  const cCols = rank >= 1 ? cDims[rank - 1]! : 1;
  const cRows = rank === 2 ? cDims[0]! : 1;
  const rowStep = cRows === 1 ? 0 : cCols;
  const colStep = cCols === 1 ? 0 : 1;
  for (let i = 0; i < m; i++) {
    const ci = i * rowStep;
    const yi = i * n;
    for (let j = 0; j < n; j++) y[yi + j] = c[ci + j * colStep]!;
  }
}

const gemmKernel: Kernel = (inputs, attrs, outputs: readonly OutputSpec[], ctx) => {
  const a = inputs[0]!;
  const b = inputs[1]!;
  const c = inputs[2];
  const spec = outputs[0]!;
  const [m, n] = spec.dims as [number, number];
  const transA = attrs.transA !== 0;
  const transB = attrs.transB !== 0;
  const alpha = attrs.alpha as number;
  const beta = c ? (attrs.beta as number) : 0;
  const k = transA ? a.dims[0]! : a.dims[1]!;
  const lda = a.dims[1]!;
  const ldb = b.dims[1]!;
  const useC = c !== undefined && beta !== 0 && c.size > 0;
  if (a.type === 'float32' || a.type === 'float16') {
    const af = a.type === 'float16' ? decodeFloat16(a.data as Uint16Array) : (a.data as Float32Array);
    const bf = b.type === 'float16' ? decodeFloat16(b.data as Uint16Array) : (b.data as Float32Array);
    const half = a.type === 'float16';
    const y = half ? HALF_WORK.take('float32', m * n, true) : allocate('float32', m * n);
    if (useC) fillWithC(y, c.numbers(), c.dims, m, n);
    const packedB = a.type === 'float32' && b.type === 'float32' && ctx.constantInputs?.[1] && chooseGemmPath(m, n, k) === GEMM_PATH_PACKED ? cachedPackedB(b, bf, 0, ldb, transB, k, n) : undefined;
    sgemm({ m, n, k, a: af, lda, transA, b: bf, ldb, transB, c: y, ldc: n, alpha, beta: useC ? beta : 0, threads: ctx.threads, packedB });
    return [half ? fromNumbers('float16', y, [m, n]) : new Tensor('float32', y, [m, n])];
  }
  const out = outputTensor(spec);
  const aStride = transA ? [1, lda] : [lda, 1];
  const bStride = transB ? [1, ldb] : [ldb, 1];
  const cIdx = useC ? broadcastC(c, m, n) : undefined;
  if (a.type === 'float64') {
    const ad = a.data as Float64Array;
    const bd = b.data as Float64Array;
    const cd = useC ? (c.data as Float64Array) : undefined;
    const yd = out.data as Float64Array;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) s += ad[i * aStride[0]! + p * aStride[1]!]! * bd[p * bStride[0]! + j * bStride[1]!]!;
        const o = i * n + j;
        yd[o] = cd ? alpha * s + beta * cd[cIdx![o]!]! : alpha * s;
      }
    }
    return [out];
  }
  if (a.type === 'int64') {
    const ad = a.data as BigInt64Array;
    const bd = b.data as BigInt64Array;
    const cd = useC ? (c.data as BigInt64Array) : undefined;
    const yd = out.data as BigInt64Array;
    const exact = alpha === 1 && (beta === 1 || !cd);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0n;
        for (let p = 0; p < k; p++) s += ad[i * aStride[0]! + p * aStride[1]!]! * bd[p * bStride[0]! + j * bStride[1]!]!;
        const o = i * n + j;
        s = BigInt.asIntN(64, s);
        if (exact) yd[o] = BigInt.asIntN(64, cd ? s + cd[cIdx![o]!]! : s);
        else {
          const v = Math.trunc(alpha * Number(s) + (cd ? beta * Number(cd[cIdx![o]!]!) : 0));
          yd[o] = Number.isFinite(v) ? BigInt.asIntN(64, BigInt(v)) : 0n;
        }
      }
    }
    return [out];
  }
  // int32 / uint32: wrapping 32-bit products
  const ad = a.data as Int32Array;
  const bd = b.data as Int32Array;
  const cd = useC ? (c.data as Int32Array | Uint32Array) : undefined;
  const yd = out.data as Int32Array | Uint32Array;
  const exact = alpha === 1 && (beta === 1 || !cd);
  const unsigned = a.type === 'uint32';
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s = (s + Math.imul(ad[i * aStride[0]! + p * aStride[1]!]!, bd[p * bStride[0]! + j * bStride[1]!]!)) | 0;
      const o = i * n + j;
      if (exact) yd[o] = cd ? (s + cd[cIdx![o]!]!) | 0 : s;
      else {
        const prod = unsigned ? s >>> 0 : s;
        const v = Math.trunc(alpha * prod + (cd ? beta * cd[cIdx![o]!]! : 0));
        yd[o] = Number.isFinite(v) ? v % 4294967296 : 0;
      }
    }
  }
  return [out];
};

registerKernel('MatMul', 'cpu', matMulKernel);
registerKernel('Gemm', 'cpu', gemmKernel);
