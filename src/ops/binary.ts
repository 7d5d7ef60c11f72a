/**
 * Binary and variadic elementwise operators with numpy (multidirectional) broadcasting: arithmetic (Add, Sub,
 * Mul, Div, Pow, Mod), PRelu (slope broadcast to X only), comparisons (Equal, Less, LessOrEqual, Greater,
 * GreaterOrEqual; bool output), logic (And, Or, Xor), bit operations (BitShift, BitwiseAnd/Or/Xor) and
 * Sum, Mean, Max, Min over one or more inputs.
 *
 * Opsets before 7 broadcast only with `broadcast=1`, aligning B with A from `axis` (or from the right); the
 * normalize step turns that into numpy form by appending 1-dims to B, and rejects unequal shapes without
 * `broadcast=1`. Sum/Mean/Max/Min before opset 8 required equal shapes; broadcasting them is a superset.
 * Kernels: src/kernels/cpu/binary.ts.
 */
import type { AttrValue, OutputSpec } from '../kernels/registry.js';
import type { DataType } from '../tensor/dtype.js';
import { fmtShape, shapesEqual } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { runOp1 } from './dispatch.js';
import {
  ALL_TYPES,
  broadcastOrFail,
  defineOp,
  fail,
  FLOAT_TYPES,
  INT_TYPES,
  NUMERIC_TYPES,
  type AttrSpec,
  type InferContext,
  type Normalized,
} from './schema.js';

const LEGACY_BROADCAST: Record<string, AttrSpec> = {
  broadcast: { kind: 'int' },
  axis: { kind: 'int' },
  consumed_inputs: { kind: 'ints', ignored: true },
};

/**
 * Opset < 7 broadcasting: with broadcast=1, B's dims line up with A's starting at `axis` (default: aligned to
 * the right); without it the shapes must be equal. Returns the call with B reshaped to numpy form.
 */
function normalizeLegacyBroadcast(op: string) {
  return (inputs: (Tensor | undefined)[], attrs: Record<string, AttrValue>, ctx: InferContext): Normalized => {
    const rest = Object.create(null) as Record<string, AttrValue>;
    for (const k of Object.keys(attrs)) if (k !== 'broadcast' && k !== 'axis') rest[k] = attrs[k]!;
    const [a, b] = inputs;
    if (!a || !b) return { inputs, attrs: rest };
    const broadcast = attrs['broadcast'];
    if (broadcast === 1) {
      const axis = attrs['axis'] as number | undefined;
      if (axis === undefined) return { inputs, attrs: rest };
      const start = axis < 0 ? axis + a.rank : axis;
      const trailing = a.rank - start - b.rank;
      if (start < 0 || trailing < 0) {
        fail(op, `legacy broadcast: B of shape ${fmtShape(b.dims)} does not fit A of shape ${fmtShape(a.dims)} at axis ${axis}`, ctx);
      }
      const aligned = b.reshape([...b.dims, ...new Array<number>(trailing).fill(1)]);
      return { inputs: [a, aligned, ...inputs.slice(2)], attrs: rest };
    }
    if (ctx.opset < 7 && !shapesEqual(a.dims, b.dims)) {
      fail(op, `opset ${ctx.opset} without broadcast=1 needs equal shapes; got ${fmtShape(a.dims)} and ${fmtShape(b.dims)}`, ctx);
    }
    return { inputs, attrs: rest };
  };
}

/** Define a broadcasting binary op A op B -> C with output dtype `out` (default: A's). */
function defineBinary(name: string, types: readonly DataType[], options: { out?: DataType; legacy?: boolean; attributes?: Record<string, AttrSpec>; check?: (a: Tensor, attrs: Readonly<Record<string, AttrValue>>, ctx: InferContext) => void } = {}): void {
  defineOp({
    name,
    inputs: [
      { name: 'A', type: 'T' },
      { name: 'B', type: 'T' },
    ],
    outputs: ['C'],
    types: { T: types },
    attributes: { ...(options.legacy ? LEGACY_BROADCAST : {}), ...(options.attributes ?? {}) },
    normalize: options.legacy ? normalizeLegacyBroadcast(name) : undefined,
    infer(inputs, attrs, ctx): OutputSpec[] {
      const a = inputs[0]!;
      const b = inputs[1]!;
      options.check?.(a, attrs, ctx);
      return [{ type: options.out ?? a.type, dims: broadcastOrFail(name, ctx, a.dims, b.dims) }];
    },
  });
}

for (const op of ['Add', 'Sub', 'Mul', 'Div']) defineBinary(op, NUMERIC_TYPES, { legacy: true });
defineBinary('Mod', NUMERIC_TYPES, {
  attributes: { fmod: { kind: 'int', default: 0 } },
  check(a, attrs, ctx) {
    const fmod = attrs['fmod'];
    if (fmod !== 0 && fmod !== 1) fail('Mod', `attribute 'fmod' is ${String(fmod)}; expected 0 or 1`, ctx);
    if (fmod === 0 && FLOAT_TYPES.includes(a.type)) {
      fail('Mod', `input 'A' has type ${a.type}; fmod=0 (integer modulo) needs integer inputs, set fmod=1 for floats`, ctx);
    }
  },
});
// Equal also compares strings (opset 19+ lists tensor(string); the kernel is in src/kernels/cpu/string.ts)
for (const op of ['Equal']) defineBinary(op, [...ALL_TYPES, 'string'], { out: 'bool', legacy: true });
for (const op of ['Less', 'Greater']) defineBinary(op, NUMERIC_TYPES, { out: 'bool', legacy: true });
for (const op of ['LessOrEqual', 'GreaterOrEqual']) defineBinary(op, NUMERIC_TYPES, { out: 'bool' });
for (const op of ['And', 'Or', 'Xor']) defineBinary(op, ['bool'], { out: 'bool', legacy: true });
for (const op of ['BitwiseAnd', 'BitwiseOr', 'BitwiseXor']) defineBinary(op, INT_TYPES);
defineBinary('BitShift', ['uint8', 'uint16', 'uint32'], {
  attributes: { direction: { kind: 'string', required: true } },
  check(_a, attrs, ctx) {
    const d = attrs['direction'];
    if (d !== 'LEFT' && d !== 'RIGHT') fail('BitShift', `attribute 'direction' is ${JSON.stringify(d)}; expected "LEFT" or "RIGHT"`, ctx);
  },
});

defineOp({
  name: 'Pow',
  inputs: [
    { name: 'X', type: 'T' },
    { name: 'Y', type: 'T1' },
  ],
  outputs: ['Z'],
  types: { T: [...FLOAT_TYPES, 'int32', 'int64'], T1: NUMERIC_TYPES },
  attributes: LEGACY_BROADCAST,
  normalize: normalizeLegacyBroadcast('Pow'),
  infer(inputs, _attrs, ctx) {
    const x = inputs[0]!;
    const y = inputs[1]!;
    return [{ type: x.type, dims: broadcastOrFail('Pow', ctx, x.dims, y.dims) }];
  },
});

defineOp({
  name: 'PRelu',
  inputs: [
    { name: 'X', type: 'T' },
    { name: 'slope', type: 'T' },
  ],
  outputs: ['Y'],
  types: { T: [...FLOAT_TYPES, 'int32', 'int64', 'uint32'] },
  attributes: { consumed_inputs: { kind: 'ints', ignored: true } },
  normalize(inputs, attrs, ctx): Normalized {
    // PRelu before opset 7 takes a per-channel slope of shape [C] for an (N, C, ...) input: align it with axis 1
    const [x, slope] = inputs;
    if (ctx.opset < 7 && x && slope && slope.rank === 1 && x.rank > 2 && slope.dims[0] === x.dims[1] && slope.size > 1) {
      return { inputs: [x, slope.reshape([slope.size, ...new Array<number>(x.rank - 2).fill(1)])], attrs };
    }
    return { inputs, attrs };
  },
  infer(inputs, _attrs, ctx) {
    const x = inputs[0]!;
    const slope = inputs[1]!;
    const out = broadcastOrFail('PRelu', ctx, x.dims, slope.dims);
    if (!shapesEqual(out, x.dims)) {
      fail('PRelu', `input 'slope' has shape ${fmtShape(slope.dims)}; it must broadcast to X's shape ${fmtShape(x.dims)} without growing it`, ctx);
    }
    return [{ type: x.type, dims: x.dims }];
  },
});

/** Define a variadic op over inputs data_0, data_1, ... broadcast together. */
function defineVariadic(name: string, types: readonly DataType[]): void {
  defineOp({
    name,
    inputs: [{ name: 'data', type: 'T', variadic: true }],
    outputs: ['result'],
    types: { T: types },
    attributes: { consumed_inputs: { kind: 'ints', ignored: true } },
    infer(inputs, _attrs, ctx) {
      const shapes = inputs.map((t) => t!.dims);
      return [{ type: inputs[0]!.type, dims: broadcastOrFail(name, ctx, ...shapes) }];
    },
  });
}

defineVariadic('Sum', FLOAT_TYPES);
defineVariadic('Mean', FLOAT_TYPES);
defineVariadic('Max', NUMERIC_TYPES);
defineVariadic('Min', NUMERIC_TYPES);

/** a + b with numpy broadcasting (integers wrap). */
export function add(a: Tensor, b: Tensor): Tensor {
  return runOp1('Add', [a, b]);
}

/** a - b with numpy broadcasting. */
export function sub(a: Tensor, b: Tensor): Tensor {
  return runOp1('Sub', [a, b]);
}

/** a * b with numpy broadcasting. */
export function mul(a: Tensor, b: Tensor): Tensor {
  return runOp1('Mul', [a, b]);
}

/** a / b with numpy broadcasting; integer division truncates toward zero (division by zero gives 0). */
export function div(a: Tensor, b: Tensor): Tensor {
  return runOp1('Div', [a, b]);
}

/** x ** y; y may have another numeric dtype (e.g. float32 base, int64 exponent). Output has x's dtype. */
export function pow(x: Tensor, y: Tensor): Tensor {
  return runOp1('Pow', [x, y]);
}

/**
 * Remainder of a / b. Default (fmod=false, integers only): sign follows the divisor, as Python's %.
 * fmod=true: C fmod, sign follows the dividend (required for floats).
 */
export function mod(a: Tensor, b: Tensor, options: { fmod?: boolean } = {}): Tensor {
  return runOp1('Mod', [a, b], { fmod: options.fmod === undefined ? undefined : options.fmod ? 1 : 0 });
}

/** x for x >= 0, slope * x otherwise; slope broadcasts to x's shape. */
export function prelu(x: Tensor, slope: Tensor): Tensor {
  return runOp1('PRelu', [x, slope]);
}

/** a == b elementwise (bool). */
export function equal(a: Tensor, b: Tensor): Tensor {
  return runOp1('Equal', [a, b]);
}

/** a < b elementwise (bool). */
export function less(a: Tensor, b: Tensor): Tensor {
  return runOp1('Less', [a, b]);
}

/** a <= b elementwise (bool). */
export function lessOrEqual(a: Tensor, b: Tensor): Tensor {
  return runOp1('LessOrEqual', [a, b]);
}

/** a > b elementwise (bool). */
export function greater(a: Tensor, b: Tensor): Tensor {
  return runOp1('Greater', [a, b]);
}

/** a >= b elementwise (bool). */
export function greaterOrEqual(a: Tensor, b: Tensor): Tensor {
  return runOp1('GreaterOrEqual', [a, b]);
}

/** Logical and of bool tensors. */
export function logicalAnd(a: Tensor, b: Tensor): Tensor {
  return runOp1('And', [a, b]);
}

/** Logical or of bool tensors. */
export function logicalOr(a: Tensor, b: Tensor): Tensor {
  return runOp1('Or', [a, b]);
}

/** Logical exclusive or of bool tensors. */
export function logicalXor(a: Tensor, b: Tensor): Tensor {
  return runOp1('Xor', [a, b]);
}

/** Shift unsigned integers left or right by y bits (shifts of the full width or more give 0). */
export function bitShift(x: Tensor, y: Tensor, direction: 'LEFT' | 'RIGHT'): Tensor {
  return runOp1('BitShift', [x, y], { direction });
}

/** Bitwise and of integer tensors. */
export function bitwiseAnd(a: Tensor, b: Tensor): Tensor {
  return runOp1('BitwiseAnd', [a, b]);
}

/** Bitwise or of integer tensors. */
export function bitwiseOr(a: Tensor, b: Tensor): Tensor {
  return runOp1('BitwiseOr', [a, b]);
}

/** Bitwise exclusive or of integer tensors. */
export function bitwiseXor(a: Tensor, b: Tensor): Tensor {
  return runOp1('BitwiseXor', [a, b]);
}

/** Elementwise sum of one or more float tensors, broadcast together. */
export function sum(...xs: Tensor[]): Tensor {
  return runOp1('Sum', xs);
}

/** Elementwise mean of one or more float tensors, broadcast together. */
export function mean(...xs: Tensor[]): Tensor {
  return runOp1('Mean', xs);
}

/** Elementwise maximum of one or more tensors (NaN wins, as in numpy.maximum). */
export function max(...xs: Tensor[]): Tensor {
  return runOp1('Max', xs);
}

/** Elementwise minimum of one or more tensors (NaN wins, as in numpy.minimum). */
export function min(...xs: Tensor[]): Tensor {
  return runOp1('Min', xs);
}
