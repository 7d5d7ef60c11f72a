/**
 * GPU kernels for BatchNormalization (inference) and LayerNormalization.
 *
 * BatchNormalization is elementwise with per-channel statistics: y = (x - mean[c]) * scale[c] /
 * sqrt(var[c] + eps) + bias[c], one thread per element, four small per-channel fetches.
 * LayerNormalization runs three passes over rows of D = prod(dims[axis:]) values: a mean per row, the
 * inverse standard deviation per row (two-pass variance, as the CPU kernel), then the normalized output with
 * scale and bias broadcast over the row. The per-row passes are also the optional Mean and InvStdDev outputs.
 * InstanceNormalization and GroupNormalization use the same two per-row passes over blocks of one sample's
 * group of channels (a group is one channel for InstanceNormalization), then scale and bias per channel
 * (per group for GroupNormalization's opset 18-20 form, `per_group_params` = 1).
 * Cost: O(1) per element for BatchNormalization; 3 reads per element plus 2 per row for the others.
 * Training-mode BatchNormalization runs on the host (a host op).
 */
import type { OutputSpec } from '../registry.js';
import type { Tensor } from '../../tensor/tensor.js';
import { broadcastStridesTo, checkIndexRange, dot, int, kernelSource, lit, splitIndex } from './codegen.js';
import { registerGpuKernel, type CallScope } from './runtime.js';

registerGpuKernel(
  'BatchNormalization',
  (scope, inputs, attrs, outputs) => {
    const x = inputs[0]!;
    const spec = outputs[0]!;
    checkIndexRange('BatchNormalization', x.dims);
    const eps = attrs['epsilon'] as number;
    const channels = x.rank === 1 ? 1 : x.dims[1]!;
    const inner = x.dims.slice(2).reduce((a, b) => a * b, 1);
    const split = splitIndex('i', [x.dims[0] ?? 1, channels, inner], 'c');
    const ch = split.coords[1]!;
    const body = [
      split.code,
      `var ch = ${ch};`,
      `return (a0[i] - a3[ch]) * a1[ch] / Math.sqrt(a4[ch] + ${lit(eps)}) + a2[ch];`,
    ].join('\n');
    return [scope.run(kernelSource(['a0', 'a1', 'a2', 'a3', 'a4'], body), spec, [x, inputs[1]!, inputs[2]!, inputs[3]!, inputs[4]!])];
  },
  {
    accepts: (inputs, outputs) =>
      outputs.length === 1 && outputs[0]!.type === 'float32' && inputs.every((t) => !t || t.type === 'float32') && inputs[0]!.rank >= 2,
  },
);

/** Per-row mean and inverse standard deviation (two-pass variance, as on the CPU) of `x` viewed as rows of `d`. */
function rowStatistics(scope: CallScope, x: Tensor, d: number, eps: number, statDims: readonly number[]): { mean: Tensor; inv: Tensor } {
  const rowSpec = { type: 'float32' as const, dims: statDims };
  const meanSrc = kernelSource(['a0'], [`var base = i * ${int(d)};`, 'var acc = 0.0;', `for (var k = 0; k < ${d}; k++) { acc = acc + a0[base + k]; }`, `return acc / ${lit(d)};`].join('\n'));
  const mean = scope.run(meanSrc, rowSpec, [x]);
  const invSrc = kernelSource(
    ['a0', 'a1'],
    [`var base = i * ${int(d)};`, 'var mu = a1[i];', 'var acc = 0.0;', `for (var k = 0; k < ${d}; k++) { var dv = a0[base + k] - mu; acc = acc + dv * dv; }`, `return 1.0 / Math.sqrt(acc / ${lit(d)} + ${lit(eps)});`].join('\n'),
  );
  return { mean, inv: scope.run(invSrc, rowSpec, [x, mean]) };
}

/**
 * Normalize blocks of `channelsPerGroup * inner` elements (one sample's group of channels), then apply the
 * per-channel (or per-group) scale and bias.
 */
function groupNormalize(scope: CallScope, x: Tensor, scale: Tensor, bias: Tensor, groups: number, perGroupParams: boolean, eps: number, spec: OutputSpec): Tensor {
  checkIndexRange(scope.ctx.op, x.dims);
  const channels = x.dims[1]!;
  const inner = x.dims.slice(2).reduce((a, b) => a * b, 1);
  const perGroup = channels / groups;
  const rows = x.dims[0]! * groups;
  const { mean, inv } = rowStatistics(scope, x, perGroup * inner, eps, [rows]);
  try {
    const split = splitIndex('i', [rows, perGroup, inner], 'c');
    const [row, channelInGroup] = split.coords as [string, string];
    const rowSplit = splitIndex(row, [x.dims[0]!, groups], 'g');
    const group = rowSplit.coords[1]!;
    const param = perGroupParams || perGroup === 1 ? group : `${group} * ${int(perGroup)} + ${channelInGroup}`;
    const body = [split.code, rowSplit.code, `var pi = ${param};`, `return (a0[i] - a1[${row}]) * a2[${row}] * a3[pi] + a4[pi];`].join('\n');
    return scope.run(kernelSource(['a0', 'a1', 'a2', 'a3', 'a4'], body), spec, [x, mean, inv, scale, bias]);
  } finally {
    mean.dispose();
    inv.dispose();
  }
}

const floatNormAccepts = (inputs: readonly (Tensor | undefined)[], outputs: readonly OutputSpec[]): boolean =>
  outputs[0]!.type === 'float32' && inputs.every((t) => !t || t.type === 'float32') && inputs[0]!.rank >= 2 && inputs[0]!.size > 0;

registerGpuKernel(
  'InstanceNormalization',
  (scope, inputs, attrs, outputs) => {
    const x = inputs[0]!;
    return [groupNormalize(scope, x, inputs[1]!, inputs[2]!, x.dims[1]!, false, attrs['epsilon'] as number, outputs[0]!)];
  },
  { accepts: floatNormAccepts },
);

registerGpuKernel(
  'GroupNormalization',
  (scope, inputs, attrs, outputs) =>
    [groupNormalize(scope, inputs[0]!, inputs[1]!, inputs[2]!, attrs['num_groups'] as number, attrs['per_group_params'] === 1, attrs['epsilon'] as number, outputs[0]!)],
  { accepts: floatNormAccepts },
);

registerGpuKernel('LayerNormalization', (scope, inputs, attrs, outputs) => {
  const x = inputs[0]!;
  const scale = inputs[1]!;
  const bias = inputs[2];
  checkIndexRange('LayerNormalization', x.dims);
  const rank = x.rank;
  const axis = (attrs['axis'] as number) < 0 ? (attrs['axis'] as number) + rank : (attrs['axis'] as number);
  const eps = attrs['epsilon'] as number;
  const rows = x.dims.slice(0, axis).reduce((a, b) => a * b, 1);
  const d = x.dims.slice(axis).reduce((a, b) => a * b, 1);
  const statDims = x.dims.map((v, i) => (i < axis ? v : 1));
  const { mean, inv } = rowStatistics(scope, x, d, eps, statDims);
  const rowDims = x.dims.slice(axis);
  const split = splitIndex('i', [rows, d], 'c');
  const [row, col] = split.coords as [string, string];
  const colSplit = splitIndex(col, rowDims, 'r');
  const ss = broadcastStridesTo(scale.dims, rowDims);
  const lines = [split.code, colSplit.code, `var y = (a0[i] - a1[${row}]) * a2[${row}] * a3[${dot(colSplit.coords, ss)}];`];
  const args: Tensor[] = [x, mean, inv, scale];
  if (bias && bias.size > 0) {
    lines.push(`y = y + a4[${dot(colSplit.coords, broadcastStridesTo(bias.dims, rowDims))}];`);
    args.push(bias);
  }
  lines.push('return y;');
  const y = scope.run(kernelSource(args.map((_, k) => `a${k}`), lines.join('\n')), outputs[0]!, args);
  const result: Tensor[] = [y];
  if (outputs.length > 1) result.push(mean.reshape(outputs[1]!.dims));
  if (outputs.length > 2) result.push(inv.reshape(outputs[2]!.dims));
  mean.dispose();
  inv.dispose();
  return result;
});
