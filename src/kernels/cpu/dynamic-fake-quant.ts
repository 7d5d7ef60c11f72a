/**
 * CPU kernel of com.tessera DynamicFakeQuantize (src/ops/dynamic-fake-quant.ts): DynamicQuantizeLinear with
 * the zero point subtracted, y = float(q - z), plus the scale.
 *
 * Algorithm, as DynamicQuantizeLinear's kernel (./quantize.ts) computes it: one pass for the range
 * [min(x, 0), max(x, 0)] (NaN elements compare false and are skipped), scale = fround(fround(max - min) / 255)
 * (1 / 255 when the range is empty), z = roundHalfEven(saturate(fround(0 - fround(min / scale)), 0, 255)),
 * then per element q = saturate(roundHalfEven(fround(x / scale)) + z, 0, 255) and y = q - z, an exact small
 * integer. The reference twin is DynamicQuantizeLinear's CPU kernel followed by (q - z)
 * (test/ops/dynamic-fake-quant.test.ts compares them bit for bit). Cost: two passes, one division per element.
 */
import { roundHalfEven } from '../../tensor/numeric.js';
import { Tensor } from '../../tensor/tensor.js';
import { registerKernel, type Kernel } from '../registry.js';
import { dynamicQuantParams } from './quantize.js';
import { outputTensor } from './util.js';

const dynamicFakeQuantize: Kernel = (inputs, _attrs, outputs) => {
  const x = inputs[0]!.data as Float32Array;
  const { scale, zeroPoint: z } = dynamicQuantParams(x);
  // a range of a few denormals makes the scale 0 and z NaN: DynamicQuantizeLinear then stores z and every
  // code as 0 (a NaN uint8 store), so the stored zero point is subtracted and a NaN code counts as 0
  const zStored = z === z ? z : 0;
  const out = outputTensor(outputs[0]!);
  const y = out.data as Float32Array;
  for (let i = 0; i < x.length; i++) {
    const q = roundHalfEven(Math.fround(x[i]! / scale)) + z;
    // as the uint8 store of DynamicQuantizeLinear: NaN becomes 0, the rest saturates to [0, 255]
    y[i] = (q < 0 ? 0 : q > 255 ? 255 : q === q ? q : 0) - zStored;
  }
  return [out, new Tensor('float32', new Float32Array([scale]), [])];
};

registerKernel('DynamicFakeQuantize', 'cpu', dynamicFakeQuantize, 'com.tessera');
