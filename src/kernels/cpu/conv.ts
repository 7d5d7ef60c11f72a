/**
 * CPU kernels of the 'conv' family: Conv and ConvTranspose here, the pools in ./pooling.ts.
 *
 * Conv picks one of three paths per call (attributes arrive canonical: explicit pads, strides, dilations):
 *  - 1x1 kernel, stride 1, no padding: Y[n, group] = W[group] (M/g x C/g) times X[n, group] (C/g x H*W), one
 *    GEMM straight on the input, no copy;
 *  - depthwise (group == C, one input channel per group, 1-D or 2-D): the direct kernel in ./depthwise.ts;
 *  - otherwise im2col + GEMM: the input patches of one group are unfolded into a (C/g * K) x O matrix
 *    (./im2col.ts), then Y[n, group] = W[group] times that matrix. Large outputs are processed in tiles of
 *    whole output lines so the column buffer stays under COLUMN_BUDGET elements.
 *  Cost: 2 * N * M * (C/g) * K * O FLOPs (K = kernel size, O = output positions) plus the unfold (C*K*O copies).
 *
 * ConvTranspose is the adjoint of Conv: per batch and group, cols (M/g * K x I) = W[group]^T (M/g*K x C/g)
 * times X[n, group] (C/g x I) as one GEMM (I = input positions), then col2im scatter-adds each column entry to
 * the output position o = i * stride - pad + k * dilation. Cost: 2 * N * C * (M/g) * K * I FLOPs + as many adds.
 *
 * Conv's bias is added by the product itself (sgemm's rowBias: while the last K block is stored), not by a
 * second pass over Y. When the weights are a constant (ctx.constantInputs, a session's initializer), their GEMM
 * panels are packed once and cached on the weight tensor (gemm.ts cachedPackedA).
 * float32 runs through `sgemm` (multi-threaded with ctx.threads, bitwise identical for any thread count);
 * float64 through a plain float64 GEMM loop here; float16 is decoded to float32, computed, and re-encoded.
 * Spatial ranks above 3 (legal ONNX, never seen in practice) use the reference kernels.
 */
import { allocate } from '../../tensor/dtype.js';
import { fromNumbers, Tensor } from '../../tensor/tensor.js';
import { registerKernel, type Attrs, type Kernel, type OutputSpec } from '../registry.js';
import { depthwiseConv2d } from './depthwise.js';
import { cachedPackedA, chooseGemmPath, GEMM_PATH_PACKED, sgemm, type PackedPanels } from './gemm.js';
import { col2im, gridLineCount, im2col, type ConvGridGeometry } from './im2col.js';
import { refConv, refConvTranspose } from './reference/conv.js';
import { ScratchSlot } from './scratch.js';
import './pooling.js';

/** Column matrices (fully overwritten before use) and float32 results of float16 convolutions. */
const COLUMNS = new ScratchSlot();
const HALF_WORK = new ScratchSlot();

type FloatArray = Float32Array | Float64Array;

/** Largest column matrix (elements) im2col / the ConvTranspose GEMM may allocate before tiling by lines. */
const COLUMN_BUDGET = 1 << 22;

function prod(a: readonly number[]): number {
  let p = 1;
  for (const v of a) p *= v;
  return p;
}

/** Values of a float tensor as float32 (float16 decoded) or float64. */
function floatValues(t: Tensor): FloatArray {
  if (t.type === 'float64') return t.data as Float64Array;
  if (t.type === 'float16') return t.numbers() as Float32Array;
  return t.data as Float32Array;
}

/** Wrap a computed buffer as the output tensor (float16 outputs are encoded from float32). */
function finish(spec: OutputSpec, values: FloatArray): Tensor {
  if (spec.type === 'float16') return fromNumbers('float16', values, spec.dims);
  return new Tensor(spec.type, values, spec.dims);
}

/** A zero-filled output buffer (from `allocate`: a session's arena serves it); float32 for float16 too. */
function allocFor(t: Tensor, n: number): FloatArray {
  if (t.type === 'float64') return allocate('float64', n);
  return t.type === 'float16' ? HALF_WORK.take('float32', n, true) : allocate('float32', n);
}

/** The column matrix of one call (im2col / the ConvTranspose GEMM result), reused from call to call. */
function columnsFor(t: Tensor, n: number): FloatArray {
  return t.type === 'float64' ? COLUMNS.take('float64', n) : COLUMNS.take('float32', n);
}

interface MatmulArgs {
  m: number;
  n: number;
  k: number;
  a: FloatArray;
  aOffset: number;
  lda: number;
  transA: boolean;
  b: FloatArray;
  bOffset: number;
  ldb: number;
  c: FloatArray;
  cOffset: number;
  ldc: number;
  threads: number;
  /** A (the weights) pre-packed for sgemm, when the weights are a constant (float32 only). */
  packedA?: PackedPanels;
  /** Bias per row of C, added after the product (rowBias[rowBiasOffset + i] to row i). */
  rowBias?: FloatArray;
  rowBiasOffset?: number;
}

/**
 * C = op(A) B (+ a bias per row), overwriting C: sgemm for float32 (which adds the bias while storing), a plain
 * i-p-j loop for float64.
 */
function matmul(args: MatmulArgs): void {
  const { m, n, k, a, b, c, rowBias } = args;
  if (m === 0 || n === 0) return;
  if (k === 0) {
    for (let i = 0; i < m; i++) c.fill(0, args.cOffset + i * args.ldc, args.cOffset + i * args.ldc + n);
  } else if (a instanceof Float32Array && b instanceof Float32Array && c instanceof Float32Array && (rowBias === undefined || rowBias instanceof Float32Array)) {
    sgemm({ ...args, a, b, c, beta: 0, rowBias });
    return;
  } else {
    matmulLoop(args);
  }
  if (rowBias) {
    for (let i = 0; i < m; i++) {
      const v = rowBias[(args.rowBiasOffset ?? 0) + i]!;
      const ci = args.cOffset + i * args.ldc;
      for (let j = ci; j < ci + n; j++) c[j] += v;
    }
  }
}

/** The float64 product of `matmul` (k > 0). */
function matmulLoop(args: MatmulArgs): void {
  const { m, n, k, a, b, c } = args;
  for (let i = 0; i < m; i++) {
    const ci = args.cOffset + i * args.ldc;
    c.fill(0, ci, ci + n);
    for (let p = 0; p < k; p++) {
      const av = args.transA ? a[args.aOffset + p * args.lda + i]! : a[args.aOffset + i * args.lda + p]!;
      const bp = args.bOffset + p * args.ldb;
      for (let j = 0; j < n; j++) c[ci + j] += av * b[bp + j]!;
    }
  }
}

function addBias(y: FloatArray, bias: FloatArray, batch: number, channels: number, plane: number): void {
  for (let n = 0; n < batch; n++) {
    for (let m = 0; m < channels; m++) {
      const v = bias[m]!;
      const start = (n * channels + m) * plane;
      for (let i = start; i < start + plane; i++) y[i] += v;
    }
  }
}

interface Canonical {
  strides: readonly number[];
  dilations: readonly number[];
  pads: readonly number[];
  group: number;
}

function canonical(attrs: Attrs): Canonical {
  return {
    strides: attrs['strides'] as readonly number[],
    dilations: attrs['dilations'] as readonly number[],
    pads: attrs['pads'] as readonly number[],
    group: attrs['group'] as number,
  };
}

const conv: Kernel = (inputs, attrs, outputs, ctx) => {
  const x = inputs[0]!;
  const w = inputs[1]!;
  const bias = inputs[2];
  const spec = outputs[0]!;
  const { strides, dilations, pads, group } = canonical(attrs);
  const rank = x.rank - 2;
  if (rank > 3) {
    return [refConv(x, w, bias, { strides, dilations, pads, group })];
  }
  const [N, C] = x.dims as [number, number];
  const M = w.dims[0]!;
  const kernel = w.dims.slice(2);
  const inSpatial = x.dims.slice(2);
  const outSpatial = spec.dims.slice(2);
  const inPlane = prod(inSpatial);
  const outPlane = prod(outSpatial);
  const K = prod(kernel);
  const Cg = C / group;
  const Mg = M / group;
  const xv = floatValues(x);
  const wv = floatValues(w);
  const y = allocFor(x, N * M * outPlane);
  const padsBegin = pads.slice(0, rank);
  const noPad = pads.every((p) => p === 0);

  if (group === C && Cg === 1 && rank <= 2 && N * M * outPlane > 0) {
    const two = rank === 2;
    depthwiseConv2d(xv, wv, bias ? floatValues(bias) : undefined, y, {
      batch: N,
      channels: C,
      multiplier: Mg,
      inH: two ? inSpatial[0]! : 1,
      inW: inSpatial[rank - 1]!,
      outH: two ? outSpatial[0]! : 1,
      outW: outSpatial[rank - 1]!,
      kH: two ? kernel[0]! : 1,
      kW: kernel[rank - 1]!,
      strideH: two ? strides[0]! : 1,
      strideW: strides[rank - 1]!,
      dilationH: two ? dilations[0]! : 1,
      dilationW: dilations[rank - 1]!,
      padTop: two ? pads[0]! : 0,
      padLeft: pads[rank - 1]!,
    }, ctx.threads);
    return [finish(spec, y)];
  }

  const pointwise = K === 1 && noPad && strides.every((s) => s === 1);
  const geom: ConvGridGeometry = { channels: Cg, imageShape: inSpatial, gridShape: outSpatial, kernelShape: kernel, strides, dilations, padsBegin };
  const lineLength = outSpatial[rank - 1]!;
  const lines = gridLineCount(geom);
  const rows = Cg * K;
  const linesPerTile = pointwise ? lines : Math.max(1, Math.min(lines, Math.floor(COLUMN_BUDGET / Math.max(1, rows * lineLength))));
  const cols = pointwise || rows * outPlane === 0 ? undefined : columnsFor(x, rows * linesPerTile * lineLength);
  // the bias is added by each product as it stores its block of Y (every element of Y is in exactly one)
  const biasValues = bias ? floatValues(bias) : undefined;
  // constant float32 weights: GEMM panels of W[group] packed once and cached on the weight tensor
  const constantWeights = ctx.constantInputs?.[1] === true && w.type === 'float32' && wv instanceof Float32Array;
  const packedWeights = (g: number, n: number): PackedPanels | undefined =>
    constantWeights && chooseGemmPath(Mg, n, rows) === GEMM_PATH_PACKED ? cachedPackedA(w, wv, g * Mg * rows, rows, false, Mg, rows) : undefined;
  for (let n = 0; n < N; n++) {
    for (let g = 0; g < group; g++) {
      const xOffset = (n * C + g * Cg) * inPlane;
      const yOffset = (n * M + g * Mg) * outPlane;
      const common = { m: Mg, k: rows, a: wv, aOffset: g * Mg * rows, lda: rows, transA: false, c: y, ldc: outPlane, threads: ctx.threads, rowBias: biasValues, rowBiasOffset: g * Mg };
      if (!cols) {
        // pointwise: the input plane already is the column matrix (or there is nothing to multiply)
        matmul({ ...common, n: outPlane, b: xv, bOffset: xOffset, ldb: inPlane, cOffset: yOffset, packedA: packedWeights(g, outPlane) });
        continue;
      }
      for (let first = 0; first < lines; first += linesPerTile) {
        const count = Math.min(linesPerTile, lines - first);
        const width = count * lineLength;
        im2col(xv, xOffset, geom, cols, { firstLine: first, lineCount: count });
        matmul({ ...common, n: width, b: cols, bOffset: 0, ldb: width, cOffset: yOffset + first * lineLength, packedA: packedWeights(g, width) });
      }
    }
  }
  return [finish(spec, y)];
};

const convTranspose: Kernel = (inputs, attrs, outputs, ctx) => {
  const x = inputs[0]!;
  const w = inputs[1]!;
  const bias = inputs[2];
  const spec = outputs[0]!;
  const { strides, dilations, pads, group } = canonical(attrs);
  const rank = x.rank - 2;
  const outSpatial = spec.dims.slice(2);
  if (rank > 3) {
    return [refConvTranspose(x, w, bias, { strides, dilations, pads, group, outputShape: outSpatial })];
  }
  const [N, C] = x.dims as [number, number];
  const Cg = C / group;
  const Mg = w.dims[1]!;
  const M = Mg * group;
  const kernel = w.dims.slice(2);
  const K = prod(kernel);
  const inSpatial = x.dims.slice(2);
  const inPlane = prod(inSpatial);
  const outPlane = prod(outSpatial);
  const xv = floatValues(x);
  const wv = floatValues(w);
  const y = allocFor(x, N * M * outPlane);
  const rows = Mg * K;
  // col2im geometry: the image is Y, the grid is X's spatial positions
  const geom: ConvGridGeometry = {
    channels: Mg,
    imageShape: outSpatial,
    gridShape: inSpatial,
    kernelShape: kernel,
    strides,
    dilations,
    padsBegin: pads.slice(0, rank),
  };
  const lineLength = inSpatial[rank - 1]!;
  const lines = gridLineCount(geom);
  const linesPerTile = Math.max(1, Math.min(lines, Math.floor(COLUMN_BUDGET / Math.max(1, rows * lineLength))));
  if (rows * inPlane * outPlane > 0) {
    const cols = columnsFor(x, rows * linesPerTile * lineLength);
    for (let n = 0; n < N; n++) {
      for (let g = 0; g < group; g++) {
        const xOffset = (n * C + g * Cg) * inPlane;
        const yOffset = (n * M + g * Mg) * outPlane;
        for (let first = 0; first < lines; first += linesPerTile) {
          const count = Math.min(linesPerTile, lines - first);
          const width = count * lineLength;
          // W[group] is stored (C/g) x (M/g * K): its transpose times this tile of X's group channels
          matmul({
            m: rows,
            n: width,
            k: Cg,
            a: wv,
            aOffset: g * Cg * rows,
            lda: rows,
            transA: true,
            b: xv,
            bOffset: xOffset + first * lineLength,
            ldb: inPlane,
            c: cols,
            cOffset: 0,
            ldc: width,
            threads: ctx.threads,
          });
          col2im(cols, 0, geom, y, yOffset, { firstLine: first, lineCount: count });
        }
      }
    }
  }
  if (bias) addBias(y, floatValues(bias), N, M, outPlane);
  return [finish(spec, y)];
};

registerKernel('Conv', 'cpu', conv);
registerKernel('ConvTranspose', 'cpu', convTranspose);
