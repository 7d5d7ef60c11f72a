/**
 * CPU kernels of the further operators, family root: imports the loss (./losses.ts), Attention
 * (./attention.ts), indexing/spatial/signal (./misc-extra.ts) and optimizer (./training.ts) kernel files and holds the small standalone kernels.
 *
 * - LRN: squares computed once, then for each output a direct sum over its channel window (size is small,
 *   typically 5), y = x / (bias + alpha/size * sum)^beta. Cost: N*C*S*(size + 1) multiply-adds plus one pow
 *   per element (S = spatial size).
 * - CumProd: outer x axis x inner walk with one running product per inner position (double for floats,
 *   wrapping integer multiply for int32/uint32, BigInt for int64). Cost: one multiply per element.
 * - RMSNormalization: per row of the normalised block, sum of squares in double, then one multiply pass with
 *   the scale read through a precomputed broadcast index table. Cost: 3 flops per element.
 * - CausalConvWithState: per (b, c) row the k-1 state values and the input are laid into one padded double
 *   row, then a k-tap dot product per output (plus bias, optional SiLU). Cost: B*C*L*k multiply-adds.
 * - Swish / SwiGLU / Shrink: one loop each. EyeLike: a zero tensor with one diagonal set. TensorScatter: a
 *   copy of the cache plus one block copy (subarray set) per (prefix, sequence step).
 */
import './losses.js';
import './attention.js';
import './misc-extra.js';
import './training.js';
import './string.js';
import { allocate, type NumericArray, type TypedArray } from '../../tensor/dtype.js';
import { numberToHalfBits } from '../../tensor/float16.js';
import { sizeOf } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { registerKernel, type Kernel } from '../registry.js';
import { floatArray, floatTensor, readFloats } from './misc-util.js';
import { broadcastIndex } from './util.js';

const lrn: Kernel = (inputs, attrs, outputs) => {
  const x = inputs[0]!;
  const spec = outputs[0]!;
  const size = attrs.size as number;
  const coef = (attrs.alpha as number) / size;
  const beta = attrs.beta as number;
  const bias = attrs.bias as number;
  const [batch, channels] = x.dims as [number, number];
  const plane = channels === 0 || batch === 0 ? 0 : x.size / (batch * channels);
  const before = Math.floor((size - 1) / 2);
  const after = Math.ceil((size - 1) / 2);
  const xs = readFloats(x);
  const squares = new Float64Array(x.size);
  for (let i = 0; i < xs.length; i++) squares[i] = xs[i]! * xs[i]!;
  const out = floatArray(spec.type, x.size);
  for (let b = 0; b < batch; b++) {
    const base = b * channels * plane;
    for (let c = 0; c < channels; c++) {
      const first = Math.max(0, c - before);
      const last = Math.min(channels - 1, c + after);
      const rowBase = base + c * plane;
      for (let p = 0; p < plane; p++) {
        let sum = 0;
        for (let i = first, q = base + first * plane + p; i <= last; i++, q += plane) sum += squares[q]!;
        out[rowBase + p] = xs[rowBase + p]! / Math.pow(bias + coef * sum, beta);
      }
    }
  }
  return [floatTensor(spec.type, out, spec.dims)];
};

/** Outer, axis length and inner sizes of `dims` around `axis`. */
function splitAt(dims: readonly number[], axis: number): [outer: number, len: number, inner: number] {
  let outer = 1;
  for (let i = 0; i < axis; i++) outer *= dims[i]!;
  let inner = 1;
  for (let i = axis + 1; i < dims.length; i++) inner *= dims[i]!;
  return [outer, dims[axis]!, inner];
}

const cumProd: Kernel = (inputs, attrs, outputs) => {
  const x = inputs[0]!;
  const spec = outputs[0]!;
  const [outer, len, inner] = splitAt(x.dims, attrs.axis as number);
  const exclusive = attrs.exclusive === 1;
  const reverse = attrs.reverse === 1;
  const step = reverse ? -inner : inner;
  if (x.type === 'int64') {
    const src = x.data as BigInt64Array;
    const dst = new BigInt64Array(x.size);
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        let acc = 1n;
        let pos = o * len * inner + i + (reverse ? (len - 1) * inner : 0);
        for (let j = 0; j < len; j++, pos += step) {
          if (exclusive) {
            dst[pos] = acc;
            acc = BigInt.asIntN(64, acc * src[pos]!);
          } else {
            acc = BigInt.asIntN(64, acc * src[pos]!);
            dst[pos] = acc;
          }
        }
      }
    }
    return [new Tensor('int64', dst, spec.dims)];
  }
  if (x.type === 'int32' || x.type === 'uint32') {
    const src = x.data as Int32Array | Uint32Array;
    const dst = allocate(x.type, x.size) as Int32Array | Uint32Array;
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        let acc = 1;
        let pos = o * len * inner + i + (reverse ? (len - 1) * inner : 0);
        for (let j = 0; j < len; j++, pos += step) {
          // Math.imul is the wrapping 32-bit product; the typed store reinterprets it as signed or unsigned
          if (exclusive) {
            dst[pos] = acc;
            acc = Math.imul(acc, src[pos]!);
          } else {
            acc = Math.imul(acc, src[pos]!);
            dst[pos] = acc;
          }
        }
      }
    }
    return [new Tensor(x.type, dst, spec.dims)];
  }
  const src = readFloats(x);
  const dst = floatArray(x.type, x.size);
  const acc = new Float64Array(inner);
  for (let o = 0; o < outer; o++) {
    acc.fill(1);
    let row = o * len * inner + (reverse ? (len - 1) * inner : 0);
    for (let j = 0; j < len; j++, row += step) {
      if (exclusive) {
        for (let i = 0; i < inner; i++) {
          dst[row + i] = acc[i]!;
          acc[i]! *= src[row + i]!;
        }
      } else {
        for (let i = 0; i < inner; i++) {
          acc[i]! *= src[row + i]!;
          dst[row + i] = acc[i]!;
        }
      }
    }
  }
  return [floatTensor(x.type, dst, spec.dims)];
};

const rmsNormalization: Kernel = (inputs, attrs, outputs) => {
  const [x, scale] = inputs as [Tensor, Tensor];
  const spec = outputs[0]!;
  const axis = attrs.axis as number;
  const eps = attrs.epsilon as number;
  const innerDims = x.dims.slice(axis);
  const rows = sizeOf(x.dims.slice(0, axis));
  const m = sizeOf(innerDims);
  const xs = readFloats(x);
  const ss = readFloats(scale);
  // scale index per element: an inner table when scale is constant over the leading dims, else a full table
  const lead = x.rank - scale.rank;
  const variesOuter = scale.dims.some((d, i) => lead + i < axis && d !== 1);
  const innerScaleDims = scale.dims.slice(Math.max(0, axis - lead));
  const table = variesOuter ? broadcastIndex(scale.dims, x.dims) : broadcastIndex(innerScaleDims, innerDims);
  const out = floatArray(spec.type, x.size);
  for (let r = 0; r < rows; r++) {
    const base = r * m;
    let sum = 0;
    for (let i = 0; i < m; i++) sum += xs[base + i]! * xs[base + i]!;
    const inv = 1 / Math.sqrt(sum / m + eps);
    const tBase = variesOuter ? base : 0;
    for (let i = 0; i < m; i++) out[base + i] = xs[base + i]! * inv * ss[table[tBase + i]!]!;
  }
  return [floatTensor(spec.type, out, spec.dims)];
};

const swish: Kernel = (inputs, attrs, outputs) => {
  const x = inputs[0]!;
  const spec = outputs[0]!;
  const alpha = attrs.alpha as number;
  const xs = readFloats(x);
  const out = floatArray(spec.type, x.size);
  for (let i = 0; i < xs.length; i++) {
    const v = xs[i]!;
    out[i] = v / (1 + Math.exp(-alpha * v));
  }
  return [floatTensor(spec.type, out, spec.dims)];
};

const swiGLU: Kernel = (inputs, attrs, outputs) => {
  const [a, b] = inputs as [Tensor, Tensor];
  const spec = outputs[0]!;
  const alpha = attrs.alpha as number;
  const as = readFloats(a);
  const bs = readFloats(b);
  const out = floatArray(spec.type, a.size);
  for (let i = 0; i < as.length; i++) {
    const v = as[i]!;
    out[i] = (v / (1 + Math.exp(-alpha * v))) * bs[i]!;
  }
  return [floatTensor(spec.type, out, spec.dims)];
};

const shrink: Kernel = (inputs, attrs, outputs) => {
  const x = inputs[0]!;
  const spec = outputs[0]!;
  const lambd = attrs.lambd as number;
  const bias = attrs.bias as number;
  if (x.type === 'int64') {
    const src = x.data as BigInt64Array;
    const dst = new BigInt64Array(x.size);
    for (let i = 0; i < src.length; i++) {
      const v = Number(src[i]!);
      const r = v < -lambd ? v + bias : v > lambd ? v - bias : 0;
      dst[i] = BigInt(Math.trunc(r));
    }
    return [new Tensor('int64', dst, spec.dims)];
  }
  if (x.type === 'float32' || x.type === 'float64' || x.type === 'float16') {
    const xs = readFloats(x);
    const out = floatArray(x.type, x.size);
    for (let i = 0; i < xs.length; i++) {
      const v = xs[i]!;
      out[i] = v < -lambd ? v + bias : v > lambd ? v - bias : 0;
    }
    return [floatTensor(x.type, out, spec.dims)];
  }
  // other integers: computed in double, the typed-array store truncates toward zero and wraps as C casts do
  const src = x.data as NumericArray;
  const dst = allocate(x.type, x.size) as NumericArray;
  for (let i = 0; i < src.length; i++) {
    const v = src[i]!;
    dst[i] = Math.trunc(v < -lambd ? v + bias : v > lambd ? v - bias : 0);
  }
  return [new Tensor(x.type, dst as TypedArray, spec.dims)];
};

const eyeLike: Kernel = (_inputs, attrs, outputs) => {
  const spec = outputs[0]!;
  const [rows, cols] = spec.dims as [number, number];
  const k = attrs.k as number;
  const data = allocate(spec.type, rows * cols);
  for (let i = Math.max(0, -k); i < rows && i + k < cols; i++) {
    const at = i * cols + i + k;
    if (spec.type === 'int64') (data as BigInt64Array)[at] = 1n;
    else (data as NumericArray)[at] = spec.type === 'float16' ? numberToHalfBits(1) : 1;
  }
  return [new Tensor(spec.type, data as TypedArray, spec.dims)];
};

const tensorScatter: Kernel = (inputs, attrs, outputs) => {
  const [past, update, writes] = inputs as [Tensor, Tensor, Tensor | undefined];
  const spec = outputs[0]!;
  const axis = attrs.axis as number;
  const circular = attrs.mode === 'circular';
  const [outer, maxSeq, inner] = splitAt(past.dims, axis);
  const seq = update.dims[axis]!;
  const perBatch = outer / past.dims[0]!;
  const dst = (past.data as TypedArray).slice() as TypedArray & { set(a: ArrayLike<number | bigint>, o: number): void };
  const src = update.data as TypedArray & { subarray(a: number, b: number): ArrayLike<number | bigint> };
  const w = writes ? (writes.data as BigInt64Array) : undefined;
  for (let o = 0; o < outer; o++) {
    const batch = Math.floor(o / perBatch);
    const start = w ? Number(w[batch]!) : 0;
    for (let s = 0; s < seq; s++) {
      let at = start + s;
      if (circular) at = ((at % maxSeq) + maxSeq) % maxSeq;
      const from = (o * seq + s) * inner;
      dst.set(src.subarray(from, from + inner), (o * maxSeq + at) * inner);
    }
  }
  return [new Tensor(spec.type, dst, spec.dims)];
};

const causalConvWithState: Kernel = (inputs, attrs, outputs) => {
  const [x, w, bias, past] = inputs as [Tensor, Tensor, Tensor | undefined, Tensor | undefined];
  const [batch, channels, length] = x.dims as [number, number, number];
  const k = w.dims[2]!;
  const silu = attrs.activation !== 'none';
  const xs = readFloats(x);
  const ws = readFloats(w);
  const bs = bias ? readFloats(bias) : undefined;
  const ps = past ? readFloats(past) : undefined;
  const out = new Float32Array(x.size);
  const stateSpec = outputs[1];
  const state = new Float32Array(batch * channels * (k - 1));
  // one padded row per (b, c): k-1 state values then the input row
  const padded = new Float64Array(k - 1 + length);
  for (let b = 0; b < batch; b++) {
    for (let c = 0; c < channels; c++) {
      const row = (b * channels + c) * length;
      const srow = (b * channels + c) * (k - 1);
      for (let j = 0; j < k - 1; j++) padded[j] = ps ? ps[srow + j]! : 0;
      for (let t = 0; t < length; t++) padded[k - 1 + t] = xs[row + t]!;
      const bc = bs ? bs[c]! : 0;
      for (let t = 0; t < length; t++) {
        let s = bc;
        for (let j = 0; j < k; j++) s += ws[c * k + j]! * padded[t + j]!;
        out[row + t] = silu ? s / (1 + Math.exp(-s)) : s;
      }
      for (let j = 0; j < k - 1; j++) state[srow + j] = padded[length + j]!;
    }
  }
  const result = [floatTensor(x.type, out, x.dims)];
  if (stateSpec) result.push(floatTensor(x.type, state, stateSpec.dims));
  return result;
};

registerKernel('LRN', 'cpu', lrn);
registerKernel('CausalConvWithState', 'cpu', causalConvWithState);
registerKernel('CumProd', 'cpu', cumProd);
registerKernel('RMSNormalization', 'cpu', rmsNormalization);
registerKernel('Swish', 'cpu', swish);
registerKernel('SwiGLU', 'cpu', swiGLU);
registerKernel('Shrink', 'cpu', shrink);
registerKernel('EyeLike', 'cpu', eyeLike);
registerKernel('TensorScatter', 'cpu', tensorScatter);
