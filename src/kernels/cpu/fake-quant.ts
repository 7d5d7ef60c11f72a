/**
 * CPU kernel of com.tessera FakeQuantize (src/ops/fake-quant.ts): QuantizeLinear then DequantizeLinear with one
 * scale and zero point, in one pass and without the intermediate integer tensor:
 *
 *   q = saturate(roundHalfEven(fround(x / s)) + z, qmin, qmax);   y = fround((q - z) * s)
 *
 * fround(x / s) is the float32 quotient QuantizeLinear rounds; (q - z) is an exact small integer, so y is the
 * float32 product DequantizeLinear computes: the result equals the Q -> DQ pair bit for bit (the reference
 * twin is that pair: refQuantizeLinear then refDequantizeLinear in ./reference/quantize.ts; see
 * test/kernels/fake-quant.test.ts). A NaN input quantizes to 0, as in QuantizeLinear's kernel.
 * Cost: one division, a rounding and a multiply per element.
 */
import { integerRange, roundHalfEven } from '../../tensor/numeric.js';
import { registerKernel, type Kernel } from '../registry.js';
import { outputTensor } from './util.js';

const fakeQuantize: Kernel = (inputs, _attrs, outputs) => {
  const x = inputs[0]!.data as Float32Array;
  const s = inputs[1]!.numbers()[0]!;
  const zp = inputs[2];
  const z = zp ? zp.numbers()[0]! : 0;
  const [lo, hi] = integerRange(zp ? zp.type : 'uint8');
  const out = outputTensor(outputs[0]!);
  const y = out.data as Float32Array;
  for (let i = 0; i < x.length; i++) {
    const r = roundHalfEven(Math.fround(x[i]! / s)) + z;
    // as QuantizeLinear: NaN quantizes to 0 (onnxruntime's cast), the rest saturates
    const q = r < lo ? lo : r > hi ? hi : r === r ? r : 0;
    y[i] = (q - z) * s;
  }
  return [out];
};

registerKernel('FakeQuantize', 'cpu', fakeQuantize, 'com.tessera');
