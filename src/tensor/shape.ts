/**
 * Shape arithmetic: element counts, row-major strides, axis normalisation and numpy/ONNX multidirectional
 * broadcasting. Pure functions over `readonly number[]`.
 */
import { TensorError, TesseraError } from './errors.js';

/** Largest element count Tessera accepts for one tensor (2^31 - 1, the typed-array index limit we rely on). */
export const MAX_ELEMENTS = 2 ** 31 - 1;

/** Number of elements of a shape (1 for a scalar). Throws on negative, fractional or absurd dims. */
export function sizeOf(dims: readonly number[], where = 'shape'): number {
  let n = 1;
  for (let i = 0; i < dims.length; i++) {
    const d = dims[i]!;
    if (!Number.isInteger(d) || d < 0) {
      throw new TensorError(`${where}: dimension ${i} is ${String(d)}; expected a non-negative integer (dims [${dims.join(', ')}])`);
    }
    n *= d;
  }
  if (n > MAX_ELEMENTS) throw new TensorError(`${where}: [${dims.join(', ')}] has ${n} elements, more than the limit ${MAX_ELEMENTS}`);
  return n;
}

/** Row-major (C order) strides of a shape, in elements. */
export function stridesOf(dims: readonly number[]): number[] {
  const s = new Array<number>(dims.length);
  let acc = 1;
  for (let i = dims.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= dims[i]!;
  }
  return s;
}

/** Map a possibly negative axis into [0, rank); throws naming `where` when out of range. */
export function normalizeAxis(axis: number, rank: number, where = 'axis'): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) {
    throw new TesseraError(`${where}: axis ${axis} is out of range for rank ${rank}; expected [${-rank}, ${rank - 1}]`);
  }
  return axis < 0 ? axis + rank : axis;
}

/** Normalise a list of axes, rejecting duplicates. */
export function normalizeAxes(axes: readonly number[], rank: number, where = 'axes'): number[] {
  const out = axes.map((a) => normalizeAxis(a, rank, where));
  if (new Set(out).size !== out.length) throw new TesseraError(`${where}: repeated axis in [${axes.join(', ')}]`);
  return out;
}

/** True when two shapes are equal. */
export function shapesEqual(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The shape two or more shapes broadcast to (numpy rules: align right; each pair of dims must be equal or
 * one of them 1). Returns undefined when they do not broadcast.
 */
export function tryBroadcastShapes(...shapes: readonly (readonly number[])[]): number[] | undefined {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    const off = rank - s.length;
    for (let i = 0; i < s.length; i++) {
      const d = s[i]!;
      const o = out[off + i]!;
      if (o === d || d === 1) continue;
      if (o === 1) out[off + i] = d;
      else return undefined;
    }
  }
  return out;
}

/** Like `tryBroadcastShapes` but throws a TesseraError naming the shapes. */
export function broadcastShapes(where: string, ...shapes: readonly (readonly number[])[]): number[] {
  const out = tryBroadcastShapes(...shapes);
  if (!out) {
    throw new TesseraError(`${where}: shapes ${shapes.map((s) => `[${s.join(', ')}]`).join(' and ')} cannot be broadcast together`);
  }
  return out;
}

/**
 * Strides (in elements) that read a contiguous tensor of shape `from` as if it had the broadcast shape `to`:
 * broadcast dims get stride 0. `from` must broadcast to `to`.
 */
export function broadcastStrides(from: readonly number[], to: readonly number[]): number[] {
  const src = stridesOf(from);
  const off = to.length - from.length;
  const out = new Array<number>(to.length).fill(0);
  for (let i = 0; i < from.length; i++) out[off + i] = from[i] === 1 && to[off + i] !== 1 ? 0 : src[i]!;
  return out;
}

/** Format dims for messages: `[2, 3, 4]`. */
export function fmtShape(dims: readonly number[]): string {
  return `[${dims.join(', ')}]`;
}

/**
 * One axis of an ONNX Slice: the first index taken and how many, for `start`/`end` (negative counts from the
 * end) and a nonzero `step` over a dim of size `d`. Clamping as Operators.md says: forward, start and end into
 * [0, d]; backward, start into [0, d-1] and end into [-1, d-1].
 */
export function sliceRange(start: number, end: number, step: number, d: number): { start: number; count: number } {
  let s = start < 0 ? start + d : start;
  let e = end < 0 ? end + d : end;
  if (step > 0) {
    s = Math.min(Math.max(s, 0), d);
    e = Math.min(Math.max(e, 0), d);
    return { start: s, count: e > s ? Math.ceil((e - s) / step) : 0 };
  }
  s = Math.min(Math.max(s, 0), d - 1);
  e = Math.min(Math.max(e, -1), d - 1);
  return { start: s, count: s > e ? Math.ceil((s - e) / -step) : 0 };
}
