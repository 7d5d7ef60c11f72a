/**
 * CPU kernels of DFT, STFT, the Hann/Hamming/Blackman windows and MelWeightMatrix (schemas and formulas in
 * src/ops/signal.ts).
 *
 * DFT and STFT transform one line at a time: the line is gathered into double re/im buffers (cut or
 * zero-padded to L), then each wanted bin is a direct sum over the line with twiddles from a per-call table
 * cos/sin(2 pi j / L), indexed by (k * n) mod L kept incrementally (no trig in the inner loop). Cost:
 * O(L * bins) multiply-adds per line (a direct DFT; the lengths ONNX models use here are small).
 * IRFFT folds the Hermitian symmetry into the sum (bin 0 once, bins 1..ceil(L/2)-1 twice, the Nyquist bin
 * once for even L), as numpy's irfft does. Windows and the mel matrix are one loop each.
 */
import { allocate, type DataType, type NumericArray, type TypedArray } from '../../tensor/dtype.js';
import { sizeOf } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { registerKernel, type Kernel } from '../registry.js';
import { floatTensor, readFloats } from './misc-util.js';

/** cos and sin of 2 pi j / L for j in [0, L). */
function twiddles(length: number): [Float64Array, Float64Array] {
  const c = new Float64Array(length);
  const s = new Float64Array(length);
  for (let j = 0; j < length; j++) {
    c[j] = Math.cos((2 * Math.PI * j) / length);
    s[j] = Math.sin((2 * Math.PI * j) / length);
  }
  return [c, s];
}

/**
 * Bins [0, bins) of the DFT of (re, im) (length L; sign -1 forward, +1 inverse), scaled by `scale`, written to
 * outRe/outIm.
 */
function dftLine(re: Float64Array, im: Float64Array, length: number, bins: number, sign: number, scale: number, cosT: Float64Array, sinT: Float64Array, outRe: Float64Array, outIm: Float64Array): void {
  for (let k = 0; k < bins; k++) {
    let sr = 0;
    let si = 0;
    let j = 0;
    for (let n = 0; n < length; n++) {
      const c = cosT[j]!;
      const s = sign * sinT[j]!;
      sr += re[n]! * c - im[n]! * s;
      si += re[n]! * s + im[n]! * c;
      j += k;
      if (j >= length) j %= length;
    }
    outRe[k] = sr * scale;
    outIm[k] = si * scale;
  }
}

/** The real signal of length L from the one-sided spectrum bins (re, im) [0, L/2] (numpy irfft). */
function irfftLine(re: Float64Array, im: Float64Array, length: number, cosT: Float64Array, sinT: Float64Array, out: Float64Array): void {
  const doubled = Math.ceil(length / 2) - 1;
  for (let n = 0; n < length; n++) {
    let sum = re[0]!;
    let j = n % length;
    for (let k = 1; k <= doubled; k++) {
      sum += 2 * (re[k]! * cosT[j]! - im[k]! * sinT[j]!);
      j += n;
      if (j >= length) j %= length;
    }
    if (length % 2 === 0) sum += re[length / 2]! * (n % 2 === 0 ? 1 : -1);
    out[n] = sum / length;
  }
}

const dft: Kernel = (inputs, attrs, outputs) => {
  const x = inputs[0]!;
  const spec = outputs[0]!;
  const axis = attrs.axis as number;
  const length = attrs.dft_length as number;
  const inverse = attrs.inverse === 1;
  const onesided = attrs.onesided === 1;
  const irfft = inverse && onesided;
  const comps = x.dims[x.rank - 1]!;
  const dim = x.dims[axis]!;
  const outer = sizeOf(x.dims.slice(0, axis));
  const inner = sizeOf(x.dims.slice(axis + 1, -1));
  const outLen = spec.dims[axis]!;
  const outComps = spec.dims[spec.dims.length - 1]!;
  const xs = readFloats(x);
  const out = new Float64Array(sizeOf(spec.dims));
  const [cosT, sinT] = twiddles(length);
  // samples (or bins) read from the input: the signal is cut or zero-padded to what the transform uses
  const used = Math.min(dim, irfft ? Math.floor(length / 2) + 1 : length);
  const re = new Float64Array(Math.max(length, Math.floor(length / 2) + 1));
  const im = new Float64Array(re.length);
  const outRe = new Float64Array(Math.max(length, 1));
  const outIm = new Float64Array(Math.max(length, 1));
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      re.fill(0);
      im.fill(0);
      for (let n = 0; n < used; n++) {
        const at = ((o * dim + n) * inner + i) * comps;
        re[n] = xs[at]!;
        im[n] = comps === 2 ? xs[at + 1]! : 0;
      }
      if (irfft) irfftLine(re, im, length, cosT, sinT, outRe);
      else dftLine(re, im, length, outLen, inverse ? 1 : -1, inverse ? 1 / length : 1, cosT, sinT, outRe, outIm);
      for (let k = 0; k < outLen; k++) {
        const at = ((o * outLen + k) * inner + i) * outComps;
        out[at] = outRe[k]!;
        if (outComps === 2) out[at + 1] = outIm[k]!;
      }
    }
  }
  return [floatTensor(spec.type, spec.type === 'float64' ? out : Float32Array.from(out), spec.dims)];
};

const stft: Kernel = (inputs, attrs, outputs) => {
  const [signal, , windowT] = inputs as [Tensor, Tensor, Tensor | undefined];
  const spec = outputs[0]!;
  const step = attrs.frame_step as number;
  const n = attrs.frame_length as number;
  const [batch, frames, bins] = spec.dims as [number, number, number];
  const samples = signal.dims[1]!;
  const comps = signal.dims[2]!;
  const xs = readFloats(signal);
  const win = windowT ? readFloats(windowT) : undefined;
  const [cosT, sinT] = twiddles(n);
  const re = new Float64Array(n);
  const im = new Float64Array(n);
  const outRe = new Float64Array(bins);
  const outIm = new Float64Array(bins);
  const out = new Float64Array(sizeOf(spec.dims));
  for (let b = 0; b < batch; b++) {
    for (let f = 0; f < frames; f++) {
      for (let t = 0; t < n; t++) {
        const at = (b * samples + f * step + t) * comps;
        const w = win ? win[t]! : 1;
        re[t] = xs[at]! * w;
        im[t] = comps === 2 ? xs[at + 1]! * w : 0;
      }
      dftLine(re, im, n, bins, -1, 1, cosT, sinT, outRe, outIm);
      for (let k = 0; k < bins; k++) {
        const at = ((b * frames + f) * bins + k) * 2;
        out[at] = outRe[k]!;
        out[at + 1] = outIm[k]!;
      }
    }
  }
  return [floatTensor(spec.type, spec.type === 'float64' ? out : Float32Array.from(out), spec.dims)];
};

/** A tensor of numeric `type` from double values (floats rounded, integers truncated as C casts do). */
function numericTensor(type: DataType, values: Float64Array, dims: readonly number[]): Tensor {
  if (type === 'float32' || type === 'float64' || type === 'float16') return floatTensor(type, type === 'float64' ? values : Float32Array.from(values), dims);
  if (type === 'int64') return new Tensor('int64', BigInt64Array.from(values, (v) => BigInt(Math.trunc(v))), dims);
  const out = allocate(type, values.length) as NumericArray;
  for (let i = 0; i < values.length; i++) out[i] = Math.trunc(values[i]!);
  return new Tensor(type, out as TypedArray, dims);
}

function windowKernel(coefficients: readonly number[]): Kernel {
  return (_inputs, attrs, outputs) => {
    const spec = outputs[0]!;
    const size = spec.dims[0]!;
    const period = attrs.periodic === 1 ? size : size - 1;
    const values = new Float64Array(size);
    for (let i = 0; i < size; i++) {
      const phase = period > 0 ? (2 * Math.PI * i) / period : 0;
      let v = 0;
      for (let k = 0; k < coefficients.length; k++) v += (k % 2 === 0 ? 1 : -1) * coefficients[k]! * Math.cos(k * phase);
      values[i] = v;
    }
    return [numericTensor(spec.type, values, spec.dims)];
  };
}

const melWeightMatrix: Kernel = (inputs, _attrs, outputs) => {
  const spec = outputs[0]!;
  const [bins, mel] = spec.dims as [number, number];
  const length = Number(inputs[1]!.item());
  const rate = Number(inputs[2]!.item());
  const low = inputs[3]!.numbers()[0]!;
  const high = inputs[4]!.numbers()[0]!;
  const toMel = (f: number): number => 2595 * Math.log10(1 + f / 700);
  const lowMel = toMel(low);
  // the ONNX reference divides the mel range by mel + 2 (the number of band edges)
  const step = (toMel(high) - lowMel) / (mel + 2);
  const edges = new Int32Array(mel + 2);
  for (let i = 0; i < mel + 2; i++) {
    const hz = 700 * (Math.pow(10, (i * step + lowMel) / 2595) - 1);
    edges[i] = Math.floor(((length + 1) * hz) / rate);
  }
  const values = new Float64Array(bins * mel);
  const set = (j: number, i: number, v: number): void => {
    if (j >= 0 && j < bins) values[j * mel + i] = v;
  };
  for (let i = 0; i < mel; i++) {
    const [left, center, right] = [edges[i]!, edges[i + 1]!, edges[i + 2]!];
    if (center === left) set(center, i, 1);
    else for (let j = left; j <= center; j++) set(j, i, (j - left) / (center - left));
    if (right > center) for (let j = center; j < right; j++) set(j, i, (right - j) / (right - center));
  }
  return [numericTensor(spec.type, values, spec.dims)];
};

registerKernel('DFT', 'cpu', dft);
registerKernel('STFT', 'cpu', stft);
registerKernel('HannWindow', 'cpu', windowKernel([0.5, 0.5]));
registerKernel('HammingWindow', 'cpu', windowKernel([25 / 46, 21 / 46]));
registerKernel('BlackmanWindow', 'cpu', windowKernel([0.42, 0.5, 0.08]));
registerKernel('MelWeightMatrix', 'cpu', melWeightMatrix);
