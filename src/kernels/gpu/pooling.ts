/**
 * GPU kernels for MaxPool, AveragePool (1-D and 2-D windows) and GlobalAveragePool / GlobalMaxPool.
 *
 * One thread per output element walks its KH x KW window (strides, dilations, pads; ceil_mode is already in
 * the output dims). MaxPool skips taps in the padding; AveragePool divides by the taps inside the input, or
 * with count_include_pad by the taps inside the padded extent (as the CPU kernel does). The global pools
 * loop over the whole H*W plane. Cost: one fetch per tap. MaxPool's Indices output and 3-D windows run on
 * the host (host ops).
 */
import type { Attrs, OutputSpec } from '../registry.js';
import type { Tensor } from '../../tensor/tensor.js';
import { checkIndexRange, int, kernelSource, lit, splitIndex } from './codegen.js';
import { registerGpuKernel, type CallScope } from './runtime.js';

const oneOrTwoD = (inputs: readonly (Tensor | undefined)[], outputs: readonly OutputSpec[]): boolean =>
  outputs.length === 1 && outputs[0]!.type === 'float32' && inputs[0]!.type === 'float32' && (inputs[0]!.rank === 3 || inputs[0]!.rank === 4);

function windowPool(kind: 'max' | 'average') {
  return (scope: CallScope, inputs: readonly (Tensor | undefined)[], attrs: Attrs, outputs: readonly OutputSpec[]): Tensor[] => {
    const x = inputs[0]!;
    const spec = outputs[0]!;
    checkIndexRange(scope.ctx.op, x.dims);
    const two = x.rank === 4;
    const ks = attrs['kernel_shape'] as readonly number[];
    const st = (attrs['strides'] as readonly number[] | undefined) ?? ks.map(() => 1);
    const dl = (attrs['dilations'] as readonly number[] | undefined) ?? ks.map(() => 1);
    const pads = (attrs['pads'] as readonly number[] | undefined) ?? ks.map(() => 0).concat(ks.map(() => 0));
    const r = ks.length;
    const [kh, kw] = two ? [ks[0]!, ks[1]!] : [1, ks[0]!];
    const [sh, sw] = two ? [st[0]!, st[1]!] : [1, st[0]!];
    const [dh, dw] = two ? [dl[0]!, dl[1]!] : [1, dl[0]!];
    const [phb, pwb] = two ? [pads[0]!, pads[1]!] : [0, pads[0]!];
    const [phe, pwe] = two ? [pads[r]!, pads[r + 1]!] : [0, pads[r]!];
    const [h, w] = two ? [x.dims[2]!, x.dims[3]!] : [1, x.dims[2]!];
    const [oh, ow] = two ? [spec.dims[2]!, spec.dims[3]!] : [1, spec.dims[2]!];
    const planes = x.dims[0]! * x.dims[1]!;
    const includePad = attrs['count_include_pad'] === 1;
    const split = splitIndex('i', [planes, oh, ow], 'o');
    const [p, y, xo] = split.coords as [string, string, string];
    const lines = [
      split.code,
      `var base = ${p} * ${int(h * w)};`,
      `var ih0 = ${y} * ${int(sh)} - ${int(phb)};`,
      `var iw0 = ${xo} * ${int(sw)} - ${int(pwb)};`,
      kind === 'max' ? 'var acc = -3.4e38;' : 'var acc = 0.0;',
      'var cnt = 0.0;',
      'var padded = 0.0;',
      `for (var ky = 0; ky < ${kh}; ky++) {`,
      `  var ih = ih0 + ky * ${int(dh)};`,
      `  for (var kx = 0; kx < ${kw}; kx++) {`,
      `    var iw = iw0 + kx * ${int(dw)};`,
      `    if (ih >= ${int(-phb)} && ih < ${int(h + phe)} && iw >= ${int(-pwb)} && iw < ${int(w + pwe)}) { padded = padded + 1.0; }`,
      `    if (ih >= 0.0 && ih < ${int(h)} && iw >= 0.0 && iw < ${int(w)}) {`,
      `      var v = a0[base + ih * ${int(w)} + iw];`,
      // max starts from the first element in the window (not a finite "-infinity": -Infinity inputs stay exact)
      kind === 'max' ? '      if (cnt < 0.5) { acc = v; } else { acc = Math.max(acc, v); }' : '      acc = acc + v;',
      '      cnt = cnt + 1.0;',
      '    }',
      '  }',
      '}',
    ];
    if (kind === 'average') lines.push(includePad ? 'return acc / Math.max(padded, 1.0);' : 'return acc / Math.max(cnt, 1.0);');
    else lines.push('return acc;');
    return [scope.run(kernelSource(['a0'], lines.join('\n')), spec, [x])];
  };
}

function globalPool(kind: 'max' | 'average') {
  return (scope: CallScope, inputs: readonly (Tensor | undefined)[], _attrs: Attrs, outputs: readonly OutputSpec[]): Tensor[] => {
    const x = inputs[0]!;
    const spec = outputs[0]!;
    checkIndexRange(scope.ctx.op, x.dims);
    const plane = x.dims.slice(2).reduce((a, b) => a * b, 1);
    const lines = [
      `var base = i * ${int(plane)};`,
      kind === 'max' ? 'var acc = a0[base];' : 'var acc = 0.0;',
      `for (var k = 0; k < ${plane}; k++) {`,
      kind === 'max' ? '  acc = Math.max(acc, a0[base + k]);' : '  acc = acc + a0[base + k];',
      '}',
      kind === 'max' ? 'return acc;' : `return acc / ${lit(plane)};`,
    ];
    return [scope.run(kernelSource(['a0'], lines.join('\n')), spec, [x])];
  };
}

registerGpuKernel('MaxPool', windowPool('max'), { accepts: oneOrTwoD });
registerGpuKernel('AveragePool', windowPool('average'), { accepts: oneOrTwoD });
registerGpuKernel('GlobalAveragePool', globalPool('average'), {
  accepts: (inputs, outputs) => outputs[0]!.type === 'float32' && inputs[0]!.type === 'float32' && inputs[0]!.size > 0 && inputs[0]!.rank > 2,
});
registerGpuKernel('GlobalMaxPool', globalPool('max'), {
  accepts: (inputs, outputs) => outputs[0]!.type === 'float32' && inputs[0]!.type === 'float32' && inputs[0]!.size > 0 && inputs[0]!.rank > 2,
});
