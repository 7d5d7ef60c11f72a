/**
 * The kernel cases of the benchmark suite as plain data: which ONNX operator, which input shapes and dtypes,
 * which attributes, and how much work one call does (FLOPs for matmul and conv, bytes moved for the
 * memory-bound ops). Node (bench/run.ts) and the browser page (bench/browser/page.ts) build their
 * implementations from these same specs, so both report the same case ids.
 *
 * Nothing here imports Node modules or the library: it must bundle for the browser as it is.
 */

/** Numeric variant of a case: float32 throughout, float16-stored weights, or 8-bit integer operands. */
export type KernelDtype = 'float32' | 'float16-weights' | 'int8';

/** One input of a kernel case. `weight` marks the constant operand (an initializer in the peers' ONNX models). */
export interface KernelInput {
  readonly name: string;
  readonly dims: readonly number[];
  /** Element type as stored: float32, float16 (weights), uint8 (activations) or int8 (weights). */
  readonly type: 'float32' | 'float16' | 'uint8' | 'int8';
  readonly weight: boolean;
}

/** A kernel case. */
export interface KernelSpec {
  /** Stable id used to match entries across result files (bench:compare). */
  readonly id: string;
  /** Human-readable name for tables. */
  readonly name: string;
  /** Family for grouping in the report: matmul, conv, elementwise, softmax, layernorm. */
  readonly family: 'matmul' | 'conv' | 'elementwise' | 'softmax' | 'layernorm';
  readonly dtype: KernelDtype;
  /** The main operator (a float16-weights case runs Cast(to float) on the weight first). */
  readonly op: string;
  readonly opset: number;
  readonly inputs: readonly KernelInput[];
  readonly attrs: Readonly<Record<string, number | readonly number[]>>;
  /** Output type and dims. */
  readonly output: { readonly type: 'float32' | 'int32'; readonly dims: readonly number[] };
  /** Work of one call, and its unit: FLOPs (rate in GFLOP/s) or bytes moved (rate in GB/s). */
  readonly work: number;
  readonly unit: 'GFLOP/s' | 'GB/s';
  /** Square matmul side (the x axis of the GFLOP/s-per-size and crossover charts). */
  readonly size?: number;
  /** Part of the --quick subset. */
  readonly quick: boolean;
}

function matmul(m: number, k: number, n: number, dtype: KernelDtype, quick: boolean): KernelSpec {
  const shape = m === k && k === n ? `${m}` : `${m}x${k}x${n}`;
  const suffix = dtype === 'float32' ? '' : ` ${dtype}`;
  const a: KernelInput = { name: 'A', dims: [m, k], type: dtype === 'int8' ? 'uint8' : 'float32', weight: false };
  const b: KernelInput = { name: 'B', dims: [k, n], type: dtype === 'int8' ? 'int8' : dtype === 'float16-weights' ? 'float16' : 'float32', weight: true };
  return {
    id: `matmul-${shape}-${dtype}`,
    name: `matmul ${m}x${k}x${n}${suffix}`,
    family: 'matmul',
    dtype,
    op: dtype === 'int8' ? 'MatMulInteger' : 'MatMul',
    opset: 13,
    inputs: dtype === 'int8' ? [a, b, { name: 'a_zero_point', dims: [], type: 'uint8', weight: true }] : [a, b],
    attrs: {},
    output: { type: dtype === 'int8' ? 'int32' : 'float32', dims: [m, n] },
    work: 2 * m * n * k,
    unit: 'GFLOP/s',
    size: m === k && k === n ? m : undefined,
    quick,
  };
}

interface ConvShape {
  readonly tag: string;
  readonly channels: number;
  readonly outChannels: number;
  readonly size: number;
  readonly kernel: number;
  readonly group: number;
}

function conv(s: ConvShape, dtype: KernelDtype, quick: boolean): KernelSpec {
  const pad = (s.kernel - 1) >> 1;
  const wDims = [s.outChannels, s.channels / s.group, s.kernel, s.kernel];
  const suffix = dtype === 'float32' ? '' : ` ${dtype}`;
  const x: KernelInput = { name: 'X', dims: [1, s.channels, s.size, s.size], type: dtype === 'int8' ? 'uint8' : 'float32', weight: false };
  const w: KernelInput = { name: 'W', dims: wDims, type: dtype === 'int8' ? 'uint8' : dtype === 'float16-weights' ? 'float16' : 'float32', weight: true };
  const inputs: KernelInput[] = dtype === 'int8' ? [x, w, { name: 'x_zero_point', dims: [], type: 'uint8', weight: true }] : [x, w, { name: 'B', dims: [s.outChannels], type: 'float32', weight: true }];
  return {
    id: `conv-${s.tag}-${dtype}`,
    name: `conv ${s.kernel}x${s.kernel}${s.group > 1 ? ' depthwise' : ''} ${s.channels}->${s.outChannels} ${s.size}x${s.size}${suffix}`,
    family: 'conv',
    dtype,
    op: dtype === 'int8' ? 'ConvInteger' : 'Conv',
    opset: 13,
    inputs,
    attrs: { kernel_shape: [s.kernel, s.kernel], pads: [pad, pad, pad, pad], group: s.group },
    output: { type: dtype === 'int8' ? 'int32' : 'float32', dims: [1, s.outChannels, s.size, s.size] },
    work: 2 * s.outChannels * (s.channels / s.group) * s.kernel * s.kernel * s.size * s.size,
    unit: 'GFLOP/s',
    quick,
  };
}

const CONV3: ConvShape = { tag: '3x3-64-56', channels: 64, outChannels: 64, size: 56, kernel: 3, group: 1 };
const CONV1: ConvShape = { tag: '1x1-128-256-28', channels: 128, outChannels: 256, size: 28, kernel: 1, group: 1 };
const DEPTHWISE: ConvShape = { tag: 'dw3x3-128-56', channels: 128, outChannels: 128, size: 56, kernel: 3, group: 128 };

const ROWS = 1024;
const COLS = 1024;
const ELEMENTS = ROWS * COLS;

/** Every kernel case, in report order. */
export const KERNEL_SPECS: readonly KernelSpec[] = [
  matmul(128, 128, 128, 'float32', true),
  matmul(256, 256, 256, 'float32', true),
  matmul(512, 512, 512, 'float32', true),
  matmul(1024, 1024, 1024, 'float32', false),
  matmul(1, 1024, 1024, 'float32', true),
  matmul(1, 4096, 4096, 'float32', false),
  matmul(256, 256, 256, 'float16-weights', true),
  matmul(512, 512, 512, 'float16-weights', false),
  matmul(1, 4096, 4096, 'float16-weights', false),
  matmul(256, 256, 256, 'int8', true),
  matmul(512, 512, 512, 'int8', false),
  matmul(1, 4096, 4096, 'int8', false),
  conv(CONV3, 'float32', true),
  conv(CONV1, 'float32', true),
  conv(DEPTHWISE, 'float32', true),
  conv(CONV3, 'float16-weights', false),
  conv(CONV3, 'int8', false),
  conv(CONV1, 'int8', false),
  {
    id: 'relu-1M-float32',
    name: 'relu 1M',
    family: 'elementwise',
    dtype: 'float32',
    op: 'Relu',
    opset: 14,
    inputs: [{ name: 'X', dims: [ELEMENTS], type: 'float32', weight: false }],
    attrs: {},
    output: { type: 'float32', dims: [ELEMENTS] },
    work: 2 * 4 * ELEMENTS,
    unit: 'GB/s',
    quick: true,
  },
  {
    id: 'add-1M-float32',
    name: 'add 1M',
    family: 'elementwise',
    dtype: 'float32',
    op: 'Add',
    opset: 14,
    inputs: [
      { name: 'A', dims: [ELEMENTS], type: 'float32', weight: false },
      { name: 'B', dims: [ELEMENTS], type: 'float32', weight: false },
    ],
    attrs: {},
    output: { type: 'float32', dims: [ELEMENTS] },
    work: 3 * 4 * ELEMENTS,
    unit: 'GB/s',
    quick: true,
  },
  {
    id: 'softmax-1024x1024-float32',
    name: 'softmax 1024x1024 (axis -1)',
    family: 'softmax',
    dtype: 'float32',
    op: 'Softmax',
    opset: 13,
    inputs: [{ name: 'X', dims: [ROWS, COLS], type: 'float32', weight: false }],
    attrs: { axis: -1 },
    output: { type: 'float32', dims: [ROWS, COLS] },
    work: 2 * 4 * ELEMENTS,
    unit: 'GB/s',
    quick: true,
  },
  {
    id: 'layernorm-1024x1024-float32',
    name: 'layernorm 1024x1024 (axis -1)',
    family: 'layernorm',
    dtype: 'float32',
    op: 'LayerNormalization',
    opset: 17,
    inputs: [
      { name: 'X', dims: [ROWS, COLS], type: 'float32', weight: false },
      { name: 'Scale', dims: [COLS], type: 'float32', weight: true },
      { name: 'B', dims: [COLS], type: 'float32', weight: true },
    ],
    attrs: { axis: -1, epsilon: 1e-5 },
    output: { type: 'float32', dims: [ROWS, COLS] },
    work: 2 * 4 * ELEMENTS,
    unit: 'GB/s',
    quick: true,
  },
];

/** Deterministic pseudo-random values in [-1, 1) (xorshift32), so every implementation sees the same inputs. */
export function randomFloats(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = (s / 4294967296) * 2 - 1;
  }
  return out;
}

/** Number of elements of `dims`. */
export function elementCount(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

/**
 * The values of input `index` of a spec as float numbers before encoding to its stored type: uniform in
 * [-1, 1) for float inputs, small integers for 8-bit ones (uint8 activations around the zero point 128,
 * int8 weights in [-127, 127], uint8 conv weights around 128), zero points 128.
 */
export function inputValues(spec: KernelSpec, index: number): Float32Array {
  const input = spec.inputs[index]!;
  const raw = randomFloats(elementCount(input.dims), 17 + 31 * index);
  if (input.type === 'uint8') {
    if (input.dims.length === 0) return Float32Array.of(128);
    for (let i = 0; i < raw.length; i++) raw[i] = Math.round(128 + raw[i]! * 127);
  } else if (input.type === 'int8') {
    for (let i = 0; i < raw.length; i++) raw[i] = Math.round(raw[i]! * 127);
  }
  return raw;
}
