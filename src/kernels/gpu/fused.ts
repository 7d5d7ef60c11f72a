/**
 * GPU kernels of the fused operators that graph passes emit (domain 'com.tessera'): FusedConv, FusedGemm
 * and FusedMatMul, each its base operator followed by an activation (see src/ops/fused.ts).
 *
 * Algorithm: run the base operator's GPU kernel with the activation attributes stripped, then the activation
 * as one elementwise shader over its output texture (the unfused pair's work, with the intermediate texture
 * freed at once). When the base kernel ran on the host (a call its shader does not take, e.g. a 3-D Conv),
 * the activation is applied on the host too, with the CPU fused kernels' loop. Cost: the base kernel plus
 * one read and one write per output element.
 */
import { getKernel, type Attrs, type AttrValue } from '../registry.js';
import { activateInPlace } from '../cpu/fused.js';
import { fusedActivation, type FusedActivation } from '../../ops/fused.js';
import { Tensor } from '../../tensor/tensor.js';
import { activationBody, runUnary } from './elementwise.js';
import { GpuTensor, registerGpuKernel } from './runtime.js';

const DOMAIN = 'com.tessera';

/** The base operator's attributes: everything but `activation` and `activation_params`. */
function withoutActivation(attrs: Attrs): Attrs {
  const out = Object.create(null) as Record<string, AttrValue>;
  for (const k of Object.keys(attrs)) if (k !== 'activation' && k !== 'activation_params') out[k] = attrs[k]!;
  return out;
}

for (const base of ['Conv', 'Gemm', 'MatMul']) {
  registerGpuKernel(
    `Fused${base}`,
    (scope, inputs, attrs, outputs) => {
      const { activation, params } = fusedActivation(`Fused${base}`, attrs);
      const [y] = getKernel(base, 'gpu')(inputs, withoutActivation(attrs), outputs, { ...scope.ctx, op: base });
      if (!(y instanceof GpuTensor)) return [activateOnHost(y!, activation, params)];
      try {
        return [runUnary(scope, y, outputs[0]!, activationBody(activation, params))];
      } finally {
        y.dispose();
      }
    },
    { domain: DOMAIN },
  );
}

/** The activation on a host float32 result (a fresh copy: the base kernel's output is left untouched). */
function activateOnHost(y: Tensor, activation: FusedActivation, params: readonly number[]): Tensor {
  const values = (y.data as Float32Array).slice();
  activateInPlace(values, values.length, activation, params);
  const out = new Tensor('float32', values, y.dims);
  y.dispose();
  return out;
}
