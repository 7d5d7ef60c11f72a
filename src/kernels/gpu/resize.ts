/**
 * GPU kernel for Resize and Upsample.
 *
 * Resize is separable: per axis, output coordinate j reads `taps` input indices with weights (nearest: one
 * tap of weight 1; linear: 2; cubic: 4; antialias stretches the filter). Those tap tables are built on the
 * host by the same function the CPU kernel uses (buildAxisTable in ../cpu/resize.ts: the coordinate
 * transforms and rounding rules written once, matching onnxruntime), uploaded as one small texture per
 * resized axis (indices then float32 weights), and the shader sums weight products over the taps of the
 * resized axes (at most two; others and tf_crop_and_resize extrapolation run on the host as host ops).
 * Cost: taps_a * taps_b fetches per output element.
 */
import type { Attrs, OutputSpec } from '../registry.js';
import type { Tensor } from '../../tensor/tensor.js';
import { buildAxisTable, type AxisTable } from '../cpu/resize.js';
import { checkIndexRange, dot, int, kernelSource, rowStrides, splitIndex } from './codegen.js';
import { registerGpuKernel, runOnHost, uploadValues, type CallScope, type GpuTensor } from './runtime.js';

function tablesOf(x: Tensor, spec: OutputSpec, attrs: Attrs): AxisTable[] {
  const settings = {
    mode: attrs['mode'] as 'nearest' | 'linear' | 'cubic',
    coordinateMode: attrs['coordinate_transformation_mode'] as string,
    nearestMode: attrs['nearest_mode'] as string,
    cubicA: attrs['cubic_coeff_a'] as number,
    excludeOutside: attrs['exclude_outside'] === 1,
    antialias: attrs['antialias'] === 1,
    extrapolation: attrs['extrapolation_value'] as number,
  };
  const scales = attrs['resolved_scales'] as readonly number[];
  const widths = attrs['resolved_widths'] as readonly number[];
  const roi = attrs['resolved_roi'] as readonly number[];
  const rank = x.rank;
  return x.dims.map((len, d) => buildAxisTable(len, spec.dims[d]!, widths[d]!, scales[d]!, roi[d]!, roi[rank + d]!, settings));
}

function resize(scope: CallScope, inputs: readonly (Tensor | undefined)[], attrs: Attrs, outputs: readonly OutputSpec[]): Tensor[] {
  const x = inputs[0]!;
  const spec = outputs[0]!;
  checkIndexRange('Resize', x.dims);
  checkIndexRange('Resize', spec.dims);
  if (x.size === 0 || spec.dims.some((d) => d === 0)) return runOnHost(scope.device, inputs, attrs, outputs, scope.ctx);
  const tables = tablesOf(x, spec, attrs);
  const active = tables.map((t, d) => (t.identity ? -1 : d)).filter((d) => d >= 0);
  const extrapolates = tables.some((t) => t.outside?.some((v) => v !== 0));
  if (active.length > 2 || extrapolates) return runOnHost(scope.device, inputs, attrs, outputs, scope.ctx);
  const strides = rowStrides(x.dims);
  const split = splitIndex('i', spec.dims, 'c');
  const coords = split.coords;
  const passive = strides.map((s, d) => (active.includes(d) ? 0 : s));
  const lines = [split.code, `var base = ${dot(coords, passive)};`, 'var acc = 0.0;'];
  const uploads: GpuTensor[] = [];
  const args: Tensor[] = [x];
  const names = ['a0'];
  let open = 0;
  const terms: string[] = [];
  const weights: string[] = [];
  active.forEach((d, k) => {
    const t = tables[d]!;
    const n = t.outLen * t.taps;
    const packed = new Float32Array(2 * n);
    for (let j = 0; j < n; j++) {
      packed[j] = t.index[j]!;
      packed[n + j] = t.weight[j]!;
    }
    const tex = uploadValues(scope.device, packed, [2 * n]);
    uploads.push(tex);
    args.push(tex);
    const name = `a${names.length}`;
    names.push(name);
    lines.push(`for (var t${k} = 0; t${k} < ${t.taps}; t${k}++) {`);
    lines.push(`var e${k} = ${coords[d]} * ${int(t.taps)} + t${k};`);
    lines.push(`var ix${k} = ${name}[e${k}];`, `var w${k} = ${name}[e${k} + ${int(n)}];`);
    terms.push(`ix${k} * ${int(strides[d]!)}`);
    weights.push(`w${k}`);
    open++;
  });
  lines.push(`acc = acc + ${weights.length ? weights.join(' * ') + ' * ' : ''}a0[base${terms.length ? ' + ' + terms.join(' + ') : ''}];`);
  for (let k = 0; k < open; k++) lines.push('}');
  lines.push('return acc;');
  try {
    return [scope.run(kernelSource(names, lines.join('\n')), spec, args)];
  } finally {
    for (const u of uploads) u.dispose();
  }
}

const accepts = (inputs: readonly (Tensor | undefined)[], outputs: readonly OutputSpec[]): boolean => outputs[0]!.type === 'float32' && inputs[0]!.type === 'float32';
registerGpuKernel('Resize', resize, { accepts });
registerGpuKernel('Upsample', resize, { accepts });
