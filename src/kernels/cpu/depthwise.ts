/**
 * Direct depthwise convolution (group == C_in, one input channel per group, `multiplier` = M / C_in output
 * channels per input channel), for 1 or 2 spatial axes (1-D runs as 2-D with height 1).
 *
 * im2col + GEMM is a poor fit here: each group's GEMM is a 1 x K by K x O product, so the unfold costs as much
 * as the arithmetic. This kernel reads the input plane in place instead. For each output row the valid kernel
 * rows are computed once; output columns are split into a left edge, an interior where every kernel column
 * lands inside the input, and a right edge, where the valid kernel columns are computed per output column.
 * The interior is computed kernel row by kernel row: for each valid kh, one branch-free sweep over the interior
 * columns adds that row's KW taps to a float64 row accumulator, acc[ow] = acc[ow] + w0*x0 + w1*x1 + ...
 * (evaluated left to right, so the sum runs over (kh, kw) in order; 3- and 5-wide kernels keep their weights
 * in locals, wider ones sweep tap by tap in the same order). One accumulator load and store per kernel row
 * instead of per tap is what makes the sweep fast.
 *
 * Threads: the work is cut into chunks of whole input planes (n, c), each producing the `multiplier` output
 * planes that follow from it (contiguous in y). The calling thread computes its chunks in place; pool workers
 * (./pool.ts, task TASK_DEPTHWISE) read copies of x, w and the bias in the shared arena and write their output
 * planes there, which are copied back. A plane's arithmetic does not depend on who computes it, so the result
 * is bitwise identical for any thread count. float32 only (float64 runs on the calling thread).
 *
 * Cost: 2 * N * M * OH * OW * KH * KW FLOPs, reading each input plane `multiplier` times (it stays in cache);
 * multi-threaded calls also copy x and y once (4 bytes per element each way).
 */
import { MAX_TASK_CHUNKS, poolSupported, readyWorkerCount, runChunked, sharedArena, TASK_DEPTHWISE } from './pool.js';
import { ScratchSlot } from './scratch.js';

/** The float64 row accumulator, reused from call to call (the kernel zeroes the part it uses). */
const ROW_ACC = new ScratchSlot();

/** Calls below this many FLOPs stay on the calling thread (waking a worker and copying cost more). */
export const DEPTHWISE_PARALLEL_MIN_FLOPS = 1_000_000;
/** Chunks per thread aimed at, so that a thread the OS schedules late is balanced out by the others. */
const DEPTHWISE_CHUNKS_PER_THREAD = 4;

type FloatArray = Float32Array | Float64Array;

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

/** Where each operand starts in its array (the shared arena holds all of them at different offsets). */
interface Offsets {
  x: number;
  w: number;
  /** -1 when there is no bias. */
  bias: number;
  y: number;
}

/**
 * y[n, c*multiplier + j] = sum over the window of x[n, c] * w[c*multiplier + j, 0] (+ bias). x is
 * (N, C, inH, inW), w is (C*multiplier, 1, kH, kW), y is (N, C*multiplier, outH, outW), all contiguous; the
 * result overwrites y. `threads` > 1 lets pool workers take planes (float32 only); the result is bitwise
 * identical for any value.
 */
export function depthwiseConv2d(x: FloatArray, w: FloatArray, bias: FloatArray | undefined, y: FloatArray, g: DepthwiseGeometry, threads = 1): void {
  const planes = g.batch * g.channels;
  const flops = 2 * planes * g.multiplier * g.outH * g.outW * g.kH * g.kW;
  if (threads > 1 && planes > 1 && flops >= DEPTHWISE_PARALLEL_MIN_FLOPS && x instanceof Float32Array && w instanceof Float32Array && y instanceof Float32Array) {
    if (depthwiseParallel(x, w, bias as Float32Array | undefined, y, g, threads)) return;
  }
  const acc = ROW_ACC.take('float64', g.outW);
  depthwisePlanes(x, w, bias ?? w, y, { x: 0, w: 0, bias: bias ? 0 : -1, y: 0 }, g, 0, planes, acc);
}

/**
 * Compute the output planes of input planes [planeLo, planeHi) (plane = n * channels + c). `bias` is read only
 * when `o.bias` >= 0. `acc` holds at least outW doubles.
 */
function depthwisePlanes(x: FloatArray, w: FloatArray, bias: FloatArray, y: FloatArray, o: Offsets, g: DepthwiseGeometry, planeLo: number, planeHi: number, acc: Float64Array): void {
  const { inH: H, inW: W, outH: OH, outW: OW, kH: KH, kW: KW, strideH: sh, strideW: sw, dilationH: dh, dilationW: dw, padTop: pt, padLeft: pl } = g;
  // interior output columns: every kernel column inside [0, W)
  const inLo = Math.min(OW, Math.ceil(pl / sw));
  const inHi = Math.max(inLo, Math.min(OW, Math.floor((W - 1 - (KW - 1) * dw + pl) / sw) + 1));
  const kernelSize = KH * KW;
  const d1 = dw;
  const d2 = 2 * dw;
  const d3 = 3 * dw;
  const d4 = 4 * dw;
  for (let plane = planeLo; plane < planeHi; plane++) {
    const xPlane = o.x + plane * H * W;
    for (let j = 0; j < g.multiplier; j++) {
      const oc = (plane % g.channels) * g.multiplier + j;
      const wBase = o.w + oc * kernelSize;
      const b = o.bias >= 0 ? bias[o.bias + oc]! : 0;
      let yi = o.y + (plane * g.multiplier + j) * OH * OW;
      for (let oh = 0; oh < OH; oh++) {
        const ih0 = oh * sh - pt;
        const khLo = Math.max(0, Math.ceil(-ih0 / dh));
        const khHi = Math.min(KH, Math.ceil((H - ih0) / dh));
        // left edge
        for (let ow = 0; ow < inLo; ow++) y[yi + ow] = edgeSum(x, w, xPlane, wBase, ih0, ow * sw - pl, khLo, khHi, W, KW, dh, dw) + b;
        // interior: every kernel column is inside the row; one sweep per kernel row, accumulated in double
        acc.fill(0, inLo, inHi);
        for (let kh = khLo; kh < khHi; kh++) {
          const xr = xPlane + (ih0 + kh * dh) * W - pl;
          const wr = wBase + kh * KW;
          if (KW === 3) {
            const w0 = w[wr]!;
            const w1 = w[wr + 1]!;
            const w2 = w[wr + 2]!;
            for (let ow = inLo, xi = xr + inLo * sw; ow < inHi; ow++, xi += sw) {
              acc[ow] = acc[ow]! + w0 * x[xi]! + w1 * x[xi + d1]! + w2 * x[xi + d2]!;
            }
          } else if (KW === 5) {
            const w0 = w[wr]!;
            const w1 = w[wr + 1]!;
            const w2 = w[wr + 2]!;
            const w3 = w[wr + 3]!;
            const w4 = w[wr + 4]!;
            for (let ow = inLo, xi = xr + inLo * sw; ow < inHi; ow++, xi += sw) {
              acc[ow] = acc[ow]! + w0 * x[xi]! + w1 * x[xi + d1]! + w2 * x[xi + d2]! + w3 * x[xi + d3]! + w4 * x[xi + d4]!;
            }
          } else {
            for (let kw = 0; kw < KW; kw++) {
              const wv = w[wr + kw]!;
              for (let ow = inLo, xi = xr + kw * dw + inLo * sw; ow < inHi; ow++, xi += sw) acc[ow] = acc[ow]! + wv * x[xi]!;
            }
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

/** Window sum for an output column whose kernel columns may fall outside [0, W). */
function edgeSum(x: FloatArray, w: FloatArray, xPlane: number, wBase: number, ih0: number, iw0: number, khLo: number, khHi: number, W: number, KW: number, dh: number, dw: number): number {
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

// ---------------------------------------------------------------------------------------------------------
// Thread split.

const GEOMETRY_KEYS = ['batch', 'channels', 'multiplier', 'inH', 'inW', 'outH', 'outW', 'kH', 'kW', 'strideH', 'strideW', 'dilationH', 'dilationW', 'padTop', 'padLeft'] as const;
/** Parameter words: the geometry, then offsets of x, w, bias (-1 = none), y in the arena, then planes per chunk. */
const PARAM_X = GEOMETRY_KEYS.length;

/** Run on the calling thread plus pool workers (see the file comment); false when no worker is ready. */
function depthwiseParallel(x: Float32Array, w: Float32Array, bias: Float32Array | undefined, y: Float32Array, g: DepthwiseGeometry, threads: number): boolean {
  if (!poolSupported()) return false;
  const planes = g.batch * g.channels;
  const workers = Math.min(readyWorkerCount(threads - 1), planes - 1);
  if (workers < 1) return false;
  const chunkPlanes = Math.max(1, Math.ceil(planes / ((workers + 1) * DEPTHWISE_CHUNKS_PER_THREAD)), Math.ceil(planes / MAX_TASK_CHUNKS));
  const total = Math.ceil(planes / chunkPlanes);
  const xSize = planes * g.inH * g.inW;
  const wSize = w.length;
  const outPlane = g.outH * g.outW;
  const ySize = planes * g.multiplier * outPlane;
  const offsets: Offsets = { x: 0, w: xSize, bias: bias ? xSize + wSize : -1, y: xSize + wSize + (bias ? bias.length : 0) };
  const arena = sharedArena(offsets.y + ySize);
  if (!arena) return false;
  arena.set(x.subarray(0, xSize), offsets.x);
  arena.set(w, offsets.w);
  if (bias) arena.set(bias, offsets.bias);
  const params = [...GEOMETRY_KEYS.map((k) => g[k]), offsets.x, offsets.w, offsets.bias, offsets.y, chunkPlanes];
  const acc = ROW_ACC.take('float64', g.outW);
  const local: Offsets = { x: 0, w: 0, bias: bias ? 0 : -1, y: 0 };
  const { owners } = runChunked(TASK_DEPTHWISE, params, total, workers, (chunk) => {
    const lo = chunk * chunkPlanes;
    depthwisePlanes(x, w, bias ?? w, y, local, g, lo, Math.min(lo + chunkPlanes, planes), acc);
  });
  const perPlane = g.multiplier * outPlane;
  for (let chunk = 0; chunk < total; chunk++) {
    if (owners[chunk] === 0) continue;
    const lo = chunk * chunkPlanes * perPlane;
    const hi = Math.min((chunk + 1) * chunkPlanes, planes) * perPlane;
    y.set(arena.subarray(offsets.y + lo, offsets.y + hi), lo);
  }
  return true;
}

/** Worker side of TASK_DEPTHWISE: compute chunk `chunk` of the call described by `params` over the shared arena. */
export function runDepthwiseChunk(params: Float64Array, arena: Float32Array, chunk: number): void {
  const geometry = {} as Record<(typeof GEOMETRY_KEYS)[number], number>;
  GEOMETRY_KEYS.forEach((k, i) => (geometry[k] = params[i]!));
  const g = geometry as DepthwiseGeometry;
  const offsets: Offsets = { x: params[PARAM_X]!, w: params[PARAM_X + 1]!, bias: params[PARAM_X + 2]!, y: params[PARAM_X + 3]! };
  const chunkPlanes = params[PARAM_X + 4]!;
  const planes = g.batch * g.channels;
  const lo = chunk * chunkPlanes;
  depthwisePlanes(arena, arena, arena, arena, offsets, g, lo, Math.min(lo + chunkPlanes, planes), ROW_ACC.take('float64', g.outW));
}
