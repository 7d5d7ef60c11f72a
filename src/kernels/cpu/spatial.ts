/**
 * CPU kernels of GridSample, AffineGrid, Col2Im, NonMaxSuppression, MaxUnpool, DeformConv and RoiAlign (schemas in
 * src/ops/spatial.ts).
 *
 * - GridSample: per (n, output position) the sampling taps are built once: per spatial dim the grid
 *   coordinate is denormalised (rounded to float32 as the ONNX reference does), moved inside the border by the
 *   padding mode, and expanded into 1 (nearest), 2 (linear) or 4 (cubic, Keys a = -0.75) taps whose indices
 *   are resolved by the padding mode (zeros drops a tap). The N-D tap set is the product of the per-dim sets
 *   (offset and weight per tap); then every channel is one weighted sum over it. Cost per output element:
 *   taps^r multiply-adds (r spatial dims).
 * - AffineGrid: base coordinates per dim (linspace over [-1, 1], pixel centres unless align_corners), then one
 *   small matrix-vector product per output position. O(N * positions * r^2).
 * - Col2Im: per (n, c, block element, block position) one add into the image (position = l*stride - pad +
 *   k*dilation per dim, dropped when outside). O(input size * r).
 * - NonMaxSuppression: corner extents and areas precomputed per batch, candidates sorted by score
 *   (ties: lower index first), each candidate tested against the kept boxes. O(S log S + S*K) per class.
 * - MaxUnpool: a zero tensor and one scatter pass.
 * - DeformConv, RoiAlign: see their kernels below.
 */
import { allocate, type NumericArray, type TypedArray } from '../../tensor/dtype.js';
import { sizeOf, stridesOf } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { registerKernel, type Kernel } from '../registry.js';
import { sgemm } from './gemm.js';
import { floatArray, floatTensor, readFloats } from './misc-util.js';

const fround = Math.fround;

/** Reflect `x` into [lo, hi] by repeated mirroring at the borders (the ONNX reference's rule). */
function reflect(x: number, lo: number, hi: number): number {
  const range = hi - lo;
  if (range <= 0) return lo;
  if (x < lo) {
    const dx = lo - x;
    const n = Math.trunc(dx / range);
    const r = dx - n * range;
    return n % 2 === 0 ? lo + r : hi - r;
  }
  if (x > hi) {
    const dx = x - hi;
    const n = Math.trunc(dx / range);
    const r = dx - n * range;
    return n % 2 === 0 ? hi - r : lo + r;
  }
  return x;
}

/** Round half to even (numpy rint). */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Keys cubic convolution weights (a = -0.75) of the four taps around fractional offset t in [0, 1). */
function cubicWeights(t: number, out: Float64Array): void {
  const a = -0.75;
  const t1 = t + 1;
  const t2 = 1 - t;
  const t3 = 2 - t;
  out[0] = ((a * t1 - 5 * a) * t1 + 8 * a) * t1 - 4 * a;
  out[1] = ((a + 2) * t - (a + 3)) * t * t + 1;
  out[2] = ((a + 2) * t2 - (a + 3)) * t2 * t2 + 1;
  out[3] = ((a * t3 - 5 * a) * t3 + 8 * a) * t3 - 4 * a;
}

const gridSample: Kernel = (inputs, attrs, outputs) => {
  const [x, gridT] = inputs as [Tensor, Tensor];
  const spec = outputs[0]!;
  const mode = attrs.mode as string;
  const padding = attrs.padding_mode as string;
  const align = attrs.align_corners === 1;
  const r = x.rank - 2;
  const [batch, channels] = x.dims as [number, number];
  const inDims = x.dims.slice(2);
  const inStrides = stridesOf(inDims);
  const plane = sizeOf(inDims);
  const positions = sizeOf(spec.dims.slice(2));
  const xs = x.type === 'int64' ? Float64Array.from(x.data as BigInt64Array, Number) : (x.numbers() as NumericArray);
  const grid = readFloats(gridT);
  const gridIsDouble = gridT.type === 'float64';
  const values = new Float64Array(spec.dims.reduce((p, d) => p * d, 1));
  const lo = inDims.map(() => (align ? 0 : -0.5));
  const hi = inDims.map((d) => (align ? d - 1 : d - 0.5));
  const tapsPerDim = mode === 'nearest' ? 1 : mode === 'linear' ? 2 : 4;
  // per-dim taps (index or -1, weight), then their product
  const dimIndex = new Int32Array(r * tapsPerDim);
  const dimWeight = new Float64Array(r * tapsPerDim);
  const maxTaps = tapsPerDim ** r;
  const tapOffset = new Int32Array(maxTaps);
  const tapWeight = new Float64Array(maxTaps);
  const cubic = new Float64Array(4);
  const resolve = (i: number, d: number): number => {
    const size = inDims[d]!;
    if (padding === 'zeros') return i >= 0 && i < size ? i : -1;
    if (padding === 'border') return i < 0 ? 0 : i >= size ? size - 1 : i;
    return Math.trunc(reflect(i, lo[d]!, hi[d]!));
  };
  for (let n = 0; n < batch; n++) {
    for (let p = 0; p < positions; p++) {
      const g = (n * positions + p) * r;
      for (let d = 0; d < r; d++) {
        const size = inDims[d]!;
        const v = grid[g + (r - 1 - d)]!;
        // denormalise as the reference does, in float32 steps
        let c = gridIsDouble ? fround(align ? ((v + 1) / 2) * (size - 1) : ((v + 1) * size - 1) / 2) : align ? fround(fround(fround(v + 1) / 2) * (size - 1)) : fround(fround(fround(fround(v + 1) * size) - 1) / 2);
        if (mode === 'nearest') c = roundHalfEven(c);
        if (c < lo[d]! || c > hi[d]!) {
          if (padding === 'border') c = c < 0 ? 0 : c > size - 1 ? size - 1 : c;
          else if (padding === 'reflection') c = fround(reflect(c, lo[d]!, hi[d]!));
        }
        const base = d * tapsPerDim;
        if (mode === 'nearest') {
          dimIndex[base] = resolve(Math.trunc(c), d);
          dimWeight[base] = 1;
        } else {
          const i0 = Math.floor(c);
          const t = c - i0;
          if (mode === 'linear') {
            dimIndex[base] = resolve(i0, d);
            dimIndex[base + 1] = resolve(i0 + 1, d);
            dimWeight[base] = 1 - t;
            dimWeight[base + 1] = t;
          } else {
            cubicWeights(t, cubic);
            for (let k = 0; k < 4; k++) {
              dimIndex[base + k] = resolve(i0 - 1 + k, d);
              dimWeight[base + k] = cubic[k]!;
            }
          }
        }
      }
      // product of the per-dim taps, skipping any tap that falls in zero padding
      let taps = 0;
      for (let combo = 0; combo < maxTaps; combo++) {
        let rest = combo;
        let offset = 0;
        let w = 1;
        for (let d = r - 1; d >= 0; d--) {
          const k = rest % tapsPerDim;
          rest = (rest - k) / tapsPerDim;
          const i = dimIndex[d * tapsPerDim + k]!;
          if (i < 0) {
            w = 0;
            break;
          }
          offset += i * inStrides[d]!;
          w *= dimWeight[d * tapsPerDim + k]!;
        }
        if (w === 0) continue;
        tapOffset[taps] = offset;
        tapWeight[taps++] = w;
      }
      for (let c = 0; c < channels; c++) {
        const src = (n * channels + c) * plane;
        let sum = 0;
        for (let k = 0; k < taps; k++) sum += tapWeight[k]! * xs[src + tapOffset[k]!]!;
        values[(n * channels + c) * positions + p] = sum;
      }
    }
  }
  if (spec.type === 'float32' || spec.type === 'float64' || spec.type === 'float16') {
    return [floatTensor(spec.type, spec.type === 'float64' ? values : Float32Array.from(values), spec.dims)];
  }
  if (spec.type === 'int64') return [new Tensor('int64', BigInt64Array.from(values, (v) => BigInt(Math.trunc(v))), spec.dims)];
  const out = allocate(spec.type, values.length) as NumericArray;
  for (let i = 0; i < values.length; i++) out[i] = Math.trunc(values[i]!);
  return [new Tensor(spec.type, out as TypedArray, spec.dims)];
};

/** linspace over [-1, 1] of `n` points (pixel centres when !align; a single point is 0). */
function baseCoordinates(n: number, align: boolean): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = n <= 1 ? 0 : align ? -1 + (2 * i) / (n - 1) : (2 * i + 1) / n - 1;
  return out;
}

const affineGrid: Kernel = (inputs, attrs, outputs) => {
  const theta = inputs[0]!;
  const spec = outputs[0]!;
  const align = attrs.align_corners === 1;
  const r = spec.dims[spec.dims.length - 1]!;
  const batch = spec.dims[0]!;
  const spatial = spec.dims.slice(1, -1);
  // coordinate vector per position, innermost spatial dim first: (x_w, y_h[, z_d])
  const axes = spatial.map((n) => baseCoordinates(n, align));
  const positions = sizeOf(spatial);
  const th = readFloats(theta);
  const out = floatArray(spec.type, batch * positions * r);
  const coord = new Float64Array(r);
  const idx = new Array<number>(r).fill(0);
  for (let p = 0; p < positions; p++) {
    for (let d = 0; d < r; d++) coord[d] = axes[r - 1 - d]![idx[r - 1 - d]!]!;
    for (let n = 0; n < batch; n++) {
      const t = n * r * (r + 1);
      const o = (n * positions + p) * r;
      for (let i = 0; i < r; i++) {
        let s = th[t + i * (r + 1) + r]!;
        for (let j = 0; j < r; j++) s += th[t + i * (r + 1) + j]! * coord[j]!;
        out[o + i] = s;
      }
    }
    for (let d = r - 1; d >= 0; d--) {
      if (++idx[d]! < spatial[d]!) break;
      idx[d] = 0;
    }
  }
  return [floatTensor(spec.type, out, spec.dims)];
};

const col2Im: Kernel = (inputs, attrs, outputs) => {
  const x = inputs[0]!;
  const spec = outputs[0]!;
  const image = attrs.image_shape as readonly number[];
  const block = attrs.block_shape as readonly number[];
  const dil = attrs.dilations as readonly number[];
  const pads = attrs.pads as readonly number[];
  const strides = attrs.strides as readonly number[];
  const r = image.length;
  const counts = image.map((d, i) => Math.floor((d + pads[i]! + pads[i + r]! - (dil[i]! * (block[i]! - 1) + 1)) / strides[i]!) + 1);
  const [batch, rows, blocks] = x.dims as [number, number, number];
  const blockSize = sizeOf(block);
  const channels = rows / blockSize;
  const imageSize = sizeOf(image);
  const imageStrides = stridesOf(image);
  const blockStrides = stridesOf(block);
  const countStrides = stridesOf(counts);
  const isInt64 = x.type === 'int64';
  const xs = isInt64 ? Float64Array.from(x.data as BigInt64Array, Number) : (x.numbers() as NumericArray);
  const acc = new Float64Array(batch * channels * imageSize);
  // image offset of (block element k, block position l), or -1 when it falls in the padding
  const target = new Int32Array(blockSize * blocks);
  for (let k = 0; k < blockSize; k++) {
    for (let l = 0; l < blocks; l++) {
      let off = 0;
      for (let d = 0; d < r; d++) {
        const kd = Math.floor(k / blockStrides[d]!) % block[d]!;
        const ld = Math.floor(l / countStrides[d]!) % counts[d]!;
        const pos = ld * strides[d]! - pads[d]! + kd * dil[d]!;
        if (pos < 0 || pos >= image[d]!) {
          off = -1;
          break;
        }
        off += pos * imageStrides[d]!;
      }
      target[k * blocks + l] = off;
    }
  }
  for (let n = 0; n < batch; n++) {
    for (let c = 0; c < channels; c++) {
      const dst = (n * channels + c) * imageSize;
      for (let k = 0; k < blockSize; k++) {
        const src = (n * rows + c * blockSize + k) * blocks;
        for (let l = 0; l < blocks; l++) {
          const t = target[k * blocks + l]!;
          if (t >= 0) acc[dst + t]! += xs[src + l]!;
        }
      }
    }
  }
  if (spec.type === 'float32' || spec.type === 'float64' || spec.type === 'float16') return [floatTensor(spec.type, spec.type === 'float64' ? acc : Float32Array.from(acc), spec.dims)];
  if (isInt64) return [new Tensor('int64', BigInt64Array.from(acc, (v) => BigInt(v)), spec.dims)];
  const out = allocate(spec.type, acc.length) as NumericArray;
  out.set(acc);
  return [new Tensor(spec.type, out as TypedArray, spec.dims)];
};

const nonMaxSuppression: Kernel = (inputs, attrs, outputs) => {
  const [boxesT, scoresT, maxT, iouT, scoreT] = inputs as (Tensor | undefined)[];
  const spec = outputs[0]!;
  const center = attrs.center_point_box === 1;
  const [batches, classes, count] = scoresT!.dims as [number, number, number];
  const boxes = boxesT!.data as Float32Array;
  const scores = scoresT!.data as Float32Array;
  const maxOut = maxT && maxT.size > 0 ? Math.max(0, Number((maxT.data as BigInt64Array)[0]!)) : 0;
  const iou = iouT && iouT.size > 0 ? (iouT.data as Float32Array)[0]! : 0;
  const threshold = scoreT && scoreT.size > 0 ? (scoreT.data as Float32Array)[0]! : undefined;
  const ext = new Float64Array(count * 4);
  const area = new Float64Array(count);
  const order = new Int32Array(count);
  const kept = new Int32Array(Math.min(count, maxOut));
  const out = new BigInt64Array(sizeOf(spec.dims));
  let written = 0;
  for (let b = 0; b < batches; b++) {
    for (let i = 0; i < count; i++) {
      const o = (b * count + i) * 4;
      let y0: number, x0: number, y1: number, x1: number;
      if (center) {
        y0 = boxes[o + 1]! - boxes[o + 3]! / 2;
        y1 = boxes[o + 1]! + boxes[o + 3]! / 2;
        x0 = boxes[o]! - boxes[o + 2]! / 2;
        x1 = boxes[o]! + boxes[o + 2]! / 2;
      } else {
        y0 = Math.min(boxes[o]!, boxes[o + 2]!);
        y1 = Math.max(boxes[o]!, boxes[o + 2]!);
        x0 = Math.min(boxes[o + 1]!, boxes[o + 3]!);
        x1 = Math.max(boxes[o + 1]!, boxes[o + 3]!);
      }
      ext[4 * i] = y0;
      ext[4 * i + 1] = x0;
      ext[4 * i + 2] = y1;
      ext[4 * i + 3] = x1;
      area[i] = (y1 - y0) * (x1 - x0);
    }
    for (let c = 0; c < classes; c++) {
      const s0 = (b * classes + c) * count;
      let candidates = 0;
      for (let i = 0; i < count; i++) if (threshold === undefined || scores[s0 + i]! > threshold) order[candidates++] = i;
      const sorted = order.subarray(0, candidates).sort((p, q) => scores[s0 + q]! - scores[s0 + p]! || p - q);
      let keptCount = 0;
      for (let j = 0; j < sorted.length && keptCount < maxOut; j++) {
        const i = sorted[j]!;
        let suppressed = false;
        for (let m = 0; m < keptCount && !suppressed; m++) {
          const k = kept[m]!;
          const ih = Math.min(ext[4 * i + 2]!, ext[4 * k + 2]!) - Math.max(ext[4 * i]!, ext[4 * k]!);
          const iw = Math.min(ext[4 * i + 3]!, ext[4 * k + 3]!) - Math.max(ext[4 * i + 1]!, ext[4 * k + 1]!);
          if (ih <= 0 || iw <= 0) continue;
          const inter = ih * iw;
          const union = area[i]! + area[k]! - inter;
          if (area[i]! <= 0 || area[k]! <= 0 || union <= 0) continue;
          suppressed = inter / union > iou;
        }
        if (suppressed) continue;
        kept[keptCount++] = i;
        out[written++] = BigInt(b);
        out[written++] = BigInt(c);
        out[written++] = BigInt(i);
      }
    }
  }
  return [new Tensor('int64', out, spec.dims)];
};

const maxUnpool: Kernel = (inputs, attrs, outputs) => {
  const [x, idx] = inputs as [Tensor, Tensor];
  const spec = outputs[0]!;
  // indices address the default-shaped result; a larger output_shape holds it in its leading corner
  const r = x.rank - 2;
  const kernel = attrs.kernel_shape as readonly number[];
  const pads = (attrs.pads as readonly number[] | undefined) ?? new Array<number>(2 * r).fill(0);
  const strides = (attrs.strides as readonly number[] | undefined) ?? new Array<number>(r).fill(1);
  const inferred = [x.dims[0]!, x.dims[1]!, ...x.dims.slice(2).map((d, i) => (d - 1) * strides[i]! - pads[i]! - pads[i + r]! + kernel[i]!)];
  const inferredStrides = stridesOf(inferred);
  const outStrides = stridesOf(spec.dims);
  const dst = allocate(spec.type, sizeOf(spec.dims)) as NumericArray;
  const src = x.data as NumericArray;
  const at = idx.data as BigInt64Array;
  for (let i = 0; i < src.length; i++) {
    let flat = Number(at[i]!);
    let o = 0;
    for (let d = 0; d < inferred.length; d++) {
      const coord = Math.floor(flat / inferredStrides[d]!);
      flat -= coord * inferredStrides[d]!;
      o += coord * outStrides[d]!;
    }
    dst[o] = src[i]!;
  }
  return [new Tensor(spec.type, dst as TypedArray, spec.dims)];
};

/**
 * RoiAlign: per RoI the sample positions of every bin are precomputed once (4 corner offsets and bilinear
 * weights each; points more than one pixel outside the map get zero weights), then every channel reduces its
 * bins over them. Cost: R * C * bins * samples * 4 multiply-adds.
 */
const roiAlign: Kernel = (inputs, attrs, outputs) => {
  const [x, roisT, idxT] = inputs as [Tensor, Tensor, Tensor];
  const spec = outputs[0]!;
  const [, channels, height, width] = x.dims as [number, number, number, number];
  const [rois, , ph, pw] = spec.dims as [number, number, number, number];
  const scale = attrs.spatial_scale as number;
  const ratio = attrs.sampling_ratio as number;
  const halfPixel = attrs.coordinate_transformation_mode === 'half_pixel';
  const isMax = attrs.mode === 'max';
  const xs = readFloats(x);
  const boxes = readFloats(roisT);
  const batchOf = idxT.data as BigInt64Array;
  const out = new Float64Array(sizeOf(spec.dims));
  const offset = halfPixel ? 0.5 : 0;
  for (let r = 0; r < rois; r++) {
    const x0 = boxes[4 * r]! * scale - offset;
    const y0 = boxes[4 * r + 1]! * scale - offset;
    let roiW = boxes[4 * r + 2]! * scale - offset - x0;
    let roiH = boxes[4 * r + 3]! * scale - offset - y0;
    if (!halfPixel) {
      roiW = Math.max(roiW, 1);
      roiH = Math.max(roiH, 1);
    }
    const binH = roiH / ph;
    const binW = roiW / pw;
    const gridH = ratio > 0 ? ratio : Math.ceil(roiH / ph);
    const gridW = ratio > 0 ? ratio : Math.ceil(roiW / pw);
    const count = Math.max(gridH * gridW, 1);
    const samples = ph * pw * gridH * gridW;
    const pos = new Int32Array(samples * 4);
    const wts = new Float64Array(samples * 4);
    let s = 0;
    for (let by = 0; by < ph; by++) {
      for (let bx = 0; bx < pw; bx++) {
        for (let iy = 0; iy < gridH; iy++) {
          const yy = y0 + by * binH + ((iy + 0.5) * binH) / gridH;
          for (let ix = 0; ix < gridW; ix++, s++) {
            let px = x0 + bx * binW + ((ix + 0.5) * binW) / gridW;
            let py = yy;
            if (py < -1 || py > height || px < -1 || px > width) continue; // zero weights, corner 0
            py = Math.max(py, 0);
            px = Math.max(px, 0);
            let yLow = Math.trunc(py);
            let xLow = Math.trunc(px);
            let yHigh: number;
            let xHigh: number;
            if (yLow >= height - 1) {
              yHigh = yLow = height - 1;
              py = yLow;
            } else yHigh = yLow + 1;
            if (xLow >= width - 1) {
              xHigh = xLow = width - 1;
              px = xLow;
            } else xHigh = xLow + 1;
            const ly = py - yLow;
            const lx = px - xLow;
            const at = 4 * s;
            pos[at] = yLow * width + xLow;
            pos[at + 1] = yLow * width + xHigh;
            pos[at + 2] = yHigh * width + xLow;
            pos[at + 3] = yHigh * width + xHigh;
            wts[at] = (1 - ly) * (1 - lx);
            wts[at + 1] = (1 - ly) * lx;
            wts[at + 2] = ly * (1 - lx);
            wts[at + 3] = ly * lx;
          }
        }
      }
    }
    const perBin = gridH * gridW;
    const image = Number(batchOf[r]!);
    for (let c = 0; c < channels; c++) {
      const base = (image * channels + c) * height * width;
      for (let b = 0; b < ph * pw; b++) {
        let acc = isMax ? -Infinity : 0;
        for (let k = b * perBin; k < (b + 1) * perBin; k++) {
          const at = 4 * k;
          const v1 = wts[at]! * xs[base + pos[at]!]!;
          const v2 = wts[at + 1]! * xs[base + pos[at + 1]!]!;
          const v3 = wts[at + 2]! * xs[base + pos[at + 2]!]!;
          const v4 = wts[at + 3]! * xs[base + pos[at + 3]!]!;
          if (isMax) acc = Math.max(acc, v1, v2, v3, v4);
          else acc += v1 + v2 + v3 + v4;
        }
        out[((r * channels + c) * ph * pw) + b] = isMax ? (perBin > 0 ? acc : 0) : acc / count;
      }
    }
  }
  return [floatTensor(spec.type, spec.type === 'float64' ? out : Float32Array.from(out), spec.dims)];
};

/**
 * DeformConv (2-D): per (image, group) a deformable im2col matrix [C/g * kH * kW, oH * oW] is filled by
 * bilinear sampling (zero outside X) at each tap's offset position times its mask, then one product with the
 * group's weights [oC/g, C/g * kH * kW] (sgemm for float32/float16, a double loop for float64) gives the
 * output rows. Cost: 4 reads per column entry plus 2 * oC * C/g * kH * kW * oH * oW flops.
 */
const deformConv: Kernel = (inputs, attrs, outputs, ctx) => {
  const [x, w, offsetT, bias, maskT] = inputs as [Tensor, Tensor, Tensor, Tensor?, Tensor?];
  const spec = outputs[0]!;
  const [batch, channels, height, width] = x.dims as [number, number, number, number];
  const outC = w.dims[0]!;
  const [, , oh, ow] = spec.dims as [number, number, number, number];
  const group = attrs.group as number;
  const og = attrs.offset_group as number;
  const [kh, kw] = attrs.kernel_shape as [number, number];
  const [dh, dw] = attrs.dilations as [number, number];
  const [sh, sw] = attrs.strides as [number, number];
  const [ph, pw] = attrs.pads as [number, number];
  const double = x.type === 'float64';
  const xs = readFloats(x);
  const ws = double ? readFloats(w) : Float32Array.from(readFloats(w));
  const offs = readFloats(offsetT);
  const masks = maskT ? readFloats(maskT) : undefined;
  const bs = bias ? readFloats(bias) : undefined;
  const cg = channels / group;
  const taps = kh * kw;
  const positions = oh * ow;
  const k = cg * taps;
  const cols = double ? new Float64Array(k * positions) : new Float32Array(k * positions);
  const out = double ? new Float64Array(sizeOf(spec.dims)) : new Float32Array(sizeOf(spec.dims));
  const channelsPerOffsetGroup = channels / og;
  const ocg = outC / group;
  for (let n = 0; n < batch; n++) {
    for (let g = 0; g < group; g++) {
      for (let ci = 0; ci < cg; ci++) {
        const c = g * cg + ci;
        const o = Math.floor(c / channelsPerOffsetGroup);
        const plane = (n * channels + c) * height * width;
        for (let i = 0; i < kh; i++) {
          for (let j = 0; j < kw; j++) {
            const tap = i * kw + j;
            const row = (ci * taps + tap) * positions;
            const offBase = ((n * og + o) * taps * 2 + tap * 2) * positions;
            const maskBase = ((n * og + o) * taps + tap) * positions;
            for (let y = 0; y < oh; y++) {
              for (let xx = 0; xx < ow; xx++) {
                const p = y * ow + xx;
                const hy = y * sh - ph + i * dh + offs[offBase + p]!;
                const wx = xx * sw - pw + j * dw + offs[offBase + positions + p]!;
                let v = 0;
                if (hy > -1 && hy < height && wx > -1 && wx < width) {
                  const y0 = Math.floor(hy);
                  const x0 = Math.floor(wx);
                  const ly = hy - y0;
                  const lx = wx - x0;
                  const inY0 = y0 >= 0;
                  const inY1 = y0 + 1 < height;
                  const inX0 = x0 >= 0;
                  const inX1 = x0 + 1 < width;
                  if (inY0 && inX0) v += (1 - ly) * (1 - lx) * xs[plane + y0 * width + x0]!;
                  if (inY0 && inX1) v += (1 - ly) * lx * xs[plane + y0 * width + x0 + 1]!;
                  if (inY1 && inX0) v += ly * (1 - lx) * xs[plane + (y0 + 1) * width + x0]!;
                  if (inY1 && inX1) v += ly * lx * xs[plane + (y0 + 1) * width + x0 + 1]!;
                }
                cols[row + p] = masks ? v * masks[maskBase + p]! : v;
              }
            }
          }
        }
      }
      const outOffset = (n * outC + g * ocg) * positions;
      if (cols instanceof Float32Array && ws instanceof Float32Array && out instanceof Float32Array) {
        sgemm({ m: ocg, n: positions, k, a: ws, aOffset: g * ocg * k, lda: k, b: cols, ldb: positions, c: out, cOffset: outOffset, ldc: positions, alpha: 1, beta: 0, threads: ctx.threads });
      } else {
        for (let m = 0; m < ocg; m++) {
          for (let kk = 0; kk < k; kk++) {
            const a = ws[(g * ocg + m) * k + kk]!;
            for (let p = 0; p < positions; p++) out[outOffset + m * positions + p]! += a * cols[kk * positions + p]!;
          }
        }
      }
    }
    if (bs) for (let oc = 0; oc < outC; oc++) for (let p = 0; p < positions; p++) out[(n * outC + oc) * positions + p]! += bs[oc]!;
  }
  return [floatTensor(spec.type, out, spec.dims)];
};

registerKernel('GridSample', 'cpu', gridSample);
registerKernel('DeformConv', 'cpu', deformConv);
registerKernel('RoiAlign', 'cpu', roiAlign);
registerKernel('AffineGrid', 'cpu', affineGrid);
registerKernel('Col2Im', 'cpu', col2Im);
registerKernel('NonMaxSuppression', 'cpu', nonMaxSuppression);
registerKernel('MaxUnpool', 'cpu', maxUnpool);
