/**
 * Plain-loop references of the quantization math in ./math.ts, written the obvious way so the property tests
 * can compare the real functions with them: every element is visited through its multi-index, ranges are
 * gathered per channel from scratch, int4 codes are read back one nibble at a time. Slow by design; never used
 * by the passes.
 */
import { integerRange } from '../tensor/numeric.js';
import type { QuantScheme } from './math.js';
import { INT4_BLOCK } from './math.js';

/** Multi-index of flat position `flat` in a row-major tensor of `dims`. */
function multiIndex(flat: number, dims: readonly number[]): number[] {
  const idx = new Array<number>(dims.length).fill(0);
  for (let d = dims.length - 1; d >= 0; d--) {
    idx[d] = flat % dims[d]!;
    flat = Math.floor(flat / dims[d]!);
  }
  return idx;
}

/** Round half to even written from the definition: the nearer integer, the even one on a tie. */
export function roundHalfEvenReference(v: number): number {
  const f = Math.floor(v);
  const diff = v - f;
  if (diff < 0.5) return f;
  if (diff > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/** Scale and zero point from a range, spelled out case by case. */
export function chooseQuantParamsReference(min: number, max: number, scheme: QuantScheme): { scale: number; zeroPoint: number } {
  const [tlo, thi] = integerRange(scheme.type);
  const lo = Math.min(min, 0);
  const hi = Math.max(max, 0);
  if (scheme.symmetric) {
    const a = Math.max(Math.abs(lo), Math.abs(hi));
    const steps = thi - (tlo + 1); // 254 codes around the middle one
    let scale = Math.fround((2 * a) / steps);
    if (scale === 0 || scale < 1.1754943508222875e-38) scale = 1;
    return { scale, zeroPoint: scheme.type === 'int8' ? 0 : 128 };
  }
  let scale = Math.fround((hi - lo) / (thi - tlo));
  if (scale === 0 || scale < 1.1754943508222875e-38) scale = 1;
  let zp = roundHalfEvenReference(tlo - lo / scale);
  if (zp < tlo) zp = tlo;
  if (zp > thi) zp = thi;
  return { scale, zeroPoint: zp };
}

/**
 * Quantize per tensor (axis undefined) or per channel: for each element, find its channel from its
 * multi-index, that channel's range by scanning every element with the same channel, and quantize.
 */
export function quantizeReference(values: ArrayLike<number>, dims: readonly number[], scheme: QuantScheme, axis?: number): { q: number[]; scales: number[]; zeroPoints: number[] } {
  const channels = axis === undefined ? 1 : dims[axis]!;
  const scales: number[] = [];
  const zeroPoints: number[] = [];
  for (let c = 0; c < channels; c++) {
    let min = 0;
    let max = 0;
    for (let i = 0; i < values.length; i++) {
      const ch = axis === undefined ? 0 : multiIndex(i, dims)[axis]!;
      if (ch !== c) continue;
      min = Math.min(min, values[i]!);
      max = Math.max(max, values[i]!);
    }
    const p = chooseQuantParamsReference(min, max, scheme);
    scales.push(p.scale);
    zeroPoints.push(p.zeroPoint);
  }
  const [tlo, thi] = integerRange(scheme.type);
  const q: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const ch = axis === undefined ? 0 : multiIndex(i, dims)[axis]!;
    const v = roundHalfEvenReference(Math.fround(values[i]! / scales[ch]!)) + zeroPoints[ch]!;
    q.push(Math.min(thi, Math.max(tlo, v)));
  }
  return { q, scales, zeroPoints };
}

/** Dequantize per tensor or per channel through multi-indices. */
export function dequantizeReference(q: ArrayLike<number>, dims: readonly number[], scales: ArrayLike<number>, zeroPoints: ArrayLike<number>, axis?: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < q.length; i++) {
    const ch = axis === undefined ? 0 : multiIndex(i, dims)[axis]!;
    out.push(Math.fround((q[i]! - zeroPoints[ch]!) * scales[ch]!));
  }
  return out;
}

/** The int4 value of weight (r, col) of B[K, N] read back from a packed layout, nibble by nibble. */
export function int4ValueReference(codes: Uint8Array, scales: Float32Array, k: number, r: number, col: number): number {
  const blocks = Math.ceil(k / INT4_BLOCK.weights);
  const block = Math.floor(r / INT4_BLOCK.weights);
  const within = r % INT4_BLOCK.weights;
  const byte = codes[(col * blocks + block) * INT4_BLOCK.codeBytes + Math.floor(within / 2)]!;
  const code = within % 2 === 0 ? byte % 16 : Math.floor(byte / 16);
  return Math.fround((code - INT4_BLOCK.zeroPoint) * scales[col * blocks + block]!);
}

/** int4 quantization of B[K, N] written element by element: each weight's block scale from a scan of its block. */
export function quantizeInt4Reference(values: ArrayLike<number>, k: number, n: number): number[][] {
  const out: number[][] = [];
  for (let r = 0; r < k; r++) {
    const row: number[] = [];
    for (let col = 0; col < n; col++) {
      const b0 = Math.floor(r / INT4_BLOCK.weights) * INT4_BLOCK.weights;
      let amax = 0;
      for (let rr = b0; rr < Math.min(k, b0 + INT4_BLOCK.weights); rr++) amax = Math.max(amax, Math.abs(values[rr * n + col]!));
      let scale = Math.fround(amax / 7);
      if (scale === 0 || scale < 1.1754943508222875e-38) scale = 1;
      const code = Math.min(7, Math.max(-7, roundHalfEvenReference(Math.fround(values[r * n + col]! / scale))));
      row.push(code * scale);
    }
    out.push(row);
  }
  return out;
}
