/**
 * Reference (naive) elementwise kernels: they define the semantics the fast kernels in ../unary.ts,
 * ../binary.ts, ../cast.ts and ../elementwise.ts are tested against.
 *
 * One generic walk (`refElementwise`) computes every output element from its multi-index: each input is read
 * at the same multi-index with broadcast dims pinned to 0. Values are handled exactly: floats as JavaScript
 * numbers (float16 decoded), every integer dtype as BigInt, bool as boolean. The result is then converted to the
 * output dtype once: floats round from the double result, integers wrap to their width (two's complement),
 * so integer semantics here never depend on typed-array store tricks or Math.imul as the fast kernels do.
 * Slow by design.
 */
import { isFloat, type DataType, type NumericArray } from '../../../tensor/dtype.js';
import { broadcastShapes, sizeOf, stridesOf } from '../../../tensor/shape.js';
import { fromNumbers, Tensor } from '../../../tensor/tensor.js';
import { erfSeries } from '../erf.js';

/** One element value: float -> number, integer -> bigint, bool -> boolean. */
export type Scalar = number | bigint | boolean;

const INT64_MIN = -(2n ** 63n);

const WIDTH: Partial<Record<DataType, [bits: number, signed: boolean]>> = {
  int8: [8, true],
  uint8: [8, false],
  int16: [16, true],
  uint16: [16, false],
  int32: [32, true],
  uint32: [32, false],
  int64: [64, true],
};

/** Read every element of `t` as a Scalar, in row-major order. */
export function scalarsOf(t: Tensor): Scalar[] {
  if (t.type === 'bool') return Array.from(t.data as Uint8Array, (v) => v !== 0);
  if (t.type === 'int64') return Array.from(t.data as BigInt64Array);
  if (isFloat(t.type)) return Array.from(t.numbers() as NumericArray);
  return Array.from(t.data as NumericArray, (v) => BigInt(v));
}

/** Wrap an integer to the width of `type`. */
export function wrapInteger(v: bigint, type: DataType): bigint {
  const [bits, signed] = WIDTH[type]!;
  return signed ? BigInt.asIntN(bits, v) : BigInt.asUintN(bits, v);
}

/** Build a tensor of `type` from Scalars (floats rounded once, integers wrapped, booleans 0/1). */
export function tensorFromScalars(type: DataType, values: readonly Scalar[], dims: readonly number[]): Tensor {
  if (type === 'bool') return fromNumbers('bool', values.map((v) => (v === true || (typeof v !== 'boolean' && Number(v) !== 0) ? 1 : 0)), dims);
  if (isFloat(type)) {
    return fromNumbers(
      type,
      values.map((v) => (typeof v === 'boolean' ? +v : Number(v))),
      dims,
    );
  }
  const ints = values.map((v) => {
    if (typeof v !== 'bigint') throw new Error(`reference: ${type} output needs bigint values, got ${typeof v}`);
    return wrapInteger(v, type);
  });
  if (type === 'int64') return new Tensor('int64', BigInt64Array.from(ints), dims);
  return fromNumbers(
    type,
    ints.map((v) => Number(v)),
    dims,
  );
}

/**
 * Elementwise op over broadcast inputs: out[idx] = f(inputs[0][idx], inputs[1][idx], ...) with broadcasting,
 * computed by explicit multi-index arithmetic. Output dims are the broadcast of the inputs (or `outDims`).
 */
export function refElementwise(inputs: readonly Tensor[], outType: DataType, f: (values: Scalar[]) => Scalar, outDims?: readonly number[]): Tensor {
  const dims = outDims ?? broadcastShapes('reference', ...inputs.map((t) => t.dims));
  const n = sizeOf(dims);
  const outStrides = stridesOf(dims);
  const values = inputs.map(scalarsOf);
  const out: Scalar[] = [];
  for (let i = 0; i < n; i++) {
    const args: Scalar[] = [];
    for (let k = 0; k < inputs.length; k++) {
      const t = inputs[k]!;
      const st = stridesOf(t.dims);
      const lead = dims.length - t.rank;
      let off = 0;
      for (let ax = 0; ax < t.rank; ax++) {
        const coord = Math.floor(i / outStrides[lead + ax]!) % dims[lead + ax]!;
        if (t.dims[ax] !== 1) off += coord * st[ax]!;
      }
      args.push(values[k]![off]!);
    }
    out.push(f(args));
  }
  return tensorFromScalars(outType, out, dims);
}

/** Round half to even, from floor and the fractional part (independent of the fast kernel's method). */
function roundHalfEvenRef(v: number): number {
  if (!Number.isFinite(v)) return v;
  const fl = Math.floor(v);
  const frac = v - fl;
  if (frac < 0.5) return fl === 0 && v < 0 ? -0 : fl;
  if (frac > 0.5) return fl + 1;
  return fl % 2 === 0 ? fl : fl + 1;
}

function softplusRef(v: number): number {
  return v > 30 ? v : Math.log1p(Math.exp(v));
}

/** Float semantics of the unary ops; `a` holds the op's attributes with defaults. */
export const REF_UNARY_FLOAT: Readonly<Record<string, (v: number, a: Readonly<Record<string, number | string>>) => number>> = {
  Relu: (v) => (v > 0 ? v : Number.isNaN(v) ? v : 0),
  LeakyRelu: (v, a) => (v >= 0 ? v : (a['alpha'] as number) * v),
  Elu: (v, a) => (v >= 0 ? v : (a['alpha'] as number) * (Math.exp(v) - 1)),
  Selu: (v, a) => (a['gamma'] as number) * (v > 0 ? v : (a['alpha'] as number) * Math.exp(v) - (a['alpha'] as number)),
  Celu: (v, a) => Math.max(0, v) + Math.min(0, (a['alpha'] as number) * (Math.exp(v / (a['alpha'] as number)) - 1)),
  Sigmoid: (v) => 1 / (1 + Math.exp(-v)),
  HardSigmoid: (v, a) => Math.max(0, Math.min(1, (a['alpha'] as number) * v + (a['beta'] as number))),
  HardSwish: (v) => v * Math.max(0, Math.min(1, v / 6 + 0.5)),
  Tanh: Math.tanh,
  Gelu: (v, a) =>
    a['approximate'] === 'tanh'
      ? 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)))
      : 0.5 * v * (1 + erfSeries(v / Math.SQRT2)),
  Erf: erfSeries,
  Softplus: softplusRef,
  Softsign: (v) => v / (1 + Math.abs(v)),
  ThresholdedRelu: (v, a) => (v > (a['alpha'] as number) ? v : 0),
  Mish: (v) => v * Math.tanh(softplusRef(v)),
  Exp: Math.exp,
  Log: Math.log,
  Sqrt: Math.sqrt,
  Reciprocal: (v) => 1 / v,
  Abs: Math.abs,
  Neg: (v) => -v,
  Floor: Math.floor,
  Ceil: Math.ceil,
  Round: roundHalfEvenRef,
  Sign: Math.sign,
  Sin: Math.sin,
  Cos: Math.cos,
  Tan: Math.tan,
  Asin: Math.asin,
  Acos: Math.acos,
  Atan: Math.atan,
  Sinh: Math.sinh,
  Cosh: Math.cosh,
  Asinh: Math.asinh,
  Acosh: Math.acosh,
  Atanh: Math.atanh,
};

/** Integer semantics of the unary ops that accept integers (exact; wrapped on output). */
export const REF_UNARY_INT: Readonly<Record<string, (v: bigint) => bigint>> = {
  Relu: (v) => (v > 0n ? v : 0n),
  Abs: (v) => (v < 0n ? -v : v),
  Neg: (v) => -v,
  Sign: (v) => (v > 0n ? 1n : v < 0n ? -1n : 0n),
  BitwiseNot: (v) => ~v,
};

/** Reference of a unary op on a tensor of any dtype it accepts. */
export function refUnaryOp(op: string, x: Tensor, attrs: Readonly<Record<string, number | string>> = {}): Tensor {
  if (op === 'IsNaN') return refElementwise([x], 'bool', ([v]) => Number.isNaN(v));
  if (op === 'IsInf') {
    return refElementwise([x], 'bool', ([v]) => (v === Infinity && attrs['detect_positive'] !== 0) || (v === -Infinity && attrs['detect_negative'] !== 0));
  }
  if (op === 'Not') return refElementwise([x], 'bool', ([v]) => !v);
  if (isFloat(x.type)) {
    const f = REF_UNARY_FLOAT[op]!;
    return refElementwise([x], x.type, ([v]) => f(v as number, attrs));
  }
  const g = REF_UNARY_INT[op]!;
  return refElementwise([x], x.type, ([v]) => g(v as bigint));
}

/** C pow on doubles (1^y = 1 and (-1)^(+-Inf) = 1 even where Math.pow gives NaN). */
function powRef(x: number, y: number): number {
  if (x === 1 || y === 0) return 1;
  if (x === -1 && !Number.isFinite(y) && !Number.isNaN(y)) return 1;
  return Math.pow(x, y);
}

function pyMod(x: bigint, y: bigint): bigint {
  if (y === 0n) return 0n;
  const r = x % y;
  return r !== 0n && r < 0n !== y < 0n ? r + y : r;
}

/** Semantics of the binary ops on two values of the same kind, under attributes `a`. */
export function refBinaryFunction(op: string, a: Readonly<Record<string, number | string>> = {}, outType?: DataType): (x: Scalar, y: Scalar) => Scalar {
  const bits = outType ? (WIDTH[outType]?.[0] ?? 64) : 64;
  return (x, y) => {
    if (typeof x === 'boolean' || typeof y === 'boolean') {
      const p = Boolean(x);
      const q = Boolean(y);
      switch (op) {
        case 'And':
          return p && q;
        case 'Or':
          return p || q;
        case 'Xor':
          return p !== q;
        case 'Equal':
          return p === q;
      }
      throw new Error(`reference: ${op} on bool`);
    }
    if (typeof x === 'bigint' && typeof y === 'bigint') {
      switch (op) {
        case 'Add':
        case 'Sum':
          return x + y;
        case 'Sub':
          return x - y;
        case 'Mul':
          return x * y;
        case 'Div':
          return y === 0n ? 0n : x / y;
        case 'Mod':
          return a['fmod'] === 1 ? (y === 0n ? 0n : x % y) : pyMod(x, y);
        case 'PRelu':
          return x < 0n ? x * y : x;
        case 'Max':
          return x > y ? x : y;
        case 'Min':
          return x < y ? x : y;
        case 'Equal':
          return x === y;
        case 'Less':
          return x < y;
        case 'LessOrEqual':
          return x <= y;
        case 'Greater':
          return x > y;
        case 'GreaterOrEqual':
          return x >= y;
        case 'BitwiseAnd':
          return x & y;
        case 'BitwiseOr':
          return x | y;
        case 'BitwiseXor':
          return x ^ y;
        case 'BitShift':
          // shifting by the full width or more leaves nothing (the wrap on output clears shifted-out bits)
          if (y >= BigInt(bits)) return 0n;
          return a['direction'] === 'LEFT' ? x << y : x >> y;
      }
      throw new Error(`reference: ${op} on integers`);
    }
    const p = x as number;
    const q = y as number;
    switch (op) {
      case 'Add':
      case 'Sum':
      case 'Mean':
        return p + q;
      case 'Sub':
        return p - q;
      case 'Mul':
        return p * q;
      case 'Div':
        return p / q;
      case 'Pow':
        return powRef(p, q);
      case 'Mod':
        return p % q;
      case 'PRelu':
        return p < 0 ? p * q : p;
      case 'Max':
        return Number.isNaN(p) || Number.isNaN(q) ? NaN : p > q ? p : q;
      case 'Min':
        return Number.isNaN(p) || Number.isNaN(q) ? NaN : p < q ? p : q;
      case 'Equal':
        return p === q;
      case 'Less':
        return p < q;
      case 'LessOrEqual':
        return p <= q;
      case 'Greater':
        return p > q;
      case 'GreaterOrEqual':
        return p >= q;
    }
    throw new Error(`reference: ${op} on floats`);
  };
}

const BOOL_OUTPUT = new Set(['Equal', 'Less', 'LessOrEqual', 'Greater', 'GreaterOrEqual', 'And', 'Or', 'Xor']);

/** Reference of a broadcasting binary op (PRelu's output keeps X's dims, which is the broadcast shape). */
export function refBinaryOp(op: string, a: Tensor, b: Tensor, attrs: Readonly<Record<string, number | string>> = {}): Tensor {
  const outType = BOOL_OUTPUT.has(op) ? 'bool' : a.type;
  const f = refBinaryFunction(op, attrs, a.type);
  return refElementwise([a, b], outType, ([x, y]) => f(x!, y!));
}

/** Reference Pow: float base in doubles; integer base by exact integer powers (truncated double otherwise). */
export function refPow(x: Tensor, y: Tensor): Tensor {
  return refElementwise([x, y], x.type, ([b, e]) => {
    const base = b as number | bigint;
    const exponent = Number(e as number | bigint);
    if (typeof base === 'number') return powRef(base, exponent);
    if (Number.isInteger(exponent) && exponent >= 0) {
      let r = 1n;
      for (let k = 0; k < exponent; k++) r = wrapInteger(r * base, x.type);
      return r;
    }
    const v = Math.trunc(Math.pow(Number(base), exponent));
    return Number.isFinite(v) ? BigInt(v) : x.type === 'int64' ? INT64_MIN : 0n;
  });
}

/** Reference of Sum/Mean/Max/Min: a left fold of the binary semantics over broadcast inputs. */
export function refVariadic(op: 'Sum' | 'Mean' | 'Max' | 'Min', xs: readonly Tensor[]): Tensor {
  const f = refBinaryFunction(op, {}, xs[0]!.type);
  return refElementwise(xs, xs[0]!.type, (vals) => {
    let acc = vals[0]!;
    for (let k = 1; k < vals.length; k++) acc = f(acc, vals[k]!);
    return op === 'Mean' ? (acc as number) / vals.length : acc;
  });
}

/** Reference Where. */
export function refWhere(c: Tensor, x: Tensor, y: Tensor): Tensor {
  return refElementwise([c, x, y], x.type, ([cond, p, q]) => (cond ? p! : q!));
}

/** Reference Clip: Min(max, Max(x, min)) with NaN kept. */
export function refClip(x: Tensor, lo?: Tensor, hi?: Tensor): Tensor {
  const l = lo ? scalarsOf(lo)[0] : undefined;
  const h = hi ? scalarsOf(hi)[0] : undefined;
  return refElementwise([x], x.type, ([v]) => {
    let r = v as number | bigint;
    if (l !== undefined && r < (l as number | bigint)) r = l as number | bigint;
    if (h !== undefined && r > (h as number | bigint)) r = h as number | bigint;
    return r;
  });
}

/** Reference Cast: truncation toward zero for float -> integer (NaN -> 0, int64 NaN/Inf/overflow -> INT64_MIN). */
export function refCast(x: Tensor, to: DataType): Tensor {
  return refElementwise([x], to, ([v]) => {
    if (to === 'bool') return typeof v === 'boolean' ? v : typeof v === 'bigint' ? v !== 0n : v !== 0;
    if (isFloat(to)) return typeof v === 'bigint' ? Number(v) : typeof v === 'boolean' ? +v : v!;
    if (typeof v === 'boolean') return v ? 1n : 0n;
    if (typeof v === 'bigint') return v;
    if (Number.isNaN(v) || !Number.isFinite(v!)) return to === 'int64' ? INT64_MIN : 0n;
    if (to === 'int64' && Math.abs(v!) >= 2 ** 63) return INT64_MIN;
    return BigInt(Math.trunc(v!));
  });
}
