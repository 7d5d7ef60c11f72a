/**
 * Elementwise operators, family root: re-exports the unary (./unary.ts), binary and variadic (./binary.ts)
 * and cast (./cast.ts) operators, and defines Where, Clip and Dropout.
 *
 * - Where(condition, X, Y): three-way numpy broadcasting; X and Y share any dtype.
 * - Clip: opsets < 11 take `min`/`max` float attributes, which normalize turns into scalar inputs of X's
 *   dtype; from opset 11 they are optional inputs that must hold one element. min > max yields max everywhere.
 * - Dropout: inference only. Output = input; the optional mask is all true (bool from opset 10, X's dtype
 *   before). `training_mode` = true, and `is_test` = 0 in opsets before 7, ask for training and are refused.
 *
 * Kernels: src/kernels/cpu/elementwise.ts.
 */
import type { AttrValue, OutputSpec } from '../kernels/registry.js';
import { UnsupportedFeatureError } from '../tensor/errors.js';
import { fmtShape } from '../tensor/shape.js';
import { fromNumbers, Tensor } from '../tensor/tensor.js';
import { runOp, runOp1 } from './dispatch.js';
import { ALL_TYPES, broadcastOrFail, defineOp, fail, FLOAT_TYPES, NUMERIC_TYPES, type InferContext, type Normalized } from './schema.js';

export * from './unary.js';
export * from './binary.js';
export * from './cast.js';

defineOp({
  name: 'Where',
  inputs: [
    { name: 'condition', type: 'B' },
    { name: 'X', type: 'T' },
    { name: 'Y', type: 'T' },
  ],
  outputs: ['output'],
  types: { B: ['bool'], T: ALL_TYPES },
  attributes: {},
  infer(inputs, _attrs, ctx): OutputSpec[] {
    const [c, x, y] = inputs as [Tensor, Tensor, Tensor];
    return [{ type: x.type, dims: broadcastOrFail('Where', ctx, c.dims, x.dims, y.dims) }];
  },
});

defineOp({
  name: 'Clip',
  inputs: [
    { name: 'input', type: 'T' },
    { name: 'min', type: 'T', optional: true },
    { name: 'max', type: 'T', optional: true },
  ],
  outputs: ['output'],
  types: { T: NUMERIC_TYPES },
  attributes: { min: { kind: 'float' }, max: { kind: 'float' }, consumed_inputs: { kind: 'ints', ignored: true } },
  normalize(inputs: (Tensor | undefined)[], attrs: Record<string, AttrValue>, ctx: InferContext): Normalized {
    const lo = attrs['min'] as number | undefined;
    const hi = attrs['max'] as number | undefined;
    if (lo === undefined && hi === undefined) return { inputs, attrs };
    if (ctx.opset >= 11) fail('Clip', `opset ${ctx.opset} takes min and max as inputs; the 'min'/'max' attributes belong to opsets before 11`, ctx);
    const x = inputs[0];
    if (!x) return { inputs, attrs };
    if (inputs.slice(1).some((t) => t !== undefined)) fail('Clip', `opset ${ctx.opset} takes min and max as attributes, not inputs`, ctx);
    const scalar = (v: number | undefined): Tensor | undefined => (v === undefined ? undefined : fromNumbers(x.type, [v], []));
    return { inputs: [x, scalar(lo), scalar(hi)], attrs: Object.create(null) as Record<string, AttrValue> };
  },
  infer(inputs, _attrs, ctx): OutputSpec[] {
    const x = inputs[0]!;
    for (const [i, name] of [
      [1, 'min'],
      [2, 'max'],
    ] as const) {
      const t = inputs[i];
      if (t && t.size !== 1) fail('Clip', `input '${name}' has shape ${fmtShape(t.dims)}; expected a scalar (one element)`, ctx);
    }
    return [{ type: x.type, dims: x.dims }];
  },
});

defineOp({
  name: 'Dropout',
  inputs: [
    { name: 'data', type: 'T' },
    { name: 'ratio', type: 'T1', optional: true },
    { name: 'training_mode', type: 'T2', optional: true },
  ],
  outputs: ['output', 'mask'],
  types: { T: FLOAT_TYPES, T1: FLOAT_TYPES, T2: ['bool'] },
  attributes: {
    seed: { kind: 'int' },
    ratio: { kind: 'float', ignored: true },
    is_test: { kind: 'int' },
    consumed_inputs: { kind: 'ints', ignored: true },
  },
  infer(inputs, attrs, ctx): OutputSpec[] {
    const x = inputs[0]!;
    const ratio = inputs[1];
    const training = inputs[2];
    if (ratio && ratio.size !== 1) fail('Dropout', `input 'ratio' has shape ${fmtShape(ratio.dims)}; expected a scalar`, ctx);
    if (training) {
      if (training.size !== 1) fail('Dropout', `input 'training_mode' has shape ${fmtShape(training.dims)}; expected a scalar`, ctx);
      // training mode with ratio 0 keeps every element, which is inference; any other ratio draws a random mask
      const r = ratio ? ratio.numbers()[0]! : 0.5;
      if ((training.data as Uint8Array)[0] !== 0 && r !== 0) {
        throw new UnsupportedFeatureError(opLabel('Dropout', ctx), `input 'training_mode' is true with ratio ${r}: training-mode dropout draws a random mask, which Tessera (an inference runtime) does not implement`);
      }
    }
    if (ctx.opset < 7 && attrs['is_test'] !== 1) {
      throw new UnsupportedFeatureError(opLabel('Dropout', ctx), `opset ${ctx.opset} with is_test=${String(attrs['is_test'] ?? 0)} asks for training-mode dropout, which Tessera does not implement; set is_test=1`);
    }
    // the mask is only computed when the caller asks for it (a graph node with two outputs, or eager calls)
    if (ctx.numOutputs === 1) return [{ type: x.type, dims: x.dims }];
    return [
      { type: x.type, dims: x.dims },
      { type: ctx.opset >= 10 ? 'bool' : x.type, dims: x.dims },
    ];
  },
});

function opLabel(op: string, ctx: InferContext): string {
  return ctx.node ? `${op} (node '${ctx.node}')` : op;
}

/** condition ? x : y elementwise, with all three broadcast together. */
export function where(condition: Tensor, x: Tensor, y: Tensor): Tensor {
  return runOp1('Where', [condition, x, y]);
}

/** Limit x to [min, max]; either bound may be omitted (scalar tensors of x's dtype). */
export function clip(x: Tensor, min?: Tensor, max?: Tensor): Tensor {
  return runOp1('Clip', [x, min, max]);
}

/** Dropout in inference mode: returns the output (equal to x) and the all-true mask. */
export function dropout(x: Tensor, options: { ratio?: Tensor; seed?: number } = {}): { output: Tensor; mask: Tensor } {
  const [output, mask] = runOp('Dropout', [x, options.ratio], { seed: options.seed });
  return { output: output!, mask: mask! };
}
