/**
 * Binary and variadic elementwise CPU kernels with numpy broadcasting: arithmetic (Add, Sub, Mul, Div, Pow,
 * Mod, PRelu), comparisons (Equal, Less, LessOrEqual, Greater, GreaterOrEqual -> bool), logic (And, Or, Xor),
 * bit operations (BitShift, BitwiseAnd/Or/Xor) and Sum, Mean, Max, Min over any number of inputs.
 *
 * Every call walks a row plan (./broadcast-rows.ts): the output is split into rows along the innermost axis on
 * which each input is either contiguous or constant, and a row function runs one tight loop per row with each
 * input advancing by stride 0 or 1. Equal shapes are one row; a scalar operand is one row with stride 0.
 * Measured on 1M float32 adds: one row 1.8 ms, against 1.4 ms for a plain `y[i] = a[i] + b[i]` loop and 10 ms
 * for a shared loop calling a per-op closure per element.
 *
 * float32/float64: one row function literal per op (monomorphic: each only sees Float32Array/Float64Array, or
 * Uint8Array outputs for comparisons). float16 decodes to float32, runs the float32 rows and encodes.
 * Integer dtypes and int64 (BigInt) go through generic rows that call a per-op scalar function: correct C
 * semantics (wrap-around through the typed-array store, truncating integer division, Math.imul products) at
 * lower speed, which suits the small shape tensors they are used for. Integer division or modulo by zero yields
 * 0 (C leaves it undefined; onnxruntime crashes).
 *
 * Variadic ops accumulate in the output: the first input is broadcast-copied, each further input is combined
 * in place with the same row functions.
 *
 * Cost: one read per input element and one write per output element, O(rows) setup.
 */
import { allocate, isFloat, type DataType, type NumericArray } from '../../tensor/dtype.js';
import { sizeOf } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { registerKernel, type Attrs, type Kernel, type OutputSpec } from '../registry.js';
import { stringEqual } from './string.js';
import { planRows, type RowPlan } from './broadcast-rows.js';
import { float32ToHalfBits } from './half.js';
import { ScratchSlot } from './scratch.js';

type FloatArray = Float32Array | Float64Array;

/** One row: y[o + j] = f(a[ia + j*sa], b[ib + j*sb]) for j < n. */
type FloatRow = (a: FloatArray, ia: number, sa: number, b: FloatArray, ib: number, sb: number, y: FloatArray | Uint8Array, o: number, n: number) => void;
type BoolRow = (a: Uint8Array, ia: number, sa: number, b: Uint8Array, ib: number, sb: number, y: Uint8Array, o: number, n: number) => void;

/** Indexable storage for the generic paths. */
interface Slots<V> {
  [i: number]: V;
  readonly length: number;
}

type IntFn = (x: number, y: number) => number;
type BigFn = (x: bigint, y: bigint) => bigint | number;

const INT64_MIN = -(2n ** 63n);

/** C pow where it differs from Math.pow: 1^y = 1 and (-1)^(+-Inf) = 1 for every y, even NaN. */
function powNaNCase(x: number, e: number): number {
  if (x === 1) return 1;
  if (x === -1 && (e === Infinity || e === -Infinity)) return 1;
  return NaN;
}

const FLOAT_ROWS: Readonly<Record<string, FloatRow>> = {
  Add: (a, ia, sa, b, ib, sb, y, o, n) => {
    for (const end = o + n; o < end; o++, ia += sa, ib += sb) y[o] = a[ia]! + b[ib]!;
  },
  Sub: (a, ia, sa, b, ib, sb, y, o, n) => {
    for (const end = o + n; o < end; o++, ia += sa, ib += sb) y[o] = a[ia]! - b[ib]!;
  },
  Mul: (a, ia, sa, b, ib, sb, y, o, n) => {
    for (const end = o + n; o < end; o++, ia += sa, ib += sb) y[o] = a[ia]! * b[ib]!;
  },
  Div: (a, ia, sa, b, ib, sb, y, o, n) => {
    for (const end = o + n; o < end; o++, ia += sa, ib += sb) y[o] = a[ia]! / b[ib]!;
  },
  Pow: (a, ia, sa, b, ib, sb, y, o, n) => {
    for (const end = o + n; o < end; o++, ia += sa, ib += sb) {
      const x = a[ia]!;
      const e = b[ib]!;
      const r = Math.pow(x, e);
      y[o] = r === r ? r : powNaNCase(x, e);
    }
  },
  // fmod = 1: JavaScript's % is C fmod (sign of the dividend, NaN for x % 0 and Inf % y)
  Fmod: (a, ia, sa, b, ib, sb, y, o, n) => {
    for (const end = o + n; o < end; o++, ia += sa, ib += sb) y[o] = a[ia]! % b[ib]!;
  },
  PRelu: (a, ia, sa, b, ib, sb, y, o, n) => {
    for (const end = o + n; o < end; o++, ia += sa, ib += sb) {
      const v = a[ia]!;
      const negative = +(v < 0);
      y[o] = v * (b[ib]! * negative + (1 - negative));
    }
  },
  Max: (a, ia, sa, b, ib, sb, y, o, n) => {
    for (const end = o + n; o < end; o++, ia += sa, ib += sb) y[o] = Math.max(a[ia]!, b[ib]!);
  },
  Min: (a, ia, sa, b, ib, sb, y, o, n) => {
    for (const end = o + n; o < end; o++, ia += sa, ib += sb) y[o] = Math.min(a[ia]!, b[ib]!);
  },
  Equal: (a, ia, sa, b, ib, sb, y, o, n) => {
    for (const end = o + n; o < end; o++, ia += sa, ib += sb) y[o] = +(a[ia]! === b[ib]!);
  },
  Less: (a, ia, sa, b, ib, sb, y, o, n) => {
    for (const end = o + n; o < end; o++, ia += sa, ib += sb) y[o] = +(a[ia]! < b[ib]!);
  },
  LessOrEqual: (a, ia, sa, b, ib, sb, y, o, n) => {
    for (const end = o + n; o < end; o++, ia += sa, ib += sb) y[o] = +(a[ia]! <= b[ib]!);
  },
  Greater: (a, ia, sa, b, ib, sb, y, o, n) => {
    for (const end = o + n; o < end; o++, ia += sa, ib += sb) y[o] = +(a[ia]! > b[ib]!);
  },
  GreaterOrEqual: (a, ia, sa, b, ib, sb, y, o, n) => {
    for (const end = o + n; o < end; o++, ia += sa, ib += sb) y[o] = +(a[ia]! >= b[ib]!);
  },
};

/** Rows over bool (0/1 bytes; any nonzero byte counts as true). */
const BOOL_ROWS: Readonly<Record<string, BoolRow>> = {
  And: (a, ia, sa, b, ib, sb, y, o, n) => {
    for (const end = o + n; o < end; o++, ia += sa, ib += sb) y[o] = +(a[ia] !== 0) & +(b[ib] !== 0);
  },
  Or: (a, ia, sa, b, ib, sb, y, o, n) => {
    for (const end = o + n; o < end; o++, ia += sa, ib += sb) y[o] = +((a[ia]! | b[ib]!) !== 0);
  },
  Xor: (a, ia, sa, b, ib, sb, y, o, n) => {
    for (const end = o + n; o < end; o++, ia += sa, ib += sb) y[o] = +(a[ia] !== 0) ^ +(b[ib] !== 0);
  },
  Equal: (a, ia, sa, b, ib, sb, y, o, n) => {
    for (const end = o + n; o < end; o++, ia += sa, ib += sb) y[o] = +(a[ia] !== 0 === (b[ib] !== 0));
  },
};

/** Integer semantics (non-int64 integers and bool); the typed-array store wraps to the dtype like C. */
function intFunction(op: string, type: DataType, attrs: Attrs): IntFn | undefined {
  const bits = type === 'uint8' ? 8 : type === 'uint16' ? 16 : 32;
  switch (op) {
    case 'Add':
    case 'Sum':
      return (x, y) => x + y;
    case 'Sub':
      return (x, y) => x - y;
    case 'Mul':
      return (x, y) => Math.imul(x, y);
    case 'Div':
      return (x, y) => Math.trunc(x / y);
    case 'Mod':
      if (attrs['fmod'] === 1) return (x, y) => x % y;
      return (x, y) => {
        const r = x % y;
        return r !== 0 && r < 0 !== y < 0 ? r + y : r;
      };
    case 'PRelu':
      return (x, s) => (x < 0 ? Math.imul(x, s) : x);
    case 'Max':
      return (x, y) => (x > y ? x : y);
    case 'Min':
      return (x, y) => (x < y ? x : y);
    case 'Equal':
      return (x, y) => +(x === y);
    case 'Less':
      return (x, y) => +(x < y);
    case 'LessOrEqual':
      return (x, y) => +(x <= y);
    case 'Greater':
      return (x, y) => +(x > y);
    case 'GreaterOrEqual':
      return (x, y) => +(x >= y);
    case 'BitwiseAnd':
      return (x, y) => x & y;
    case 'BitwiseOr':
      return (x, y) => x | y;
    case 'BitwiseXor':
      return (x, y) => x ^ y;
    case 'BitShift':
      if (attrs['direction'] === 'LEFT') return (x, s) => (s >= bits ? 0 : x << s);
      return (x, s) => (s >= bits ? 0 : x >>> s);
    default:
      return undefined;
  }
}

/** int64 semantics, wrapping to 64 bits. */
function bigFunction(op: string, attrs: Attrs): BigFn | undefined {
  switch (op) {
    case 'Add':
    case 'Sum':
      return (x, y) => BigInt.asIntN(64, x + y);
    case 'Sub':
      return (x, y) => BigInt.asIntN(64, x - y);
    case 'Mul':
      return (x, y) => BigInt.asIntN(64, x * y);
    case 'Div':
      return (x, y) => (y === 0n ? 0n : BigInt.asIntN(64, x / y));
    case 'Mod':
      if (attrs['fmod'] === 1) return (x, y) => (y === 0n ? 0n : x % y);
      return (x, y) => {
        if (y === 0n) return 0n;
        const r = x % y;
        return r !== 0n && r < 0n !== y < 0n ? r + y : r;
      };
    case 'PRelu':
      return (x, s) => (x < 0n ? BigInt.asIntN(64, x * s) : x);
    case 'Max':
      return (x, y) => (x > y ? x : y);
    case 'Min':
      return (x, y) => (x < y ? x : y);
    case 'Equal':
      return (x, y) => +(x === y);
    case 'Less':
      return (x, y) => +(x < y);
    case 'LessOrEqual':
      return (x, y) => +(x <= y);
    case 'Greater':
      return (x, y) => +(x > y);
    case 'GreaterOrEqual':
      return (x, y) => +(x >= y);
    case 'BitwiseAnd':
      return (x, y) => x & y;
    case 'BitwiseOr':
      return (x, y) => x | y;
    case 'BitwiseXor':
      return (x, y) => x ^ y;
    default:
      return undefined;
  }
}

/** The float row of `op` under `attrs`. */
function floatRow(op: string, attrs: Attrs): FloatRow | undefined {
  if (op === 'Mod') return attrs['fmod'] === 1 ? FLOAT_ROWS['Fmod'] : undefined;
  if (op === 'Sum' || op === 'Mean') return FLOAT_ROWS['Add'];
  return FLOAT_ROWS[op];
}

/** Run a typed row function over every row of a plan for inputs (a, b) into y. */
function runRows<A, B, Y>(row: (a: A, ia: number, sa: number, b: B, ib: number, sb: number, y: Y, o: number, n: number) => void, plan: RowPlan, a: A, b: B, y: Y): void {
  const { rows, rowLength: n } = plan;
  const sa = plan.innerStrides[0]!;
  const sb = plan.innerStrides[1]!;
  const offA = plan.rowOffsets[0]!;
  const offB = plan.rowOffsets[1]!;
  for (let r = 0; r < rows; r++) row(a, offA[r]!, sa, b, offB[r]!, sb, y, r * n, n);
}

/** Generic rows: one call of `f` per element (integer and int64 paths only). */
function runGenericRows<V, R>(f: (x: V, y: V) => R, plan: RowPlan, a: Slots<V>, b: Slots<V>, y: Slots<R>): void {
  const { rows, rowLength: n } = plan;
  const sa = plan.innerStrides[0]!;
  const sb = plan.innerStrides[1]!;
  const offA = plan.rowOffsets[0]!;
  const offB = plan.rowOffsets[1]!;
  for (let r = 0; r < rows; r++) {
    let ia = offA[r]!;
    let ib = offB[r]!;
    for (let o = r * n, end = o + n; o < end; o++, ia += sa, ib += sb) y[o] = f(a[ia]!, b[ib]!);
  }
}

/** Copy `src` broadcast to the plan's output (single-input plan) into `dst`. */
function broadcastCopy<V>(plan: RowPlan, src: Slots<V>, dst: Slots<V>): void {
  const { rows, rowLength: n } = plan;
  const s = plan.innerStrides[0]!;
  const off = plan.rowOffsets[0]!;
  for (let r = 0; r < rows; r++) {
    let i = off[r]!;
    for (let o = r * n, end = o + n; o < end; o++, i += s) dst[o] = src[i]!;
  }
}

/** Float32 work buffer of float16 outputs (encoded into the real output by `finish`). */
const HALF_WORK = new ScratchSlot();
/** Exponents of Pow converted to doubles. */
const EXPONENTS = new ScratchSlot();

/**
 * A zero-filled container for an output of `type` with `n` elements: the output buffer itself (from
 * `allocate`, so a session's arena serves it), or a float32 scratch buffer when the output is float16.
 */
function workArray(type: DataType, n: number): FloatArray | Uint8Array | NumericArray | BigInt64Array {
  if (type === 'float16') return HALF_WORK.take('float32', n, true);
  return allocate(type, n) as NumericArray | BigInt64Array;
}

/** Wrap a work array as the output tensor (encoding float16 from its float32 work array). */
function finish(spec: OutputSpec, work: FloatArray | Uint8Array | NumericArray | BigInt64Array): Tensor {
  if (spec.type === 'float16') return new Tensor('float16', float32ToHalfBits(work as Float32Array, allocate('float16', work.length)), spec.dims);
  return new Tensor(spec.type, work, spec.dims);
}

/** Values of a float tensor as float32/float64 numbers (float16 decoded into a new Float32Array). */
function floatValues(t: Tensor): FloatArray {
  return t.type === 'float16' ? (t.numbers() as Float32Array) : (t.data as FloatArray);
}

function missing(op: string, type: DataType): never {
  throw new Error(`${op}: no CPU implementation for ${type} (the schema should have rejected it)`);
}

/** Combine a (broadcast) with b into `work` (which has the output's size) under `op`. */
function combine(op: string, attrs: Attrs, a: Tensor, b: Tensor, work: ReturnType<typeof workArray>, plan: RowPlan): void {
  const t = a.type;
  if (isFloat(t)) {
    const row = floatRow(op, attrs) ?? missing(op, t);
    runRows(row, plan, floatValues(a), floatValues(b), work as FloatArray | Uint8Array);
  } else if (t === 'bool' && BOOL_ROWS[op]) {
    runRows(BOOL_ROWS[op], plan, a.data as Uint8Array, b.data as Uint8Array, work as Uint8Array);
  } else if (t === 'int64') {
    const f = bigFunction(op, attrs) ?? missing(op, t);
    runGenericRows<bigint, bigint | number>(f, plan, a.data as BigInt64Array, b.data as BigInt64Array, work as unknown as Slots<bigint | number>);
  } else {
    const f = intFunction(op, t, attrs) ?? missing(op, t);
    runGenericRows(f, plan, a.data as NumericArray, b.data as NumericArray, work as NumericArray);
  }
}

/** Kernel of a broadcasting binary op whose output dtype inference decided (same as A, or bool). */
function binaryKernel(op: string): Kernel {
  return (inputs, attrs, outputs) => {
    const a = inputs[0]!;
    const b = inputs[1]!;
    const spec = outputs[0]!;
    if (a.type === 'string') return [stringEqual(a, b, spec)]; // only Equal's schema admits strings
    const work = workArray(spec.type, sizeOf(spec.dims));
    const plan = planRows(spec.dims, [a.dims, b.dims]);
    combine(op, attrs, a, b, work, plan);
    return [finish(spec, work)];
  };
}

/** a^e for int64 a and a non-negative integer e, by squaring, wrapping to 64 bits. */
function powInt64(a: bigint, e: bigint): bigint {
  let result = 1n;
  let base = a;
  while (e > 0n) {
    if (e & 1n) result = BigInt.asIntN(64, result * base);
    e >>= 1n;
    if (e > 0n) base = BigInt.asIntN(64, base * base);
  }
  return result;
}

/** A number of a float result converted to int64 like C on x86: truncate; NaN/Inf/out of range give INT64_MIN. */
function truncToInt64(v: number): bigint {
  if (!Number.isFinite(v) || Math.abs(v) >= 2 ** 63) return INT64_MIN;
  return BigInt(Math.trunc(v));
}

/** Exponent values as doubles (int64 converted with Number, rounding beyond 2^53). */
function exponentValues(t: Tensor): FloatArray {
  if (t.type === 'float32' || t.type === 'float64') return t.data as FloatArray;
  if (t.type === 'float16') return t.numbers() as Float32Array;
  const src = t.data as NumericArray | BigInt64Array;
  const values = EXPONENTS.take('float64', src.length);
  for (let i = 0; i < src.length; i++) values[i] = Number(src[i]!);
  return values;
}

/** Pow: base X of type T (float or int32/int64), exponent Y of any numeric type T1. */
const pow: Kernel = (inputs, _attrs, outputs) => {
  const x = inputs[0]!;
  const e = inputs[1]!;
  const spec = outputs[0]!;
  const n = sizeOf(spec.dims);
  const plan = planRows(spec.dims, [x.dims, e.dims]);
  if (isFloat(x.type)) {
    const work = workArray(spec.type, n) as FloatArray;
    runRows(FLOAT_ROWS['Pow']!, plan, floatValues(x), exponentValues(e), work);
    return [finish(spec, work)];
  }
  const exps = exponentValues(e);
  if (x.type === 'int64') {
    const work = allocate('int64', n);
    const intPow = (base: bigint, ev: number): bigint => {
      if (Number.isInteger(ev) && ev >= 0) return powInt64(base, BigInt(ev));
      if (Number.isInteger(ev)) return base === 1n ? 1n : base === -1n ? (ev % 2 === 0 ? 1n : -1n) : base === 0n ? INT64_MIN : 0n;
      return truncToInt64(Math.pow(Number(base), ev));
    };
    runMixedRows(intPow, plan, x.data as BigInt64Array, exps, work);
    return [new Tensor('int64', work, spec.dims)];
  }
  // int32 base: the double power truncated; the Int32Array store wraps like a C conversion
  const work = allocate('int32', n);
  runMixedRows((base: number, ev: number) => Math.trunc(Math.pow(base, ev)), plan, x.data as Int32Array, exps, work);
  return [new Tensor('int32', work, spec.dims)];
};

/** Generic rows whose two inputs have different element kinds. */
function runMixedRows<V, W, R>(f: (x: V, y: W) => R, plan: RowPlan, a: Slots<V>, b: Slots<W>, y: Slots<R>): void {
  const { rows, rowLength: n } = plan;
  const sa = plan.innerStrides[0]!;
  const sb = plan.innerStrides[1]!;
  for (let r = 0; r < rows; r++) {
    let ia = plan.rowOffsets[0]![r]!;
    let ib = plan.rowOffsets[1]![r]!;
    for (let o = r * n, end = o + n; o < end; o++, ia += sa, ib += sb) y[o] = f(a[ia]!, b[ib]!);
  }
}

/** Sum, Mean, Max, Min: fold every input into the output in place. */
function variadicKernel(op: 'Sum' | 'Mean' | 'Max' | 'Min'): Kernel {
  return (inputs, attrs, outputs) => {
    const spec = outputs[0]!;
    const n = sizeOf(spec.dims);
    const work = workArray(spec.type, n);
    const first = inputs[0]!;
    const firstValues = isFloat(first.type) ? floatValues(first) : (first.data as Slots<number | bigint>);
    broadcastCopy(planRows(spec.dims, [first.dims]), firstValues as Slots<number | bigint>, work as Slots<number | bigint>);
    // the accumulator viewed as a contiguous tensor of the output shape (float16 accumulates in float32)
    const accType = spec.type === 'float16' ? 'float32' : spec.type;
    const acc = new Tensor(accType, work, spec.dims);
    for (let k = 1; k < inputs.length; k++) {
      const x = inputs[k]!;
      const plan = planRows(spec.dims, [spec.dims, x.dims]);
      const operand = x.type === 'float16' ? new Tensor('float32', x.numbers() as Float32Array, x.dims) : x;
      combine(op, attrs, acc, operand, work, plan);
      if (operand !== x) operand.dispose();
    }
    if (op === 'Mean') {
      const f = work as FloatArray;
      const count = inputs.length;
      for (let i = 0; i < n; i++) f[i] = f[i]! / count;
    }
    acc.dispose();
    return [finish(spec, work)];
  };
}

const BINARY_OPS = [
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Mod',
  'PRelu',
  'Equal',
  'Less',
  'LessOrEqual',
  'Greater',
  'GreaterOrEqual',
  'And',
  'Or',
  'Xor',
  'BitShift',
  'BitwiseAnd',
  'BitwiseOr',
  'BitwiseXor',
] as const;
for (const op of BINARY_OPS) registerKernel(op, 'cpu', binaryKernel(op));
registerKernel('Pow', 'cpu', pow);
for (const op of ['Sum', 'Mean', 'Max', 'Min'] as const) registerKernel(op, 'cpu', variadicKernel(op));
