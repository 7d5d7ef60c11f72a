/**
 * DynamicFakeQuantize (domain 'com.tessera'): DynamicQuantizeLinear with the zero point subtracted, as a
 * float-to-float operator with two outputs:
 *
 *   (q, scale, z) = DynamicQuantizeLinear(x);   y = float(q - z)  (an integer in [-255, 255]);   y_scale = scale
 *
 * q, z and scale are exactly DynamicQuantizeLinear's (Operators.md): the range [min(x, 0), max(x, 0)],
 * scale = (max - min) / 255 in float32, z = saturate(roundHalfEven(-min / scale)) in uint8,
 * q = saturate(roundHalfEven(x / scale) + z). The dynamic int8 pass (src/quant quantizeDynamic) emits
 * DynamicQuantizeLinear -> ConvInteger/MatMulInteger -> Cast; a GPU texture holds float32 only, so on the GPU
 * that chain becomes this operator followed by a float Conv/MatMul (src/graph/passes/dynamic-gpu.ts).
 */
import type { OutputSpec } from '../kernels/registry.js';
import type { Tensor } from '../tensor/tensor.js';
import { runOp } from './dispatch.js';
import { defineOp } from './schema.js';
import { TESSERA_DOMAIN } from './fused.js';

defineOp({
  name: 'DynamicFakeQuantize',
  domain: TESSERA_DOMAIN,
  inputs: [{ name: 'x', type: 'T' }],
  outputs: ['y', 'y_scale'],
  types: { T: ['float32'] },
  attributes: {},
  infer(inputs): OutputSpec[] {
    return [
      { type: 'float32', dims: inputs[0]!.dims },
      { type: 'float32', dims: [] },
    ];
  },
});

/** DynamicQuantizeLinear of `x` with the zero point subtracted: the centred codes as float32 and the scale. */
export function dynamicFakeQuantize(x: Tensor): { y: Tensor; scale: Tensor } {
  const [y, scale] = runOp('DynamicFakeQuantize', [x], {}, { domain: TESSERA_DOMAIN, opset: 1 });
  return { y: y!, scale: scale! };
}
