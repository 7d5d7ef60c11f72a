/**
 * Signal-processing operators: DFT (opsets 17, 20), STFT (17), HannWindow, HammingWindow, BlackmanWindow and
 * MelWeightMatrix (17).
 *
 * Complex values are stored as a trailing dim of 2 (real, imaginary); real signals have a trailing dim of 1.
 * - DFT: forward y[k] = sum_n x[n] e^{-2 pi i k n / L}; inverse x[n] = 1/L sum_k y[k] e^{2 pi i k n / L}. The
 *   signal is cut or zero-padded to L = dft_length. onesided forward keeps bins [0, L/2] (RFFT); onesided
 *   inverse (IRFFT) reads bins [0, L/2] of a Hermitian spectrum and returns the real signal, L defaulting to
 *   2 * (bins - 1). Canonical form: one input and attributes `axis` (non-negative; opset 17-19 attribute,
 *   default 1; opset 20 input, default -2) and `dft_length` (resolved).
 * - STFT: frames of frame_length samples every frame_step, times the window, each transformed (one-sided by
 *   default): output [batch, frames, bins, 2].
 * - Windows (periodic by default): Hann 0.5 - 0.5 cos(2 pi n / N), Hamming 25/46 - 21/46 cos(2 pi n / N),
 *   Blackman 0.42 - 0.5 cos(2 pi n / N) + 0.08 cos(4 pi n / N), N = size (periodic) or size - 1 (symmetric).
 * - MelWeightMatrix: triangular filters on the mel scale (mel(f) = 2595 log10(1 + f/700)) over the bins of a
 *   one-sided spectrum, as the ONNX reference computes them (band edges floored to bin indices).
 *
 * Kernels: src/kernels/cpu/signal.ts.
 */
import type { AttrValue, OutputSpec } from '../kernels/registry.js';
import { dataTypeFromOnnx, ONNX_TYPE_CODES, type DataType } from '../tensor/dtype.js';
import { UnsupportedFeatureError } from '../tensor/errors.js';
import { fmtShape } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import { runOp1 } from './dispatch.js';
import { withAttrs } from './reduce-axes.js';
import { defineOp, fail, FLOAT_TYPES, intValues, req, type InferContext } from './schema.js';

function label(op: string, ctx: InferContext): string {
  return ctx.node ? `${op} (node '${ctx.node}')` : op;
}

/** The value of a scalar (or one-element) int input. */
function scalarInt(op: string, name: string, t: Tensor, ctx: InferContext): number {
  if (t.size !== 1 || t.rank > 1) fail(op, `input '${name}' has shape ${fmtShape(t.dims)}; expected a scalar`, ctx);
  return intValues(op, name, t, ctx)[0]!;
}

/** The dtype of an `output_datatype` attribute. */
function outputType(op: string, code: number, ctx: InferContext): DataType {
  const t = dataTypeFromOnnx(code);
  if (t && t !== 'bool') return t;
  if (code === 13 || code === 16) throw new UnsupportedFeatureError(label(op, ctx), `attribute 'output_datatype' is ONNX type ${code}, a type Tessera has no tensor for`);
  return fail(op, `attribute 'output_datatype' is ${code}; expected a numeric ONNX type code`, ctx);
}

// ---------------------------------------------------------------------------------------------------------
// DFT

defineOp({
  name: 'DFT',
  inputs: [
    { name: 'input', type: 'T1' },
    { name: 'dft_length', type: 'T2', optional: true },
    { name: 'axis', type: 'I', optional: true },
  ],
  outputs: ['output'],
  types: { T1: FLOAT_TYPES, T2: ['int32', 'int64'], I: ['int64'] },
  attributes: { axis: { kind: 'int' }, inverse: { kind: 'int', default: 0 }, onesided: { kind: 'int', default: 0 } },
  normalize(inputs, attrs, ctx) {
    const op = 'DFT';
    const x = req(op, inputs, 0, 'input', ctx);
    let axis: number;
    if (ctx.opset < 20) {
      if (inputs[2]) fail(op, `opset ${ctx.opset} takes 'axis' as an attribute, not an input`, ctx);
      axis = (attrs.axis as number | undefined) ?? 1;
    } else {
      if (attrs.axis !== undefined) fail(op, `opset ${ctx.opset} takes 'axis' as an input; the attribute belongs to opsets before 20`, ctx);
      axis = inputs[2] ? scalarInt(op, 'axis', inputs[2], ctx) : -2;
    }
    const r = x.rank;
    if (r < 2) fail(op, `input 'input' has shape ${fmtShape(x.dims)} (rank ${r}); expected rank >= 2 (signal dims plus a trailing dim of 1 or 2)`, ctx);
    if (axis < -r || axis > r - 2 || axis === -1) fail(op, `axis ${axis} is out of range for input shape ${fmtShape(x.dims)}; expected [${-r}, -2] or [0, ${r - 2}] (the last dim holds the complex parts)`, ctx);
    if (axis < 0) axis += r;
    const inverse = attrs.inverse === 1;
    const onesided = attrs.onesided === 1;
    const dim = x.dims[axis]!;
    const length = inputs[1] ? scalarInt(op, 'dft_length', inputs[1], ctx) : inverse && onesided ? 2 * (dim - 1) : dim;
    if (length < 1) fail(op, `the DFT length is ${length} (input 'input' ${fmtShape(x.dims)}, axis ${axis}); expected at least 1`, ctx);
    return { inputs: [x], attrs: withAttrs(attrs, { axis, dft_length: length }) };
  },
  infer(inputs, attrs, ctx): OutputSpec[] {
    const x = inputs[0]!;
    const last = x.dims[x.rank - 1]!;
    if (last !== 1 && last !== 2) fail('DFT', `input 'input' has shape ${fmtShape(x.dims)}; the last dim must be 1 (real) or 2 (complex)`, ctx);
    for (const name of ['inverse', 'onesided']) if (attrs[name] !== 0 && attrs[name] !== 1) fail('DFT', `attribute '${name}' is ${String(attrs[name])}; expected 0 or 1`, ctx);
    const axis = attrs.axis as number;
    const length = attrs.dft_length as number;
    const dims = [...x.dims];
    const irfft = attrs.inverse === 1 && attrs.onesided === 1;
    dims[axis] = attrs.onesided === 1 && !irfft ? Math.floor(length / 2) + 1 : length;
    dims[x.rank - 1] = irfft ? 1 : 2;
    return [{ type: x.type, dims }];
  },
});

// ---------------------------------------------------------------------------------------------------------
// STFT

defineOp({
  name: 'STFT',
  inputs: [
    { name: 'signal', type: 'T1' },
    { name: 'frame_step', type: 'T2' },
    { name: 'window', type: 'T1', optional: true },
    { name: 'frame_length', type: 'T2', optional: true },
  ],
  outputs: ['output'],
  types: { T1: FLOAT_TYPES, T2: ['int32', 'int64'] },
  attributes: { onesided: { kind: 'int', default: 1 } },
  normalize(inputs, attrs, ctx) {
    const op = 'STFT';
    const step = scalarInt(op, 'frame_step', req(op, inputs, 1, 'frame_step', ctx), ctx);
    const window = inputs[2];
    const given = inputs[3] ? scalarInt(op, 'frame_length', inputs[3], ctx) : undefined;
    if (window && window.rank !== 1) fail(op, `input 'window' has shape ${fmtShape(window.dims)}; expected rank 1`, ctx);
    const frameLength = given ?? window?.dims[0];
    if (frameLength === undefined) fail(op, `needs 'window' or 'frame_length' to know the frame length`, ctx);
    if (window && window.dims[0] !== frameLength) fail(op, `input 'window' has shape ${fmtShape(window.dims)}; expected [${frameLength}] (frame_length)`, ctx);
    return { inputs: [inputs[0], inputs[1], window], attrs: withAttrs(attrs, { frame_step: step, frame_length: frameLength }) };
  },
  infer(inputs, attrs, ctx): OutputSpec[] {
    const op = 'STFT';
    const x = inputs[0]!;
    const step = attrs.frame_step as number;
    const n = attrs.frame_length as number;
    if (x.rank !== 3 || (x.dims[2] !== 1 && x.dims[2] !== 2)) fail(op, `input 'signal' has shape ${fmtShape(x.dims)}; expected [batch, length, 1] (real) or [batch, length, 2] (complex)`, ctx);
    if (step < 1) fail(op, `input 'frame_step' is ${step}; expected a positive step`, ctx);
    if (n < 1 || n > x.dims[1]!) fail(op, `frame length ${n} must be in [1, ${x.dims[1]}] (the length of 'signal' ${fmtShape(x.dims)})`, ctx);
    const onesided = attrs.onesided as number;
    if (onesided !== 0 && onesided !== 1) fail(op, `attribute 'onesided' is ${onesided}; expected 0 or 1`, ctx);
    if (onesided === 1 && x.dims[2] === 2) fail(op, `a complex 'signal' ${fmtShape(x.dims)} has no one-sided spectrum; set onesided=0`, ctx);
    const frames = Math.floor((x.dims[1]! - n) / step) + 1;
    return [{ type: x.type, dims: [x.dims[0]!, frames, onesided ? Math.floor(n / 2) + 1 : n, 2] }];
  },
});

// ---------------------------------------------------------------------------------------------------------
// Windows

for (const name of ['HannWindow', 'HammingWindow', 'BlackmanWindow']) {
  defineOp({
    name,
    inputs: [{ name: 'size', type: 'T1' }],
    outputs: ['output'],
    types: { T1: ['int32', 'int64'] },
    attributes: { output_datatype: { kind: 'int', default: 1 }, periodic: { kind: 'int', default: 1 } },
    infer(inputs, attrs, ctx): OutputSpec[] {
      const size = scalarInt(name, 'size', inputs[0]!, ctx);
      if (size < 0) fail(name, `input 'size' is ${size}; expected a non-negative length`, ctx);
      if (attrs.periodic !== 0 && attrs.periodic !== 1) fail(name, `attribute 'periodic' is ${String(attrs.periodic)}; expected 0 or 1`, ctx);
      return [{ type: outputType(name, attrs.output_datatype as number, ctx), dims: [size] }];
    },
  });
}

// ---------------------------------------------------------------------------------------------------------
// MelWeightMatrix

defineOp({
  name: 'MelWeightMatrix',
  inputs: [
    { name: 'num_mel_bins', type: 'T1' },
    { name: 'dft_length', type: 'T1' },
    { name: 'sample_rate', type: 'T1' },
    { name: 'lower_edge_hertz', type: 'T2' },
    { name: 'upper_edge_hertz', type: 'T2' },
  ],
  outputs: ['output'],
  types: { T1: ['int32', 'int64'], T2: FLOAT_TYPES },
  attributes: { output_datatype: { kind: 'int', default: 1 } },
  infer(inputs, attrs, ctx): OutputSpec[] {
    const op = 'MelWeightMatrix';
    const [melT, lenT, rateT, lowT, highT] = inputs as Tensor[];
    const mel = scalarInt(op, 'num_mel_bins', melT!, ctx);
    const length = scalarInt(op, 'dft_length', lenT!, ctx);
    const rate = scalarInt(op, 'sample_rate', rateT!, ctx);
    for (const [nm, t] of [
      ['lower_edge_hertz', lowT!],
      ['upper_edge_hertz', highT!],
    ] as const) {
      if (t.size !== 1) fail(op, `input '${nm}' has shape ${fmtShape(t.dims)}; expected a scalar`, ctx);
    }
    const low = lowT!.numbers()[0]!;
    const high = highT!.numbers()[0]!;
    if (mel < 1 || length < 1 || rate < 1) fail(op, `num_mel_bins (${mel}), dft_length (${length}) and sample_rate (${rate}) must be positive`, ctx);
    if (!(low >= 0 && high > low && high <= rate / 2)) fail(op, `edges [${low}, ${high}] Hz must satisfy 0 <= lower < upper <= sample_rate / 2 (${rate / 2})`, ctx);
    return [{ type: outputType(op, attrs.output_datatype as number, ctx), dims: [Math.floor(length / 2) + 1, mel] }];
  },
});

// ---------------------------------------------------------------------------------------------------------
// Eager API

/** DFT along `axis` (default -2) of a real [..., 1] or complex [..., 2] signal. */
export function dft(x: Tensor, options: { dftLength?: number; axis?: number; inverse?: boolean; onesided?: boolean } = {}): Tensor {
  const len = options.dftLength === undefined ? undefined : new Tensor('int64', BigInt64Array.of(BigInt(options.dftLength)), []);
  const axis = options.axis === undefined ? undefined : new Tensor('int64', BigInt64Array.of(BigInt(options.axis)), []);
  try {
    return runOp1('DFT', [x, len, axis], { inverse: options.inverse ? 1 : 0, onesided: options.onesided ? 1 : 0 });
  } finally {
    len?.dispose();
    axis?.dispose();
  }
}

/** Short-time Fourier transform of [batch, length, 1|2] signals. */
export function stft(signal: Tensor, frameStep: number, options: { window?: Tensor; frameLength?: number; onesided?: boolean } = {}): Tensor {
  const step = new Tensor('int64', BigInt64Array.of(BigInt(frameStep)), []);
  const len = options.frameLength === undefined ? undefined : new Tensor('int64', BigInt64Array.of(BigInt(options.frameLength)), []);
  try {
    return runOp1('STFT', [signal, step, options.window, len], { onesided: options.onesided === undefined ? undefined : options.onesided ? 1 : 0 });
  } finally {
    step.dispose();
    len?.dispose();
  }
}

/** A Hann, Hamming or Blackman window of `size` points. */
export function window(kind: 'hann' | 'hamming' | 'blackman', size: number, options: { periodic?: boolean; dtype?: DataType } = {}): Tensor {
  const op = kind === 'hann' ? 'HannWindow' : kind === 'hamming' ? 'HammingWindow' : 'BlackmanWindow';
  const s = new Tensor('int64', BigInt64Array.of(BigInt(size)), []);
  const attrs: Record<string, AttrValue | undefined> = { periodic: options.periodic === undefined ? undefined : options.periodic ? 1 : 0, output_datatype: options.dtype ? ONNX_TYPE_CODES[options.dtype] : undefined };
  try {
    return runOp1(op, [s], attrs);
  } finally {
    s.dispose();
  }
}

/** The [dftLength/2 + 1, numMelBins] mel filter-bank matrix. */
export function melWeightMatrix(numMelBins: number, dftLength: number, sampleRate: number, lowerEdgeHertz: number, upperEdgeHertz: number, dtype: DataType = 'float32'): Tensor {
  const ints = [numMelBins, dftLength, sampleRate].map((v) => new Tensor('int64', BigInt64Array.of(BigInt(v)), []));
  const floats = [lowerEdgeHertz, upperEdgeHertz].map((v) => new Tensor('float32', Float32Array.of(v), []));
  try {
    return runOp1('MelWeightMatrix', [...ints, ...floats], { output_datatype: ONNX_TYPE_CODES[dtype] });
  } finally {
    for (const t of [...ints, ...floats]) t.dispose();
  }
}
