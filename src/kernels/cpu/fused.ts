/**
 * CPU kernels of the fused operators (domain 'com.tessera'): FusedConv, FusedGemm, FusedMatMul.
 *
 * Algorithm: call the registered CPU kernel of the base operator (Conv, Gemm, MatMul) with the activation
 * attributes stripped, then apply the activation in place on the output buffer in one loop per activation.
 * The loops use the same formulas as the standalone activation kernels (src/kernels/cpu/unary.ts, Clip in
 * elementwise.ts: Relu on the float32 bits so -0 becomes +0 and NaN passes, double-precision evaluation
 * stored back into the output's float type), so a fused result equals the unfused pair bit for bit.
 * float16 outputs are decoded once to float32, activated, and encoded (round to nearest even), exactly as
 * the standalone kernels do.
 *
 * Cost: the base operator's cost plus one read-modify-write pass over the output (no extra buffer for
 * float32/float64), which is the saving over running the activation as its own node.
 */
import { decodeFloat16, encodeFloat16 } from '../../tensor/float16.js';
import { allocate, type TypedArray } from '../../tensor/dtype.js';
import { Tensor } from '../../tensor/tensor.js';
import { getKernel, registerKernel, type AttrValue, type Attrs, type Kernel } from '../registry.js';
import { float32ToHalfBits } from './half.js';

type FloatArray = Float32Array | Float64Array;

/** Activations the fused operators apply (validated, with parameters completed, by src/ops/fused.ts). */
export type FusedActivation = 'Relu' | 'LeakyRelu' | 'Clip' | 'Sigmoid' | 'HardSigmoid' | 'Tanh' | 'HardSwish';

/** The base operator's attributes: everything but `activation` and `activation_params`. */
function baseAttrs(attrs: Attrs): Record<string, AttrValue> {
  const out = Object.create(null) as Record<string, AttrValue>;
  for (const k of Object.keys(attrs)) if (k !== 'activation' && k !== 'activation_params') out[k] = attrs[k]!;
  return out;
}

/**
 * Apply `activation` with its complete `params` to the first `n` elements of `y` in place. float32 Relu
 * reads the same buffer as int32 (the sign-bit trick of the standalone Relu kernel).
 */
export function activateInPlace(y: FloatArray, n: number, activation: FusedActivation, params: readonly number[]): void {
  switch (activation) {
    case 'Relu': {
      if (y instanceof Float32Array) {
        const bits = new Int32Array(y.buffer, y.byteOffset, n);
        for (let i = 0; i < n; i++) {
          const b = bits[i]!;
          bits[i] = b & ~((b >> 31) & ((b + 0x7fffff) >> 31));
        }
      } else {
        for (let i = 0; i < n; i++) {
          const v = y[i]!;
          y[i] = v < 0 ? 0 : v;
        }
      }
      return;
    }
    case 'LeakyRelu': {
      const alpha = params[0]!;
      for (let i = 0; i < n; i++) {
        const v = y[i]!;
        const negative = +(v < 0);
        y[i] = v * (alpha * negative + (1 - negative));
      }
      return;
    }
    case 'Clip': {
      const lo = params[0]!;
      const hi = params[1]!;
      for (let i = 0; i < n; i++) {
        const v = y[i]!;
        const above = v < lo ? lo : v;
        y[i] = above > hi ? hi : above;
      }
      return;
    }
    case 'Sigmoid':
      for (let i = 0; i < n; i++) y[i] = 1 / (1 + Math.exp(-y[i]!));
      return;
    case 'HardSigmoid': {
      const alpha = params[0]!;
      const beta = params[1]!;
      for (let i = 0; i < n; i++) {
        const t = alpha * y[i]! + beta;
        y[i] = t < 0 ? 0 : t > 1 ? 1 : t;
      }
      return;
    }
    case 'Tanh':
      for (let i = 0; i < n; i++) y[i] = Math.tanh(y[i]!);
      return;
    case 'HardSwish':
      for (let i = 0; i < n; i++) {
        const v = y[i]!;
        const t = v / 6 + 0.5;
        y[i] = v * (t < 0 ? 0 : t > 1 ? 1 : t);
      }
      return;
  }
}

/**
 * Relu on float16 bits, as the standalone kernel does it: values with the sign bit set that are not NaN
 * (-0 .. -Inf) become +0.
 */
function reluHalfBitsInPlace(h: Uint16Array): void {
  for (let i = 0; i < h.length; i++) {
    const v = h[i]!;
    if (v & 0x8000 && (v & 0x7fff) <= 0x7c00) h[i] = 0;
  }
}

/** The kernel of `Fused<base>`: the base kernel, then the activation on its (fresh) output. */
function fusedKernel(base: string): Kernel {
  return (inputs, attrs, outputs, ctx) => {
    const activation = attrs['activation'] as FusedActivation;
    const params = attrs['activation_params'] as readonly number[];
    const baseKernel = getKernel(base, 'cpu');
    const [result] = baseKernel(inputs, baseAttrs(attrs), outputs, { ...ctx, op: base });
    let y = result!;
    // the activation writes in place: make sure the buffer is ours (a kernel may return a view of an input)
    const storage = y.raw();
    if (!y.isContiguous || y.offset !== 0 || inputs.some((t) => t !== undefined && t.raw() === storage)) {
      const own = allocate(y.type, y.size);
      (own as { set(a: ArrayLike<number | bigint>): void }).set(y.data as TypedArray);
      const copy = new Tensor(y.type, own as TypedArray, y.dims);
      y.dispose();
      y = copy;
    }
    if (y.type === 'float16') {
      const bits = y.data as Uint16Array;
      if (activation === 'Relu') {
        reluHalfBitsInPlace(bits);
        return [y];
      }
      const values = decodeFloat16(bits);
      // standalone Clip holds its bounds as float16 scalars: round them the same way
      const p = activation === 'Clip' ? Array.from(decodeFloat16(encodeFloat16(params))) : params;
      activateInPlace(values, values.length, activation, p);
      float32ToHalfBits(values, bits);
      return [y];
    }
    const data = y.data as FloatArray;
    activateInPlace(data, data.length, activation, params);
    return [y];
  };
}

const DOMAIN = 'com.tessera';
registerKernel('FusedConv', 'cpu', fusedKernel('Conv'), DOMAIN);
registerKernel('FusedGemm', 'cpu', fusedKernel('Gemm'), DOMAIN);
registerKernel('FusedMatMul', 'cpu', fusedKernel('MatMul'), DOMAIN);
