/**
 * CPU kernel for Einsum, on the canonical equation the schema produced (explicit `terms->out`, one
 * character per label, ellipsis dims already given labels; size-1 dims may broadcast).
 *
 * Plan, for N operands:
 *  1. Each operand's repeated labels (diagonals) and the labels no other operand or the output uses are
 *     removed by one strided gather-and-sum (`gatherSum`: output offsets table x summed offsets table, the
 *     general fallback loop; cost one read per summed element).
 *  2. Operands are contracted left to right. For the pair (A, B): batch labels (in both, still needed),
 *     contracted labels (in both, not needed later), A-only (M) and B-only (N) labels. A is brought to
 *     [batch, M, K] or used as [batch, K, M] (transA), B to [batch, K, N] or [batch, N, K] (transB) without
 *     copying when its layout already matches, else by one strided copy (which also expands broadcast
 *     size-1 dims). Then one GEMM per batch: float32 through `sgemm` (2*M*N*K flops per batch), other
 *     dtypes through a float64 i-k-j loop.
 *  3. The result is permuted into the output label order.
 * Integer and float16 operands are computed in float64 (float16 via float32 values) and stored back.
 */
import type { NumericArray } from '../../tensor/dtype.js';
import type { Tensor } from '../../tensor/tensor.js';
import { registerKernel, type Kernel } from '../registry.js';
import { enumerateOffsets, storeFloat64 } from './reduce-blocks.js';
import { sgemm } from './gemm.js';
import { outputTensor } from './util.js';

type Buffer = Float32Array | Float64Array;

/** A dense row-major operand: its values and one label per dim. */
interface Operand {
  data: Buffer;
  labels: string;
  dims: number[];
}

function newBuffer(like: Buffer, n: number): Buffer {
  return like instanceof Float32Array ? new Float32Array(n) : new Float64Array(n);
}

/** Row-major strides per dim of `dims`. */
function denseStrides(dims: readonly number[]): number[] {
  const s = new Array<number>(dims.length);
  let acc = 1;
  for (let i = dims.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= dims[i]!;
  }
  return s;
}

/** Stride of `label` in `op` (summed over repeated occurrences; 0 where the dim is 1 and broadcasts). */
function labelStride(op: Operand, label: string, strides: readonly number[]): number {
  let s = 0;
  for (let i = 0; i < op.labels.length; i++) if (op.labels[i] === label && op.dims[i] !== 1) s += strides[i]!;
  return s;
}

/**
 * out[outLabels] = sum over sumLabels of op[...]: handles diagonals (repeated labels), summation, permutation
 * and broadcasting (labels whose dim is 1 in `op` but larger in `sizes`) in one strided walk.
 */
function gatherSum(op: Operand, outLabels: string, sumLabels: string, sizes: ReadonlyMap<string, number>): Operand {
  const strides = denseStrides(op.dims);
  const outDims = [...outLabels].map((l) => sizes.get(l)!);
  const sumDims = [...sumLabels].map((l) => sizes.get(l)!);
  const outOffsets = enumerateOffsets(
    outDims,
    [...outLabels].map((l) => labelStride(op, l, strides)),
  );
  const sumOffsets = enumerateOffsets(
    sumDims,
    [...sumLabels].map((l) => labelStride(op, l, strides)),
  );
  const src = op.data;
  const out = newBuffer(src, outOffsets.length);
  const r = sumOffsets.length;
  if (r === 1 && sumOffsets[0] === 0) {
    for (let o = 0; o < outOffsets.length; o++) out[o] = src[outOffsets[o]!]!;
  } else {
    for (let o = 0; o < outOffsets.length; o++) {
      const base = outOffsets[o]!;
      let s = 0;
      for (let k = 0; k < r; k++) s += src[base + sumOffsets[k]!]!;
      out[o] = s;
    }
  }
  return { data: out, labels: outLabels, dims: outDims };
}

/** `op` with dims in the order of `labels` (a no-copy return when nothing moves or broadcasts). */
function arrange(op: Operand, labels: string, sizes: ReadonlyMap<string, number>): Operand {
  const same = op.labels === labels && [...labels].every((l, i) => op.dims[i] === sizes.get(l));
  return same ? op : gatherSum(op, labels, '', sizes);
}

function pick(labels: string, keep: (l: string) => boolean): string {
  return [...labels].filter(keep).join('');
}

/** C[b] = A[b] (m x k, or k x m when transA) * B[b] (k x n, or n x k when transB), float64 loops. */
function batchedGemmF64(a: Buffer, b: Buffer, c: Buffer, batch: number, m: number, n: number, k: number, transA: boolean, transB: boolean): void {
  const row = new Float64Array(n);
  for (let t = 0; t < batch; t++) {
    const ao = t * m * k;
    const bo = t * k * n;
    const co = t * m * n;
    for (let i = 0; i < m; i++) {
      row.fill(0);
      for (let p = 0; p < k; p++) {
        const av = transA ? a[ao + p * m + i]! : a[ao + i * k + p]!;
        if (av === 0) continue;
        if (transB) for (let j = 0; j < n; j++) row[j] += av * b[bo + j * k + p]!;
        else {
          const br = bo + p * n;
          for (let j = 0; j < n; j++) row[j] += av * b[br + j]!;
        }
      }
      for (let j = 0; j < n; j++) c[co + i * n + j] = row[j]!;
    }
  }
}

/** Contract two operands over their shared labels not in `needed`. */
function contractPair(x: Operand, y: Operand, needed: ReadonlySet<string>, sizes: ReadonlyMap<string, number>, threads: number): Operand {
  const inY = (l: string): boolean => y.labels.includes(l);
  const inX = (l: string): boolean => x.labels.includes(l);
  const batch = pick(x.labels, (l) => inY(l) && needed.has(l));
  const contracted = pick(x.labels, (l) => inY(l) && !needed.has(l));
  const mLabels = pick(x.labels, (l) => !inY(l));
  const nLabels = pick(y.labels, (l) => !inX(l));
  const size = (ls: string): number => [...ls].reduce((p, l) => p * sizes.get(l)!, 1);
  const nb = size(batch);
  const m = size(mLabels);
  const n = size(nLabels);
  const k = size(contracted);
  const fits = (op: Operand, labels: string): boolean => op.labels === labels && [...labels].every((l, i) => op.dims[i] === sizes.get(l));
  // A as [batch, M, K] or [batch, K, M]; B as [batch, K, N] or [batch, N, K]
  const transA = !fits(x, batch + mLabels + contracted) && fits(x, batch + contracted + mLabels);
  const a = transA ? x : arrange(x, batch + mLabels + contracted, sizes);
  const transB = !fits(y, batch + contracted + nLabels) && fits(y, batch + nLabels + contracted);
  const b = transB ? y : arrange(y, batch + contracted + nLabels, sizes);
  const outLabels = batch + mLabels + nLabels;
  const c = newBuffer(a.data, nb * m * n);
  if (k > 0 && m > 0 && n > 0) {
    if (a.data instanceof Float32Array && b.data instanceof Float32Array && c instanceof Float32Array) {
      for (let t = 0; t < nb; t++) {
        sgemm({
          m,
          n,
          k,
          a: a.data,
          aOffset: t * m * k,
          lda: transA ? m : k,
          transA,
          b: b.data,
          bOffset: t * k * n,
          ldb: transB ? k : n,
          transB,
          c,
          cOffset: t * m * n,
          ldc: n,
          threads,
        });
      }
    } else batchedGemmF64(a.data, b.data, c, nb, m, n, k, transA, transB);
  }
  return { data: c, labels: outLabels, dims: [...outLabels].map((l) => sizes.get(l)!) };
}

const einsum: Kernel = (inputs, attrs, outputs, ctx) => {
  const [lhs, out] = (attrs.equation as string).split('->') as [string, string];
  const terms = lhs.split(',');
  const spec = outputs[0]!;
  const float32 = inputs[0]!.type === 'float32';
  const operands: Operand[] = inputs.map((t, i) => {
    const x = t as Tensor;
    const data: Buffer = float32 ? (x.data as Float32Array) : Float64Array.from(x.numbers() as NumericArray);
    return { data, labels: terms[i]!, dims: [...x.dims] };
  });
  // the size of each label: the largest over operands (size-1 dims broadcast), 0 if any operand has 0
  const sizes = new Map<string, number>();
  for (const op of operands) for (let i = 0; i < op.dims.length; i++) sizes.set(op.labels[i]!, Math.max(sizes.get(op.labels[i]!) ?? 1, op.dims[i]!));
  for (const op of operands) for (let i = 0; i < op.dims.length; i++) if (op.dims[i] === 0) sizes.set(op.labels[i]!, 0);
  const neededAfter = (i: number): Set<string> => {
    const s = new Set<string>(out);
    for (let j = i + 1; j < operands.length; j++) for (const l of operands[j]!.labels) s.add(l);
    return s;
  };
  // 1. diagonals and labels only this operand has
  const reduced = operands.map((op, i) => {
    const others = new Set<string>(out);
    operands.forEach((o, j) => {
      if (j !== i) for (const l of o.labels) others.add(l);
    });
    const unique = [...new Set(op.labels)].join('');
    const keep = pick(unique, (l) => others.has(l));
    const drop = pick(unique, (l) => !others.has(l));
    if (drop === '' && unique.length === op.labels.length) return op;
    // keep broadcast size-1 dims at their own size here; contraction expands them
    const own = new Map(sizes);
    for (let d = 0; d < op.labels.length; d++) own.set(op.labels[d]!, op.dims[d]!);
    return gatherSum(op, keep, drop, own);
  });
  // 2. contract left to right
  let cur = reduced[0]!;
  for (let i = 1; i < reduced.length; i++) cur = contractPair(cur, reduced[i]!, neededAfter(i), sizes, ctx.threads);
  // 3. into output order (summing anything left that the output does not have)
  const leftover = pick(cur.labels, (l) => !out.includes(l));
  const result = leftover === '' ? arrange(cur, out, sizes) : gatherSum(cur, out, leftover, sizes);
  if (float32) {
    const y = outputTensor(spec);
    (y.data as Float32Array).set(result.data);
    return [y];
  }
  return [storeFloat64(result.data instanceof Float64Array ? result.data : Float64Array.from(result.data), spec)];
};

registerKernel('Einsum', 'cpu', einsum);
