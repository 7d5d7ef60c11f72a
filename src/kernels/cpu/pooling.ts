/**
 * CPU pooling kernels: MaxPool (with optional Indices), AveragePool, LpPool and GlobalAveragePool,
 * GlobalMaxPool, GlobalLpPool, for 1 to 3 spatial axes (1-D and 2-D run as 3-D with leading size-1 axes;
 * more axes fall back to the reference kernels).
 *
 * Windowed pools precompute, per spatial axis and output index, the range [kStart, kEnd) of kernel taps that
 * land inside the input and (AveragePool with count_include_pad) how many land inside the padded extent.
 * The window loops then run over exactly the valid taps: no bounds checks and no padding branches inside.
 * Windows that hang off the end in ceil_mode are clipped the same way.
 *
 * Semantics (shared with reference/conv.ts): max skips NaN elements unless the window holds nothing else and
 * reports the first maximal element's flat input index (row-major, or with storage_order 1 the spatial axes
 * column-major); a window of padding only yields NaN (int8/uint8: the type's minimum) and index -1.
 * AveragePool divides by the real elements, or with count_include_pad by the taps inside
 * [-padBegin, in + padEnd) per axis. LpPool is (sum |v|^p)^(1/p) over real elements.
 *
 * Cost: one read per window tap, N*C*O*K in all (O output positions, K kernel taps); global pools read each
 * element once, with four accumulators.
 */
import { allocate, type NumericArray } from '../../tensor/dtype.js';
import { fromNumbers, Tensor } from '../../tensor/tensor.js';
import { registerKernel, type Attrs, type Kernel, type OutputSpec } from '../registry.js';
import { refGlobalPool, refPool, type PoolKind, type RefPoolAttrs } from './reference/conv.js';
import { PlanCache, ScratchSlot } from './scratch.js';

/** Window tables by input/output shapes and window attributes (read-only once built). */
const geometries = new PlanCache<Pool3>((g) => 4 * (g.od + g.oh + g.ow));
/** float32 results of float16 pools before encoding; MaxPool's int32 indices before widening to int64. */
const HALF_WORK = new ScratchSlot();
const INDICES = new ScratchSlot();

/** Valid-tap tables of one spatial axis. */
interface AxisTable {
  /** Input position of tap 0 for each output index: o * stride - padBegin. */
  origin: Int32Array;
  kStart: Int32Array;
  kEnd: Int32Array;
  /** Taps inside the padded extent (count_include_pad divisor factor). */
  paddedCount: Int32Array;
  dilation: number;
}

function axisTable(inSize: number, outSize: number, kernel: number, stride: number, dilation: number, padBegin: number, padEnd: number): AxisTable {
  const origin = new Int32Array(outSize);
  const kStart = new Int32Array(outSize);
  const kEnd = new Int32Array(outSize);
  const paddedCount = new Int32Array(outSize);
  for (let o = 0; o < outSize; o++) {
    const first = o * stride - padBegin;
    const lo = Math.min(kernel, Math.max(0, Math.ceil(-first / dilation)));
    const hi = Math.max(lo, Math.min(kernel, Math.ceil((inSize - first) / dilation)));
    origin[o] = first;
    kStart[o] = lo;
    kEnd[o] = hi;
    // taps at positions < inSize + padEnd (all taps start at or after -padBegin)
    paddedCount[o] = Math.max(0, Math.min(kernel, Math.ceil((inSize + padEnd - first) / dilation)));
  }
  return { origin, kStart, kEnd, paddedCount, dilation };
}

/** Pool geometry padded to 3 spatial axes. */
interface Pool3 {
  planes: number;
  d: number;
  h: number;
  w: number;
  od: number;
  oh: number;
  ow: number;
  tD: AxisTable;
  tH: AxisTable;
  tW: AxisTable;
}

function pool3(x: Tensor, spec: OutputSpec, attrs: Attrs): Pool3 {
  const key = `${x.dims.join(',')}|${spec.dims.join(',')}|${(attrs['kernel_shape'] as number[]).join(',')}|${(attrs['strides'] as number[]).join(',')}|${(attrs['dilations'] as number[]).join(',')}|${(attrs['pads'] as number[]).join(',')}`;
  return geometries.get(key, () => buildPool3(x, spec, attrs));
}

function buildPool3(x: Tensor, spec: OutputSpec, attrs: Attrs): Pool3 {
  const rank = x.rank - 2;
  const lead = 3 - rank;
  const pad3 = (a: readonly number[], fill: number): number[] => [...new Array<number>(lead).fill(fill), ...a];
  const inS = pad3(x.dims.slice(2), 1);
  const outS = pad3(spec.dims.slice(2), 1);
  const kernel = pad3(attrs['kernel_shape'] as readonly number[], 1);
  const strides = pad3(attrs['strides'] as readonly number[], 1);
  const dilations = pad3(attrs['dilations'] as readonly number[], 1);
  const pads = attrs['pads'] as readonly number[];
  const begins = pad3(pads.slice(0, rank), 0);
  const ends = pad3(pads.slice(rank), 0);
  const t = (i: number): AxisTable => axisTable(inS[i]!, outS[i]!, kernel[i]!, strides[i]!, dilations[i]!, begins[i]!, ends[i]!);
  return {
    planes: x.dims[0]! * x.dims[1]!,
    d: inS[0]!,
    h: inS[1]!,
    w: inS[2]!,
    od: outS[0]!,
    oh: outS[1]!,
    ow: outS[2]!,
    tD: t(0),
    tH: t(1),
    tW: t(2),
  };
}

/** Input values for computing: float16 decoded to float32, other types as stored. */
function inputValues(x: Tensor): NumericArray {
  return x.type === 'float16' ? (x.numbers() as Float32Array) : (x.data as NumericArray);
}

/** A zero-filled output buffer of x's computing type (from `allocate`; a float32 scratch for float16). */
function outputBuffer(x: Tensor, n: number): NumericArray {
  if (x.type === 'float64') return allocate('float64', n);
  if (x.type === 'int8') return allocate('int8', n);
  if (x.type === 'uint8') return allocate('uint8', n);
  if (x.type === 'float16') return HALF_WORK.take('float32', n, true);
  return allocate('float32', n);
}

function finish(spec: OutputSpec, values: NumericArray): Tensor {
  if (spec.type === 'float16') return fromNumbers('float16', values, spec.dims);
  return new Tensor(spec.type, values, spec.dims);
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Write non-negative (or -1) indices < 2^31 into an int64 tensor's storage without BigInt conversions. */
function int64Indices(indices: Int32Array, spec: OutputSpec): Tensor {
  const out = allocate('int64', indices.length);
  if (LITTLE_ENDIAN) {
    const words = new Int32Array(out.buffer, out.byteOffset, 2 * out.length);
    for (let i = 0; i < indices.length; i++) {
      const v = indices[i]!;
      words[2 * i] = v;
      words[2 * i + 1] = v >> 31; // sign extension: 0, or -1 for index -1
    }
  } else {
    for (let i = 0; i < indices.length; i++) out[i] = BigInt(indices[i]!);
  }
  return new Tensor('int64', out, spec.dims);
}

function emptyMax(x: Tensor): number {
  return x.type === 'int8' ? -128 : x.type === 'uint8' ? 0 : NaN;
}

const maxPool: Kernel = (inputs, attrs, outputs) => {
  const x = inputs[0]!;
  const spec = outputs[0]!;
  const wantIndices = outputs.length > 1;
  const columnMajor = attrs['storage_order'] === 1;
  if (x.rank > 5) {
    const r = refPool('max', x, refAttrs(attrs));
    return wantIndices ? [r.y, r.indices] : [r.y];
  }
  const g = pool3(x, spec, attrs);
  const xv = inputValues(x);
  const y = outputBuffer(x, g.planes * g.od * g.oh * g.ow);
  const idx = wantIndices ? INDICES.take('int32', y.length, true) : undefined;
  const { d: D, h: H, w: W, tD, tH, tW } = g;
  const plane = D * H * W;
  const empty = emptyMax(x);
  let yi = 0;
  for (let p = 0; p < g.planes; p++) {
    const xp = p * plane;
    for (let od = 0; od < g.od; od++) {
      const kd0 = tD.kStart[od]!;
      const kd1 = tD.kEnd[od]!;
      const id0 = tD.origin[od]!;
      for (let oh = 0; oh < g.oh; oh++) {
        const kh0 = tH.kStart[oh]!;
        const kh1 = tH.kEnd[oh]!;
        const ih0 = tH.origin[oh]!;
        for (let ow = 0; ow < g.ow; ow++, yi++) {
          const kw0 = tW.kStart[ow]!;
          const kw1 = tW.kEnd[ow]!;
          const iw0 = tW.origin[ow]!;
          let best = -Infinity;
          let at = -1;
          for (let kd = kd0; kd < kd1; kd++) {
            const id = id0 + kd * tD.dilation;
            for (let kh = kh0; kh < kh1; kh++) {
              const row = xp + (id * H + ih0 + kh * tH.dilation) * W + iw0;
              for (let kw = kw0; kw < kw1; kw++) {
                const v = xv[row + kw * tW.dilation]!;
                if (v > best) {
                  best = v;
                  at = row + kw * tW.dilation;
                }
              }
            }
          }
          if (at < 0) {
            // nothing above -Infinity: all NaN/-Infinity (take the first element) or no real element at all
            if (kd0 < kd1 && kh0 < kh1 && kw0 < kw1) {
              at = xp + ((id0 + kd0 * tD.dilation) * H + ih0 + kh0 * tH.dilation) * W + iw0 + kw0 * tW.dilation;
              best = xv[at]!;
            } else best = empty;
          }
          y[yi] = best;
          if (idx) {
            if (at < 0 || !columnMajor) idx[yi] = at;
            else {
              // re-express the row-major position (within its plane) with column-major spatial strides
              const local = at - xp;
              const iw = local % W;
              const ih = Math.floor(local / W) % H;
              const id = Math.floor(local / (W * H));
              idx[yi] = xp + (iw * H + ih) * D + id;
            }
          }
        }
      }
    }
  }
  const result = [finish(spec, y)];
  if (idx) result.push(int64Indices(idx, outputs[1]!));
  return result;
};

function averageOrLp(kind: 'average' | 'lp'): Kernel {
  return (inputs, attrs, outputs) => {
    const x = inputs[0]!;
    const spec = outputs[0]!;
    if (x.rank > 5) return [refPool(kind, x, refAttrs(attrs)).y];
    const g = pool3(x, spec, attrs);
    const xv = inputValues(x);
    const y = outputBuffer(x, g.planes * g.od * g.oh * g.ow);
    const { d: D, h: H, w: W, tD, tH, tW } = g;
    const plane = D * H * W;
    const includePad = attrs['count_include_pad'] === 1;
    const p = kind === 'lp' ? (attrs['p'] as number) : 1;
    const lpKind = p === 1 ? 1 : p === 2 ? 2 : 0;
    let yi = 0;
    for (let pl = 0; pl < g.planes; pl++) {
      const xp = pl * plane;
      for (let od = 0; od < g.od; od++) {
        const kd0 = tD.kStart[od]!;
        const kd1 = tD.kEnd[od]!;
        const id0 = tD.origin[od]!;
        for (let oh = 0; oh < g.oh; oh++) {
          const kh0 = tH.kStart[oh]!;
          const kh1 = tH.kEnd[oh]!;
          const ih0 = tH.origin[oh]!;
          for (let ow = 0; ow < g.ow; ow++, yi++) {
            const kw0 = tW.kStart[ow]!;
            const kw1 = tW.kEnd[ow]!;
            const iw0 = tW.origin[ow]!;
            let sum = 0;
            for (let kd = kd0; kd < kd1; kd++) {
              const id = id0 + kd * tD.dilation;
              for (let kh = kh0; kh < kh1; kh++) {
                const row = xp + (id * H + ih0 + kh * tH.dilation) * W + iw0;
                if (kind === 'average') {
                  for (let kw = kw0; kw < kw1; kw++) sum += xv[row + kw * tW.dilation]!;
                } else if (lpKind === 1) {
                  for (let kw = kw0; kw < kw1; kw++) sum += Math.abs(xv[row + kw * tW.dilation]!);
                } else if (lpKind === 2) {
                  for (let kw = kw0; kw < kw1; kw++) {
                    const v = xv[row + kw * tW.dilation]!;
                    sum += v * v;
                  }
                } else {
                  for (let kw = kw0; kw < kw1; kw++) sum += Math.abs(xv[row + kw * tW.dilation]!) ** p;
                }
              }
            }
            if (kind === 'average') {
              const count = includePad
                ? tD.paddedCount[od]! * tH.paddedCount[oh]! * tW.paddedCount[ow]!
                : (kd1 - kd0) * (kh1 - kh0) * (kw1 - kw0);
              y[yi] = sum / count;
            } else {
              y[yi] = lpKind === 1 ? sum : lpKind === 2 ? Math.sqrt(sum) : sum ** (1 / p);
            }
          }
        }
      }
    }
    return [finish(spec, y)];
  };
}

/** Canonical attributes in the reference kernels' form (for the > 3 spatial axes fallback). */
function refAttrs(attrs: Attrs): RefPoolAttrs {
  return {
    kernelShape: attrs['kernel_shape'] as readonly number[],
    strides: attrs['strides'] as readonly number[],
    dilations: attrs['dilations'] as readonly number[],
    pads: attrs['pads'] as readonly number[],
    ceilMode: attrs['ceil_mode'] === 1,
    countIncludePad: attrs['count_include_pad'] === 1,
    p: attrs['p'] as number | undefined,
    storageOrder: attrs['storage_order'] as number | undefined,
  };
}

function globalPool(kind: PoolKind): Kernel {
  return (inputs, attrs, outputs) => {
    const x = inputs[0]!;
    const spec = outputs[0]!;
    const planes = x.dims[0]! * x.dims[1]!;
    const plane = planes === 0 ? 0 : x.size / planes;
    if (plane === 0) return [kind === 'lp' ? refGlobalPool(kind, x, attrs['p'] as number) : refGlobalPool(kind, x)];
    const xv = inputValues(x);
    const y = outputBuffer(x, planes);
    const p = kind === 'lp' ? (attrs['p'] as number) : 2;
    for (let pl = 0; pl < planes; pl++) {
      const start = pl * plane;
      const end = start + plane;
      if (kind === 'max') {
        let best = -Infinity;
        for (let i = start; i < end; i++) {
          const v = xv[i]!;
          best = v > best ? v : best;
        }
        // all NaN / -Infinity: the first element, as MaxPool does
        y[pl] = best === -Infinity ? xv[start]! : best;
        continue;
      }
      // four independent partial sums, combined in a fixed order (deterministic)
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      let i = start;
      if (kind === 'average') {
        for (; i + 3 < end; i += 4) {
          s0 += xv[i]!;
          s1 += xv[i + 1]!;
          s2 += xv[i + 2]!;
          s3 += xv[i + 3]!;
        }
        for (; i < end; i++) s0 += xv[i]!;
        y[pl] = (s0 + s1 + s2 + s3) / plane;
      } else if (p === 2) {
        for (; i < end; i++) {
          const v = xv[i]!;
          s0 += v * v;
        }
        y[pl] = Math.sqrt(s0);
      } else {
        for (; i < end; i++) s0 += Math.abs(xv[i]!) ** p;
        y[pl] = s0 ** (1 / p);
      }
    }
    return [finish(spec, y)];
  };
}

registerKernel('MaxPool', 'cpu', maxPool);
registerKernel('AveragePool', 'cpu', averageOrLp('average'));
registerKernel('LpPool', 'cpu', averageOrLp('lp'));
registerKernel('GlobalAveragePool', 'cpu', globalPool('average'));
registerKernel('GlobalMaxPool', 'cpu', globalPool('max'));
registerKernel('GlobalLpPool', 'cpu', globalPool('lp'));
