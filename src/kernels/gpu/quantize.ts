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
