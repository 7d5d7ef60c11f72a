/**
 * Elementwise operators: unary math and activations, binary arithmetic with numpy broadcasting, variadic
 * Sum/Mean/Max/Min, comparisons and logic, Where, Clip, Cast.
 *
 * Schemas and eager functions live here; the loops live in src/kernels/cpu/elementwise.ts.
 */
import type { OutputSpec } from '../kernels/registry.js';
import type { Tensor } from '../tensor/tensor.js';
import { runOp1 } from './dispatch.js';
import { broadcastOrFail, defineOp, FLOAT_TYPES, NUMERIC_TYPES, req, type InferContext } from './schema.js';

function sameAsInput(inputs: readonly (Tensor | undefined)[]): OutputSpec[] {
  const x = inputs[0]!;
  return [{ type: x.type, dims: x.dims }];
}

defineOp({
  name: 'Relu',
  inputs: [{ name: 'X', type: 'T' }],
  outputs: ['Y'],
  types: { T: [...FLOAT_TYPES, 'int8', 'int16', 'int32', 'int64'] },
  attributes: {},
  infer: sameAsInput,
});

function broadcastInfer(op: string) {
  return (inputs: readonly (Tensor | undefined)[], _attrs: unknown, ctx: InferContext): OutputSpec[] => {
    const a = req(op, inputs, 0, 'A', ctx);
    const b = req(op, inputs, 1, 'B', ctx);
    return [{ type: a.type, dims: broadcastOrFail(op, ctx, a.dims, b.dims) }];
  };
}

defineOp({
  name: 'Add',
  inputs: [
    { name: 'A', type: 'T' },
    { name: 'B', type: 'T' },
  ],
  outputs: ['C'],
  types: { T: NUMERIC_TYPES },
  attributes: {},
  infer: broadcastInfer('Add'),
});

/** max(x, 0) elementwise. */
export function relu(x: Tensor): Tensor {
  return runOp1('Relu', [x]);
}

/** a + b with numpy broadcasting. */
export function add(a: Tensor, b: Tensor): Tensor {
  return runOp1('Add', [a, b]);
}
