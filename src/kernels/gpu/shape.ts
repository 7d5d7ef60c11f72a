/**
 * GPU kernels of the shape and data-movement family.
 *
 *  - Reshape, Flatten, Squeeze, Unsqueeze, Identity: views, free (a GPU tensor keeps its texture, a host
 *    tensor stays a host view);
 *  - Shape, Size, Constant: metadata or constants; they produce host tensors (shape arithmetic stays on the
 *    host, and a constant is uploaded once, by the first kernel that reads it);
 *  - Transpose, Expand, Slice, Split: one thread per output element maps its coordinates to the source
 *    offset (permuted strides, broadcast strides, start + coordinate * step);
 *  - Concat: the coordinate along the axis picks the input through a chain of range tests;
 *  - Pad: each output coordinate is folded back into the input (constant, edge, reflect, wrap);
 *  - Gather: indices are read on the host (negative ones wrapped, range-checked) and uploaded as floats;
 *  - Cast to float32 from float32 (a view), from bool (the same texture: bools are 0.0 / 1.0) and from
 *    float16 (the bit patterns are uploaded and decoded in the shader); other casts are shape arithmetic on
 *    the host.
 * Cost: one fetch per output element (Concat adds one comparison per input).
 */
import { registerKernel, type Attrs, type Kernel } from '../registry.js';
import { KernelError } from '../../tensor/errors.js';
import { fmtShape } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { checkIndexRange, dot, int, kernelSource, lit, rowStrides, splitIndex } from './codegen.js';

import { elementwiseSource } from './elementwise.js';
import { GpuTensor, registerGpuKernel, registerHostKernel, uploadValues, type CallScope } from './runtime.js';

const view: Kernel = (inputs, _attrs, outputs) => [inputs[0]!.reshape(outputs[0]!.dims)];
for (const op of ['Reshape', 'Flatten', 'Squeeze', 'Unsqueeze', 'Identity']) registerKernel(op, 'gpu', view);

for (const op of ['Shape', 'Size', 'Constant']) registerHostKernel(op, false);

/** Copy with the output coordinates mapped through `strides` (per output dim) plus `base`. */
function stridedCopySource(outDims: readonly number[], strides: readonly number[], base: number): string {
  const split = splitIndex('i', outDims, 'c');
  return kernelSource(['a0'], `${split.code}\nreturn a0[${dot(split.coords, strides, base)}];`);
}

registerGpuKernel('Transpose', (scope, inputs, attrs, outputs) => {
  const x = inputs[0]!;
  const spec = outputs[0]!;
  checkIndexRange('Transpose', x.dims);
  const perm = attrs['perm'] === undefined ? [...Array(x.rank).keys()].reverse() : Array.from(attrs['perm'] as readonly number[]);
  const src = rowStrides(x.dims);
  return [scope.run(stridedCopySource(spec.dims, perm.map((p) => src[p]!), 0), spec, [x])];
});

registerGpuKernel('Expand', (scope, inputs, _attrs, outputs) => {
  const x = inputs[0]!;
  const spec = outputs[0]!;
  checkIndexRange('Expand', spec.dims);
  return [scope.run(elementwiseSource(spec.dims, [x.dims], 'var y = v0;'), spec, [x])];
}, { hostInputs: [1] });

/** Start index and step per axis of an ONNX Slice, clamped as Tensor.slice and the CPU kernel do. */
function sliceWindow(dims: readonly number[], attrs: Attrs): { starts: number[]; steps: number[] } {
  const rank = dims.length;
  const axes = (attrs['axes'] as readonly number[]).map((a) => (a < 0 ? a + rank : a));
  const steps = Array.from((attrs['steps'] as readonly number[] | undefined) ?? axes.map(() => 1));
  const startsIn = attrs['starts'] as readonly number[];
  const starts = new Array<number>(rank).fill(0);
  const stepOut = new Array<number>(rank).fill(1);
  axes.forEach((a, i) => {
    const d = dims[a]!;
    const step = steps[i]!;
    let s = startsIn[i]!;
    if (step < 0 && s + d < 0) s = 0;
    if (s < 0) s += d;
    s = step > 0 ? Math.min(Math.max(s, 0), d) : Math.min(Math.max(s, -1), d - 1);
    starts[a] = s;
    stepOut[a] = step;
  });
  return { starts, steps: stepOut };
}

registerGpuKernel('Slice', (scope, inputs, attrs, outputs) => {
  const x = inputs[0]!;
  const spec = outputs[0]!;
  checkIndexRange('Slice', x.dims);
  const { starts, steps } = sliceWindow(x.dims, attrs);
  const src = rowStrides(x.dims);
  const base = starts.reduce((p, s, d) => p + s * src[d]!, 0);
  return [scope.run(stridedCopySource(spec.dims, src.map((s, d) => s * steps[d]!), base), spec, [x])];
}, { hostInputs: [1, 2, 3, 4] });

registerGpuKernel('Split', (scope, inputs, attrs, outputs) => {
  const x = inputs[0]!;
  checkIndexRange('Split', x.dims);
  const rank = x.rank;
  const axis = (attrs['axis'] as number) < 0 ? (attrs['axis'] as number) + rank : (attrs['axis'] as number);
  const src = rowStrides(x.dims);
  let start = 0;
  return outputs.map((spec) => {
    const base = start * src[axis]!;
    start += spec.dims[axis]!;
    return scope.run(stridedCopySource(spec.dims, src, base), spec, [x]);
  });
}, { hostInputs: [1] });

registerGpuKernel('Concat', (scope, inputs, attrs, outputs) => {
  const spec = outputs[0]!;
  checkIndexRange('Concat', spec.dims);
  const rank = spec.dims.length;
  const axis = (attrs['axis'] as number) < 0 ? (attrs['axis'] as number) + rank : (attrs['axis'] as number);
  const parts = inputs.filter((t): t is Tensor => !!t && t.size > 0);
  const outer = spec.dims.slice(0, axis).reduce((p, d) => p * d, 1);
  const inner = spec.dims.slice(axis + 1).reduce((p, d) => p * d, 1);
  const split = splitIndex('i', [outer, spec.dims[axis]!, inner], 'c');
  const [o, a, n] = split.coords as [string, string, string];
  const lines = [split.code, 'var y = 0.0;'];
  let begin = 0;
  parts.forEach((t, k) => {
    const len = t.dims[axis]!;
    const fetch = `y = a${k}[${o} * ${int(len * inner)} + (${a} - ${int(begin)}) * ${int(inner)} + ${n}];`;
    if (k === 0) lines.push(`if (${a} < ${int(begin + len)}) { ${fetch} }`);
    else lines.push(`else if (${a} < ${int(begin + len)}) { ${fetch} }`);
    begin += len;
  });
  lines.push('return y;');
  return [scope.run(kernelSource(parts.map((_, k) => `a${k}`), lines.join('\n')), spec, parts)];
});

/**
 * Pad (constant, edge, reflect, wrap; negative pads crop first, as on the CPU): each output coordinate along
 * an axis maps to a coordinate of the kept input box (edge clamps, wrap and reflect fold periodically with
 * the exact floor-division of splitIndex); constant mode returns the pad value when any coordinate falls
 * outside the box. `attrs.pads` is canonical ([begin..., end...] over every axis); the pad value is a host
 * scalar written into the shader. Cost: one fetch per output element.
 */
registerGpuKernel(
  'Pad',
  (scope, inputs, attrs, outputs) => {
    const x = inputs[0]!;
    const spec = outputs[0]!;
    checkIndexRange('Pad', spec.dims);
    const rank = x.rank;
    const pads = attrs['pads'] as readonly number[];
    const mode = attrs['mode'] as string;
    if (x.size === 0) return [scope.run(kernelSource([], `return ${lit(padValue(inputs[2], attrs))};`), spec, [])];
    const src = rowStrides(x.dims);
    const split = splitIndex('i', spec.dims, 'c');
    const lines = [split.code, 'var inside = 1.0;'];
    const terms: string[] = [];
    let base = 0;
    for (let k = 0; k < rank; k++) {
      const keepStart = Math.max(0, -pads[k]!);
      const keep = x.dims[k]! - keepStart - Math.max(0, -pads[k + rank]!);
      const before = Math.max(0, pads[k]!);
      base += keepStart * src[k]!;
      if (spec.dims[k] === 1 && keep === 1 && before === 0) continue;
      const c = `p${k}`;
      lines.push(`var ${c} = ${split.coords[k]} - ${int(before)};`);
      if (before > 0 || spec.dims[k]! > keep) {
        if (mode === 'constant') lines.push(`if (${c} < 0.0 || ${c} >= ${int(keep)}) { inside = 0.0; ${c} = 0.0; }`);
        else if (mode === 'edge') lines.push(`${c} = Math.min(Math.max(${c}, 0.0), ${int(keep - 1)});`);
        else if (keep === 1) lines.push(`${c} = 0.0;`);
        else {
          const period = mode === 'wrap' ? keep : 2 * (keep - 1);
          lines.push(
            `var ${c}q = Math.floor((${c} + 0.5) / ${int(period)});`,
            `${c} = ${c} - ${c}q * ${int(period)};`,
            `if (${c} < 0.0) { ${c} = ${c} + ${int(period)}; }`,
            `if (${c} >= ${int(period)}) { ${c} = ${c} - ${int(period)}; }`,
          );
          if (mode === 'reflect') lines.push(`if (${c} >= ${int(keep)}) { ${c} = ${int(period)} - ${c}; }`);
        }
      }
      if (src[k] !== 0) terms.push(src[k] === 1 ? c : `${c} * ${int(src[k]!)}`);
    }
    if (base !== 0) terms.push(int(base));
    const at = terms.length ? terms.join(' + ') : '0.0';
    lines.push(`var y = ${lit(padValue(inputs[2], attrs))};`, `if (inside > 0.5) { y = a0[${at}]; }`, 'return y;');
    return [scope.run(kernelSource(['a0'], lines.join('\n')), spec, [x])];
  },
  { hostInputs: [1, 2, 3] },
);

/** The constant-mode pad value: input 2 when given (opset 11+), else attribute `value` (opset 2-10), else 0. */
function padValue(value: Tensor | undefined, attrs: Attrs): number {
  if (value && value.size > 0) return Number(value.numbers()[0]);
  return typeof attrs['value'] === 'number' ? attrs['value'] : 0;
}

/** Gather's indices, wrapped and checked on the host, as float32. */
function gatherIndices(indices: Tensor, axisDim: number): Float32Array {
  const raw = indices.numbers();
  const out = new Float32Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    let v = raw[i]!;
    if (v < 0) v += axisDim;
    if (v < 0 || v >= axisDim) throw new KernelError(`Gather: index ${raw[i]} at ${i} is out of range for an axis of ${axisDim} (indices ${fmtShape(indices.dims)})`);
    out[i] = v;
  }
  return out;
}

registerGpuKernel('Gather', (scope, inputs, attrs, outputs) => {
  const x = inputs[0]!;
  const indices = inputs[1]!;
  const spec = outputs[0]!;
  checkIndexRange('Gather', x.dims);
  checkIndexRange('Gather', spec.dims);
  const rank = x.rank;
  const axis = (attrs['axis'] as number) < 0 ? (attrs['axis'] as number) + rank : (attrs['axis'] as number);
  const axisDim = x.dims[axis]!;
  const outer = x.dims.slice(0, axis).reduce((p, d) => p * d, 1);
  const inner = x.dims.slice(axis + 1).reduce((p, d) => p * d, 1);
  if (spec.dims.some((d) => d === 0)) return [new Tensor('float32', new Float32Array(0), spec.dims)];
  const idx = uploadValues(scope.device, gatherIndices(indices, axisDim), [Math.max(indices.size, 1)]);
  try {
    const split = splitIndex('i', [outer, indices.size, inner], 'c');
    const [o, j, n] = split.coords as [string, string, string];
    const src = kernelSource(['a0', 'a1'], `${split.code}\nreturn a0[${o} * ${int(axisDim * inner)} + a1[${j}] * ${int(inner)} + ${n}];`);
    return [scope.run(src, spec, [x, idx])];
  } finally {
    idx.dispose();
  }
}, { hostInputs: [1] });

/** float16 bits (as float values 0..65535) to float32, in the shader. */
export const HALF_TO_FLOAT = [
  'var sgn = Math.floor(h / 32768.0);',
  'var ex = Math.floor((h - sgn * 32768.0) / 1024.0);',
  'var man = h - sgn * 32768.0 - ex * 1024.0;',
  'var val = 0.0;',
  'if (ex == 0.0) { val = man * 5.960464477539063e-8; }',
  // infinity from a division by a zero known only at run time (a literal overflow is folded to FLT_MAX)
  'else if (ex == 31.0) { val = 1.0 / (ex - 31.0); if (man > 0.0) { val = 0.0 / 0.0; } }',
  'else { val = (1.0 + man / 1024.0) * Math.pow(2.0, ex - 15.0); }',
  'if (sgn > 0.5) { val = -val; }',
].join('\n');

function castKernel(scope: CallScope, inputs: readonly (Tensor | undefined)[], _attrs: Attrs, outputs: readonly import('../registry.js').OutputSpec[]): Tensor[] {
  const x = inputs[0]!;
  const spec = outputs[0]!;
  if (x.type === 'float32' && spec.type === 'float32') return [x.reshape(spec.dims)];
  if (x.type === 'bool') {
    // a bool texture holds 0.0 / 1.0: the same values as float32 (or as bool, for a bool-to-bool Cast)
    if (x instanceof GpuTensor) return [(x as GpuTensor<'bool'>).retype(spec.type as 'float32' | 'bool').reshape(spec.dims)];
    return [scope.run(kernelSource(['a0'], 'return a0[i];'), spec, [x])];
  }
  // float16: upload the raw bit patterns (kept for the session when x is a weight), decode per element
  checkIndexRange('Cast', x.dims);
  return [scope.run(kernelSource(['a0'], `var h = a0[i];\n${HALF_TO_FLOAT}\nreturn val;`), spec, [{ tensor: x, encoding: 'bits' }])];
}

const castAccepts = (inputs: readonly (Tensor | undefined)[], outputs: readonly import('../registry.js').OutputSpec[]): boolean =>
  inputs[0]!.size > 0 &&
  ((outputs[0]!.type === 'float32' && (inputs[0]!.type === 'float32' || inputs[0]!.type === 'float16' || inputs[0]!.type === 'bool')) ||
    (outputs[0]!.type === 'bool' && inputs[0]!.type === 'bool'));
registerGpuKernel('Cast', castKernel, { accepts: castAccepts });
registerGpuKernel('CastLike', castKernel, { accepts: castAccepts });




