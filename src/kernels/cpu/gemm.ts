/**
 * Single-precision GEMM: C = alpha * op(A) * op(B) + beta * C, row-major, op = optional transpose.
 *
 * Every matrix product of the CPU backend goes through `sgemm` (MatMul, Gemm, Conv via im2col, ConvTranspose,
 * Einsum contractions, RNN gates). The naive triple loop it is tested against is reference/gemm.ts.
 *
 * Algorithm (the Goto/BLIS scheme, scaled to what V8 compiles well):
 *
 *   for jc in columns, step NC                      (a slice of B that stays in L3)
 *     for pc in 0..k, step KC                       (one K block: KC = 256)
 *       pack B[pc:pc+kc, jc:jc+nc] into panels NR = 8 columns wide, each panel kc x NR contiguous
 *       for ic in rows, step MC                     (a block of A that stays in L2)
 *         pack A[ic:ic+mc, pc:pc+kc] into panels MR = 4 rows tall, each panel kc x MR contiguous
 *         for each B panel jr, for each A panel ir:
 *           micro-kernel: a 4x8 tile of C in 32 local variables, kc rank-1 updates
 *           (per step: 4 loads of A, 8 loads of B, 32 multiply-adds), then store the tile into C
 *
 * Packing turns strided, possibly transposed reads into two unit-stride streams, so transA/transB, offsets and
 * leading dimensions cost only the packing (O(mk + kn) per block, against O(mnk) arithmetic). Panels at the
 * right and bottom edges are padded with zeros to the full 4x8 tile; the padded rows/columns of the tile are
 * simply not stored, so any m, n, k works. Packs are Float64Array (float32 values convert exactly); the
 * micro-kernel works on JavaScript doubles, so each product a*b is exact and sums are rounded in double.
 * The index arithmetic in the hot loop is masked (`& 0x3fffffff`, `kc & 0xffff`) so V8 can prove it never
 * overflows int32 and drops its overflow checks (measured +30-50% in ../shared/FIELD-NOTES.md).
 *
 * Measured here (`node` micro-benchmark of 512^3, 1 thread, AMD EPYC 2.6 GHz, shared machine): 4x4, 4x6, 4x8,
 * 5x4, 6x4, 3x8 tiles all land at 5.4-5.9 GFLOP/s; 6x8, 8x4, 8x8, 4x12 and a k-loop unrolled by 2 were slower
 * (4.4-5.2). 4x8 with Float64 packs, KC 256, MC 128 was the best or tied; MC and Float32 packs made no
 * consistent difference. A plain scalar loop with 8 independent multiply-add chains peaks at ~5.3 GFLOP/s on
 * this machine, so the micro-kernel runs at the core's scalar JavaScript ceiling.
 *
 * Where WebAssembly SIMD is available (Node, current browsers) the same 4x8 tile is computed by the f64x2 kernel
 * of ./gemm-simd.ts instead: the same products and sums in the same order with the same roundings, so the
 * result is bitwise the same (tested), at ~20 GFLOP/s on one thread here (240x960x240 and 480^3 with a
 * pre-packed A, `setGemmSimd(false)` for the scalar kernel). It reads panels from its own wasm memory: the
 * per-block packs are written there directly, and whole pre-packed panels are copied there per call.
 *
 * Per element (i, j) the operations are always the same sequence, whatever part of the matrix a call covers:
 * for each K block in order, acc = sum over p of a[i,p] * b[p,j] (double, p ascending, from 0), then the
 * first block stores alpha * acc + beta * C (or alpha * acc when beta is 0: old C is never read, even NaN),
 * later blocks store C + alpha * acc (rounded to float32 each time). Threads (./pool.ts) share the work as
 * chunks of rows or columns of C (shrinking towards the end, see gemmChunkStarts), claimed dynamically; a chunk only cuts rows or columns, so results
 * are bitwise identical for any thread count and any assignment of chunks to threads.
 *
 * Multi-threading applies to the packed path only: the vector paths are memory bound and copying their big
 * operand into shared memory for the workers costs about what a second thread saves (measured: 1x4096x4096
 * went from 12 ms on one thread to 28-39 ms on two with the copy).
 *
 * Pre-packed operands: a constant operand (a Conv or MatMul weight) can be packed once, with `packMatrixA` /
 * `packMatrixB` or the caching `cachedPackedA` / `cachedPackedB`, into the whole-matrix panel layout below and
 * passed as `packedA` / `packedB`; the packed path then reads panels from it instead of packing per call. The
 * panels live in a SharedArrayBuffer shared once with the pool workers (pool.shareWithWorkers), so a parallel
 * call copies nothing of that operand. Whole-matrix layout of op(A) (m x k): for each K block starting at pc
 * (depth kc), at pc * roundUp(m, MR), the MR-row panels of all rows, panel i at i * MR * kc, each kc x MR
 * (zero padded); op(B) likewise with NR-column panels and roundUp(n, NR). The values in the panels are the same
 * doubles the per-call packing produces, so results do not change.
 * A parallel call packs whichever operand is not pre-packed once, by the calling thread, straight into the
 * shared arena in that same layout; the chunks then only run micro-kernels (no repacking of the other operand
 * per chunk, no raw copies of A or B).
 *
 * Other paths, chosen from (m, n, k) alone so that every thread takes the same one:
 *   - tiny problems (m*n*k <= 256): the direct triple loop (packing would cost more than it saves);
 *   - m = 1 (a row vector times a matrix, e.g. a 1x4096x4096 layer): streaming over B rows with a double
 *     accumulator row, 4 rows of B per pass; memory bound (reads B once: 4kn bytes);
 *   - n = 1 (matrix times a column vector): one dot product per row.
 *
 * Cost: 2mnk FLOPs; bytes moved about 4(mk*ceil(n/NC) + kn + 2mn*ceil(k/KC)) plus packs.
 */
import { KernelError } from '../../tensor/errors.js';
import { PlanCache } from './scratch.js';
import { createSimdGemmKernel, type SimdGemmKernel } from './gemm-simd.js';
import { isSharedWithWorkers, MAX_TASK_CHUNKS, poolSupported, readyWorkerCount, runChunked, shareWithWorkers, sharedArena, TASK_GEMM } from './pool.js';

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
  /**
   * op(A) already packed: `packMatrixA(a, aOffset, lda, transA, m, k)` of exactly this call's A (or the cached
   * equivalent). Used by the packed path; the other paths read `a`. A handle of another m or k is an error.
   */
  packedA?: PackedPanels;
  /** op(B) already packed: `packMatrixB(b, bOffset, ldb, transB, k, n)` of exactly this call's B. */
  packedB?: PackedPanels;
  /**
   * A bias per row of C, added after the product: C[i, j] = float32(float32(product) + rowBias[rowBiasOffset + i]),
   * bit for bit what a separate pass `C[i, j] += bias` after the call gives (a Conv's bias). The packed path adds
   * it while storing the last K block, so C is not read and written a second time.
   */
  rowBias?: Float32Array;
  rowBiasOffset?: number;
}

/** One operand of a GEMM packed into whole-matrix panels (see the file comment for the layout). */
export interface PackedPanels {
  /** Which operand: 'A' (MR-row panels of op(A)) or 'B' (NR-column panels of op(B)). */
  readonly side: 'A' | 'B';
  /** Rows of op(A) (side A) or columns of op(B) (side B). */
  readonly extent: number;
  /** The shared dimension. */
  readonly k: number;
  /** The panels (backed by a SharedArrayBuffer where the pool is supported). */
  readonly data: Float64Array;
  /** Id under which pool workers see `data` (-1: not shared yet); refreshed when the pool restarts. */
  sharedId: number;
}

/** Rows of the register tile. */
export const GEMM_MR = 4;
/** Columns of the register tile. */
export const GEMM_NR = 8;
/** Depth of one K block (packed panels are KC long). */
export const GEMM_KC = 256;
/** Rows of A packed at once (a multiple of MR). */
export const GEMM_MC = 128;
/** Columns of B packed at once (a multiple of NR). */
export const GEMM_NC = 1024;
/**
 * Problems with m*n*k at most this use the direct loop. Measured (one thread): the packed path already wins at
 * 8x8x8 (0.54 vs 0.69 us) and by 2.3x at 32x32x32, so only the tiniest products skip packing.
 */
export const GEMM_NAIVE_MAX_VOLUME = 256;
/**
 * Problems below this many FLOPs (2mnk) stay on the calling thread: dispatching to a hot worker costs ~1-5 us
 * plus copying the operands into shared memory, to a sleeping one 35-60 us.
 */
export const GEMM_PARALLEL_MIN_FLOPS = 4_000_000;

/** Algorithm of one problem (a function of m, n, k only). */
export const GEMM_PATH_NAIVE = 0;
export const GEMM_PATH_ROW_VECTOR = 1;
export const GEMM_PATH_COL_VECTOR = 2;
export const GEMM_PATH_PACKED = 3;

/** A GEMM with every argument resolved (what the compute routines and the workers take). */
export interface GemmProblem {
  m: number;
  n: number;
  k: number;
  a: Float32Array;
  ao: number;
  lda: number;
  transA: boolean;
  b: Float32Array;
  bo: number;
  ldb: number;
  transB: boolean;
  c: Float32Array;
  co: number;
  ldc: number;
  alpha: number;
  beta: number;
  /** Bias per row of C (see GemmArgs.rowBias) and the index of row 0's bias. */
  rowBias?: Float32Array;
  rowBiasOffset?: number;
}

/** Scratch buffers of one thread (packs, the register tile, vector accumulators); grown on demand. */
export class GemmWorkspace {
  packA = new Float64Array(0);
  packB = new Float64Array(0);
  readonly tile = new Float64Array(GEMM_MR * GEMM_NR);
  vector = new Float64Array(0);
  /** This thread's WebAssembly SIMD micro-kernel (created on first use; null where unavailable). */
  simd: SimdGemmKernel | null | undefined;
  /** What the SIMD memory's whole-operand regions hold (see gemmPackedRange). */
  loadedA: LoadedPanels = NOTHING_LOADED;
  loadedB: LoadedPanels = NOTHING_LOADED;
}

/** Rows (A) or columns (B) [lo, hi) of whole panels `source` from `start`, copied at `region` during call `seq`. */
interface LoadedPanels {
  readonly seq: number;
  readonly source: Float64Array | undefined;
  readonly start: number;
  readonly lo: number;
  readonly hi: number;
  readonly region: number;
}

const NOTHING_LOADED: LoadedPanels = { seq: -1, source: undefined, start: 0, lo: 0, hi: 0, region: 0 };

/** Use the SIMD micro-kernel where available (tests turn it off on the calling thread to compare). */
let simdEnabled = true;

/**
 * Turn the WebAssembly SIMD micro-kernel on or off for GEMMs computed on the calling thread (pool workers always
 * use it where available). Results are bitwise identical either way; returns whether SIMD is available.
 */
export function setGemmSimd(enabled: boolean): boolean {
  simdEnabled = enabled;
  return simdKernelOf(mainWorkspace) !== null;
}

function simdKernelOf(ws: GemmWorkspace): SimdGemmKernel | null {
  if (ws.simd === undefined) ws.simd = createSimdGemmKernel(GEMM_MC * GEMM_KC, GEMM_NC * GEMM_KC) ?? null;
  return ws.simd;
}

/** The algorithm for an m x n x k problem. */
export function chooseGemmPath(m: number, n: number, k: number): number {
  if (m * n * k <= GEMM_NAIVE_MAX_VOLUME) return GEMM_PATH_NAIVE;
  if (m === 1) return GEMM_PATH_ROW_VECTOR;
  if (n === 1) return GEMM_PATH_COL_VECTOR;
  return GEMM_PATH_PACKED;
}

/** Compute all of `p` with algorithm `path` on the calling thread. */
export function computeGemm(p: GemmProblem, path: number, ws: GemmWorkspace): void {
  if (p.m === 0 || p.n === 0) return;
  if (path === GEMM_PATH_NAIVE) gemmNaive(p);
  else if (path === GEMM_PATH_ROW_VECTOR) gemmRowVector(p, ws);
  else if (path === GEMM_PATH_COL_VECTOR) gemmColVector(p, ws);
  else gemmPacked(p, ws);
}

// ---------------------------------------------------------------------------------------------------------
// Direct paths.

/** The triple loop, for tiny problems (also the k = 0 case). */
function gemmNaive(p: GemmProblem): void {
  const { m, n, k, a, ao, b, bo, c, co, ldc, alpha, beta } = p;
  const aRow = p.transA ? 1 : p.lda;
  const aCol = p.transA ? p.lda : 1;
  const bRow = p.transB ? 1 : p.ldb;
  const bCol = p.transB ? p.ldb : 1;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      let ai = ao + i * aRow;
      let bi = bo + j * bCol;
      for (let q = 0; q < k; q++, ai += aCol, bi += bRow) s += a[ai]! * b[bi]!;
      const ci = co + i * ldc + j;
      c[ci] = beta === 0 ? alpha * s : alpha * s + beta * c[ci]!;
    }
  }
}

/** Columns of C accumulated at once by the row-vector path (a 32 KiB double row). */
const ROW_VECTOR_CHUNK = 4096;

/** m = 1: C[0, j] = alpha * sum_p A[0, p] B[p, j] + beta * C[0, j]. */
function gemmRowVector(p: GemmProblem, ws: GemmWorkspace): void {
  const { n, k, a, ao, b, bo, ldb, c, co, alpha, beta } = p;
  const aStep = p.transA ? p.lda : 1;
  if (p.transB) {
    // B[p, j] = b[bo + j*ldb + p]: one dot product per column, unit stride in both vectors
    for (let j = 0; j < n; j++) {
      let s = 0;
      let bi = bo + j * ldb;
      let ai = ao;
      for (let q = 0; q < k; q++, ai += aStep, bi++) s += a[ai]! * b[bi]!;
      const ci = co + j;
      c[ci] = beta === 0 ? alpha * s : alpha * s + beta * c[ci]!;
    }
    return;
  }
  if (ws.vector.length < ROW_VECTOR_CHUNK) ws.vector = new Float64Array(ROW_VECTOR_CHUNK);
  const acc = ws.vector;
  for (let j0 = 0; j0 < n; j0 += ROW_VECTOR_CHUNK) {
    const width = Math.min(ROW_VECTOR_CHUNK, n - j0) & 0x3fffffff;
    acc.fill(0, 0, width);
    let q = 0;
    // four rows of B per pass; `acc + x0 + x1 + x2 + x3` evaluates left to right, the same sequence as one row at a time
    for (; q + 3 < k; q += 4) {
      const a0 = a[ao + q * aStep]!;
      const a1 = a[ao + (q + 1) * aStep]!;
      const a2 = a[ao + (q + 2) * aStep]!;
      const a3 = a[ao + (q + 3) * aStep]!;
      const r0 = (bo + q * ldb + j0) & 0x3fffffff;
      const r1 = (r0 + ldb) & 0x3fffffff;
      const r2 = (r1 + ldb) & 0x3fffffff;
      const r3 = (r2 + ldb) & 0x3fffffff;
      for (let j = 0; j < width; j++) {
        acc[j] = acc[j]! + a0 * b[(r0 + j) & 0x3fffffff]! + a1 * b[(r1 + j) & 0x3fffffff]! + a2 * b[(r2 + j) & 0x3fffffff]! + a3 * b[(r3 + j) & 0x3fffffff]!;
      }
    }
    for (; q < k; q++) {
      const a0 = a[ao + q * aStep]!;
      const r0 = (bo + q * ldb + j0) & 0x3fffffff;
      for (let j = 0; j < width; j++) acc[j] = acc[j]! + a0 * b[(r0 + j) & 0x3fffffff]!;
    }
    const cBase = co + j0;
    if (beta === 0) for (let j = 0; j < width; j++) c[cBase + j] = alpha * acc[j]!;
    else for (let j = 0; j < width; j++) c[cBase + j] = alpha * acc[j]! + beta * c[cBase + j]!;
  }
}

/** n = 1: C[i, 0] = alpha * sum_p A[i, p] B[p, 0] + beta * C[i, 0]. */
function gemmColVector(p: GemmProblem, ws: GemmWorkspace): void {
  const { m, k, a, ao, lda, b, bo, c, co, ldc, alpha, beta } = p;
  const bStep = p.transB ? 1 : p.ldb;
  if (!p.transA) {
    // A rows are contiguous: one dot product per row
    if (ws.vector.length < k) ws.vector = new Float64Array(k);
    const x = ws.vector;
    for (let q = 0; q < k; q++) x[q] = b[bo + q * bStep]!;
    for (let i = 0; i < m; i++) {
      let s = 0;
      const r = ao + i * lda;
      for (let q = 0; q < k; q++) s += a[r + q]! * x[q]!;
      const ci = co + i * ldc;
      c[ci] = beta === 0 ? alpha * s : alpha * s + beta * c[ci]!;
    }
    return;
  }
  // A[i, p] = a[ao + p*lda + i]: accumulate rows of stored A into a double vector (same order per element)
  if (ws.vector.length < m) ws.vector = new Float64Array(m);
  const acc = ws.vector;
  acc.fill(0, 0, m);
  for (let q = 0; q < k; q++) {
    const bv = b[bo + q * bStep]!;
    const r = ao + q * lda;
    for (let i = 0; i < m; i++) acc[i] = acc[i]! + a[r + i]! * bv;
  }
  for (let i = 0; i < m; i++) {
    const ci = co + i * ldc;
    c[ci] = beta === 0 ? alpha * acc[i]! : alpha * acc[i]! + beta * c[ci]!;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Packed path.

/** Pack rows [ic, ic+mc) x depth [pc, pc+kc) of op(A) into MR-row panels (kc x MR each, zero padded) at pa[start]. */
function packPanelsA(p: GemmProblem, ic: number, mc: number, pc: number, kc: number, pa: Float64Array, start: number): void {
  const { a, ao, lda } = p;
  let q = start;
  for (let i = 0; i < mc; i += GEMM_MR) {
    const rows = Math.min(GEMM_MR, mc - i);
    if (!p.transA) {
      for (let r = 0; r < GEMM_MR; r++) {
        if (r < rows) {
          const src = ao + (ic + i + r) * lda + pc;
          for (let s = 0; s < kc; s++) pa[q + s * GEMM_MR + r] = a[src + s]!;
        } else {
          for (let s = 0; s < kc; s++) pa[q + s * GEMM_MR + r] = 0;
        }
      }
    } else {
      for (let s = 0; s < kc; s++) {
        const src = ao + (pc + s) * lda + ic + i;
        const dst = q + s * GEMM_MR;
        for (let r = 0; r < rows; r++) pa[dst + r] = a[src + r]!;
        for (let r = rows; r < GEMM_MR; r++) pa[dst + r] = 0;
      }
    }
    q += GEMM_MR * kc;
  }
}

/** Pack depth [pc, pc+kc) x columns [jc, jc+nc) of op(B) into NR-column panels (kc x NR each, zero padded) at pb[start]. */
function packPanelsB(p: GemmProblem, jc: number, nc: number, pc: number, kc: number, pb: Float64Array, start: number): void {
  const { b, bo, ldb } = p;
  let q = start;
  for (let j = 0; j < nc; j += GEMM_NR) {
    const cols = Math.min(GEMM_NR, nc - j);
    if (!p.transB) {
      for (let s = 0; s < kc; s++) {
        const src = bo + (pc + s) * ldb + jc + j;
        const dst = q + s * GEMM_NR;
        for (let t = 0; t < cols; t++) pb[dst + t] = b[src + t]!;
        for (let t = cols; t < GEMM_NR; t++) pb[dst + t] = 0;
      }
    } else {
      for (let t = 0; t < GEMM_NR; t++) {
        if (t < cols) {
          const src = bo + (jc + j + t) * ldb + pc;
          for (let s = 0; s < kc; s++) pb[q + s * GEMM_NR + t] = b[src + s]!;
        } else {
          for (let s = 0; s < kc; s++) pb[q + s * GEMM_NR + t] = 0;
        }
      }
    }
    q += GEMM_NR * kc;
  }
}

/**
 * The register micro-kernel: tile[r*8 + t] = sum over s < kc of pa[aStart + 4s + r] * pb[bStart + 8s + t],
 * in s order, in 32 local accumulators. Indices are masked so V8 drops overflow checks.
 */
function gemmMicroKernel4x8(kc: number, pa: Float64Array, aStart: number, pb: Float64Array, bStart: number, tile: Float64Array): void {
  let ai = aStart & 0x3fffffff;
  let bi = bStart & 0x3fffffff;
  const steps = kc & 0xffff;
  let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c04 = 0, c05 = 0, c06 = 0, c07 = 0;
  let c10 = 0, c11 = 0, c12 = 0, c13 = 0, c14 = 0, c15 = 0, c16 = 0, c17 = 0;
  let c20 = 0, c21 = 0, c22 = 0, c23 = 0, c24 = 0, c25 = 0, c26 = 0, c27 = 0;
  let c30 = 0, c31 = 0, c32 = 0, c33 = 0, c34 = 0, c35 = 0, c36 = 0, c37 = 0;
  for (let p = 0; p < steps; p++) {
    const a0 = pa[ai]!;
    const a1 = pa[ai + 1]!;
    const a2 = pa[ai + 2]!;
    const a3 = pa[ai + 3]!;
    const b0 = pb[bi]!;
    const b1 = pb[bi + 1]!;
    const b2 = pb[bi + 2]!;
    const b3 = pb[bi + 3]!;
    const b4 = pb[bi + 4]!;
    const b5 = pb[bi + 5]!;
    const b6 = pb[bi + 6]!;
    const b7 = pb[bi + 7]!;
    c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3; c04 += a0 * b4; c05 += a0 * b5; c06 += a0 * b6; c07 += a0 * b7;
    c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3; c14 += a1 * b4; c15 += a1 * b5; c16 += a1 * b6; c17 += a1 * b7;
    c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3; c24 += a2 * b4; c25 += a2 * b5; c26 += a2 * b6; c27 += a2 * b7;
    c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3; c34 += a3 * b4; c35 += a3 * b5; c36 += a3 * b6; c37 += a3 * b7;
    ai = (ai + 4) & 0x3fffffff;
    bi = (bi + 8) & 0x3fffffff;
  }
  tile[0] = c00; tile[1] = c01; tile[2] = c02; tile[3] = c03; tile[4] = c04; tile[5] = c05; tile[6] = c06; tile[7] = c07;
  tile[8] = c10; tile[9] = c11; tile[10] = c12; tile[11] = c13; tile[12] = c14; tile[13] = c15; tile[14] = c16; tile[15] = c17;
  tile[16] = c20; tile[17] = c21; tile[18] = c22; tile[19] = c23; tile[20] = c24; tile[21] = c25; tile[22] = c26; tile[23] = c27;
  tile[24] = c30; tile[25] = c31; tile[26] = c32; tile[27] = c33; tile[28] = c34; tile[29] = c35; tile[30] = c36; tile[31] = c37;
}

/**
 * Store a tile (rows x cols of it) into C at cStart: the first K block writes alpha*acc (+ beta*C), later
 * blocks add alpha*acc to what is there. With `bias` (on the last K block only), the float32-rounded value
 * plus bias[biasIndex + r] is stored instead.
 */
function storeTile(tile: Float64Array, c: Float32Array, cStart: number, ldc: number, rows: number, cols: number, alpha: number, beta: number, firstBlock: boolean, bias: Float32Array | undefined, biasIndex: number): void {
  if (bias) {
    storeTileWithBias(tile, c, cStart, ldc, rows, cols, alpha, beta, firstBlock, bias, biasIndex);
    return;
  }
  for (let r = 0; r < rows; r++) {
    const ci = (cStart + r * ldc) & 0x3fffffff;
    const ti = r * GEMM_NR;
    if (!firstBlock) {
      for (let t = 0; t < cols; t++) c[ci + t] = c[ci + t]! + alpha * tile[ti + t]!;
    } else if (beta === 0) {
      for (let t = 0; t < cols; t++) c[ci + t] = alpha * tile[ti + t]!;
    } else {
      for (let t = 0; t < cols; t++) c[ci + t] = alpha * tile[ti + t]! + beta * c[ci + t]!;
    }
  }
}

function storeTileWithBias(tile: Float64Array, c: Float32Array, cStart: number, ldc: number, rows: number, cols: number, alpha: number, beta: number, firstBlock: boolean, bias: Float32Array, biasIndex: number): void {
  for (let r = 0; r < rows; r++) {
    const ci = (cStart + r * ldc) & 0x3fffffff;
    const ti = r * GEMM_NR;
    const add = bias[biasIndex + r]!;
    if (!firstBlock) {
      for (let t = 0; t < cols; t++) c[ci + t] = Math.fround(c[ci + t]! + alpha * tile[ti + t]!) + add;
    } else if (beta === 0) {
      for (let t = 0; t < cols; t++) c[ci + t] = Math.fround(alpha * tile[ti + t]!) + add;
    } else {
      for (let t = 0; t < cols; t++) c[ci + t] = Math.fround(alpha * tile[ti + t]! + beta * c[ci + t]!) + add;
    }
  }
}

/** C[i, j] += rowBias[i] over the whole problem (the paths that do not add it while storing). */
function addRowBias(p: GemmProblem): void {
  const bias = p.rowBias;
  if (!bias) return;
  const base = p.rowBiasOffset ?? 0;
  for (let i = 0; i < p.m; i++) {
    const add = bias[base + i]!;
    const row = p.co + i * p.ldc;
    for (let j = row; j < row + p.n; j++) p.c[j] = p.c[j]! + add;
  }
}

function roundUp(x: number, step: number): number {
  return Math.ceil(x / step) * step;
}

/** Pack all of op(A) (m x k) into whole-matrix panels at dst[start] (roundUp(m, MR) * k doubles). */
function packWholeA(p: GemmProblem, dst: Float64Array, start: number): void {
  const mPad = roundUp(p.m, GEMM_MR);
  for (let pc = 0; pc < p.k; pc += GEMM_KC) packPanelsA(p, 0, p.m, pc, Math.min(GEMM_KC, p.k - pc), dst, start + pc * mPad);
}

/** Pack all of op(B) (k x n) into whole-matrix panels at dst[start] (roundUp(n, NR) * k doubles). */
function packWholeB(p: GemmProblem, dst: Float64Array, start: number): void {
  const nPad = roundUp(p.n, GEMM_NR);
  for (let pc = 0; pc < p.k; pc += GEMM_KC) packPanelsB(p, 0, p.n, pc, Math.min(GEMM_KC, p.k - pc), dst, start + pc * nPad);
}

/**
 * The packed path over rows [r0, r1) and columns [c0, c1) of C (r0 a multiple of MR and c0 of NR unless the
 * range starts at 0). `wholeA` / `wholeB` (with their start index) are whole-matrix panels of op(A) / op(B);
 * an operand without them is packed block by block. With the SIMD kernel, panels must sit in its own memory:
 * the rows [r0, r1) of a whole A (columns [c0, c1) of a whole B) are copied there once and kept while
 * `callSeq` (an id of the sgemm call, >= 0) and the range stay the same, so a thread that runs several chunks
 * of one call copies the shared operand once.
 */
function gemmPackedRange(
  p: GemmProblem,
  ws: GemmWorkspace,
  wholeA: Float64Array | undefined,
  wholeAStart: number,
  wholeB: Float64Array | undefined,
  wholeBStart: number,
  r0: number,
  r1: number,
  c0: number,
  c1: number,
  callSeq: number,
): void {
  const { m, n, k, c, co, ldc, alpha, beta } = p;
  if (r1 <= r0 || c1 <= c0) return;
  const simd = simdEnabled || ws !== mainWorkspace ? simdKernelOf(ws) : null;
  let mPad = roundUp(m, GEMM_MR);
  let nPad = roundUp(n, GEMM_NR);
  // where op(A)'s row r0 and op(B)'s column c0 sit in the whole panels (index of row 0 / column 0 of block 0)
  let aOrigin = wholeAStart;
  let bOrigin = wholeBStart;
  if (simd && (wholeA || wholeB)) {
    const rowsPad = roundUp(r1 - r0, GEMM_MR);
    const colsPad = roundUp(c1 - c0, GEMM_NR);
    simd.reserveWhole((wholeA ? rowsPad * k : 0) + (wholeB ? colsPad * k : 0));
    const mem = simd.memory;
    if (wholeA) {
      const region = simd.wholeStart;
      const key = ws.loadedA;
      if (!(callSeq >= 0 && key.seq === callSeq && key.source === wholeA && key.start === wholeAStart && key.lo === r0 && key.hi === r1 && key.region === region)) {
        for (let pc = 0; pc < k; pc += GEMM_KC) {
          const kc = Math.min(GEMM_KC, k - pc);
          const from = wholeAStart + pc * mPad + r0 * kc;
          mem.set(wholeA.subarray(from, from + rowsPad * kc), region + pc * rowsPad);
        }
        ws.loadedA = { seq: callSeq, source: wholeA, start: wholeAStart, lo: r0, hi: r1, region };
      }
      wholeA = mem;
      mPad = rowsPad;
      aOrigin = region;
    }
    if (wholeB) {
      const region = simd.wholeStart + (wholeA ? rowsPad * k : 0);
      const key = ws.loadedB;
      if (!(callSeq >= 0 && key.seq === callSeq && key.source === wholeB && key.start === wholeBStart && key.lo === c0 && key.hi === c1 && key.region === region)) {
        for (let pc = 0; pc < k; pc += GEMM_KC) {
          const kc = Math.min(GEMM_KC, k - pc);
          const from = wholeBStart + pc * nPad + c0 * kc;
          mem.set(wholeB.subarray(from, from + colsPad * kc), region + pc * colsPad);
        }
        ws.loadedB = { seq: callSeq, source: wholeB, start: wholeBStart, lo: c0, hi: c1, region };
      }
      wholeB = mem;
      nPad = colsPad;
      bOrigin = region;
    }
  }
  // row/column offsets into the whole panels: relative to r0/c0 when they were copied into SIMD memory
  const aRowBase = simd && wholeA ? r0 : 0;
  const bColBase = simd && wholeB ? c0 : 0;
  const kcMax = Math.min(GEMM_KC, k);
  if (!wholeA && !simd) {
    const mcMax = Math.min(GEMM_MC, roundUp(r1 - r0, GEMM_MR));
    if (ws.packA.length < mcMax * kcMax) ws.packA = new Float64Array(mcMax * kcMax);
  }
  if (!wholeB && !simd) {
    const ncMax = Math.min(GEMM_NC, roundUp(c1 - c0, GEMM_NR));
    if (ws.packB.length < ncMax * kcMax) ws.packB = new Float64Array(ncMax * kcMax);
  }
  const tile = simd ? simd.tileView : ws.tile;
  for (let jc = c0; jc < c1; jc += GEMM_NC) {
    const nc = Math.min(GEMM_NC, c1 - jc);
    for (let pc = 0; pc < k; pc += GEMM_KC) {
      const kc = Math.min(GEMM_KC, k - pc);
      const firstBlock = pc === 0;
      const bias = pc + kc >= k ? p.rowBias : undefined;
      const biasBase = p.rowBiasOffset ?? 0;
      let pb: Float64Array;
      let bBase: number;
      if (wholeB) {
        pb = wholeB;
        bBase = bOrigin + pc * nPad + (jc - bColBase) * kc;
      } else {
        pb = simd ? simd.memory : ws.packB;
        bBase = simd ? simd.bStart : 0;
        packPanelsB(p, jc, nc, pc, kc, pb, bBase);
      }
      for (let ic = r0; ic < r1; ic += GEMM_MC) {
        const mc = Math.min(GEMM_MC, r1 - ic);
        let pa: Float64Array;
        let aBase: number;
        if (wholeA) {
          pa = wholeA;
          aBase = aOrigin + pc * mPad + (ic - aRowBase) * kc;
        } else {
          pa = simd ? simd.memory : ws.packA;
          aBase = simd ? simd.aStart : 0;
          packPanelsA(p, ic, mc, pc, kc, pa, aBase);
        }
        for (let j = 0; j < nc; j += GEMM_NR) {
          const cols = Math.min(GEMM_NR, nc - j);
          const bStart = bBase + j * kc;
          for (let i = 0; i < mc; i += GEMM_MR) {
            if (simd) simd.tile(kc, aBase + i * kc, bStart);
            else gemmMicroKernel4x8(kc, pa, aBase + i * kc, pb, bStart, tile);
            storeTile(tile, c, co + (ic + i) * ldc + jc + j, ldc, Math.min(GEMM_MR, mc - i), cols, alpha, beta, firstBlock, bias, biasBase + ic + i);
          }
        }
      }
    }
  }
}

function gemmPacked(p: GemmProblem, ws: GemmWorkspace): void {
  gemmPackedRange(p, ws, undefined, 0, undefined, 0, 0, p.m, 0, p.n, -1);
}

// ---------------------------------------------------------------------------------------------------------
// Pre-packed operands.

/** A Float64Array of `length` in shared memory where the pool can use it, else ordinary memory. */
function panelStorage(length: number): Float64Array {
  if (poolSupported()) return new Float64Array(new SharedArrayBuffer(Math.max(8, length * 8)), 0, length);
  return new Float64Array(length);
}

/** Share `packed` with the current pool's workers (again after a pool restart); false where impossible. */
function ensureShared(packed: PackedPanels): boolean {
  const buffer = packed.data.buffer;
  if (!(typeof SharedArrayBuffer === 'function' && buffer instanceof SharedArrayBuffer)) return false;
  if (packed.sharedId >= 0 && isSharedWithWorkers(packed.sharedId, buffer)) return true;
  packed.sharedId = shareWithWorkers(buffer, packed);
  return packed.sharedId >= 0;
}

/** Pack op(A) (m x k; A stored from `offset` with row stride `ld`, transposed when `trans`) once, for `packedA`. */
export function packMatrixA(a: Float32Array, offset: number, ld: number, trans: boolean, m: number, k: number): PackedPanels {
  const p = resolveGemmArgs({ m, n: 0, k, a, aOffset: offset, lda: ld, transA: trans, b: a, ldb: 0, c: a, ldc: 0 });
  if (m > 0 && k > 0) {
    const ext = trans ? [k, m] : [m, k];
    checkExtent('A', a, offset, ext[0]!, ext[1]!, ld);
  }
  const data = panelStorage(roundUp(m, GEMM_MR) * k);
  packWholeA(p, data, 0);
  return { side: 'A', extent: m, k, data, sharedId: -1 };
}

/** Pack op(B) (k x n; B stored from `offset` with row stride `ld`, transposed when `trans`) once, for `packedB`. */
export function packMatrixB(b: Float32Array, offset: number, ld: number, trans: boolean, k: number, n: number): PackedPanels {
  const p = resolveGemmArgs({ m: 0, n, k, a: b, lda: 0, b, bOffset: offset, ldb: ld, transB: trans, c: b, ldc: 0 });
  if (n > 0 && k > 0) {
    const ext = trans ? [n, k] : [k, n];
    checkExtent('B', b, offset, ext[0]!, ext[1]!, ld);
  }
  const data = panelStorage(roundUp(n, GEMM_NR) * k);
  packWholeB(p, data, 0);
  return { side: 'B', extent: n, k, data, sharedId: -1 };
}

interface PackCacheEntry {
  readonly source: ArrayBufferLike;
  readonly byteOffset: number;
  readonly offset: number;
  readonly ld: number;
  readonly trans: boolean;
  readonly rows: number;
  readonly k: number;
  readonly packed: PackedPanels;
}

/** Packs by owner (a constant weight tensor), at most PACKS_PER_OWNER each (e.g. one per Conv group). */
const packCache = new WeakMap<object, PackCacheEntry[]>();
const PACKS_PER_OWNER = 64;

function cachedPack(side: 'A' | 'B', owner: object, x: Float32Array, offset: number, ld: number, trans: boolean, rows: number, k: number): PackedPanels {
  let entries = packCache.get(owner);
  if (!entries) {
    entries = [];
    packCache.set(owner, entries);
  }
  for (const e of entries) {
    if (e.packed.side === side && e.source === x.buffer && e.byteOffset === x.byteOffset && e.offset === offset && e.ld === ld && e.trans === trans && e.rows === rows && e.k === k) {
      return e.packed;
    }
  }
  const packed = side === 'A' ? packMatrixA(x, offset, ld, trans, rows, k) : packMatrixB(x, offset, ld, trans, k, rows);
  if (entries.length >= PACKS_PER_OWNER) entries.shift();
  entries.push({ source: x.buffer, byteOffset: x.byteOffset, offset, ld, trans, rows, k, packed });
  return packed;
}

/**
 * `packMatrixA` of a constant operand, packed once and kept for as long as `owner` lives (a WeakMap keyed by
 * `owner`, e.g. the weight tensor; entries also match on the storage, offset, ld, trans and shape). Only for
 * data that never changes while `owner` lives (a session's initializers): the cache never rereads `a`.
 */
export function cachedPackedA(owner: object, a: Float32Array, offset: number, ld: number, trans: boolean, m: number, k: number): PackedPanels {
  return cachedPack('A', owner, a, offset, ld, trans, m, k);
}

/** `packMatrixB` of a constant operand, cached per `owner` like `cachedPackedA`. */
export function cachedPackedB(owner: object, b: Float32Array, offset: number, ld: number, trans: boolean, k: number, n: number): PackedPanels {
  return cachedPack('B', owner, b, offset, ld, trans, n, k);
}

// ---------------------------------------------------------------------------------------------------------
// Entry point and thread split.

const mainWorkspace = new GemmWorkspace();

function checkExtent(name: string, arr: Float32Array, offset: number, rows: number, cols: number, ld: number): void {
  if (!Number.isInteger(offset) || offset < 0) throw new KernelError(`sgemm: ${name} offset ${offset} must be a non-negative integer`);
  if (!Number.isInteger(ld) || (rows > 1 && ld < cols)) throw new KernelError(`sgemm: ld${name.toLowerCase()} ${ld} is smaller than the ${cols} stored columns of ${name}`);
  if (rows === 0 || cols === 0) return;
  const end = offset + (rows - 1) * ld + cols;
  if (end > arr.length) {
    throw new KernelError(`sgemm: ${name} needs ${end} elements (offset ${offset}, ${rows} x ${cols}, ld ${ld}) but has ${arr.length}`);
  }
}

/** Validate and resolve arguments. */
export function resolveGemmArgs(args: GemmArgs): GemmProblem {
  const { m, n, k } = args;
  for (const [name, v] of [['m', m], ['n', n], ['k', k]] as const) {
    if (!Number.isInteger(v) || v < 0) throw new KernelError(`sgemm: ${name} = ${v}; expected a non-negative integer`);
  }
  const p: GemmProblem = {
    m,
    n,
    k,
    a: args.a,
    ao: args.aOffset ?? 0,
    lda: args.lda,
    transA: args.transA ?? false,
    b: args.b,
    bo: args.bOffset ?? 0,
    ldb: args.ldb,
    transB: args.transB ?? false,
    c: args.c,
    co: args.cOffset ?? 0,
    ldc: args.ldc,
    alpha: args.alpha ?? 1,
    beta: args.beta ?? 0,
    rowBias: args.rowBias,
    rowBiasOffset: args.rowBiasOffset ?? 0,
  };
  if (args.rowBias) {
    const end = (args.rowBiasOffset ?? 0) + m;
    if (!Number.isInteger(p.rowBiasOffset) || p.rowBiasOffset! < 0 || end > args.rowBias.length) {
      throw new KernelError(`sgemm: rowBias needs ${end} elements (offset ${args.rowBiasOffset ?? 0}, m ${m}) but has ${args.rowBias.length}`);
    }
  }
  if (m > 0 && n > 0 && k > 0) {
    if (p.transA) checkExtent('A', p.a, p.ao, k, m, p.lda);
    else checkExtent('A', p.a, p.ao, m, k, p.lda);
    if (p.transB) checkExtent('B', p.b, p.bo, n, k, p.ldb);
    else checkExtent('B', p.b, p.bo, k, n, p.ldb);
  }
  checkExtent('C', p.c, p.co, m, n, p.ldc);
  return p;
}

function checkPacked(packed: PackedPanels | undefined, side: 'A' | 'B', extent: number, k: number): void {
  if (!packed) return;
  if (packed.side !== side || packed.extent !== extent || packed.k !== k) {
    const what = side === 'A' ? `m = ${extent}, k = ${k}` : `k = ${k}, n = ${extent}`;
    throw new KernelError(`sgemm: packed${side} holds side ${packed.side} of extent ${packed.extent}, k ${packed.k}; this call needs ${what}`);
  }
}

/** C = alpha * op(A) op(B) + beta * C. Bitwise identical results for any `threads`. */
export function sgemm(args: GemmArgs): void {
  const p = resolveGemmArgs(args);
  checkPacked(args.packedA, 'A', p.m, p.k);
  checkPacked(args.packedB, 'B', p.n, p.k);
  const path = chooseGemmPath(p.m, p.n, p.k);
  const threads = args.threads ?? 1;
  if (threads > 1 && path === GEMM_PATH_PACKED && 2 * p.m * p.n * p.k >= GEMM_PARALLEL_MIN_FLOPS && sgemmParallel(p, threads, args.packedA, args.packedB)) return;
  if (path === GEMM_PATH_PACKED && p.m > 0 && p.n > 0) {
    gemmPackedRange(p, mainWorkspace, args.packedA?.data, 0, args.packedB?.data, 0, 0, p.m, 0, p.n, -1);
    return;
  }
  computeGemm(p, path, mainWorkspace);
  addRowBias(p);
}

/** Copy a rows x cols block (row stride srcLd) into dst at dstOff with row stride dstLd. */
function copyBlock(src: Float32Array, srcOff: number, srcLd: number, rows: number, cols: number, dst: Float32Array, dstOff: number, dstLd: number): void {
  if (rows === 0 || cols === 0) return;
  if (srcLd === cols && dstLd === cols) {
    dst.set(src.subarray(srcOff, srcOff + rows * cols), dstOff);
    return;
  }
  for (let r = 0; r < rows; r++) dst.set(src.subarray(srcOff + r * srcLd, srcOff + r * srcLd + cols), dstOff + r * dstLd);
}

/** Rows or columns below which a problem is not split at all (two of these at least make it worth a worker). */
const GEMM_MIN_CHUNK = 64;
/** Smallest chunk of the guided schedule (rows or columns; a multiple of MR and NR). */
const GEMM_TAIL_CHUNK = 16;

/** Schedules by (extent, threads): a model runs several GEMM shapes, so one cached entry is not enough. */
const schedules = new PlanCache<Int32Array>((starts) => starts.length, 256);

/**
 * Chunk boundaries of a guided schedule: `extent` rows or columns for `threads` threads, each chunk taking
 * 1/(2 * threads) of what is left, rounded up to a multiple of 8 and at least GEMM_TAIL_CHUNK. Early chunks
 * are big (each chunk repacks the whole other operand, so few big chunks pack least), the last ones small: a
 * thread that the OS deschedules (a busy, shared machine) while it holds the last chunk it claimed delays the
 * call by a small chunk, not by a half or a quarter of the product. Returns starts, with `extent` appended;
 * a pure function of its arguments, so the calling thread and every worker derive the same chunks.
 */
export function gemmChunkStarts(extent: number, threads: number): Int32Array {
  return schedules.get(`${extent}:${threads}`, () => buildChunkStarts(extent, threads));
}

function buildChunkStarts(extent: number, threads: number): Int32Array {
  const minChunk = Math.max(GEMM_TAIL_CHUNK, Math.ceil(extent / (MAX_TASK_CHUNKS - 1) / 8) * 8);
  const starts = [0];
  for (let lo = 0; lo < extent; ) {
    const share = Math.ceil(Math.ceil((extent - lo) / (2 * threads)) / 8) * 8;
    lo = Math.min(extent, lo + Math.max(minChunk, share));
    starts.push(lo);
  }
  return Int32Array.from(starts);
}

/** How a parallel GEMM hands one operand to the workers (task parameter). */
const OPERAND_WHOLE_IN_ARENA = 0;
const OPERAND_SHARED = 1;
const OPERAND_RAW_IN_ARENA = 2;

/** Id of the current parallel sgemm call (workers key their copies of whole panels on it). */
let parallelCallSeq = 0;

/**
 * Run `p` (packed path) on the calling thread plus pool workers. The rows (or the columns) of C are cut into
 * chunks of shrinking size (`gemmChunkStarts`) that all threads claim in order from a shared counter
 * (./pool.ts). The split follows the operand that is not pre-packed: with a pre-packed A (a Conv weight)
 * chunks are column ranges and each packs its own columns of B; with a pre-packed B, row ranges; otherwise
 * whichever has more tiles. The operand that every chunk
 * needs whole is a pre-packed one (shared with the workers once) or is packed once by the calling thread into
 * the shared arena; the split operand, when not pre-packed, is copied as stored into the arena (a plain copy)
 * and each chunk packs its own part (the calling thread packs from the caller's array directly).
 * The calling thread stores its chunks in place in the caller's C; workers store theirs into C's image in the
 * arena (which holds a copy of C when beta != 0), copied back afterwards. Every chunk runs the same
 * micro-kernels on the same panel values whoever runs it, and chunks only cut rows or columns, so the result is
 * bitwise identical to one thread. Returns false when no worker is ready.
 */
function sgemmParallel(p: GemmProblem, threads: number, packedA: PackedPanels | undefined, packedB: PackedPanels | undefined): boolean {
  if (!poolSupported()) return false;
  const { m, n, k } = p;
  const sharedA = packedA !== undefined && ensureShared(packedA);
  const sharedB = packedB !== undefined && ensureShared(packedB);
  const rowBlocks = Math.ceil(m / GEMM_MIN_CHUNK);
  const colBlocks = Math.ceil(n / GEMM_MIN_CHUNK);
  let splitRows = Math.ceil(m / GEMM_MR) >= Math.ceil(n / GEMM_NR);
  if (sharedA && !sharedB && colBlocks >= 2) splitRows = false;
  else if (sharedB && !sharedA && rowBlocks >= 2) splitRows = true;
  const extent = splitRows ? m : n;
  const blocks = splitRows ? rowBlocks : colBlocks;
  if (blocks < 2) return false;
  const workers = Math.min(readyWorkerCount(threads - 1), blocks - 1);
  if (workers < 1) return false;
  const starts = gemmChunkStarts(extent, workers + 1);
  const total = starts.length - 1;
  // modes: the split operand goes raw unless pre-packed; the other one whole (shared, or packed into the arena)
  const aMode = sharedA ? OPERAND_SHARED : splitRows ? OPERAND_RAW_IN_ARENA : OPERAND_WHOLE_IN_ARENA;
  const bMode = sharedB ? OPERAND_SHARED : splitRows ? OPERAND_WHOLE_IN_ARENA : OPERAND_RAW_IN_ARENA;
  const aRows = p.transA ? k : m;
  const aCols = p.transA ? m : k;
  const bRows = p.transB ? n : k;
  const bCols = p.transB ? k : n;
  // arena: C (m x n floats), then (8-byte aligned) whole panels as doubles, then raw operands as floats
  const cOff = 0;
  let doubles = Math.ceil((m * n) / 2);
  const aWholeStart = doubles;
  if (aMode === OPERAND_WHOLE_IN_ARENA) doubles += roundUp(m, GEMM_MR) * k;
  const bWholeStart = doubles;
  if (bMode === OPERAND_WHOLE_IN_ARENA) doubles += roundUp(n, GEMM_NR) * k;
  let floats = 2 * doubles;
  const aRawOff = floats;
  if (aMode === OPERAND_RAW_IN_ARENA) floats += aRows * aCols;
  const bRawOff = floats;
  if (bMode === OPERAND_RAW_IN_ARENA) floats += bRows * bCols;
  const biasOff = p.rowBias ? floats : -1;
  if (p.rowBias) floats += m;
  const arena = sharedArena(floats);
  if (!arena) return false;
  const arena64 = new Float64Array(arena.buffer, 0, Math.floor(arena.buffer.byteLength / 8));
  if (aMode === OPERAND_WHOLE_IN_ARENA) {
    if (packedA) arena64.set(packedA.data, aWholeStart);
    else packWholeA(p, arena64, aWholeStart);
  } else if (aMode === OPERAND_RAW_IN_ARENA) {
    copyBlock(p.a, p.ao, p.lda, aRows, aCols, arena, aRawOff, aCols);
  }
  if (bMode === OPERAND_WHOLE_IN_ARENA) {
    if (packedB) arena64.set(packedB.data, bWholeStart);
    else packWholeB(p, arena64, bWholeStart);
  } else if (bMode === OPERAND_RAW_IN_ARENA) {
    copyBlock(p.b, p.bo, p.ldb, bRows, bCols, arena, bRawOff, bCols);
  }
  if (p.beta !== 0) copyBlock(p.c, p.co, p.ldc, m, n, arena, cOff, n);
  if (p.rowBias) arena.set(p.rowBias.subarray(p.rowBiasOffset ?? 0, (p.rowBiasOffset ?? 0) + m), biasOff);
  parallelCallSeq = (parallelCallSeq + 1) % 0x40000000;
  const seq = parallelCallSeq;
  // the calling thread's view of the same operands (a raw operand is packed from the caller's array)
  const wholeA = aMode === OPERAND_SHARED ? packedA!.data : aMode === OPERAND_WHOLE_IN_ARENA ? arena64 : undefined;
  const wholeAStart = aMode === OPERAND_WHOLE_IN_ARENA ? aWholeStart : 0;
  const wholeB = bMode === OPERAND_SHARED ? packedB!.data : bMode === OPERAND_WHOLE_IN_ARENA ? arena64 : undefined;
  const wholeBStart = bMode === OPERAND_WHOLE_IN_ARENA ? bWholeStart : 0;
  const params = [
    m, n, k,
    aMode, aMode === OPERAND_SHARED ? packedA!.sharedId : aMode === OPERAND_WHOLE_IN_ARENA ? aWholeStart : aRawOff, aCols, p.transA ? 1 : 0,
    bMode, bMode === OPERAND_SHARED ? packedB!.sharedId : bMode === OPERAND_WHOLE_IN_ARENA ? bWholeStart : bRawOff, bCols, p.transB ? 1 : 0,
    cOff, p.alpha, p.beta, splitRows ? 1 : 0, workers + 1, seq, biasOff,
  ];
  const { owners } = runChunked(TASK_GEMM, params, total, workers, (chunk) => {
    const lo = starts[chunk]!;
    const hi = starts[chunk + 1]!;
    if (splitRows) gemmPackedRange(p, mainWorkspace, wholeA, wholeAStart, wholeB, wholeBStart, lo, hi, 0, n, seq);
    else gemmPackedRange(p, mainWorkspace, wholeA, wholeAStart, wholeB, wholeBStart, 0, m, lo, hi, seq);
  });
  for (let chunk = 0; chunk < total; chunk++) {
    if (owners[chunk] === 0) continue;
    const lo = starts[chunk]!;
    const len = starts[chunk + 1]! - lo;
    if (splitRows) copyBlock(arena, cOff + lo * n, n, len, n, p.c, p.co + lo * p.ldc, p.ldc);
    else copyBlock(arena, cOff + lo, n, m, len, p.c, p.co + lo, p.ldc);
  }
  return true;
}

/** A worker's Float64 view of the arena, rebuilt when the arena buffer changes. */
let workerArena64: Float64Array<ArrayBufferLike> = new Float64Array(0);

/**
 * Worker side of TASK_GEMM: compute chunk `chunk` of the problem described by `params` over the shared arena;
 * `sharedBuffer(id)` gives a buffer shared with pool.shareWithWorkers (pre-packed panels).
 */
export function runGemmChunk(params: Float64Array, arena: Float32Array, chunk: number, ws: GemmWorkspace, sharedBuffer: (id: number) => Float64Array): void {
  if (workerArena64.buffer !== arena.buffer) workerArena64 = new Float64Array(arena.buffer, 0, Math.floor(arena.buffer.byteLength / 8));
  const m = params[0]!;
  const n = params[1]!;
  const k = params[2]!;
  const aMode = params[3]!;
  const aWhere = params[4]!;
  const bMode = params[7]!;
  const bWhere = params[8]!;
  const wholeA = aMode === OPERAND_SHARED ? sharedBuffer(aWhere) : aMode === OPERAND_WHOLE_IN_ARENA ? workerArena64 : undefined;
  const wholeB = bMode === OPERAND_SHARED ? sharedBuffer(bWhere) : bMode === OPERAND_WHOLE_IN_ARENA ? workerArena64 : undefined;
  const p: GemmProblem = {
    m,
    n,
    k,
    a: arena,
    ao: aMode === OPERAND_RAW_IN_ARENA ? aWhere : 0,
    lda: params[5]!,
    transA: params[6] === 1,
    b: arena,
    bo: bMode === OPERAND_RAW_IN_ARENA ? bWhere : 0,
    ldb: params[9]!,
    transB: params[10] === 1,
    c: arena,
    co: params[11]!,
    ldc: n,
    alpha: params[12]!,
    beta: params[13]!,
    rowBias: params[17]! >= 0 ? arena : undefined,
    rowBiasOffset: params[17]! >= 0 ? params[17]! : 0,
  };
  const splitRows = params[14] === 1;
  const seq = params[16]!;
  const starts = gemmChunkStarts(splitRows ? m : n, params[15]!);
  const lo = starts[chunk]!;
  const hi = starts[chunk + 1]!;
  const aStart = aMode === OPERAND_WHOLE_IN_ARENA ? aWhere : 0;
  const bStart = bMode === OPERAND_WHOLE_IN_ARENA ? bWhere : 0;
  if (splitRows) gemmPackedRange(p, ws, wholeA, aStart, wholeB, bStart, lo, hi, 0, n, seq);
  else gemmPackedRange(p, ws, wholeA, aStart, wholeB, bStart, 0, m, lo, hi, seq);
}
