/**
 * GPU kernel for DequantizeLinear of int8, uint8, int16, uint16 and int32 data (weights stored quantized):
 * y = (x - zero_point) * scale, per tensor (scalar scale) or per axis (1-D scale along `axis`). The integer
 * values are uploaded as floats (exact below 2^24) and dequantized in the shader, so a quantized weight
 * occupies a texture once and is expanded per use. Float16 weights are decoded in the shader by Cast
 * (./shape.ts). Blocked quantization (block_size > 0), float8/int4 data and float16 outputs run on the host.
 * Cost: two or three fetches and two flops per element.
 */
import { checkIndexRange, kernelSource, splitIndex } from './codegen.js';
import { registerGpuKernel } from './runtime.js';

const DATA_TYPES = new Set(['int8', 'uint8', 'int16', 'uint16', 'int32']);

registerGpuKernel(
  'DequantizeLinear',
  (scope, inputs, attrs, outputs) => {
    const x = inputs[0]!;
    const scale = inputs[1]!;
    const zero = inputs[2];
    const spec = outputs[0]!;
    checkIndexRange('DequantizeLinear', x.dims);
    const perAxis = scale.size > 1 || (scale.rank === 1 && x.rank > 0 && scale.dims[0] !== 1);
    let at = '0.0';
    const lines: string[] = [];
    if (perAxis) {
      const rank = x.rank;
      const axis = (attrs['axis'] as number) < 0 ? (attrs['axis'] as number) + rank : (attrs['axis'] as number);
      const outer = x.dims.slice(0, axis).reduce((p, d) => p * d, 1);
      const inner = x.dims.slice(axis + 1).reduce((p, d) => p * d, 1);
      const split = splitIndex('i', [outer, x.dims[axis]!, inner], 'c');
      lines.push(split.code);
      at = split.coords[1]!;
    }
    const args = zero && zero.size > 0 ? [x, scale, zero] : [x, scale];
    lines.push(args.length === 3 ? `return (a0[i] - a2[${at}]) * a1[${at}];` : `return a0[i] * a1[${at}];`);
    return [scope.run(kernelSource(args.map((_, k) => `a${k}`), lines.join('\n')), spec, args)];
  },
  {
    accepts: (inputs, outputs) =>
      outputs[0]!.type === 'float32' &&
      DATA_TYPES.has(inputs[0]!.type) &&
      inputs[1]!.type === 'float32' &&
      inputs[0]!.size > 0 &&
      ((inputs[1]!.size === 1) || inputs[1]!.rank === 1),
    hostInputs: [0, 2],
  },
);

/**
 * com.tessera FakeQuantize (a QuantizeLinear -> DequantizeLinear pair on an activation, see
 * src/ops/fake-quant.ts): round x / scale half to even, add the zero point, clamp to the integer range, and
 * map back, all in float32 in one shader; scale and zero point are one-texel textures (weights of the session,
 * so no recompilation per pair). Round half to even: r = floor(v + 0.5), minus one when v sat exactly halfway
 * and r is odd. Cost: a division, three fetches and a few flops per element.
 */
registerGpuKernel(
  'FakeQuantize',
  (scope, inputs, _attrs, outputs) => {
    const x = inputs[0]!;
    const zero = inputs[2];
    checkIndexRange('FakeQuantize', x.dims);
    const [lo, hi] = zero?.type === 'int8' ? ['-128.0', '127.0'] : ['0.0', '255.0'];
    const args = zero ? [x, inputs[1]!, zero] : [x, inputs[1]!];
    const z = zero ? 'a2[0]' : '0.0';
    const body = [
      'var s = a1[0];',
      `var z = ${z};`,
      'var v = a0[i] / s;',
      'var r = Math.floor(v + 0.5);',
      'if (r - v == 0.5 && r - 2.0 * Math.floor(r * 0.5) == 1.0) { r = r - 1.0; }',
      `var q = Math.min(Math.max(r + z, ${lo}), ${hi});`,
      'return (q - z) * s;',
    ].join('\n');
    return [scope.run(kernelSource(args.map((_, k) => `a${k}`), body), outputs[0]!, args)];
  },
  { domain: 'com.tessera', hostInputs: [2] },
);
