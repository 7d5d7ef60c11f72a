/**
 * Small helpers shared by the reduce, normalization and einsum op files: axis checks with op-named errors,
 * attribute-record copies for normalize steps, and int64 tensors for eager calls.
 */
import type { AttrValue } from '../kernels/registry.js';
import { fmtShape } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import { fail, type InferContext } from './schema.js';

/** Copy of resolved attributes with some values replaced (keeps the null prototype). */
export function withAttrs(attrs: Record<string, AttrValue>, extra: Record<string, AttrValue>): Record<string, AttrValue> {
  return Object.assign(Object.create(null) as Record<string, AttrValue>, attrs, extra);
}

/** Map a possibly negative axis into [0, rank) or fail naming the op and the input shape. */
export function checkAxis(op: string, what: string, axis: number, dims: readonly number[], ctx: InferContext): number {
  const r = dims.length;
  if (!Number.isInteger(axis) || axis < -r || axis >= r) {
    fail(op, `${what} ${axis} is out of range for input shape ${fmtShape(dims)} (rank ${dims.length}); expected [${-r}, ${r - 1}]`, ctx);
  }
  return axis < 0 ? axis + r : axis;
}

/** A 1-D int64 tensor of `values`. */
export function int64Tensor(values: readonly number[]): Tensor {
  return new Tensor('int64', BigInt64Array.from(values, (v) => BigInt(v)), [values.length]);
}

