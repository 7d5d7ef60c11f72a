/**
 * im2col and col2im: the data movement that turns a convolution into one matrix product.
 *
 * A convolution with kernel k1 x ... x kn over C channels reads, for each output position, a C*k1*...*kn
 * patch of the input. im2col copies those patches into the columns of a matrix
 *
 *     cols[(c, k1, ..., kn), (o1, ..., on)] = image[c, o1*s1 - p1 + k1*d1, ..., on*sn - pn + kn*dn]
 *
 * (padding positions hold `padValue`: 0 for float convolutions, the zero point for ConvInteger), so that
 * Conv = W (M x C*K) times cols (C*K x O1*...*On), a GEMM. col2im is its adjoint: it scatter-adds every
 * column entry back to the image position it was read from. ConvTranspose is GEMM (W^T times X) + col2im.
 *
 * Both handle 1 to 3 spatial axes (1-D and 2-D are run as 3-D with leading size-1 axes). The output grid is
 * processed in whole lines (all positions along the last axis for one index of the others), so callers can
 * tile a large matrix by lines. Each line splits into a left padding run, a branch-free interior copy and a
 * right padding run, from per-kernel-column bounds computed once per call.
 *
 * Cost: im2col writes C*K*O elements (O = output positions) and reads as many; col2im reads C*K*O and does as
 * many adds. Both are memory bound; the GEMM they feed does 2*M*C*K*O FLOPs.
 */
import type { NumericArray } from '../../tensor/dtype.js';
import { ScratchSlot } from './scratch.js';

/** Per-call column bounds (see columnBounds); reused from call to call. */
const BOUNDS = new ScratchSlot();

/** Geometry of one unfold: one group's channels, image and output-grid spatial dims, window parameters. */
export interface ConvGridGeometry {
  /** Channels of the image covered by this call (one group's input channels for Conv). */
  readonly channels: number;
  /** Spatial dims of the image: the Conv input, or the ConvTranspose output for col2im (1 to 3 axes). */
  readonly imageShape: readonly number[];
  /** Spatial dims of the output grid: the Conv output, or the ConvTranspose input (same length). */
  readonly gridShape: readonly number[];
  /** Kernel spatial dims. */
  readonly kernelShape: readonly number[];
  /** Stride per spatial axis. */
  readonly strides: readonly number[];
  /** Dilation per spatial axis. */
  readonly dilations: readonly number[];
  /** Padding before each spatial axis (padding after is implied by gridShape). May be negative for col2im. */
  readonly padsBegin: readonly number[];
}

/** Which lines of the output grid to process (a line = gridShape[last] consecutive positions). */
export interface LineRange {
  /** First line (default 0). */
  readonly firstLine?: number;
  /** Number of lines (default: all from firstLine on). */
  readonly lineCount?: number;
}

/** Options of `im2col`. */
export interface Im2colOptions extends LineRange {
  /** Value stored for padding positions (default 0). */
  readonly padValue?: number;
  /** Where the matrix starts in `dst` (default 0). */
  readonly dstOffset?: number;
}

/** Geometry padded to exactly three spatial axes (leading axes of size 1, kernel 1, stride 1, no padding). */
interface Grid3 {
  c: number;
  d: number;
  h: number;
  w: number;
  od: number;
  oh: number;
  ow: number;
  kd: number;
  kh: number;
  kw: number;
  sd: number;
  sh: number;
  sw: number;
  dd: number;
  dh: number;
  dw: number;
  pd: number;
  ph: number;
  pw: number;
}

function toGrid3(g: ConvGridGeometry): Grid3 {
  const rank = g.imageShape.length;
  if (rank < 1 || rank > 3) throw new RangeError(`im2col: ${rank} spatial axes; supported are 1 to 3`);
  const pick = (a: readonly number[], fill: number): number[] => [...new Array<number>(3 - rank).fill(fill), ...a];
  const [d, h, w] = pick(g.imageShape, 1) as [number, number, number];
  const [od, oh, ow] = pick(g.gridShape, 1) as [number, number, number];
  const [kd, kh, kw] = pick(g.kernelShape, 1) as [number, number, number];
  const [sd, sh, sw] = pick(g.strides, 1) as [number, number, number];
  const [dd, dh, dw] = pick(g.dilations, 1) as [number, number, number];
  const [pd, ph, pw] = pick(g.padsBegin, 0) as [number, number, number];
  return { c: g.channels, d, h, w, od, oh, ow, kd, kh, kw, sd, sh, sw, dd, dh, dw, pd, ph, pw };
}

/** Number of lines of the output grid (product of all grid dims but the last). */
export function gridLineCount(g: ConvGridGeometry): number {
  let n = 1;
  for (let i = 0; i < g.gridShape.length - 1; i++) n *= g.gridShape[i]!;
  return n;
}

/**
 * For each kernel column kw, the range [lo, hi) of output columns ow whose input column
 * ow*sw - pw + kw*dw lies inside [0, w). Packed as lo at 2*kw, hi at 2*kw+1.
 */
function columnBounds(g: Grid3): Int32Array {
  const b = BOUNDS.take('int32', 2 * g.kw);
  for (let kw = 0; kw < g.kw; kw++) {
    const shift = kw * g.dw - g.pw; // input column of ow = 0
    const lo = Math.min(g.ow, Math.max(0, Math.ceil(-shift / g.sw)));
    const hi = Math.min(g.ow, Math.max(lo, Math.ceil((g.w - shift) / g.sw)));
    b[2 * kw] = lo;
    b[2 * kw + 1] = hi;
  }
  return b;
}

function lineRange(g: Grid3, r: LineRange): [number, number] {
  const total = g.od * g.oh;
  const first = r.firstLine ?? 0;
  const count = r.lineCount ?? total - first;
  if (first < 0 || count < 0 || first + count > total) throw new RangeError(`im2col: lines [${first}, ${first + count}) outside [0, ${total})`);
  return [first, count];
}

/**
 * Unfold `channels` image channels starting at `srcOffset` in `src` (layout C x D x H x W, contiguous) into
 * the column matrix `dst`: (channels * prod(kernelShape)) rows, (lineCount * gridShape[last]) columns,
 * row-major. Rows are ordered (c, k1, ..., kn), columns by output position. Works for any numeric typed arrays
 * (float for Conv, int8/uint8 for ConvInteger with `padValue` = zero point).
 */
export function im2col(src: NumericArray, srcOffset: number, geom: ConvGridGeometry, dst: NumericArray, options: Im2colOptions = {}): void {
  const g = toGrid3(geom);
  const [firstLine, lineCount] = lineRange(g, options);
  const pad = options.padValue ?? 0;
  const dstOffset = options.dstOffset ?? 0;
  const { d, h, w, oh: OH, ow: OW, sd, sh, sw, dd, dh, dw, pd, ph } = g;
  const cols = lineCount * OW;
  const bounds = columnBounds(g);
  const planeSize = d * h * w;
  let row = 0;
  for (let c = 0; c < g.c; c++) {
    const plane = srcOffset + c * planeSize;
    for (let kd = 0; kd < g.kd; kd++) {
      for (let kh = 0; kh < g.kh; kh++) {
        for (let kw = 0; kw < g.kw; kw++, row++) {
          const lo = bounds[2 * kw]!;
          const hi = bounds[2 * kw + 1]!;
          const colShift = kw * dw - g.pw;
          let out = dstOffset + row * cols;
          let od = Math.floor(firstLine / OH);
          let oh = firstLine - od * OH;
          for (let line = 0; line < lineCount; line++, out += OW) {
            const id = od * sd - pd + kd * dd;
            const ih = oh * sh - ph + kh * dh;
            if (++oh === OH) {
              oh = 0;
              od++;
            }
            if (id < 0 || id >= d || ih < 0 || ih >= h) {
              dst.fill(pad, out, out + OW);
              continue;
            }
            const base = plane + (id * h + ih) * w + colShift;
            if (lo > 0) dst.fill(pad, out, out + lo);
            if (sw === 1) {
              for (let ow = lo; ow < hi; ow++) dst[out + ow] = src[base + ow]!;
            } else {
              for (let ow = lo; ow < hi; ow++) dst[out + ow] = src[base + ow * sw]!;
            }
            if (hi < OW) dst.fill(pad, out + hi, out + OW);
          }
        }
      }
    }
  }
}

/**
 * The adjoint of `im2col`: add every entry of the column matrix `cols` (layout as im2col writes it, starting at
 * `colsOffset`) into the image position it corresponds to, in `dst` starting at `dstOffset` (layout
 * channels x D x H x W). Positions that fall in the padding are dropped. `dst` must be initialised by the
 * caller (zeros, or a previous partial sum when tiling by lines).
 */
export function col2im(cols: NumericArray, colsOffset: number, geom: ConvGridGeometry, dst: NumericArray, dstOffset: number, range: LineRange = {}): void {
  const g = toGrid3(geom);
  const [firstLine, lineCount] = lineRange(g, range);
  const { d, h, w, oh: OH, ow: OW, sd, sh, sw, dd, dh, dw, pd, ph } = g;
  const ncols = lineCount * OW;
  const bounds = columnBounds(g);
  const planeSize = d * h * w;
  let row = 0;
  for (let c = 0; c < g.c; c++) {
    const plane = dstOffset + c * planeSize;
    for (let kd = 0; kd < g.kd; kd++) {
      for (let kh = 0; kh < g.kh; kh++) {
        for (let kw = 0; kw < g.kw; kw++, row++) {
          const lo = bounds[2 * kw]!;
          const hi = bounds[2 * kw + 1]!;
          const colShift = kw * dw - g.pw;
          let from = colsOffset + row * ncols;
          let od = Math.floor(firstLine / OH);
          let oh = firstLine - od * OH;
          for (let line = 0; line < lineCount; line++, from += OW) {
            const id = od * sd - pd + kd * dd;
            const ih = oh * sh - ph + kh * dh;
            if (++oh === OH) {
              oh = 0;
              od++;
            }
            if (id < 0 || id >= d || ih < 0 || ih >= h) continue;
            const base = plane + (id * h + ih) * w + colShift;
            if (sw === 1) {
              for (let ow = lo; ow < hi; ow++) dst[base + ow] += cols[from + ow]!;
            } else {
              for (let ow = lo; ow < hi; ow++) dst[base + ow * sw] += cols[from + ow]!;
            }
          }
        }
      }
    }
  }
}
