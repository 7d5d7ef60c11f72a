/**
 * CPU kernel of com.tessera MatMulInt4 (schema and semantics: src/ops/quant-fused.ts): Y[M, N] = A[M, K] x W[K, N]
 * (+ bias, + activation) with W held as 4-bit codes packed two per byte in row-major [K, N] order (ONNX INT4
 * packing: element i = k * N + n in byte i >> 1, low nibble first) and one float32 scale (and optionally a zero
 * point) per block of `block_size` rows of a column: scales[ceil(K / bs), N].
 *
 * Algorithm: the weight never exists as float32 as a whole. Columns are taken in panels of PANEL; each panel is
 * unpacked into a K x nc float32 scratch row buffer, w = fround((code - zp) * scale) (exactly DequantizeLinear's
 * value), walking row k of the panel as a contiguous run of nc nibbles starting at element k * N + n0, with
 * the block's scale row chosen once per row; then one sgemm writes Y[:, panel] (ldc = N). Bias and activation
 * are applied on the fresh output. The result equals DequantizeLinear -> MatMul (-> Add -> activation) of the
 * same values up to the GEMM's summation order, which is the one the float MatMul kernel uses too.
 *
 * Memory: the packed codes (K * N / 2 bytes) + scales (4 * N * ceil(K / bs) bytes) stay resident; the scratch
 * holds K * PANEL floats while a call runs. Cost: 2 * M * N * K FLOPs plus K * N nibble unpacks per call.
 * The naive twin is ./reference/int4-matmul.ts.
 */
import { Tensor } from '../../tensor/tensor.js';
import { registerKernel, type Kernel } from '../registry.js';
import { activateInPlace, type FusedActivation } from './fused.js';
import { sgemm } from './gemm.js';
import { ScratchSlot } from './scratch.js';
import { outputTensor } from './util.js';

/** Columns of W unpacked per sgemm call. */
const PANEL = 256;
const PANEL_WORK = new ScratchSlot();

/**
 * Unpack columns [n0, n0 + nc) of the packed int4/uint4 W[K, N] into panel[K, nc] (row-major) as float32
 * fround((code - zp) * scale). `zeroPoints` (one value per element, [blocks, N]) may be undefined (zero).
 */
export function unpackInt4Columns(
  packed: Uint8Array,
  scales: Float32Array,
  zeroPoints: Int8Array | Uint8Array | undefined,
  k: number,
  n: number,
  blockSize: number,
  signed: boolean,
  n0: number,
  nc: number,
  panel: Float32Array,
): void {
  // (nib ^ sx) - sx is two's complement for int4 (sx = 8) and the plain value for uint4 (sx = 0)
  const sx = signed ? 8 : 0;
  for (let r = 0; r < k; r++) {
    const sRow = Math.floor(r / blockSize) * n + n0;
    let e = r * n + n0;
    let o = r * nc;
    const end = o + nc;
    if (zeroPoints) {
      for (let j = 0; o < end; e++, o++, j++) {
        const nib = (packed[e >> 1]! >> ((e & 1) << 2)) & 15;
        panel[o] = ((nib ^ sx) - sx - zeroPoints[sRow + j]!) * scales[sRow + j]!;
      }
      continue;
    }
    let j = 0;
    // an odd start element sits in a high nibble: take it alone, then two codes per byte
    if (e & 1 && o < end) {
      panel[o++] = ((((packed[e >> 1]! >> 4) & 15) ^ sx) - sx) * scales[sRow]!;
      e++;
      j++;
    }
    for (; o + 1 < end; e += 2, o += 2, j += 2) {
      const byte = packed[e >> 1]!;
      panel[o] = (((byte & 15) ^ sx) - sx) * scales[sRow + j]!;
      panel[o + 1] = (((byte >> 4) ^ sx) - sx) * scales[sRow + j + 1]!;
    }
    if (o < end) panel[o] = (((packed[e >> 1]! & 15) ^ sx) - sx) * scales[sRow + j]!;
  }
}

const matMulInt4: Kernel = (inputs, attrs, outputs, ctx) => {
  const [a, codes, scales, zp, bias] = inputs as [Tensor, Tensor, Tensor, Tensor | undefined, Tensor | undefined];
  const k = attrs['K'] as number;
  const n = attrs['N'] as number;
  const blockSize = attrs['block_size'] as number;
  const signed = attrs['signed'] !== 0;
  const m = a.size / k;
  const y = outputTensor(outputs[0]!);
  const out = y.data as Float32Array;
  if (m === 0) return [y];
  const av = a.data as Float32Array;
  const cv = codes.data as Uint8Array;
  const sv = scales.data as Float32Array;
  const zv = zp ? (zp.data as Int8Array | Uint8Array) : undefined;
  for (let n0 = 0; n0 < n; n0 += PANEL) {
    const nc = Math.min(PANEL, n - n0);
    const panel = PANEL_WORK.take('float32', k * nc);
    unpackInt4Columns(cv, sv, zv, k, n, blockSize, signed, n0, nc, panel);
    sgemm({ m, n: nc, k, a: av, lda: k, b: panel, ldb: nc, c: out, cOffset: n0, ldc: n, threads: ctx.threads });
  }
  if (bias) {
    const bv = bias.data as Float32Array;
    for (let r = 0; r < m; r++) {
      const row = r * n;
      for (let j = 0; j < n; j++) out[row + j]! += bv[j]!;
    }
  }
  const activation = attrs['activation'] as string;
  if (activation) activateInPlace(out, y.size, activation as FusedActivation, attrs['activation_params'] as readonly number[]);
  return [y];
};

registerKernel('MatMulInt4', 'cpu', matMulInt4, 'com.tessera');
