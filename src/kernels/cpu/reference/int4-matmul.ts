/**
 * Plain reference of com.tessera MatMulInt4 (../int4-matmul.ts): every weight is read through its (row, column)
 * -> element -> (byte, nibble) position with divisions and modulo, sign-extended by comparison, dequantized with
 * its block's scale and zero point, and summed in float64 in k order. Slow by design.
 */
import { Tensor } from '../../../tensor/tensor.js';
import { refActivation } from './quant-fused.js';

/** Arguments of refMatMulInt4 (the schema's inputs and attributes). */
export interface RefMatMulInt4Args {
  k: number;
  n: number;
  blockSize: number;
  signed: boolean;
  zeroPoints?: Tensor;
  bias?: Tensor;
  activation?: string;
  activationParams?: readonly number[];
}

/** The dequantized weight value at (row, col): fround((code - zp) * scale) of its block. */
export function refInt4Weight(packed: ArrayLike<number>, scales: ArrayLike<number>, zeroPoints: ArrayLike<number> | undefined, row: number, col: number, o: RefMatMulInt4Args): number {
  const element = row * o.n + col;
  const byte = packed[Math.floor(element / 2)]!;
  let code = element % 2 === 0 ? byte % 16 : Math.floor(byte / 16);
  if (o.signed && code >= 8) code -= 16;
  const p = Math.floor(row / o.blockSize) * o.n + col;
  return Math.fround((code - (zeroPoints ? zeroPoints[p]! : 0)) * scales[p]!);
}

/** Y[..., n] = act(sum_k A[..., k] * W[k, n] + bias[n]) with W read by refInt4Weight. */
export function refMatMulInt4(a: Tensor, packed: Tensor, scales: Tensor, o: RefMatMulInt4Args): Tensor {
  const av = a.numbers();
  const pv = packed.numbers();
  const sv = scales.numbers();
  const zv = o.zeroPoints?.numbers();
  const bv = o.bias?.numbers();
  const rows = av.length / o.k;
  const out = new Float32Array(rows * o.n);
  for (let r = 0; r < rows; r++) {
    for (let col = 0; col < o.n; col++) {
      let sum = 0;
      for (let kk = 0; kk < o.k; kk++) sum += av[r * o.k + kk]! * refInt4Weight(pv, sv, zv, kk, col, o);
      out[r * o.n + col] = refActivation(Math.fround(sum) + (bv ? bv[col]! : 0), o.activation ?? '', o.activationParams ?? []);
    }
  }
  return new Tensor('float32', out, [...a.dims.slice(0, -1), o.n]);
}
