/**
 * FakeQuantize (domain 'com.tessera'): QuantizeLinear followed by DequantizeLinear with the same per-tensor
 * scale and zero point, as one float-to-float operator:
 *
 *   y = (saturate(roundHalfEven(x / scale) + zero_point, qmin, qmax) - zero_point) * scale
 *
 * where [qmin, qmax] is the range of the zero point's type (uint8 0..255, int8 -128..127; uint8 with zero
 * point 0 when it is omitted), and x / scale is rounded to float32 first, as QuantizeLinear computes it.
 * The static int8 pass (src/quant) emits such Q -> DQ pairs on activations; on the CPU they fold into the
 * quantized-weight kernels, on the GPU (whose textures hold float32 only, so the uint8 tensor between the pair
 * cannot live there) the pair becomes this operator (src/graph/passes/fake-quant.ts) and runs in one shader.
 */
import type { OutputSpec } from '../kernels/registry.js';
import type { Tensor } from '../tensor/tensor.js';
import { runOp1 } from './dispatch.js';
import { defineOp, fail } from './schema.js';
import { TESSERA_DOMAIN } from './fused.js';

defineOp({
  name: 'FakeQuantize',
  domain: TESSERA_DOMAIN,
  inputs: [
    { name: 'x', type: 'T' },
    { name: 'scale', type: 'T' },
    { name: 'zero_point', type: 'Q', optional: true },
  ],
  outputs: ['y'],
  types: { T: ['float32'], Q: ['uint8', 'int8'] },
  attributes: {},
  infer(inputs, _attrs, ctx): OutputSpec[] {
    const x = inputs[0]!;
    const scale = inputs[1]!;
    const zero = inputs[2];
    if (scale.size !== 1) fail('FakeQuantize', `scale must hold one value (per-tensor quantization), got dims [${scale.dims.join(', ')}]`, ctx);
    if (zero && zero.size !== 1) fail('FakeQuantize', `zero_point must hold one value, got dims [${zero.dims.join(', ')}]`, ctx);
    return [{ type: 'float32', dims: x.dims }];
  },
});

/** QuantizeLinear then DequantizeLinear of `x` with one scale and zero point (uint8 0 when omitted). */
export function fakeQuantize(x: Tensor, scale: Tensor, zeroPoint?: Tensor): Tensor {
  return runOp1('FakeQuantize', [x, scale, zeroPoint], {}, { domain: TESSERA_DOMAIN, opset: 1 });
}
