/**
 * Unary elementwise CPU kernels: activations (Relu, LeakyRelu, Elu, Selu, Celu, Sigmoid, HardSigmoid,
 * HardSwish, Gelu, Softplus, Softsign, ThresholdedRelu, Mish), math (Exp, Log, Sqrt, Reciprocal, Abs, Neg,
 * Floor, Ceil, Round, Sign, Erf, trigonometric and hyperbolic functions) and predicates (IsNaN, IsInf, Not,
 * BitwiseNot).
 *
 * Float kernels come from a table with one arrow function per op, each holding its own loop with the formula
 * written inline: every table entry is a separate function literal, so V8 keeps its own type feedback and the
 * loop body stays monomorphic (the entries only ever see Float32Array or Float64Array). A shared loop calling a
 * per-element closure measured 5x slower once several ops used it (2.0 -> 10.2 ms per 1M adds), which is what the
 * table avoids. float16 is decoded to float32 (lookup table), run through the same loop in place, and encoded
 * with round-to-nearest-even. Integer dtypes (Relu, Abs, Neg, Sign) and int64 (BigInt) take small generic
 * per-element paths: they are used for shape arithmetic on tiny tensors, where speed does not matter.
 *
 * Branchless where it pays (measured on 1M float32 with random signs): Relu on the float bits
 * (`b & ~mask`, 1.1 ms; a `v < 0 ? 0 : v` branch costs 6 ms), LeakyRelu by multiplying with a 0/1 select
 * (1.3 ms against 6.3 ms). Ops dominated by exp/tanh keep plain ternaries.
 *
 * Cost: one read and one write per element (memory bound) plus the op's libm call.
 */
import { allocate, type DataType, type NumericArray } from '../../tensor/dtype.js';
import { Tensor } from '../../tensor/tensor.js';
import { registerKernel, type Attrs, type Kernel, type OutputSpec } from '../registry.js';
import { erf } from './erf.js';
import { float32ToHalfBits } from './half.js';

type FloatArray = Float32Array | Float64Array;

/** One loop over `n` elements of x into y; p and q carry the op's float attributes (alpha, beta, gamma). */
type FloatLoop = (x: FloatArray, y: FloatArray, n: number, p: number, q: number) => void;

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** Round half to even. */
function roundHalfEven(v: number): number {
  let r = Math.round(v);
  if (r - v === 0.5 && r % 2 !== 0) r -= 1;
  return r;
}

/** Float loops by op (float32 and float64 data; float16 arrives decoded to float32). */
const FLOAT_LOOPS: Readonly<Record<string, FloatLoop>> = {
  // float64 and decoded float16 only; float32 Relu runs on the bits (reluFloat32Bits below)
  Relu: (x, y, n) => {
    for (let i = 0; i < n; i++) {
      const v = x[i]!;
      y[i] = v < 0 ? 0 : v;
    }
  },
  LeakyRelu: (x, y, n, alpha) => {
    for (let i = 0; i < n; i++) {
      const v = x[i]!;
      const negative = +(v < 0);
      y[i] = v * (alpha * negative + (1 - negative));
    }
  },
  Elu: (x, y, n, alpha) => {
    for (let i = 0; i < n; i++) {
      const v = x[i]!;
      y[i] = v < 0 ? alpha * (Math.exp(v) - 1) : v;
    }
  },
  Selu: (x, y, n, alpha, gamma) => {
    for (let i = 0; i < n; i++) {
      const v = x[i]!;
      y[i] = v > 0 ? gamma * v : gamma * (alpha * Math.exp(v) - alpha);
    }
  },
  Celu: (x, y, n, alpha) => {
    for (let i = 0; i < n; i++) {
      const v = x[i]!;
      y[i] = v > 0 ? v : alpha * (Math.exp(v / alpha) - 1);
    }
  },
  Sigmoid: (x, y, n) => {
    for (let i = 0; i < n; i++) y[i] = 1 / (1 + Math.exp(-x[i]!));
  },
  HardSigmoid: (x, y, n, alpha, beta) => {
    for (let i = 0; i < n; i++) {
      const t = alpha * x[i]! + beta;
      y[i] = t < 0 ? 0 : t > 1 ? 1 : t;
    }
  },
  HardSwish: (x, y, n) => {
    for (let i = 0; i < n; i++) {
      const v = x[i]!;
      const t = v / 6 + 0.5;
      y[i] = v * (t < 0 ? 0 : t > 1 ? 1 : t);
    }
  },
  Tanh: (x, y, n) => {
    for (let i = 0; i < n; i++) y[i] = Math.tanh(x[i]!);
  },
  Gelu: (x, y, n) => {
    for (let i = 0; i < n; i++) {
      const v = x[i]!;
      y[i] = 0.5 * v * (1 + erf(v * Math.SQRT1_2));
    }
  },
  GeluTanh: (x, y, n) => {
    for (let i = 0; i < n; i++) {
      const v = x[i]!;
      y[i] = 0.5 * v * (1 + Math.tanh(SQRT_2_OVER_PI * (v + 0.044715 * v * v * v)));
    }
  },
  Erf: (x, y, n) => {
    for (let i = 0; i < n; i++) y[i] = erf(x[i]!);
  },
  Softplus: (x, y, n) => {
    for (let i = 0; i < n; i++) {
      const v = x[i]!;
      y[i] = v > 0 ? v + Math.log1p(Math.exp(-v)) : Math.log1p(Math.exp(v));
    }
  },
  Softsign: (x, y, n) => {
    for (let i = 0; i < n; i++) {
      const v = x[i]!;
      y[i] = v / (1 + Math.abs(v));
    }
  },
  ThresholdedRelu: (x, y, n, alpha) => {
    for (let i = 0; i < n; i++) {
      const v = x[i]!;
      y[i] = v > alpha ? v : 0;
    }
  },
  Mish: (x, y, n) => {
    for (let i = 0; i < n; i++) {
      const v = x[i]!;
      const softplus = v > 0 ? v + Math.log1p(Math.exp(-v)) : Math.log1p(Math.exp(v));
      y[i] = v * Math.tanh(softplus);
    }
  },
  Exp: (x, y, n) => {
    for (let i = 0; i < n; i++) y[i] = Math.exp(x[i]!);
  },
  Log: (x, y, n) => {
    for (let i = 0; i < n; i++) y[i] = Math.log(x[i]!);
  },
  Sqrt: (x, y, n) => {
    for (let i = 0; i < n; i++) y[i] = Math.sqrt(x[i]!);
  },
  Reciprocal: (x, y, n) => {
    for (let i = 0; i < n; i++) y[i] = 1 / x[i]!;
  },
  Abs: (x, y, n) => {
    for (let i = 0; i < n; i++) y[i] = Math.abs(x[i]!);
  },
  Neg: (x, y, n) => {
    for (let i = 0; i < n; i++) y[i] = -x[i]!;
  },
  Floor: (x, y, n) => {
    for (let i = 0; i < n; i++) y[i] = Math.floor(x[i]!);
  },
  Ceil: (x, y, n) => {
    for (let i = 0; i < n; i++) y[i] = Math.ceil(x[i]!);
  },
  Round: (x, y, n) => {
    for (let i = 0; i < n; i++) y[i] = roundHalfEven(x[i]!);
  },
  Sign: (x, y, n) => {
    for (let i = 0; i < n; i++) y[i] = Math.sign(x[i]!);
  },
  Sin: (x, y, n) => {
    for (let i = 0; i < n; i++) y[i] = Math.sin(x[i]!);
  },
  Cos: (x, y, n) => {
    for (let i = 0; i < n; i++) y[i] = Math.cos(x[i]!);
  },
  Tan: (x, y, n) => {
    for (let i = 0; i < n; i++) y[i] = Math.tan(x[i]!);
  },
  Asin: (x, y, n) => {
    for (let i = 0; i < n; i++) y[i] = Math.asin(x[i]!);
  },
  Acos: (x, y, n) => {
    for (let i = 0; i < n; i++) y[i] = Math.acos(x[i]!);
  },
  Atan: (x, y, n) => {
    for (let i = 0; i < n; i++) y[i] = Math.atan(x[i]!);
  },
  Sinh: (x, y, n) => {
    for (let i = 0; i < n; i++) y[i] = Math.sinh(x[i]!);
  },
  Cosh: (x, y, n) => {
    for (let i = 0; i < n; i++) y[i] = Math.cosh(x[i]!);
  },
  Asinh: (x, y, n) => {
    for (let i = 0; i < n; i++) y[i] = Math.asinh(x[i]!);
  },
  Acosh: (x, y, n) => {
    for (let i = 0; i < n; i++) y[i] = Math.acosh(x[i]!);
  },
  Atanh: (x, y, n) => {
    for (let i = 0; i < n; i++) y[i] = Math.atanh(x[i]!);
  },
};

/**
 * float32 Relu on the raw bits: a value is zeroed when its sign bit is set and it is not a NaN, i.e. when the
 * bits, read as int32, are <= -0x800000 (-0 .. -Inf). `(b >> 31) & ((b + 0x7fffff) >> 31)` is all ones exactly
 * then (the second shift cannot wrap because b is negative). -Inf gives 0, NaNs pass unchanged, -0 gives +0.
 */
function reluFloat32Bits(x: Int32Array, y: Int32Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const b = x[i]!;
    y[i] = b & ~((b >> 31) & ((b + 0x7fffff) >> 31));
  }
}

/** Integer (non-int64) semantics of the ops that accept integers; the typed-array store wraps like C. */
const INT_FUNCS: Readonly<Record<string, (v: number) => number>> = {
  Relu: (v) => (v > 0 ? v : 0),
  Abs: (v) => Math.abs(v),
  Neg: (v) => -v,
  Sign: (v) => Math.sign(v),
};

/** int64 semantics, wrapping to 64 bits. */
const BIGINT_FUNCS: Readonly<Record<string, (v: bigint) => bigint>> = {
  Relu: (v) => (v > 0n ? v : 0n),
  Abs: (v) => BigInt.asIntN(64, v < 0n ? -v : v),
  Neg: (v) => BigInt.asIntN(64, -v),
  Sign: (v) => (v > 0n ? 1n : v < 0n ? -1n : 0n),
};

/** The float attributes (p, q) a loop receives, from the resolved attributes of `op`. */
function floatParams(op: string, attrs: Attrs): [number, number] {
  switch (op) {
    case 'HardSigmoid':
      return [attrs['alpha'] as number, attrs['beta'] as number];
    case 'Selu':
      return [attrs['alpha'] as number, attrs['gamma'] as number];
    case 'LeakyRelu':
    case 'Elu':
    case 'Celu':
    case 'ThresholdedRelu':
      return [attrs['alpha'] as number, 0];
    default:
      return [0, 0];
  }
}

/** Apply float loop `loop` to a float tensor, producing a new tensor of the same dtype. */
function runFloatLoop(x: Tensor, spec: OutputSpec, loop: FloatLoop, p: number, q: number): Tensor {
  const n = x.size;
  if (x.type === 'float16') {
    const values = x.numbers() as Float32Array; // a fresh decoded copy: safe to overwrite
    loop(values, values, n, p, q);
    return new Tensor('float16', float32ToHalfBits(values, allocate('float16', n)), spec.dims);
  }
  const y = x.type === 'float64' ? allocate('float64', n) : allocate('float32', n);
  loop(x.data as FloatArray, y, n, p, q);
  return new Tensor(spec.type, y, spec.dims);
}

/** Apply an integer function to an integer tensor of any width. */
function runIntFunction(op: string, x: Tensor, spec: OutputSpec): Tensor {
  const n = x.size;
  if (x.type === 'int64') {
    const f = BIGINT_FUNCS[op]!;
    const s = x.data as BigInt64Array;
    const d = allocate('int64', n);
    for (let i = 0; i < n; i++) d[i] = f(s[i]!);
    return new Tensor('int64', d, spec.dims);
  }
  const f = INT_FUNCS[op]!;
  const s = x.data as NumericArray;
  const out = new Tensor(spec.type, allocate(spec.type, n), spec.dims);
  const d = out.data as NumericArray;
  for (let i = 0; i < n; i++) d[i] = f(s[i]!);
  return out;
}

function isFloatType(t: DataType): boolean {
  return t === 'float32' || t === 'float64' || t === 'float16';
}

/** The kernel of a float unary op that may also accept integers (when INT_FUNCS has it). */
function unaryKernel(op: string, loopName = op): Kernel {
  const loop = FLOAT_LOOPS[loopName]!;
  return (inputs, attrs, outputs) => {
    const x = inputs[0]!;
    const spec = outputs[0]!;
    if (!isFloatType(x.type)) return [runIntFunction(op, x, spec)];
    const [p, q] = floatParams(op, attrs);
    return [runFloatLoop(x, spec, loop, p, q)];
  };
}

const reluOtherTypes = unaryKernel('Relu');

const relu: Kernel = (inputs, attrs, outputs, ctx) => {
  const x = inputs[0]!;
  const spec = outputs[0]!;
  if (x.type === 'float32') {
    const s = x.data as Float32Array;
    const y = allocate('float32', x.size);
    reluFloat32Bits(new Int32Array(s.buffer, s.byteOffset, s.length), new Int32Array(y.buffer, y.byteOffset, y.length), x.size);
    return [new Tensor('float32', y, spec.dims)];
  }
  if (x.type === 'float16') {
    // on half bits: clear values with the sign bit set that are not NaN (-0 .. -Inf) to +0
    const h = x.data as Uint16Array;
    const d = allocate('float16', h.length);
    for (let i = 0; i < h.length; i++) {
      const v = h[i]!;
      d[i] = v & 0x8000 && (v & 0x7fff) <= 0x7c00 ? 0 : v;
    }
    return [new Tensor('float16', d, spec.dims)];
  }
  return reluOtherTypes(inputs, attrs, outputs, ctx);
};

const gelu: Kernel = (inputs, attrs, outputs) => {
  const loop = attrs['approximate'] === 'tanh' ? FLOAT_LOOPS['GeluTanh']! : FLOAT_LOOPS['Gelu']!;
  return [runFloatLoop(inputs[0]!, outputs[0]!, loop, 0, 0)];
};

/** Values of a float tensor as float32/float64 numbers (float16 decoded). */
function floatValues(x: Tensor): FloatArray {
  return x.type === 'float16' ? (x.numbers() as Float32Array) : (x.data as FloatArray);
}

const isNaNKernel: Kernel = (inputs, _attrs, outputs) => {
  const x = floatValues(inputs[0]!);
  const d = allocate('bool', x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    d[i] = +(v !== v);
  }
  return [new Tensor('bool', d, outputs[0]!.dims)];
};

const isInfKernel: Kernel = (inputs, attrs, outputs) => {
  const x = floatValues(inputs[0]!);
  const positive = attrs['detect_positive'] !== 0 ? Infinity : NaN;
  const negative = attrs['detect_negative'] !== 0 ? -Infinity : NaN;
  const d = allocate('bool', x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    d[i] = +(v === positive || v === negative);
  }
  return [new Tensor('bool', d, outputs[0]!.dims)];
};

const notKernel: Kernel = (inputs, _attrs, outputs) => {
  const s = inputs[0]!.data as Uint8Array;
  const d = allocate('bool', s.length);
  for (let i = 0; i < s.length; i++) d[i] = +(s[i] === 0);
  return [new Tensor('bool', d, outputs[0]!.dims)];
};

const bitwiseNot: Kernel = (inputs, _attrs, outputs) => {
  const x = inputs[0]!;
  const spec = outputs[0]!;
  if (x.type === 'int64') {
    const s = x.data as BigInt64Array;
    const d = allocate('int64', s.length);
    for (let i = 0; i < s.length; i++) d[i] = ~s[i]!;
    return [new Tensor('int64', d, spec.dims)];
  }
  const s = x.data as NumericArray;
  const out = new Tensor(spec.type, allocate(spec.type, s.length), spec.dims);
  const d = out.data as NumericArray;
  for (let i = 0; i < s.length; i++) d[i] = ~s[i]!; // the store keeps the low bits of the dtype's width
  return [out];
};

registerKernel('Relu', 'cpu', relu);
registerKernel('Gelu', 'cpu', gelu);
registerKernel('IsNaN', 'cpu', isNaNKernel);
registerKernel('IsInf', 'cpu', isInfKernel);
registerKernel('Not', 'cpu', notKernel);
registerKernel('BitwiseNot', 'cpu', bitwiseNot);
for (const op of Object.keys(FLOAT_LOOPS)) {
  if (op === 'Relu' || op === 'Gelu' || op === 'GeluTanh') continue;
  registerKernel(op, 'cpu', unaryKernel(op));
}
