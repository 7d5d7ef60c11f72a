/**
 * GPU kernels for Softmax and LogSoftmax.
 *
 * The input is seen as [outer, D, inner] around `axis` (opset >= 13), or as [rows, D, 1] for the 2-D
 * coercion of opsets < 13 (`coerce_2d`), exactly as the CPU kernel splits it. Three passes: the maximum of
 * each (outer, inner) line, the sum of exp(x - max) along it, then each element's exp(x - max) / sum (or
 * x - max - log(sum)). Cost: 3 fetches and one exp per element plus 2*D fetches per line.
 */
import type { Attrs } from '../registry.js';
import { checkIndexRange, int, kernelSource, splitIndex } from './codegen.js';
import { registerGpuKernel } from './runtime.js';

function lineShape(dims: readonly number[], attrs: Attrs): [number, number, number] {
  const rank = dims.length;
  let axis = attrs['axis'] as number;
  if (axis < 0) axis += rank;
  const prod = (a: readonly number[]): number => a.reduce((p, v) => p * v, 1);
  if (attrs['coerce_2d'] === 1) return [prod(dims.slice(0, axis)), prod(dims.slice(axis)), 1];
  return [prod(dims.slice(0, axis)), dims[axis] ?? 1, prod(dims.slice(axis + 1))];
}

function softmaxKernel(log: boolean) {
  registerGpuKernel(log ? 'LogSoftmax' : 'Softmax', (scope, inputs, attrs, outputs) => {
    const x = inputs[0]!;
    const spec = outputs[0]!;
    checkIndexRange(scope.ctx.op, x.dims);
    const [outer, d, inner] = lineShape(x.dims, attrs);
    const lineSpec = { type: 'float32' as const, dims: [outer * inner] };
    const lines = splitIndex('i', [outer, inner], 'l');
    const [o, n] = lines.coords as [string, string];
    const start = `var base = ${o} * ${int(d * inner)} + ${n};`;
    const maxSrc = kernelSource(['a0'], [lines.code, start, 'var m = -3.4e38;', `for (var k = 0; k < ${d}; k++) { m = Math.max(m, a0[base + k * ${int(inner)}]); }`, 'return m;'].join('\n'));
    const max = scope.run(maxSrc, lineSpec, [x]);
    const sumSrc = kernelSource(['a0', 'a1'], [lines.code, start, 'var m = a1[i];', 'var s = 0.0;', `for (var k = 0; k < ${d}; k++) { s = s + Math.exp(a0[base + k * ${int(inner)}] - m); }`, 'return s;'].join('\n'));
    const sum = scope.run(sumSrc, lineSpec, [x, max]);
    const el = splitIndex('i', [outer, d, inner], 'e');
    const [eo, , ei] = el.coords as [string, string, string];
    const line = `${eo} * ${int(inner)} + ${ei}`;
    const outSrc = kernelSource(
      ['a0', 'a1', 'a2'],
      [el.code, `var li = ${line};`, log ? 'return a0[i] - a1[li] - Math.log(a2[li]);' : 'return Math.exp(a0[i] - a1[li]) / a2[li];'].join('\n'),
    );
    const y = scope.run(outSrc, spec, [x, max, sum]);
    max.dispose();
    sum.dispose();
    return [y];
  });
}

softmaxKernel(false);
softmaxKernel(true);
