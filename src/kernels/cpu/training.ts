/**
 * CPU kernels of the ai.onnx.preview.training optimizers (schemas in src/ops/training.ts). One elementwise
 * pass per optimised tensor in double precision, formulas from Operators.md:
 *   Adagrad:  r = R / (1 + T * decay); g = norm * X + G; H' = H + g^2; X' = X - r * g / (sqrt(H') + eps)
 *   Adam:     g = norm * X + G; V' = a V + (1 - a) g; H' = b H + (1 - b) g^2;
 *             R' = T > 0 ? R sqrt(1 - b^T) / (1 - a^T) : R; X' = (1 - norm_post) (X - R' V' / (sqrt(H') + eps))
 *   Momentum: g = norm * X + G; V' = a V + (T > 0 ? b : 1) g; X' = X - R V' (standard) or X - R (g + a V')
 * Cost: a few flops per element.
 */
import type { Tensor } from '../../tensor/tensor.js';
import { registerKernel, type Attrs, type Kernel, type OutputSpec } from '../registry.js';
import { floatArray, floatTensor, readFloats } from './misc-util.js';

const DOMAIN = 'ai.onnx.preview.training';

/** Learning rate, update count and the k-blocked tensors of an optimizer call. */
function unpack(inputs: readonly (Tensor | undefined)[], blocks: number): { r: number; t: number; k: number; at: (block: number, i: number) => Float32Array | Float64Array } {
  const r = readFloats(inputs[0]!)[0]!;
  const t = Number((inputs[1]!.data as BigInt64Array)[0]!);
  const rest = inputs.slice(2) as Tensor[];
  const k = rest.length / blocks;
  return { r, t, k, at: (block, i) => readFloats(rest[block * k + i]!) };
}

function build(outputs: readonly OutputSpec[], values: (Float32Array | Float64Array)[]): Tensor[] {
  return values.map((v, i) => floatTensor(outputs[i]!.type, v, outputs[i]!.dims));
}

const adagrad: Kernel = (inputs, attrs: Attrs, outputs) => {
  const { r, t, k, at } = unpack(inputs, 3);
  const rate = r / (1 + t * (attrs.decay_factor as number));
  const eps = attrs.epsilon as number;
  const norm = attrs.norm_coefficient as number;
  const xs: (Float32Array | Float64Array)[] = [];
  const hs: (Float32Array | Float64Array)[] = [];
  for (let i = 0; i < k; i++) {
    const [x, g, h] = [at(0, i), at(1, i), at(2, i)];
    const xNew = floatArray(outputs[i]!.type, x.length);
    const hNew = floatArray(outputs[k + i]!.type, x.length);
    for (let j = 0; j < x.length; j++) {
      const gr = norm * x[j]! + g[j]!;
      const hn = h[j]! + gr * gr;
      hNew[j] = hn;
      xNew[j] = x[j]! - (rate * gr) / (Math.sqrt(hn) + eps);
    }
    xs.push(xNew);
    hs.push(hNew);
  }
  return build(outputs, [...xs, ...hs]);
};

const adam: Kernel = (inputs, attrs: Attrs, outputs) => {
  const { r, t, k, at } = unpack(inputs, 4);
  const a = attrs.alpha as number;
  const b = attrs.beta as number;
  const eps = attrs.epsilon as number;
  const norm = attrs.norm_coefficient as number;
  const post = attrs.norm_coefficient_post as number;
  const rate = t > 0 ? (r * Math.sqrt(1 - Math.pow(b, t))) / (1 - Math.pow(a, t)) : r;
  const xs: (Float32Array | Float64Array)[] = [];
  const vs: (Float32Array | Float64Array)[] = [];
  const hs: (Float32Array | Float64Array)[] = [];
  for (let i = 0; i < k; i++) {
    const [x, g, v, h] = [at(0, i), at(1, i), at(2, i), at(3, i)];
    const xNew = floatArray(outputs[i]!.type, x.length);
    const vNew = floatArray(outputs[k + i]!.type, x.length);
    const hNew = floatArray(outputs[2 * k + i]!.type, x.length);
    for (let j = 0; j < x.length; j++) {
      const gr = norm * x[j]! + g[j]!;
      const vn = a * v[j]! + (1 - a) * gr;
      const hn = b * h[j]! + (1 - b) * gr * gr;
      vNew[j] = vn;
      hNew[j] = hn;
      xNew[j] = (1 - post) * (x[j]! - (rate * vn) / (Math.sqrt(hn) + eps));
    }
    xs.push(xNew);
    vs.push(vNew);
    hs.push(hNew);
  }
  return build(outputs, [...xs, ...vs, ...hs]);
};

const momentum: Kernel = (inputs, attrs: Attrs, outputs) => {
  const { r, t, k, at } = unpack(inputs, 3);
  const a = attrs.alpha as number;
  const beta = t > 0 ? (attrs.beta as number) : 1;
  const norm = attrs.norm_coefficient as number;
  const nesterov = attrs.mode === 'nesterov';
  const xs: (Float32Array | Float64Array)[] = [];
  const vs: (Float32Array | Float64Array)[] = [];
  for (let i = 0; i < k; i++) {
    const [x, g, v] = [at(0, i), at(1, i), at(2, i)];
    const xNew = floatArray(outputs[i]!.type, x.length);
    const vNew = floatArray(outputs[k + i]!.type, x.length);
    for (let j = 0; j < x.length; j++) {
      const gr = norm * x[j]! + g[j]!;
      const vn = a * v[j]! + beta * gr;
      vNew[j] = vn;
      xNew[j] = nesterov ? x[j]! - r * (gr + a * vn) : x[j]! - r * vn;
    }
    xs.push(xNew);
    vs.push(vNew);
  }
  return build(outputs, [...xs, ...vs]);
};

registerKernel('Adagrad', 'cpu', adagrad, DOMAIN);
registerKernel('Adam', 'cpu', adam, DOMAIN);
registerKernel('Momentum', 'cpu', momentum, DOMAIN);
