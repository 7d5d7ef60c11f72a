/**
 * CPU kernels of the 'reduce' family: the ten Reduce* ops, ArgMax/ArgMin, TopK and CumSum. Softmax,
 * normalisation layers and Einsum live in the files imported at the bottom.
 *
 * Reductions. The schema resolved `axes` to an exact sorted list. `planReduction` drops size-1 dims, merges
 * neighbouring dims that are both kept or both reduced, and describes the input as
 *   outer bases (one per kept position outside the trailing kept block) x reduced offsets x inner block,
 * so no data is transposed: when the reduced axes form one trailing block, each output is a contiguous run
 * summed with four accumulators; when a kept block trails, whole inner rows are combined into an output row
 * (unit stride, vectorisable); otherwise the precomputed reduced-offset table is walked. Accumulation is in
 * float64 for every dtype but int64 (BigInt), and the op's final step (mean, sqrt, log, ...) is applied
 * when the float64 accumulators are stored into the output dtype. Cost: one read per input element, one
 * write per output element, 1-3 flops per input element (LogSumExp: two passes and one exp per element).
 *
 * ArgMax/ArgMin, TopK and CumSum view the input as [outer, D, inner] around their axis. ArgMax/CumSum scan
 * D with a running best/sum (a scalar when inner = 1, else rows of length `inner`): O(N). TopK gathers
 * each length-D line; for k <= 16 it keeps the best k in a sorted buffer while scanning (O(N k)), otherwise
 * it sorts an index array (O(N log D)).
 */
import { allocate, type DataType, type NumericArray } from '../../tensor/dtype.js';
import { Tensor } from '../../tensor/tensor.js';
import { registerKernel, type Attrs, type Kernel, type OutputSpec } from '../registry.js';
import { INT_RANGE, planReduction, reducedOffsetsOf, splitAtAxis, storeFloat64, type ReductionPlan } from './reduce-blocks.js';
import { ScratchSlot } from './scratch.js';
import { outputTensor } from './util.js';

/** Per-call scratch (see ./scratch.ts): double accumulators and shifts, ArgMax/TopK/CumSum work rows. */
const ACC = new ScratchSlot();
const SHIFT = new ScratchSlot();
const BEST = new ScratchSlot();
const BEST_INDEX = new ScratchSlot();
const LINE = new ScratchSlot();
const ORDER = new ScratchSlot();
const SUMS = new ScratchSlot();

// ---------------------------------------------------------------------------------------------------------
// Float64 accumulation loops (every dtype but int64)

/** What is summed: the value, its absolute value, or its square. */
const enum SumOf {
  Value,
  Abs,
  Square,
}

function sumLoop(src: NumericArray, acc: Float64Array, plan: ReductionPlan, what: SumOf): void {
  const { outerBases, reducedOffsets, inner, reducedCount: r } = plan;
  const rows = outerBases.length;
  if (inner === 1 && plan.reducedContiguous) {
    for (let o = 0; o < rows; o++) {
      const base = outerBases[o]!;
      const end = base + r;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      let p = base;
      if (what === SumOf.Value) {
        for (; p + 3 < end; p += 4) {
          s0 += src[p]!;
          s1 += src[p + 1]!;
          s2 += src[p + 2]!;
          s3 += src[p + 3]!;
        }
        for (; p < end; p++) s0 += src[p]!;
      } else if (what === SumOf.Abs) {
        for (; p + 3 < end; p += 4) {
          s0 += Math.abs(src[p]!);
          s1 += Math.abs(src[p + 1]!);
          s2 += Math.abs(src[p + 2]!);
          s3 += Math.abs(src[p + 3]!);
        }
        for (; p < end; p++) s0 += Math.abs(src[p]!);
      } else {
        for (; p + 3 < end; p += 4) {
          const a = src[p]!;
          const b = src[p + 1]!;
          const c = src[p + 2]!;
          const d = src[p + 3]!;
          s0 += a * a;
          s1 += b * b;
          s2 += c * c;
          s3 += d * d;
        }
        for (; p < end; p++) s0 += src[p]! * src[p]!;
      }
      acc[o] = s0 + s1 + (s2 + s3);
    }
  } else if (inner === 1) {
    for (let o = 0; o < rows; o++) {
      const base = outerBases[o]!;
      let s = 0;
      if (what === SumOf.Value) for (let k = 0; k < r; k++) s += src[base + reducedOffsets[k]!]!;
      else if (what === SumOf.Abs) for (let k = 0; k < r; k++) s += Math.abs(src[base + reducedOffsets[k]!]!);
      else
        for (let k = 0; k < r; k++) {
          const v = src[base + reducedOffsets[k]!]!;
          s += v * v;
        }
      acc[o] = s;
    }
  } else {
    for (let o = 0; o < rows; o++) {
      const base = outerBases[o]!;
      const row = o * inner;
      for (let k = 0; k < r; k++) {
        const p = base + reducedOffsets[k]!;
        if (what === SumOf.Value) for (let j = 0; j < inner; j++) acc[row + j] += src[p + j]!;
        else if (what === SumOf.Abs) for (let j = 0; j < inner; j++) acc[row + j] += Math.abs(src[p + j]!);
        else
          for (let j = 0; j < inner; j++) {
            const v = src[p + j]!;
            acc[row + j] += v * v;
          }
      }
    }
  }
}

function prodLoop(src: NumericArray, acc: Float64Array, plan: ReductionPlan): void {
  const { outerBases, inner, reducedCount: r } = plan;
  const reducedOffsets = reducedOffsetsOf(plan);
  acc.fill(1);
  for (let o = 0; o < outerBases.length; o++) {
    const base = outerBases[o]!;
    const row = o * inner;
    if (inner === 1) {
      let s = 1;
      for (let k = 0; k < r; k++) s *= src[base + reducedOffsets[k]!]!;
      acc[o] = s;
    } else {
      for (let k = 0; k < r; k++) {
        const p = base + reducedOffsets[k]!;
        for (let j = 0; j < inner; j++) acc[row + j] *= src[p + j]!;
      }
    }
  }
}

/** Max (or min when `isMin`) with NaN propagating. */
function extremeLoop(src: NumericArray, acc: Float64Array, plan: ReductionPlan, isMin: boolean): void {
  const { outerBases, reducedOffsets, inner, reducedCount: r } = plan;
  acc.fill(isMin ? Infinity : -Infinity);
  for (let o = 0; o < outerBases.length; o++) {
    const base = outerBases[o]!;
    const row = o * inner;
    if (inner === 1 && plan.reducedContiguous) {
      let m = isMin ? Infinity : -Infinity;
      const end = base + r;
      if (isMin)
        for (let p = base; p < end; p++) {
          const v = src[p]!;
          m = v < m || v !== v ? v : m;
        }
      else
        for (let p = base; p < end; p++) {
          const v = src[p]!;
          m = v > m || v !== v ? v : m;
        }
      acc[o] = m;
    } else if (inner === 1) {
      let m = isMin ? Infinity : -Infinity;
      if (isMin)
        for (let k = 0; k < r; k++) {
          const v = src[base + reducedOffsets[k]!]!;
          m = v < m || v !== v ? v : m;
        }
      else
        for (let k = 0; k < r; k++) {
          const v = src[base + reducedOffsets[k]!]!;
          m = v > m || v !== v ? v : m;
        }
      acc[o] = m;
    } else {
      for (let k = 0; k < r; k++) {
        const p = base + reducedOffsets[k]!;
        if (isMin)
          for (let j = 0; j < inner; j++) {
            const v = src[p + j]!;
            const m = acc[row + j]!;
            acc[row + j] = v < m || v !== v ? v : m;
          }
        else
          for (let j = 0; j < inner; j++) {
            const v = src[p + j]!;
            const m = acc[row + j]!;
            acc[row + j] = v > m || v !== v ? v : m;
          }
      }
    }
  }
}

/** log(sum(exp(x))) = m + log(sum(exp(x - m))) with m the maximum (0 when the maximum is infinite). */
function logSumExpLoop(src: NumericArray, acc: Float64Array, plan: ReductionPlan): void {
  const { outerBases, inner, reducedCount: r } = plan;
  const reducedOffsets = reducedOffsetsOf(plan);
  const shift = SHIFT.take('float64', acc.length, true);
  extremeLoop(src, shift, plan, false);
  for (let i = 0; i < shift.length; i++) if (!Number.isFinite(shift[i]!)) shift[i] = 0;
  for (let o = 0; o < outerBases.length; o++) {
    const base = outerBases[o]!;
    const row = o * inner;
    if (inner === 1) {
      const m = shift[o]!;
      let s = 0;
      for (let k = 0; k < r; k++) s += Math.exp(src[base + reducedOffsets[k]!]! - m);
      acc[o] = s;
    } else {
      for (let k = 0; k < r; k++) {
        const p = base + reducedOffsets[k]!;
        for (let j = 0; j < inner; j++) acc[row + j] += Math.exp(src[p + j]! - shift[row + j]!);
      }
    }
  }
  for (let i = 0; i < acc.length; i++) acc[i] = Math.log(acc[i]!) + shift[i]!;
}

// ---------------------------------------------------------------------------------------------------------
// Output conversion and empty-set identities

type ReduceKind = 'sum' | 'mean' | 'max' | 'min' | 'prod' | 'l1' | 'l2' | 'logsum' | 'logsumexp' | 'sumsquare';

/** The value a reduction gives over an empty set, as float64 (integer types: the dtype's extremes for max/min). */
function emptyValue(kind: ReduceKind, type: DataType): number {
  const range = INT_RANGE[type];
  switch (kind) {
    case 'max':
      return range ? range[0] : -Infinity;
    case 'min':
      return range ? range[1] : Infinity;
    case 'prod':
      return 1;
    case 'mean':
      return NaN;
    case 'logsum':
    case 'logsumexp':
      return -Infinity;
    default:
      return 0;
  }
}

// ---------------------------------------------------------------------------------------------------------
// int64 reductions (BigInt; exact sums, products, extremes; float-valued ops through float64)

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

function reduceInt64(x: Tensor, plan: ReductionPlan, kind: ReduceKind, spec: OutputSpec): Tensor {
  const src = x.data as BigInt64Array;
  const out = allocate('int64', plan.outCount);
  const { outerBases, inner, reducedCount: r } = plan;
  const reducedOffsets = reducedOffsetsOf(plan);
  if (r === 0 || plan.outCount === 0) {
    const fill = kind === 'max' ? INT64_MIN : kind === 'min' ? INT64_MAX : kind === 'prod' ? 1n : 0n;
    out.fill(fill);
    return new Tensor('int64', out, spec.dims);
  }
  const line = new Array<bigint>(r);
  for (let o = 0; o < outerBases.length; o++) {
    for (let j = 0; j < inner; j++) {
      const base = outerBases[o]! + j;
      for (let k = 0; k < r; k++) line[k] = src[base + reducedOffsets[k]!]!;
      let v: bigint;
      switch (kind) {
        case 'max':
          v = line.reduce((m, e) => (e > m ? e : m));
          break;
        case 'min':
          v = line.reduce((m, e) => (e < m ? e : m));
          break;
        case 'prod':
          v = line.reduce((m, e) => BigInt.asIntN(64, m * e), 1n);
          break;
        case 'l1':
          v = line.reduce((m, e) => BigInt.asIntN(64, m + (e < 0n ? -e : e)), 0n);
          break;
        case 'sumsquare':
          v = line.reduce((m, e) => BigInt.asIntN(64, m + e * e), 0n);
          break;
        case 'sum':
        case 'mean': {
          const s = line.reduce((m, e) => m + e, 0n);
          v = BigInt.asIntN(64, kind === 'mean' ? s / BigInt(r) : s);
          break;
        }
        default: {
          const nums = line.map(Number);
          let f: number;
          if (kind === 'l2') f = Math.sqrt(nums.reduce((m, e) => m + e * e, 0));
          else if (kind === 'logsum') f = Math.log(nums.reduce((m, e) => m + e, 0));
          else {
            const m = Math.max(...nums);
            f = m + Math.log(nums.reduce((s, e) => s + Math.exp(e - m), 0));
          }
          v = Number.isFinite(f) ? BigInt(Math.trunc(f)) : 0n;
        }
      }
      out[o * inner + j] = v;
    }
  }
  return new Tensor('int64', out, spec.dims);
}

// ---------------------------------------------------------------------------------------------------------
// Reduce kernels

function reduceKernel(kind: ReduceKind): Kernel {
  return (inputs, attrs, outputs) => {
    const x = inputs[0]!;
    const spec = outputs[0]!;
    const plan = planReduction(x.dims, attrs.axes as readonly number[]);
    if (x.type === 'int64') return [reduceInt64(x, plan, kind, spec)];
    const acc = ACC.take('float64', plan.outCount, true);
    if (plan.outCount === 0) return [outputTensor(spec)];
    if (plan.reducedCount === 0) {
      acc.fill(emptyValue(kind, x.type));
      return [storeFloat64(acc, spec)];
    }
    const src = x.numbers();
    switch (kind) {
      case 'sum':
      case 'mean':
        sumLoop(src, acc, plan, SumOf.Value);
        if (kind === 'mean') {
          const inv = plan.reducedCount;
          for (let i = 0; i < acc.length; i++) acc[i] = acc[i]! / inv;
        }
        break;
      case 'l1':
        sumLoop(src, acc, plan, SumOf.Abs);
        break;
      case 'sumsquare':
      case 'l2':
        sumLoop(src, acc, plan, SumOf.Square);
        if (kind === 'l2') for (let i = 0; i < acc.length; i++) acc[i] = Math.sqrt(acc[i]!);
        break;
      case 'logsum':
        sumLoop(src, acc, plan, SumOf.Value);
        for (let i = 0; i < acc.length; i++) acc[i] = Math.log(acc[i]!);
        break;
      case 'prod':
        prodLoop(src, acc, plan);
        break;
      case 'max':
      case 'min':
        extremeLoop(src, acc, plan, kind === 'min');
        break;
      case 'logsumexp':
        logSumExpLoop(src, acc, plan);
        break;
    }
    return [storeFloat64(acc, spec)];
  };
}

registerKernel('ReduceSum', 'cpu', reduceKernel('sum'));
registerKernel('ReduceMean', 'cpu', reduceKernel('mean'));
registerKernel('ReduceMax', 'cpu', reduceKernel('max'));
registerKernel('ReduceMin', 'cpu', reduceKernel('min'));
registerKernel('ReduceProd', 'cpu', reduceKernel('prod'));
registerKernel('ReduceL1', 'cpu', reduceKernel('l1'));
registerKernel('ReduceL2', 'cpu', reduceKernel('l2'));
registerKernel('ReduceLogSum', 'cpu', reduceKernel('logsum'));
registerKernel('ReduceLogSumExp', 'cpu', reduceKernel('logsumexp'));
registerKernel('ReduceSumSquare', 'cpu', reduceKernel('sumsquare'));

// ---------------------------------------------------------------------------------------------------------
// [outer, D, inner] views

/** Values of `x` for comparisons: float16 decoded; int64 kept as BigInt so large values compare exactly. */
function comparable(x: Tensor): NumericArray | BigInt64Array {
  return x.type === 'int64' ? (x.data as BigInt64Array) : x.numbers();
}

// ---------------------------------------------------------------------------------------------------------
// ArgMax / ArgMin

function argKernel(isMin: boolean): Kernel {
  return (inputs, attrs, outputs) => {
    const x = inputs[0]!;
    const axis = (attrs.axis as number) < 0 ? (attrs.axis as number) + x.rank : (attrs.axis as number);
    const last = attrs.select_last_index === 1;
    const { outer, d, inner } = splitAtAxis(x.dims, axis);
    const src = comparable(x);
    const out = allocate('int64', outer * inner);
    const best = src instanceof BigInt64Array ? BEST.take('int64', inner, true) : BEST.take('float64', inner, true);
    const bestIdx = BEST_INDEX.take('int32', inner, true);
    if (inner === 1 && !(src instanceof BigInt64Array)) {
      // contiguous lines: a scalar running best
      for (let o = 0; o < outer; o++) {
        const base = o * d;
        let b = src[base]!;
        let at = 0;
        for (let k = 1; k < d; k++) {
          const v = src[base + k]!;
          if (b !== b) break;
          if (v !== v || (isMin ? (last ? v <= b : v < b) : last ? v >= b : v > b)) {
            b = v;
            at = k;
          }
        }
        out[o] = BigInt(at);
      }
      return [new Tensor('int64', out, outputs[0]!.dims)];
    }
    for (let o = 0; o < outer; o++) {
      const base = o * d * inner;
      for (let j = 0; j < inner; j++) best[j] = src[base + j]!;
      bestIdx.fill(0);
      for (let k = 1; k < d; k++) {
        const row = base + k * inner;
        for (let j = 0; j < inner; j++) {
          const v = src[row + j]!;
          const b = best[j]!;
          // a NaN wins (and stays): it is neither greater nor smaller than anything else
          const better = b !== b ? false : v !== v ? true : isMin ? (last ? v <= b : v < b) : last ? v >= b : v > b;
          if (better) {
            best[j] = v;
            bestIdx[j] = k;
          }
        }
      }
      for (let j = 0; j < inner; j++) out[o * inner + j] = BigInt(bestIdx[j]!);
    }
    return [new Tensor('int64', out, outputs[0]!.dims)];
  };
}

registerKernel('ArgMax', 'cpu', argKernel(false));
registerKernel('ArgMin', 'cpu', argKernel(true));

// ---------------------------------------------------------------------------------------------------------
// TopK

const topK: Kernel = (inputs, attrs, outputs) => {
  const x = inputs[0]!;
  const axis = (attrs.axis as number) < 0 ? (attrs.axis as number) + x.rank : (attrs.axis as number);
  const k = attrs.k as number;
  const largest = attrs.largest !== 0;
  const { outer, d, inner } = splitAtAxis(x.dims, axis);
  const src = comparable(x);
  const raw = x.data as unknown as { [i: number]: number | bigint };
  const values = outputTensor(outputs[0]!);
  const valueData = values.data as unknown as { [i: number]: number | bigint };
  const indexData = allocate('int64', outer * k * inner);
  const line: Float64Array | BigInt64Array = src instanceof BigInt64Array ? LINE.take('int64', d, true) : LINE.take('float64', d, true);
  const order = ORDER.take('int32', d, true);
  const sign = largest ? 1 : -1;
  // < 0 when position a comes before b: larger (or smaller) value first, NaN as the largest value, ties by
  // lower index
  const before = (a: number, b: number): number => {
    const va = line[a]!;
    const vb = line[b]!;
    if (va === vb) return a - b;
    const nanA = va !== va;
    const nanB = vb !== vb;
    if (nanA || nanB) return nanA && nanB ? a - b : (nanA ? -1 : 1) * sign;
    return (va > vb ? -1 : 1) * sign;
  };
  // small k: keep the best k sorted while scanning (O(D k)); otherwise sort all positions (O(D log D))
  const partial = k <= 16 && k < d;
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) {
      const base = o * d * inner + j;
      for (let t = 0; t < d; t++) line[t] = src[base + t * inner]!;
      let count = 0;
      if (partial) {
        for (let t = 0; t < d; t++) {
          if (count === k && before(t, order[k - 1]!) > 0) continue;
          let at = count < k ? count++ : k - 1;
          while (at > 0 && before(t, order[at - 1]!) < 0) {
            order[at] = order[at - 1]!;
            at--;
          }
          order[at] = t;
        }
      } else if (k > 0) {
        for (let t = 0; t < d; t++) order[t] = t;
        order.sort(before);
      }
      const outBase = o * k * inner + j;
      for (let t = 0; t < k; t++) {
        const idx = order[t]!;
        valueData[outBase + t * inner] = raw[base + idx * inner]!;
        indexData[outBase + t * inner] = BigInt(idx);
      }
    }
  }
  return [values, new Tensor('int64', indexData, outputs[1]!.dims)];
};

registerKernel('TopK', 'cpu', topK);

// ---------------------------------------------------------------------------------------------------------
// CumSum

const cumSum: Kernel = (inputs, attrs: Attrs, outputs) => {
  const x = inputs[0]!;
  const spec = outputs[0]!;
  const { outer, d, inner } = splitAtAxis(x.dims, attrs.axis as number);
  const exclusive = attrs.exclusive === 1;
  const reverse = attrs.reverse === 1;
  const first = reverse ? d - 1 : 0;
  const step = reverse ? -1 : 1;
  if (x.type === 'int64') {
    const src = x.data as BigInt64Array;
    const dst = allocate('int64', x.size);
    const acc = ACC.take('int64', inner, true);
    for (let o = 0; o < outer; o++) {
      acc.fill(0n);
      for (let t = 0, k = first; t < d; t++, k += step) {
        const row = (o * d + k) * inner;
        for (let j = 0; j < inner; j++) {
          const v = src[row + j]!;
          if (exclusive) {
            dst[row + j] = acc[j]!;
            acc[j] = BigInt.asIntN(64, acc[j]! + v);
          } else {
            acc[j] = BigInt.asIntN(64, acc[j]! + v);
            dst[row + j] = acc[j]!;
          }
        }
      }
    }
    return [new Tensor('int64', dst, spec.dims)];
  }
  const src = x.numbers();
  const sums = SUMS.take('float64', x.size, true);
  if (inner === 1) {
    // each line is contiguous: one running scalar
    for (let o = 0; o < outer; o++) {
      const base = o * d;
      let acc = 0;
      for (let t = 0, p = base + first; t < d; t++, p += step) {
        const v = src[p]!;
        if (exclusive) {
          sums[p] = acc;
          acc += v;
        } else {
          acc += v;
          sums[p] = acc;
        }
      }
    }
    return [storeFloat64(sums, spec)];
  }
  const acc = ACC.take('float64', inner, true);
  for (let o = 0; o < outer; o++) {
    acc.fill(0);
    for (let t = 0, k = first; t < d; t++, k += step) {
      const row = (o * d + k) * inner;
      if (exclusive)
        for (let j = 0; j < inner; j++) {
          sums[row + j] = acc[j]!;
          acc[j] += src[row + j]!;
        }
      else
        for (let j = 0; j < inner; j++) {
          acc[j] += src[row + j]!;
          sums[row + j] = acc[j]!;
        }
    }
  }
  return [storeFloat64(sums, spec)];
};

registerKernel('CumSum', 'cpu', cumSum);

import './softmax.js';
import './normalization.js';
import './einsum.js';
