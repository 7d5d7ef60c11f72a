/**
 * Direct depthwise convolution (group == C_in, one input channel per group, `multiplier` = M / C_in output
 * channels per input channel), for 1 or 2 spatial axes (1-D runs as 2-D with height 1).
 *
 * im2col + GEMM is a poor fit here: each group's GEMM is a 1 x K by K x O product, so the unfold costs as much
 * as the arithmetic. This kernel reads the input plane in place instead. For each output row the valid kernel
 * rows are computed once; output columns are split into a left edge, an interior where every kernel column
 * lands inside the input, and a right edge, where the valid kernel columns are computed per output column.
 * The interior is computed tap by tap: for each valid (kh, kw), one branch-free sweep acc[ow] += w * x[...]
 * over the interior columns into a float64 row accumulator (unit-stride reads when the stride is 1).
 *
 * Cost: 2 * N * M * OH * OW * KH * KW FLOPs, reading each input plane `multiplier` times (it stays in cache).
 */
export interface DepthwiseGeometry {
  readonly batch: number;
  readonly channels: number;
  /** Output channels per input channel. */
  readonly multiplier: number;
  readonly inH: number;
  readonly inW: number;
  readonly outH: number;
  readonly outW: number;
  readonly kH: number;
  readonly kW: number;
  readonly strideH: number;
  readonly strideW: number;
  readonly dilationH: number;
  readonly dilationW: number;
  readonly padTop: number;
  readonly padLeft: number;
}

/**
 * y[n, c*multiplier + j] = sum over the window of x[n, c] * w[c*multiplier + j, 0] (+ bias). x is
 * (N, C, inH, inW), w is (C*multiplier, 1, kH, kW), y is (N, C*multiplier, outH, outW), all contiguous; the
 * result overwrites y.
 */
export function depthwiseConv2d(
  x: Float32Array | Float64Array,
  w: Float32Array | Float64Array,
  bias: Float32Array | Float64Array | undefined,
  y: Float32Array | Float64Array,
  g: DepthwiseGeometry,
): void {
  const { inH: H, inW: W, outH: OH, outW: OW, kH: KH, kW: KW, strideH: sh, strideW: sw, dilationH: dh, dilationW: dw, padTop: pt, padLeft: pl } = g;
  const outChannels = g.channels * g.multiplier;
  // interior output columns: every kernel column inside [0, W)
  const inLo = Math.min(OW, Math.ceil(pl / sw));
  const inHi = Math.max(inLo, Math.min(OW, Math.floor((W - 1 - (KW - 1) * dw + pl) / sw) + 1));
  const kernelSize = KH * KW;
  const acc = new Float64Array(OW);
  for (let n = 0; n < g.batch; n++) {
    for (let c = 0; c < g.channels; c++) {
      const xPlane = (n * g.channels + c) * H * W;
      for (let j = 0; j < g.multiplier; j++) {
        const oc = c * g.multiplier + j;
        const wBase = oc * kernelSize;
        const b = bias ? bias[oc]! : 0;
        let yi = (n * outChannels + oc) * OH * OW;
        for (let oh = 0; oh < OH; oh++) {
          const ih0 = oh * sh - pt;
          const khLo = Math.max(0, Math.ceil(-ih0 / dh));
          const khHi = Math.min(KH, Math.ceil((H - ih0) / dh));
          // left edge
          for (let ow = 0; ow < inLo; ow++) y[yi + ow] = edgeSum(x, w, xPlane, wBase, ih0, ow * sw - pl, khLo, khHi, W, KW, dh, dw) + b;
          // interior: every kernel column is inside the row, so each (kh, kw) tap is one branch-free
          // multiply-add sweep over the interior columns, accumulated in double
          acc.fill(0, inLo, inHi);
          for (let kh = khLo; kh < khHi; kh++) {
            const xr = xPlane + (ih0 + kh * dh) * W - pl;
            const wr = wBase + kh * KW;
            for (let kw = 0; kw < KW; kw++) {
              const wv = w[wr + kw]!;
              const base = xr + kw * dw;
              if (sw === 1) for (let ow = inLo; ow < inHi; ow++) acc[ow] += wv * x[base + ow]!;
              else for (let ow = inLo; ow < inHi; ow++) acc[ow] += wv * x[base + ow * sw]!;
            }
          }
          for (let ow = inLo; ow < inHi; ow++) y[yi + ow] = acc[ow]! + b;
          // right edge
          for (let ow = inHi; ow < OW; ow++) y[yi + ow] = edgeSum(x, w, xPlane, wBase, ih0, ow * sw - pl, khLo, khHi, W, KW, dh, dw) + b;
          yi += OW;
        }
      }
    }
  }
}

/** Window sum for an output column whose kernel columns may fall outside [0, W). */
function edgeSum(
  x: Float32Array | Float64Array,
  w: Float32Array | Float64Array,
  xPlane: number,
  wBase: number,
  ih0: number,
  iw0: number,
  khLo: number,
  khHi: number,
  W: number,
  KW: number,
  dh: number,
  dw: number,
): number {
  const kwLo = Math.max(0, Math.ceil(-iw0 / dw));
  const kwHi = Math.min(KW, Math.ceil((W - iw0) / dw));
  let s = 0;
  for (let kh = khLo; kh < khHi; kh++) {
    const xr = xPlane + (ih0 + kh * dh) * W + iw0;
    const wr = wBase + kh * KW;
    for (let kw = kwLo; kw < kwHi; kw++) s += x[xr + kw * dw]! * w[wr + kw]!;
  }
  return s;
}
