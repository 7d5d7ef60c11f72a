/**
 * GPU kernel of com.tessera DynamicFakeQuantize (src/ops/dynamic-fake-quant.ts): DynamicQuantizeLinear with
 * the zero point subtracted, y = q - z as float32, and the scale as a one-element texture.
 *
 * Four shaders, none reading back to the host:
 *   1. partial range: 2C threads over C chunks of L = ceil(sqrt(N)) elements; thread c < C folds min over its
 *      chunk, thread C + c folds max, both starting from 0 (the range always includes 0, as the operator
 *      defines it);
 *   2. range: 2 threads fold the C partial minima / maxima into [min, max];
 *   3. scale: one thread, s = (max - min) / 255 (1 / 255 when max = min = 0);
 *   4. codes: per element z = roundHalfEven(clamp(-min / s, 0, 255)),
 *      y = clamp(roundHalfEven(x / s) + z, 0, 255) - z.
 * Round half to even as in FakeQuantize (./quantize.ts): r = floor(v + 0.5), minus one when v sat exactly
 * halfway and r is odd. The shader's float32 division need not round like the CPU's, so a code may differ by
 * one at a tie; min, max, the scale and the zero point are the CPU's for ordinary inputs. NaN elements are
 * not defined here (GLSL min/max with NaN is unspecified), nor are denormal values (flushed to 0 by GPUs). Cost: about 3 fetches per element over the four
 * passes, plus 2 sqrt(N) for the partials.
 */
import { checkIndexRange, kernelSource } from './codegen.js';
import { registerGpuKernel } from './runtime.js';

/** Shader lines that set `s` (the scale) and `z` (the zero point) from the range texture `r` = [min, max]. */
function scaleAndZero(r: string): string[] {
  return [
    `var mn = ${r}[0];`,
    `var mx = ${r}[1];`,
    'var w = mx - mn;',
    'if (w == 0.0) { w = 1.0; }',
    'var s = w / 255.0;',
    'var zf = Math.min(Math.max(0.0 - mn / s, 0.0), 255.0);',
    'var z = Math.floor(zf + 0.5);',
    'if (z - zf == 0.5 && z - 2.0 * Math.floor(z * 0.5) == 1.0) { z = z - 1.0; }',
  ];
}

registerGpuKernel(
  'DynamicFakeQuantize',
  (scope, inputs, _attrs, outputs) => {
    const x = inputs[0]!;
    checkIndexRange('DynamicFakeQuantize', x.dims);
    const n = x.size;
    const chunk = Math.max(1, Math.ceil(Math.sqrt(n)));
    const chunks = Math.ceil(n / chunk);
    const partial = scope.run(
      kernelSource(
        ['a0'],
        [
          // gpu.js types a boolean variable as float: keep the flag a float
          'var upper = 0.0;',
          'var c = i;',
          `if (i >= ${chunks}.0) { upper = 1.0; c = i - ${chunks}.0; }`,
          `var base = c * ${chunk}.0;`,
          'var mn = 0.0;',
          'var mx = 0.0;',
          `for (var k = 0; k < ${chunk}; k++) {`,
          'var j = base + k;',
          `if (j < ${n}.0) {`,
          'var v = a0[j];',
          'mn = Math.min(mn, v);',
          'mx = Math.max(mx, v);',
          '}',
          '}',
          'if (upper > 0.5) { return mx; }',
          'return mn;',
        ].join('\n'),
      ),
      { type: 'float32', dims: [2 * chunks] },
      [x],
    );
    try {
      const range = scope.run(
        kernelSource(
          ['a0'],
          [
            'var acc = 0.0;',
            `for (var k = 0; k < ${chunks}; k++) {`,
            `var v = a0[i * ${chunks}.0 + k];`,
            'if (i == 0.0) { acc = Math.min(acc, v); } else { acc = Math.max(acc, v); }',
            '}',
            'return acc;',
          ].join('\n'),
        ),
        { type: 'float32', dims: [2] },
        [partial],
      );
      try {
        const scale = scope.run(kernelSource(['a0'], [...scaleAndZero('a0'), 'return s + i * 0.0;'].join('\n')), outputs[1]!, [range]);
        const y = scope.run(
          kernelSource(
            ['a0', 'a1'],
            [
              ...scaleAndZero('a1'),
              'var v = a0[i] / s;',
              'var r = Math.floor(v + 0.5);',
              'if (r - v == 0.5 && r - 2.0 * Math.floor(r * 0.5) == 1.0) { r = r - 1.0; }',
              'var q = Math.min(Math.max(r + z, 0.0), 255.0);',
              'return q - z;',
            ].join('\n'),
          ),
          outputs[0]!,
          [x, range],
        );
        return [y, scale];
      } finally {
        range.dispose();
      }
    } finally {
      partial.dispose();
    }
  },
  { domain: 'com.tessera', accepts: (inputs) => inputs[0]!.type === 'float32' && inputs[0]!.size > 0 },
);
