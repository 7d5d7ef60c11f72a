/**
 * Plain references of the quantized-weight kernels (../quant-fused.ts), composed from the reference
 * QuantizeLinear / DequantizeLinear / Conv / MatMul / Gemm twins exactly as the QDQ graph writes them, and a
 * MatMulNBits that reads every 4-bit code through its (column, block, byte, nibble) position. Slow by design.
 */
import { Tensor } from '../../../tensor/tensor.js';
import { refConv, type RefConvAttrs } from './conv.js';
import { referenceGemm, referenceMatMul } from './gemm.js';
import { refDequantizeLinear, refQuantizeLinear } from './quantize.js';

/** The activation of a QDQ node applied to one value, from the definitions in src/ops/fused.ts. */
export function refActivation(v: number, activation: string, params: readonly number[]): number {
  switch (activation) {
    case '':
      return v;
    case 'Relu':
      return v > 0 ? v : 0;
    case 'LeakyRelu':
      return v < 0 ? params[0]! * v : v;
    case 'Clip':
      return Math.min(Math.max(v, params[0]!), params[1]!);
    case 'Sigmoid':
      return 1 / (1 + Math.exp(-v));
    case 'HardSigmoid':
      return Math.max(0, Math.min(1, params[0]! * v + params[1]!));
    case 'Tanh':
      return Math.tanh(v);
    case 'HardSwish':
      return v * Math.max(0, Math.min(1, v / 6 + 0.5));
    default:
      throw new Error(`refActivation: unknown activation ${activation}`);
  }
}

/** Inputs of a QDQ reference call. */
export interface RefQdqCall {
  x: Tensor;
  w: Tensor;
  wScale: Tensor;
  xScale?: Tensor;
  xZeroPoint?: Tensor;
  bias?: Tensor;
}

/** DequantizeLinear(QuantizeLinear(x)) through the reference twins (x unchanged without a scale). */
export function refFakeQuantize(x: Tensor, scale: Tensor | undefined, zeroPoint: Tensor | undefined): Tensor {
  if (!scale) return x;
  const q = refQuantizeLinear(x, scale, zeroPoint, 1, 0, zeroPoint ? zeroPoint.type : 'uint8');
  return refDequantizeLinear(q, scale, zeroPoint, 1, 0);
}

function activate(y: Tensor, activation: string, params: readonly number[]): Tensor {
  const v = y.numbers();
  const out = new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = refActivation(v[i]!, activation, params);
  return new Tensor('float32', out, y.dims);
}

/** QDQConv: Conv(fakeQuantize(x), DequantizeLinear(w, scale, axis 0), bias) then the activation. */
export function refQdqConv(c: RefQdqCall, attrs: RefConvAttrs, activation = '', params: readonly number[] = []): Tensor {
  const x = refFakeQuantize(c.x, c.xScale, c.xZeroPoint);
  const w = refDequantizeLinear(c.w, c.wScale, undefined, 0, 0);
  return activate(refConv(x, w, c.bias, attrs), activation, params);
}

/** QDQMatMul: MatMul(fakeQuantize(x), DequantizeLinear(w, scale, axis 1)) then the activation. */
export function refQdqMatMul(c: RefQdqCall, activation = '', params: readonly number[] = []): Tensor {
  const x = refFakeQuantize(c.x, c.xScale, c.xZeroPoint);
  const w = refDequantizeLinear(c.w, c.wScale, undefined, 1, 0);
  return activate(referenceMatMul(x, w), activation, params);
}

/** QDQGemm: Gemm(fakeQuantize(x), DequantizeLinear(w, scale, transB ? 0 : 1), C) then the activation. */
export function refQdqGemm(c: RefQdqCall, attrs: { alpha?: number; beta?: number; transB?: boolean }, activation = '', params: readonly number[] = []): Tensor {
  const x = refFakeQuantize(c.x, c.xScale, c.xZeroPoint);
  const w = refDequantizeLinear(c.w, c.wScale, undefined, attrs.transB ? 0 : 1, 0);
  return activate(referenceGemm(x, w, c.bias, { alpha: attrs.alpha, beta: attrs.beta, transB: attrs.transB }), activation, params);
}

/** MatMulNBits (bits 4, block 32): y[r, n] = sum_k a[r, k] * (nibble(n, k) - 8) * scale[n * blocks + k / 32] (+ bias[n]). */
export function refMatMulNBits(a: Tensor, codes: Tensor, scales: Tensor, k: number, n: number, bias?: Tensor): Tensor {
  const av = a.numbers();
  const cv = codes.numbers();
  const sv = scales.numbers();
  const bv = bias?.numbers();
  const blocks = Math.ceil(k / 32);
  const rows = av.length / k;
  const out = new Float32Array(rows * n);
  for (let r = 0; r < rows; r++) {
    for (let col = 0; col < n; col++) {
      let sum = 0;
      for (let kk = 0; kk < k; kk++) {
        const block = Math.floor(kk / 32);
        const within = kk % 32;
        const byte = cv[(col * blocks + block) * 16 + Math.floor(within / 2)]!;
        const code = within % 2 === 0 ? byte % 16 : Math.floor(byte / 16);
        const weight = Math.fround((code - 8) * sv[col * blocks + block]!);
        sum += av[r * k + kk]! * weight;
      }
      out[r * n + col] = sum + (bv ? bv[col]! : 0);
    }
  }
  return new Tensor('float32', out, [...a.dims.slice(0, -1), n]);
}
