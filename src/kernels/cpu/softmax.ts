/**
 * CPU kernels for Softmax, LogSoftmax and Hardmax.
 *
 * The input is viewed as [outer, D, inner]: around `axis` (opset >= 13), or, when the schema set
 * `coerce_2d` (opset < 13), as [prod(dims[:axis]), prod(dims[axis:]), 1] so each row of the 2-D coercion is
 * normalised over its whole flattened block. Numerically stable: the maximum of each line is subtracted
 * before exp. When inner = 1 a line is contiguous (three passes over D: max, exp-and-sum, scale); otherwise
 * whole rows of `inner` elements are processed with row-sized max and sum buffers, so memory is always
 * read with unit stride. Cost: 3 reads + 1 write per element and one exp (Hardmax: no exp).
 * float16 is decoded to float32, computed in float64 arithmetic and encoded back.
 */
import type { NumericArray } from '../../tensor/dtype.js';
import { fromNumbers, Tensor } from '../../tensor/tensor.js';
import { registerKernel, type Attrs, type Kernel } from '../registry.js';
import { splitAtAxis } from './reduce-blocks.js';
import { ScratchSlot } from './scratch.js';
import { outputTensor } from './util.js';

/** Per-call scratch (see ./scratch.ts): column statistics of `rows`, float32 results of float16 inputs. */
const COLUMN_MAX = new ScratchSlot();
const COLUMN_ARGMAX = new ScratchSlot();
const COLUMN_SUM = new ScratchSlot();
const HALF_WORK = new ScratchSlot();

type Mode = 'softmax' | 'logsoftmax' | 'hardmax';

/** [outer, D, inner] of a softmax-like call. */
export function softmaxBlocks(dims: readonly number[], attrs: Attrs): { outer: number; d: number; inner: number } {
  const axis = attrs.axis as number;
  if (attrs.coerce_2d === 1) {
    let outer = 1;
    let d = 1;
    dims.forEach((n, i) => {
      if (i < axis) outer *= n;
      else d *= n;
    });
    return { outer, d, inner: 1 };
  }
  return splitAtAxis(dims, axis);
}

function lines(src: NumericArray, dst: NumericArray, outer: number, d: number, mode: Mode): void {
  for (let o = 0; o < outer; o++) {
    const base = o * d;
    const end = base + d;
    let m = -Infinity;
    let at = base;
    for (let p = base; p < end; p++) {
      const v = src[p]!;
      if (v > m || (v !== v && m === m)) {
        m = v;
        at = p;
      }
    }
    if (mode === 'hardmax') {
      for (let p = base; p < end; p++) dst[p] = 0;
      if (d > 0) dst[at] = 1;
      continue;
    }
    let s = 0;
    if (mode === 'softmax') {
      for (let p = base; p < end; p++) {
        const e = Math.exp(src[p]! - m);
        dst[p] = e;
        s += e;
      }
      const inv = 1 / s;
      for (let p = base; p < end; p++) dst[p] = dst[p]! * inv;
    } else {
      for (let p = base; p < end; p++) s += Math.exp(src[p]! - m);
      const shift = m + Math.log(s);
      for (let p = base; p < end; p++) dst[p] = src[p]! - shift;
    }
  }
}

function rows(src: NumericArray, dst: NumericArray, outer: number, d: number, inner: number, mode: Mode): void {
  const max = COLUMN_MAX.take('float64', inner, true);
  const at = COLUMN_ARGMAX.take('int32', inner, true);
  const sum = COLUMN_SUM.take('float64', inner, true);
  for (let o = 0; o < outer; o++) {
    const base = o * d * inner;
    max.fill(-Infinity);
    at.fill(0);
    for (let k = 0; k < d; k++) {
      const row = base + k * inner;
      for (let j = 0; j < inner; j++) {
        const v = src[row + j]!;
        const m = max[j]!;
        if (v > m || (v !== v && m === m)) {
          max[j] = v;
          at[j] = k;
        }
      }
    }
    if (mode === 'hardmax') {
      for (let k = 0; k < d; k++) {
        const row = base + k * inner;
        for (let j = 0; j < inner; j++) dst[row + j] = at[j] === k ? 1 : 0;
      }
      continue;
    }
    sum.fill(0);
    for (let k = 0; k < d; k++) {
      const row = base + k * inner;
      if (mode === 'softmax')
        for (let j = 0; j < inner; j++) {
          const e = Math.exp(src[row + j]! - max[j]!);
          dst[row + j] = e;
          sum[j] += e;
        }
      else for (let j = 0; j < inner; j++) sum[j] += Math.exp(src[row + j]! - max[j]!);
    }
    if (mode === 'softmax') {
      for (let j = 0; j < inner; j++) sum[j] = 1 / sum[j]!;
      for (let k = 0; k < d; k++) {
        const row = base + k * inner;
        for (let j = 0; j < inner; j++) dst[row + j] = dst[row + j]! * sum[j]!;
      }
    } else {
      for (let j = 0; j < inner; j++) sum[j] = max[j]! + Math.log(sum[j]!);
      for (let k = 0; k < d; k++) {
        const row = base + k * inner;
        for (let j = 0; j < inner; j++) dst[row + j] = src[row + j]! - sum[j]!;
      }
    }
  }
}

function softmaxKernel(mode: Mode): Kernel {
  return (inputs, attrs, outputs) => {
    const x = inputs[0]!;
    const spec = outputs[0]!;
    const { outer, d, inner } = softmaxBlocks(x.dims, attrs);
    const src = x.numbers();
    const half = x.type === 'float16';
    const y: Tensor | undefined = half ? undefined : outputTensor(spec);
    const dst = y ? (y.data as NumericArray) : HALF_WORK.take('float32', x.size, true);
    // softmax stores exp(x - max) in the output before scaling: for float32 that rounds once more (<= 1 ulp)
    if (inner === 1) lines(src, dst, outer, d, mode);
    else rows(src, dst, outer, d, inner, mode);
    return [y ?? fromNumbers('float16', dst, spec.dims)];
  };
}

registerKernel('Softmax', 'cpu', softmaxKernel('softmax'));
registerKernel('LogSoftmax', 'cpu', softmaxKernel('logsoftmax'));
registerKernel('Hardmax', 'cpu', softmaxKernel('hardmax'));
