/**
 * CPU kernels of ConvInteger and QLinearConv.
 *
 * Same plan as the float Conv: per image and group, im2col unfolds the input into a (C/group * K) x O column
 * matrix (padding positions hold the input zero point, so they contribute zero once it is subtracted), and
 * one exact integer matrix product with the zero-point-centred weights gives the int32 accumulators (see
 * integer-gemm.ts). QLinearConv then adds the int32 bias and requantizes each output channel with
 * (x_scale * w_scale[m] / y_scale), rounding half to even and saturating.
 * Cost: 2 * N * M * (C/group) * K * O flops; the column matrix holds (C/group) * K * O float64 values.
 */
import type { NumericArray } from '../../tensor/dtype.js';
import { integerRange, roundHalfEven } from '../../tensor/numeric.js';
import type { Tensor } from '../../tensor/tensor.js';
import { registerKernel, type Attrs, type Kernel, type OutputSpec } from '../registry.js';
import { gridLineCount, im2col, type ConvGridGeometry } from './im2col.js';
import { integerRowsTimesMatrix } from './integer-gemm.js';
import { outputTensor } from './util.js';

/** int32 accumulators of a zero-point-centred convolution, as float64 (N x M x O). */
function integerConv(x: Tensor, w: Tensor, xZero: number, wZero: Float64Array, attrs: Attrs, spec: OutputSpec): Float64Array {
  const rank = x.rank - 2;
  const [N, C] = x.dims as [number, number];
  const M = w.dims[0]!;
  const group = attrs.group as number;
  const kernel = w.dims.slice(2);
  const inSpatial = x.dims.slice(2);
  const outSpatial = spec.dims.slice(2);
  const K = kernel.reduce((p, d) => p * d, 1);
  const inPlane = inSpatial.reduce((p, d) => p * d, 1);
  const O = outSpatial.reduce((p, d) => p * d, 1);
  const Cg = C / group;
  const Mg = M / group;
  const rows = Cg * K;
  const out = new Float64Array(N * M * O);
  if (out.length === 0) return out;
  // centred weights: w - w_zero_point[m]
  const wv = w.data as NumericArray;
  const wc = new Float64Array(wv.length);
  for (let m = 0; m < M; m++) {
    const z = wZero[wZero.length === 1 ? 0 : m]!;
    for (let i = m * rows; i < (m + 1) * rows; i++) wc[i] = wv[i]! - z;
  }
  const geom: ConvGridGeometry = {
    channels: Cg,
    imageShape: inSpatial,
    gridShape: outSpatial,
    kernelShape: kernel,
    strides: attrs.strides as number[],
    dilations: attrs.dilations as number[],
    padsBegin: (attrs.pads as number[]).slice(0, rank),
  };
  const cols = new Float64Array(rows * O);
  const xv = x.data as NumericArray;
  for (let n = 0; n < N; n++) {
    for (let g = 0; g < group; g++) {
      im2col(xv, (n * C + g * Cg) * inPlane, geom, cols, { padValue: xZero, firstLine: 0, lineCount: gridLineCount(geom) });
      for (let i = 0; i < cols.length; i++) cols[i]! -= xZero;
      integerRowsTimesMatrix(wc, g * Mg * rows, Mg, rows, cols, O, out, (n * M + g * Mg) * O);
    }
  }
  return out;
}

const convInteger: Kernel = (inputs, attrs, outputs) => {
  const [x, w, xz, wz] = inputs;
  const spec = outputs[0]!;
  const acc = integerConv(x!, w!, xz ? xz.numbers()[0]! : 0, wz ? Float64Array.from(wz.numbers()) : new Float64Array(1), attrs, spec);
  const y = outputTensor(spec);
  const d = y.data as Int32Array;
  for (let i = 0; i < acc.length; i++) d[i] = acc[i]! | 0;
  return [y];
};

const qlinearConv: Kernel = (inputs, attrs, outputs) => {
  const [x, xs, xz, w, ws, wz, ys, yz, b] = inputs;
  const spec = outputs[0]!;
  const acc = integerConv(x!, w!, xz!.numbers()[0]!, Float64Array.from(wz!.numbers()), attrs, spec);
  const M = w!.dims[0]!;
  const N = x!.dims[0]!;
  const O = acc.length / Math.max(1, N * M);
  const xsv = xs!.numbers()[0]!;
  const wsv = ws!.numbers();
  const ysv = ys!.numbers()[0]!;
  const zy = yz!.numbers()[0]!;
  const bias = b ? (b.data as Int32Array) : undefined;
  const y = outputTensor(spec);
  const d = y.data as NumericArray;
  const [lo, hi] = integerRange(y.type);
  for (let n = 0; n < N; n++) {
    for (let m = 0; m < M; m++) {
      const mult = Math.fround(Math.fround(xsv * wsv[wsv.length === 1 ? 0 : m]!) / ysv);
      const bm = bias ? bias[m]! : 0;
      const base = (n * M + m) * O;
      for (let o = 0; o < O; o++) {
        const q = roundHalfEven(((acc[base + o]! + bm) | 0) * mult) + zy;
        d[base + o] = q < lo ? lo : q > hi ? hi : q;
      }
    }
  }
  return [y];
};

registerKernel('ConvInteger', 'cpu', convInteger);
registerKernel('QLinearConv', 'cpu', qlinearConv);
