/**
 * Reference optimizer steps (Adagrad, Adam, Momentum of ai.onnx.preview.training), written per element from
 * the Operators.md pseudo code with intermediate named quantities. Slow by design.
 */
import type { NumericArray } from '../../../tensor/dtype.js';
import { fromNumbers, type Tensor } from '../../../tensor/tensor.js';

const nums = (t: Tensor): number[] => Array.from(t.numbers() as NumericArray);

/** Reference optimizer step: the updated tensors followed by the updated states. */
export function refOptimizerStep(op: 'Adagrad' | 'Adam' | 'Momentum', r: number, t: number, tensors: readonly Tensor[], attrs: Readonly<Record<string, number | string>>): Tensor[] {
  const blocks = op === 'Adam' ? 4 : 3;
  const k = tensors.length / blocks;
  const a = (name: string, fallback: number): number => (attrs[name] as number | undefined) ?? fallback;
  const news: Tensor[][] = [[], [], []];
  for (let i = 0; i < k; i++) {
    const x = nums(tensors[i]!);
    const g = nums(tensors[k + i]!);
    const s1 = nums(tensors[2 * k + i]!);
    const s2 = op === 'Adam' ? nums(tensors[3 * k + i]!) : [];
    const type = tensors[i]!.type;
    const dims = tensors[i]!.dims;
    const gReg = x.map((v, j) => a('norm_coefficient', 0) * v + g[j]!);
    if (op === 'Adagrad') {
      const rate = r / (1 + t * a('decay_factor', 0));
      const h = s1.map((v, j) => v + gReg[j]! ** 2);
      news[0]!.push(fromNumbers(type, x.map((v, j) => v - (rate * gReg[j]!) / (Math.sqrt(h[j]!) + a('epsilon', 0))), dims));
      news[1]!.push(fromNumbers(tensors[2 * k + i]!.type, h, dims));
    } else if (op === 'Adam') {
      const alpha = a('alpha', 0.9);
      const beta = a('beta', 0.999);
      const v = s1.map((m, j) => alpha * m + (1 - alpha) * gReg[j]!);
      const h = s2.map((m, j) => beta * m + (1 - beta) * gReg[j]! ** 2);
      const rate = t > 0 ? (r * Math.sqrt(1 - beta ** t)) / (1 - alpha ** t) : r;
      const xNew = x.map((m, j) => m - (rate * v[j]!) / (Math.sqrt(h[j]!) + a('epsilon', 0)));
      news[0]!.push(fromNumbers(type, xNew.map((m) => (1 - a('norm_coefficient_post', 0)) * m), dims));
      news[1]!.push(fromNumbers(tensors[2 * k + i]!.type, v, dims));
      news[2]!.push(fromNumbers(tensors[3 * k + i]!.type, h, dims));
    } else {
      const alpha = a('alpha', 0);
      const betaAdj = t > 0 ? a('beta', 0) : 1;
      const v = s1.map((m, j) => alpha * m + betaAdj * gReg[j]!);
      const xNew = attrs['mode'] === 'nesterov' ? x.map((m, j) => m - r * (gReg[j]! + alpha * v[j]!)) : x.map((m, j) => m - r * v[j]!);
      news[0]!.push(fromNumbers(type, xNew, dims));
      news[1]!.push(fromNumbers(tensors[2 * k + i]!.type, v, dims));
    }
  }
  return news.flat();
}
