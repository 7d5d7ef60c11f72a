/**
 * GPU kernels for the reductions: ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceProd, ReduceL1,
 * ReduceL2, ReduceLogSum, ReduceLogSumExp, ReduceSumSquare over any set of axes (`attrs.axes`, canonical
 * non-negative axes; keepdims only changes the output dims, not the element order).
 *
 * One thread per output element: its index gives the kept coordinates, then one loop walks the R reduced
 * elements, splitting the loop counter into reduced coordinates (reduced dims merged where adjacent), and
 * folds them with the op's accumulator. LogSumExp subtracts the line maximum first (a first loop).
 * Cost: R fetches per output element (2R for LogSumExp).
 */
import { checkIndexRange, dot, kernelSource, lit, rowStrides, splitIndex } from './codegen.js';
import { registerGpuKernel } from './runtime.js';

interface Fold {
  init: string;
  step: (v: string) => string;
  finish: (count: number) => string;
}

const FOLDS: Record<string, Fold> = {
  ReduceSum: { init: '0.0', step: (v) => `acc = acc + ${v};`, finish: () => 'acc' },
  ReduceMean: { init: '0.0', step: (v) => `acc = acc + ${v};`, finish: (n) => `acc / ${lit(n)}` },
  // Max and Min start from the first reduced element (offset `base`), so -Infinity / Infinity inputs stay exact
  ReduceMax: { init: 'a0[base]', step: (v) => `acc = Math.max(acc, ${v});`, finish: () => 'acc' },
  ReduceMin: { init: 'a0[base]', step: (v) => `acc = Math.min(acc, ${v});`, finish: () => 'acc' },
  ReduceProd: { init: '1.0', step: (v) => `acc = acc * ${v};`, finish: () => 'acc' },
  ReduceL1: { init: '0.0', step: (v) => `acc = acc + Math.abs(${v});`, finish: () => 'acc' },
  ReduceL2: { init: '0.0', step: (v) => `acc = acc + ${v} * ${v};`, finish: () => 'Math.sqrt(acc)' },
  ReduceLogSum: { init: '0.0', step: (v) => `acc = acc + ${v};`, finish: () => 'Math.log(acc)' },
  ReduceSumSquare: { init: '0.0', step: (v) => `acc = acc + ${v} * ${v};`, finish: () => 'acc' },
  ReduceLogSumExp: { init: '0.0', step: (v) => `acc = acc + Math.exp(${v} - mx);`, finish: () => 'mx + Math.log(acc)' },
};

/** Merge adjacent dims of the same kind (kept/reduced), dropping size-1 dims. */
function groups(dims: readonly number[], reduced: ReadonlySet<number>): { size: number; stride: number; reduced: boolean }[] {
  const strides = rowStrides(dims);
  const out: { size: number; stride: number; reduced: boolean }[] = [];
  dims.forEach((d, i) => {
    if (d === 1) return;
    const r = reduced.has(i);
    const last = out[out.length - 1];
    if (last && last.reduced === r && last.stride === strides[i]! * d) {
      last.size *= d;
      last.stride = strides[i]!;
    } else out.push({ size: d, stride: strides[i]!, reduced: r });
  });
  return out;
}

for (const [op, fold] of Object.entries(FOLDS)) {
  registerGpuKernel(
    op,
    (scope, inputs, attrs, outputs) => {
      const x = inputs[0]!;
      const spec = outputs[0]!;
      checkIndexRange(op, x.dims);
      const axes = new Set(attrs['axes'] as readonly number[]);
      const g = groups(x.dims, axes);
      const kept = g.filter((v) => !v.reduced);
      const red = g.filter((v) => v.reduced);
      const count = red.reduce((p, v) => p * v.size, 1);
      const ks = splitIndex('i', kept.length ? kept.map((v) => v.size) : [1], 'k');
      const base = kept.length ? dot(ks.coords, kept.map((v) => v.stride)) : '0.0';
      const rs = splitIndex('rr', red.length ? red.map((v) => v.size) : [1], 'r');
      const at = red.length ? `base + ${dot(rs.coords, red.map((v) => v.stride))}` : 'base';
      const lines = [ks.code, `var base = ${base};`];
      const loop = (stmt: string): string[] => [`for (var rk = 0; rk < ${count}; rk++) {`, 'var rr = rk + 0.0;', rs.code, `var v = a0[${at}];`, stmt, '}'];
      if (op === 'ReduceLogSumExp') lines.push('var mx = -3.4e38;', ...loop('mx = Math.max(mx, v);'));
      lines.push(`var acc = ${fold.init};`, ...loop(fold.step('v')), `return ${fold.finish(count)};`);
      return [scope.run(kernelSource(['a0'], lines.join('\n')), spec, [x])];
    },
    { accepts: (inputs, outputs) => outputs[0]!.type === 'float32' && inputs[0]!.type === 'float32' && inputs[0]!.size > 0 },
  );
}

export const GPU_REDUCE_OPS = Object.keys(FOLDS);

