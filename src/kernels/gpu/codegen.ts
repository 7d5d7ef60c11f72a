/**
 * Source generation helpers for gpu.js kernels.
 *
 * Every GPU kernel is a `function (a0, a1, ...) { ... }` source string compiled per shape signature: dims,
 * strides and attribute values are written into the source as literals (gpu.js kernels cannot close over
 * variables, and GLSL ES 1.0 loops need constant bounds), and each output element is one thread whose flat
 * row-major index `this.thread.x` is split into coordinates by hand (gpu.js outputs are at most 3-D).
 *
 * Index arithmetic is float32 in the shader. `Math.floor((r + 0.5) / d)` is exact while r < 2^22, and the
 * correction step after it keeps the quotient exact for every integer below 2^24, the float32 integer range:
 * tensors on the GPU may hold at most MAX_GPU_ELEMENTS elements.
 */
import { KernelError } from '../../tensor/errors.js';
import { fmtShape, sizeOf } from '../../tensor/shape.js';

/** Largest element count whose flat indices float32 represents exactly. */
export const MAX_GPU_ELEMENTS = 1 << 24;

/** A float literal gpu.js reads as a float (never `1e-7` without a point, never Infinity). */
export function lit(x: number): string {
  if (Number.isNaN(x)) return '(0.0 / 0.0)';
  if (x === Number.POSITIVE_INFINITY || x > 3.4e38) return '3.4e38';
  if (x === Number.NEGATIVE_INFINITY || x < -3.4e38) return '-3.4e38';
  if (Number.isInteger(x) && Math.abs(x) < 1e15) return `${x}.0`;
  const s = String(Math.fround(x) === x ? x : Math.fround(x));
  if (/e/i.test(s)) {
    const [m, e] = s.split(/e/i);
    return `${m!.includes('.') ? m : `${m}.0`}e${e}`;
  }
  return s;
}

/** An integer literal for index arithmetic (written as a float: indices are floats in the shader). */
export function int(x: number): string {
  return `${x}.0`;
}

/** Check that a tensor fits the exact float32 index range. */
export function checkIndexRange(op: string, dims: readonly number[]): void {
  const n = sizeOf(dims);
  if (n > MAX_GPU_ELEMENTS) {
    throw new KernelError(`${op}: a ${fmtShape(dims)} tensor has ${n} elements; GPU kernels index at most ${MAX_GPU_ELEMENTS} (2^24) exactly`);
  }
}

/**
 * Statements that split the flat index held in variable `index` into coordinates over `dims` (row-major).
 * Returns the statements and the coordinate variable names (one per dim; a size-1 dim gets the literal 0).
 * `prefix` must be unique within one kernel (names are deterministic so equal shapes give equal sources).
 */
export function splitIndex(index: string, dims: readonly number[], prefix = 'c'): { code: string; coords: string[] } {
  const tag = prefix;
  const coords = new Array<string>(dims.length);
  const lines: string[] = [];
  let rest = index;
  for (let d = dims.length - 1; d >= 0; d--) {
    const n = dims[d]!;
    if (d === 0) {
      coords[d] = n === 1 ? '0.0' : rest;
      break;
    }
    if (n === 1) {
      coords[d] = '0.0';
      continue;
    }
    const q = `${tag}q${d}`;
    const c = `${tag}_${d}`;
    lines.push(
      `var ${q} = Math.floor((${rest} + 0.5) / ${int(n)});`,
      `var ${c} = ${rest} - ${q} * ${int(n)};`,
      `if (${c} < 0.0) { ${q} = ${q} - 1.0; ${c} = ${c} + ${int(n)}; }`,
      `if (${c} >= ${int(n)}) { ${q} = ${q} + 1.0; ${c} = ${c} - ${int(n)}; }`,
    );
    coords[d] = c;
    rest = q;
  }
  return { code: lines.join('\n'), coords };
}

/** `sum coords[d] * strides[d]` with zero strides and zero coordinates dropped (`0.0` when empty). */
export function dot(coords: readonly string[], strides: readonly number[], base = 0): string {
  const terms: string[] = [];
  if (base !== 0) terms.push(int(base));
  coords.forEach((c, d) => {
    const s = strides[d]!;
    if (s === 0 || c === '0.0') return;
    terms.push(s === 1 ? c : `${c} * ${int(s)}`);
  });
  return terms.length ? terms.join(' + ') : '0.0';
}

/** The body of a kernel: the thread index as a float in `i`. */
export function kernelSource(args: readonly string[], body: string): string {
  return `function (${args.join(', ')}) {\nvar i = this.thread.x + 0.0;\n${body}\n}`;
}

/** Row-major strides of `dims` as numbers. */
export function rowStrides(dims: readonly number[]): number[] {
  const s = new Array<number>(dims.length);
  let acc = 1;
  for (let d = dims.length - 1; d >= 0; d--) {
    s[d] = acc;
    acc *= dims[d]!;
  }
  return s;
}

/** Strides of `dims` broadcast against `outDims` (right-aligned; 0 where the input dim is 1 or missing). */
export function broadcastStridesTo(dims: readonly number[], outDims: readonly number[]): number[] {
  const own = rowStrides(dims);
  const out = new Array<number>(outDims.length).fill(0);
  const shift = outDims.length - dims.length;
  for (let d = 0; d < dims.length; d++) out[d + shift] = dims[d] === 1 ? 0 : own[d]!;
  return out;
}

/**
 * Merge adjacent output dims that every input walks the same way (both contiguous, or both broadcast), so
 * fewer coordinates are computed. Returns merged dims and per-input merged strides.
 */
export function mergeDims(outDims: readonly number[], strides: readonly (readonly number[])[]): { dims: number[]; strides: number[][] } {
  const dims: number[] = [];
  const merged: number[][] = strides.map(() => []);
  for (let d = 0; d < outDims.length; d++) {
    const n = outDims[d]!;
    if (n === 1) continue;
    const last = dims.length - 1;
    const canMerge =
      last >= 0 && strides.every((s, k) => merged[k]![last]! === s[d]! * n);
    if (canMerge) {
      dims[last]! *= n;
      strides.forEach((s, k) => (merged[k]![last] = s[d]!));
    } else {
      dims.push(n);
      strides.forEach((s, k) => merged[k]!.push(s[d]!));
    }
  }
  if (dims.length === 0) {
    dims.push(1);
    strides.forEach((_, k) => merged[k]!.push(0));
  }
  return { dims, strides: merged };
}
