/**
 * Reference (naive) kernels of the normalisation layers: for every element, gather the positions that share
 * its statistics by comparing multi-indices, compute mean and population variance with the textbook
 * formulas, and apply the affine map. They define the semantics the fast kernels in ../normalization.ts are
 * tested against; slow is fine.
 */
import { broadcastStrides, sizeOf } from '../../../tensor/shape.js';
import { fromNumbers, type Tensor } from '../../../tensor/tensor.js';
import { plainValues, unravel } from './reduce.js';

function stats(vs: number[]): { mean: number; variance: number } {
  const mean = vs.reduce((a, b) => a + b, 0) / vs.length;
  const variance = vs.reduce((a, b) => a + (b - mean) * (b - mean), 0) / vs.length;
  return { mean, variance };
}

/** Normalise each element by the statistics of the elements for which `sameGroup(idx, jdx)` holds. */
function normalizeBy(x: Tensor, sameGroup: (a: number[], b: number[]) => boolean, affine: (idx: number[], z: number) => number, extra = 0): number[] {
  const vals = plainValues(x);
  const idxs = Array.from({ length: x.size }, (_, i) => unravel(i, x.dims));
  return idxs.map((idx, i) => {
    const group = idxs.flatMap((jdx, j) => (sameGroup(idx, jdx) ? [vals[j]!] : []));
    const { mean, variance } = stats(group);
    return affine(idx, extra ? (vals[i]! - mean) / (Math.sqrt(variance) + extra) : (vals[i]! - mean) / Math.sqrt(variance));
  });
}

/** BatchNormalization, inference mode: (x - mean[c]) / sqrt(var[c] + eps) * scale[c] + bias[c]. */
export function refBatchNorm(x: Tensor, scale: Tensor, bias: Tensor, mean: Tensor, variance: Tensor, eps: number): Tensor {
  const [s, b, m, v] = [scale, bias, mean, variance].map(plainValues) as [number[], number[], number[], number[]];
  const vals = plainValues(x);
  const out = vals.map((xv, i) => {
    const c = x.rank === 1 ? 0 : unravel(i, x.dims)[1]!;
    return ((xv - m[c]!) / Math.sqrt(v[c]! + eps)) * s[c]! + b[c]!;
  });
  return fromNumbers(x.type, out, x.dims);
}

/** BatchNormalization, training mode: Y with the batch statistics, and the running mean and variance. */
export function refBatchNormTraining(x: Tensor, scale: Tensor, bias: Tensor, mean: Tensor, variance: Tensor, eps: number, momentum: number): Tensor[] {
  const c = x.dims[1]!;
  const vals = plainValues(x);
  const perChannel: number[][] = Array.from({ length: c }, () => []);
  vals.forEach((v, i) => perChannel[unravel(i, x.dims)[1]!]!.push(v));
  const st = perChannel.map(stats);
  const bm = fromNumbers(mean.type, st.map((q) => q.mean), [c]);
  const bv = fromNumbers(variance.type, st.map((q) => q.variance), [c]);
  const y = refBatchNorm(x, scale, bias, bm, bv, eps);
  const m = plainValues(mean);
  const v = plainValues(variance);
  return [
    y,
    fromNumbers(mean.type, m.map((q, k) => q * momentum + st[k]!.mean * (1 - momentum)), [c]),
    fromNumbers(variance.type, v.map((q, k) => q * momentum + st[k]!.variance * (1 - momentum)), [c]),
  ];
}

/** InstanceNormalization: statistics per (n, c). */
export function refInstanceNorm(x: Tensor, scale: Tensor, bias: Tensor, eps: number): Tensor {
  const s = plainValues(scale);
  const b = plainValues(bias);
  const vals = plainValues(x);
  const idxs = Array.from({ length: x.size }, (_, i) => unravel(i, x.dims));
  const out = idxs.map((idx, i) => {
    const group = idxs.flatMap((jdx, j) => (jdx[0] === idx[0] && jdx[1] === idx[1] ? [vals[j]!] : []));
    const { mean, variance } = stats(group);
    return ((vals[i]! - mean) / Math.sqrt(variance + eps)) * s[idx[1]!]! + b[idx[1]!]!;
  });
  return fromNumbers(x.type, out, x.dims);
}

/** GroupNormalization (per-channel scale/bias): statistics per (n, group of C / groups channels). */
export function refGroupNorm(x: Tensor, scale: Tensor, bias: Tensor, groups: number, eps: number): Tensor {
  const s = plainValues(scale);
  const b = plainValues(bias);
  const per = x.dims[1]! / groups;
  const vals = plainValues(x);
  const idxs = Array.from({ length: x.size }, (_, i) => unravel(i, x.dims));
  const out = idxs.map((idx, i) => {
    const g = Math.floor(idx[1]! / per);
    const group = idxs.flatMap((jdx, j) => (jdx[0] === idx[0] && Math.floor(jdx[1]! / per) === g ? [vals[j]!] : []));
    const { mean, variance } = stats(group);
    return ((vals[i]! - mean) / Math.sqrt(variance + eps)) * s[idx[1]!]! + b[idx[1]!]!;
  });
  return fromNumbers(x.type, out, x.dims);
}

/** LayerNormalization: Y, Mean and InvStdDev (float32) over dims[axis:]; scale and bias broadcast to X. */
export function refLayerNorm(x: Tensor, scale: Tensor, bias: Tensor | undefined, axis: number, eps: number): Tensor[] {
  const vals = plainValues(x);
  const s = plainValues(scale);
  const b = bias ? plainValues(bias) : undefined;
  const sSt = broadcastStrides(scale.dims, x.dims);
  const bSt = bias ? broadcastStrides(bias.dims, x.dims) : [];
  const idxs = Array.from({ length: x.size }, (_, i) => unravel(i, x.dims));
  const statDims = x.dims.map((d, i) => (i < axis ? d : 1));
  const means = new Array<number>(sizeOf(statDims)).fill(0);
  const invs = new Array<number>(sizeOf(statDims)).fill(0);
  const out = idxs.map((idx, i) => {
    const group = idxs.flatMap((jdx, j) => (jdx.slice(0, axis).every((c, k) => c === idx[k]) ? [vals[j]!] : []));
    const { mean, variance } = stats(group);
    const inv = 1 / Math.sqrt(variance + eps);
    let row = 0;
    for (let k = 0; k < axis; k++) row = row * x.dims[k]! + idx[k]!;
    means[row] = mean;
    invs[row] = inv;
    const sv = s[idx.reduce((p, c, k) => p + c * sSt[k]!, 0)]!;
    const bv = b ? b[idx.reduce((p, c, k) => p + c * bSt[k]!, 0)]! : 0;
    return (vals[i]! - mean) * inv * sv + bv;
  });
  return [fromNumbers(x.type, out, x.dims), fromNumbers('float32', means, statDims), fromNumbers('float32', invs, statDims)];
}

/** MeanVarianceNormalization: (x - mean) / (std + 1e-9) with statistics over `axes`. */
export function refMVN(x: Tensor, axes: readonly number[]): Tensor {
  const red = new Set(axes);
  const out = normalizeBy(
    x,
    (a, b) => a.every((c, k) => red.has(k) || c === b[k]),
    (_idx, z) => z,
    1e-9,
  );
  return fromNumbers(x.type, out, x.dims);
}

/** LpNormalization: x / ||line||_p along `axis`, 0 where the norm is 0. */
export function refLpNorm(x: Tensor, axis: number, p: 1 | 2): Tensor {
  const vals = plainValues(x);
  const idxs = Array.from({ length: x.size }, (_, i) => unravel(i, x.dims));
  const out = idxs.map((idx, i) => {
    const line = idxs.flatMap((jdx, j) => (jdx.every((c, k) => k === axis || c === idx[k]) ? [vals[j]!] : []));
    const norm = p === 1 ? line.reduce((a, v) => a + Math.abs(v), 0) : Math.sqrt(line.reduce((a, v) => a + v * v, 0));
    return norm === 0 ? 0 : vals[i]! / norm;
  });
  return fromNumbers(x.type, out, x.dims);
}
