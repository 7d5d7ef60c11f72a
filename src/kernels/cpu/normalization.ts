/**
 * CPU kernels of the normalisation layers: BatchNormalization, InstanceNormalization, LayerNormalization,
 * GroupNormalization, MeanVarianceNormalization and LpNormalization.
 *
 * All share one shape: statistics over a block of elements, then an affine map per element.
 * - BatchNormalization (inference): per channel a = scale / sqrt(var + eps), b = B - mean * a, then
 *   y = x * a + b over [N, C, inner] (1 read, 1 write, 2 flops per element). Training mode first takes the
 *   population mean and variance per channel over N and the spatial dims, and also returns the running
 *   statistics input * momentum + current * (1 - momentum).
 * - Instance/Group/LayerNormalization: each statistics block is contiguous ([N*C, HW], [N*G, C/G*HW],
 *   [outer, prod(dims[axis:])]); mean and variance by two passes in float64 (stable), then a third pass
 *   applies (x - mean) * invStd * scale + bias (3 reads, 1 write, about 6 flops per element).
 * - MeanVarianceNormalization: the reduction plan over `axes` (see reduce-blocks.ts), (x - mean) / (std + 1e-9).
 * - LpNormalization: [outer, D, inner] around the axis; x / ||line||_p, 0 where the norm is 0.
 * float16 is decoded to float32, computed in float64 arithmetic and encoded back.
 */
import type { NumericArray } from '../../tensor/dtype.js';
import { broadcastStrides, stridesOf } from '../../tensor/shape.js';
import { fromNumbers, type Tensor } from '../../tensor/tensor.js';
import { registerKernel, type Kernel, type OutputSpec } from '../registry.js';
import { planReduction, reducedOffsetsOf, splitAtAxis, storeFloat64 } from './reduce-blocks.js';
import { ScratchSlot } from './scratch.js';
import { broadcastIndex, outputTensor } from './util.js';

/** Per-call scratch rows (see ./scratch.ts); each kernel uses distinct slots for rows alive together. */
const HALF_WORK = new ScratchSlot();
const STATS_A = new ScratchSlot();
const STATS_B = new ScratchSlot();
const COEF_A = new ScratchSlot();
const COEF_B = new ScratchSlot();
const RUN_A = new ScratchSlot();
const RUN_B = new ScratchSlot();

/** An output buffer for `spec`: the output tensor's own array, or a Float32Array for float16. */
function floatOutput(spec: OutputSpec): { dst: NumericArray; finish: () => Tensor } {
  if (spec.type === 'float16') {
    const dst = HALF_WORK.take('float32', spec.dims.reduce((p, d) => p * d, 1), true);
    return { dst, finish: () => fromNumbers('float16', dst, spec.dims) };
  }
  const t = outputTensor(spec);
  return { dst: t.data as NumericArray, finish: () => t };
}

/** Mean and population variance of src[base .. base + n), two passes in float64. */
function meanVar(src: NumericArray, base: number, n: number): [number, number] {
  let s = 0;
  for (let i = 0; i < n; i++) s += src[base + i]!;
  const mean = s / n;
  let q = 0;
  for (let i = 0; i < n; i++) {
    const d = src[base + i]! - mean;
    q += d * d;
  }
  return [mean, q / n];
}

// ---------------------------------------------------------------------------------------------------------
// BatchNormalization

const batchNormalization: Kernel = (inputs, attrs, outputs) => {
  const x = inputs[0]!;
  const scale = inputs[1]!.numbers();
  const bias = inputs[2]!.numbers();
  const inMean = inputs[3]!.numbers();
  const inVar = inputs[4]!.numbers();
  const eps = attrs.epsilon as number;
  const training = attrs.training_mode === 1;
  // [N, channels, inner]: with spatial = 0 every element of the per-sample block is its own channel
  const n = x.dims[0]!;
  const perSample = x.dims.slice(1).reduce((p, d) => p * d, 1);
  const channels = attrs.spatial === 0 ? perSample : x.rank === 1 ? 1 : x.dims[1]!;
  const inner = channels === 0 ? 0 : perSample / channels;
  const src = x.numbers();
  const mean = STATS_A.take('float64', channels, true);
  const variance = STATS_B.take('float64', channels, true);
  if (training) {
    const count = n * inner;
    for (let c = 0; c < channels; c++) {
      let s = 0;
      for (let b = 0; b < n; b++) {
        const base = (b * channels + c) * inner;
        for (let i = 0; i < inner; i++) s += src[base + i]!;
      }
      const m = s / count;
      let q = 0;
      for (let b = 0; b < n; b++) {
        const base = (b * channels + c) * inner;
        for (let i = 0; i < inner; i++) {
          const d = src[base + i]! - m;
          q += d * d;
        }
      }
      mean[c] = m;
      variance[c] = q / count;
    }
  } else {
    mean.set(inMean);
    variance.set(inVar);
  }
  const mul = COEF_A.take('float64', channels, true);
  const add = COEF_B.take('float64', channels, true);
  for (let c = 0; c < channels; c++) {
    mul[c] = scale[c]! / Math.sqrt(variance[c]! + eps);
    add[c] = bias[c]! - mean[c]! * mul[c]!;
  }
  const { dst, finish } = floatOutput(outputs[0]!);
  for (let b = 0; b < n; b++) {
    for (let c = 0; c < channels; c++) {
      const base = (b * channels + c) * inner;
      const a = mul[c]!;
      const o = add[c]!;
      for (let i = base, end = base + inner; i < end; i++) dst[i] = src[i]! * a + o;
    }
  }
  const result = [finish()];
  if (training) {
    const momentum = attrs.momentum as number;
    const runMean = RUN_A.take('float64', channels, true);
    const runVar = RUN_B.take('float64', channels, true);
    for (let c = 0; c < channels; c++) {
      runMean[c] = inMean[c]! * momentum + mean[c]! * (1 - momentum);
      runVar[c] = inVar[c]! * momentum + variance[c]! * (1 - momentum);
    }
    result.push(storeFloat64(runMean, outputs[1]!), storeFloat64(runVar, outputs[2]!));
  }
  return result;
};

registerKernel('BatchNormalization', 'cpu', batchNormalization);

// ---------------------------------------------------------------------------------------------------------
// InstanceNormalization and GroupNormalization

/**
 * Normalise `blocks` contiguous blocks of `blockSize` elements; element i of block b is in channel
 * ((b % groupsPerSample) * channelsPerGroup + floor(i / inner)).
 */
function normalizeBlocks(
  src: NumericArray,
  dst: NumericArray,
  blocks: number,
  blockSize: number,
  groupsPerSample: number,
  channelsPerGroup: number,
  inner: number,
  scale: NumericArray,
  bias: NumericArray,
  eps: number,
): void {
  for (let b = 0; b < blocks; b++) {
    const base = b * blockSize;
    const [mean, variance] = meanVar(src, base, blockSize);
    const inv = 1 / Math.sqrt(variance + eps);
    const firstChannel = (b % groupsPerSample) * channelsPerGroup;
    for (let c = 0; c < channelsPerGroup; c++) {
      const a = inv * scale[firstChannel + c]!;
      const o = bias[firstChannel + c]! - mean * a;
      const start = base + c * inner;
      for (let i = start, end = start + inner; i < end; i++) dst[i] = src[i]! * a + o;
    }
  }
}

const instanceNormalization: Kernel = (inputs, attrs, outputs) => {
  const x = inputs[0]!;
  const c = x.dims[1]!;
  const inner = x.dims.slice(2).reduce((p, d) => p * d, 1);
  const { dst, finish } = floatOutput(outputs[0]!);
  normalizeBlocks(x.numbers(), dst, x.dims[0]! * c, inner, c, 1, inner, inputs[1]!.numbers(), inputs[2]!.numbers(), attrs.epsilon as number);
  return [finish()];
};

const groupNormalization: Kernel = (inputs, attrs, outputs) => {
  const x = inputs[0]!;
  const c = x.dims[1]!;
  const g = attrs.num_groups as number;
  const inner = x.dims.slice(2).reduce((p, d) => p * d, 1);
  const { dst, finish } = floatOutput(outputs[0]!);
  let scale = inputs[1]!.numbers();
  let bias = inputs[2]!.numbers();
  if (attrs.per_group_params === 1) {
    // opset 18-20: one scale/bias per group, repeated over the group's channels
    const per = c / g;
    const s = COEF_A.take('float64', c, true);
    const b = COEF_B.take('float64', c, true);
    for (let ch = 0; ch < c; ch++) {
      s[ch] = scale[Math.floor(ch / per)]!;
      b[ch] = bias[Math.floor(ch / per)]!;
    }
    scale = s;
    bias = b;
  }
  normalizeBlocks(x.numbers(), dst, x.dims[0]! * g, (c / g) * inner, g, c / g, inner, scale, bias, attrs.epsilon as number);
  return [finish()];
};

registerKernel('InstanceNormalization', 'cpu', instanceNormalization);
registerKernel('GroupNormalization', 'cpu', groupNormalization);

// ---------------------------------------------------------------------------------------------------------
// LayerNormalization

/** True when `p` (broadcast to `x`) varies exactly like a dense block over dims[axis:] and not before. */
function isTrailingBlock(p: readonly number[], x: readonly number[], axis: number): boolean {
  const st = broadcastStrides(p, x);
  const dense = stridesOf(x.slice(axis));
  for (let i = 0; i < x.length; i++) {
    if (x[i] === 1) continue;
    if (i < axis ? st[i] !== 0 : st[i] !== dense[i - axis]) return false;
  }
  return true;
}

const layerNormalization: Kernel = (inputs, attrs, outputs) => {
  const x = inputs[0]!;
  const axis = attrs.axis as number;
  const eps = attrs.epsilon as number;
  const scaleT = inputs[1]!;
  const biasT = inputs[2];
  let outer = 1;
  for (let i = 0; i < axis; i++) outer *= x.dims[i]!;
  const norm = x.dims.slice(axis).reduce((p, d) => p * d, 1);
  const src = x.numbers();
  const scale = scaleT.numbers();
  const bias = biasT?.numbers();
  // parameters laid out as one dense block over dims[axis:] are read by position in the row; anything
  // else (e.g. a per-row scale) through a full broadcast index table
  const scaleIdx = isTrailingBlock(scaleT.dims, x.dims, axis) ? undefined : broadcastIndex(scaleT.dims, x.dims);
  const biasIdx = biasT && !isTrailingBlock(biasT.dims, x.dims, axis) ? broadcastIndex(biasT.dims, x.dims) : undefined;
  const { dst, finish } = floatOutput(outputs[0]!);
  const means = STATS_A.take('float64', outer, true);
  const invs = STATS_B.take('float64', outer, true);
  for (let o = 0; o < outer; o++) {
    const base = o * norm;
    const [mean, variance] = meanVar(src, base, norm);
    const inv = 1 / Math.sqrt(variance + eps);
    means[o] = mean;
    invs[o] = inv;
    if (!scaleIdx && !biasIdx) {
      if (bias) for (let i = 0; i < norm; i++) dst[base + i] = (src[base + i]! - mean) * inv * scale[i]! + bias[i]!;
      else for (let i = 0; i < norm; i++) dst[base + i] = (src[base + i]! - mean) * inv * scale[i]!;
    } else {
      for (let i = 0; i < norm; i++) {
        const e = base + i;
        const s = scale[scaleIdx ? scaleIdx[e]! : i]!;
        const b = bias ? bias[biasIdx ? biasIdx[e]! : i]! : 0;
        dst[e] = (src[e]! - mean) * inv * s + b;
      }
    }
  }
  return [finish(), storeFloat64(means, outputs[1]!), storeFloat64(invs, outputs[2]!)];
};

registerKernel('LayerNormalization', 'cpu', layerNormalization);

// ---------------------------------------------------------------------------------------------------------
// MeanVarianceNormalization

const meanVarianceNormalization: Kernel = (inputs, attrs, outputs) => {
  const x = inputs[0]!;
  const plan = planReduction(x.dims, attrs.axes as readonly number[]);
  const { outerBases, inner, reducedCount: r } = plan;
  const reducedOffsets = reducedOffsetsOf(plan);
  const src = x.numbers();
  const { dst, finish } = floatOutput(outputs[0]!);
  for (let o = 0; o < outerBases.length; o++) {
    for (let j = 0; j < inner; j++) {
      const base = outerBases[o]! + j;
      let s = 0;
      for (let k = 0; k < r; k++) s += src[base + reducedOffsets[k]!]!;
      const mean = s / r;
      let q = 0;
      for (let k = 0; k < r; k++) {
        const d = src[base + reducedOffsets[k]!]! - mean;
        q += d * d;
      }
      const inv = 1 / (Math.sqrt(q / r) + 1e-9);
      for (let k = 0; k < r; k++) {
        const p = base + reducedOffsets[k]!;
        dst[p] = (src[p]! - mean) * inv;
      }
    }
  }
  return [finish()];
};

registerKernel('MeanVarianceNormalization', 'cpu', meanVarianceNormalization);

// ---------------------------------------------------------------------------------------------------------
// LpNormalization

const lpNormalization: Kernel = (inputs, attrs, outputs) => {
  const x = inputs[0]!;
  const p = attrs.p as number;
  const { outer, d, inner } = splitAtAxis(x.dims, attrs.axis as number);
  const src = x.numbers();
  const { dst, finish } = floatOutput(outputs[0]!);
  const norms = STATS_A.take('float64', inner, true);
  for (let o = 0; o < outer; o++) {
    const base = o * d * inner;
    norms.fill(0);
    for (let k = 0; k < d; k++) {
      const row = base + k * inner;
      if (p === 1) for (let j = 0; j < inner; j++) norms[j] += Math.abs(src[row + j]!);
      else
        for (let j = 0; j < inner; j++) {
          const v = src[row + j]!;
          norms[j] += v * v;
        }
    }
    if (p === 2) for (let j = 0; j < inner; j++) norms[j] = Math.sqrt(norms[j]!);
    for (let k = 0; k < d; k++) {
      const row = base + k * inner;
      for (let j = 0; j < inner; j++) {
        const nrm = norms[j]!;
        dst[row + j] = nrm === 0 ? 0 : src[row + j]! / nrm;
      }
    }
  }
  return [finish()];
};

registerKernel('LpNormalization', 'cpu', lpNormalization);
