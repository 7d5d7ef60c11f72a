/**
 * SVG charts of a result file, as vega-lite specs rendered in Node by vega's headless View (toSVG needs no
 * canvas):
 *  - models-latency.svg: median latency per model case per implementation (log scale, grouped bars);
 *  - matmul-gflops.svg: GFLOP/s per square matmul size per implementation;
 *  - cpu-gpu-crossover.svg: Tessera cpu vs gpu median latency per square matmul size, with the crossover
 *    size (the smallest size from which the GPU is faster) marked, or a title saying there is none.
 * A GPU that is a software rasterizer is labelled as such in every chart that shows it.
 *
 * The spec builders are pure (tested); `renderCharts` does the rendering.
 */
import * as vega from 'vega';
import * as vegaLite from 'vega-lite';
import { crossoverSize, type BenchResults } from './results.js';

type Spec = vegaLite.TopLevelSpec;

/** The label of an implementation in charts: the GPU one names its renderer kind. */
export function implLabel(impl: string, r: Pick<BenchResults, 'gpu' | 'threads'>): string {
  if (impl === 'tessera-gpu' && r.gpu.software) return 'tessera-gpu (software rendering)';
  if (impl === 'tessera-cpu-all') return `tessera-cpu-${r.threads}t`;
  return impl;
}

/** One sentence naming the GPU and whether its numbers are GPU speed. */
export function gpuSentence(r: Pick<BenchResults, 'gpu'>): string {
  if (!r.gpu.available) return `No GPU context (${r.gpu.reason ?? 'not requested'}).`;
  const kind = r.gpu.software ? 'software rendering, not GPU speed' : 'hardware GPU';
  return `GPU backend: ${r.gpu.mode} on ${r.gpu.renderer}: ${kind}.`;
}

/** Median latency per model case and implementation. */
export function modelLatencySpec(r: BenchResults): Spec | undefined {
  const names = new Map(r.cases.filter((c) => c.group === 'model').map((c) => [c.id, c.name]));
  const values = r.entries
    .filter((e) => e.status === 'ok' && names.has(e.caseId))
    .map((e) => ({ case: names.get(e.caseId)!, impl: implLabel(e.impl, r), ms: e.ms!.median }));
  if (values.length === 0) return undefined;
  // bars on a log axis need a baseline below the smallest value (a bar at the domain minimum has no length)
  const smallest = Math.min(...values.map((v) => v.ms));
  const baseline = 10 ** (Math.floor(Math.log10(smallest)) - (Number.isInteger(Math.log10(smallest)) ? 1 : 0));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'Model latency (median ms, log scale; lower is better)', subtitle: gpuSentence(r) },
    data: { values },
    width: 560,
    mark: 'bar',
    encoding: {
      y: { field: 'case', type: 'nominal', sort: [...names.values()], title: null },
      yOffset: { field: 'impl', type: 'nominal' },
      x: { field: 'ms', type: 'quantitative', scale: { type: 'log', domainMin: baseline }, stack: null, title: 'median ms' },
      color: { field: 'impl', type: 'nominal', title: 'implementation' },
      tooltip: [{ field: 'case' }, { field: 'impl' }, { field: 'ms', format: '.2f' }],
    },
  } as Spec;
}

/** Square float32 matmul cases with their size. */
function squareMatmuls(r: BenchResults): Map<string, number> {
  return new Map(r.cases.filter((c) => c.family === 'matmul' && c.dtype === 'float32' && c.size !== undefined).map((c) => [c.id, c.size!]));
}

/** GFLOP/s per square matmul size and implementation. */
export function matmulRateSpec(r: BenchResults): Spec | undefined {
  const sizes = squareMatmuls(r);
  const values = r.entries
    .filter((e) => e.status === 'ok' && sizes.has(e.caseId) && e.rate !== undefined)
    .map((e) => ({ size: sizes.get(e.caseId)!, impl: implLabel(e.impl, r), gflops: e.rate! }));
  if (values.length === 0) return undefined;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'float32 matmul: GFLOP/s per size (higher is better)', subtitle: gpuSentence(r) },
    data: { values },
    width: 480,
    height: 300,
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'size', type: 'quantitative', scale: { type: 'log', base: 2 }, title: 'N (NxN times NxN)', axis: { values: [...new Set(sizes.values())].sort((a, b) => a - b) } },
      y: { field: 'gflops', type: 'quantitative', scale: { type: 'log' }, title: 'GFLOP/s' },
      color: { field: 'impl', type: 'nominal', title: 'implementation' },
    },
  } as Spec;
}

/** The cpu and gpu points of the crossover chart and the crossover size. */
export function crossoverData(r: BenchResults): { points: { size: number; cpuMs: number; gpuMs: number }[]; size: number | undefined; cpuImpl: string } {
  const sizes = squareMatmuls(r);
  const cpuImpl = r.entries.some((e) => e.impl === 'tessera-cpu-all' && e.status === 'ok') ? 'tessera-cpu-all' : 'tessera-cpu-1t';
  const points: { size: number; cpuMs: number; gpuMs: number }[] = [];
  for (const [id, size] of sizes) {
    const cpu = r.entries.find((e) => e.caseId === id && e.impl === cpuImpl && e.status === 'ok');
    const gpu = r.entries.find((e) => e.caseId === id && e.impl === 'tessera-gpu' && e.status === 'ok');
    if (cpu && gpu) points.push({ size, cpuMs: cpu.ms!.median, gpuMs: gpu.ms!.median });
  }
  points.sort((a, b) => a.size - b.size);
  return { points, size: crossoverSize(points), cpuImpl };
}

/** Tessera cpu vs gpu latency per matmul size, with the crossover. */
export function crossoverSpec(r: BenchResults): Spec | undefined {
  const { points, size, cpuImpl } = crossoverData(r);
  if (points.length === 0) return undefined;
  const cpuLabel = implLabel(cpuImpl, r);
  const gpuLabel = implLabel('tessera-gpu', r);
  const values = points.flatMap((p) => [
    { size: p.size, impl: cpuLabel, ms: p.cpuMs },
    { size: p.size, impl: gpuLabel, ms: p.gpuMs },
  ]);
  const verdict = size === undefined ? `the GPU backend is slower at every measured size (${points.map((p) => p.size).join(', ')})` : `the GPU backend is faster from N = ${size} on`;
  const layers: unknown[] = [
    {
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'size', type: 'quantitative', scale: { type: 'log', base: 2 }, title: 'N (NxN times NxN)', axis: { values: points.map((p) => p.size) } },
        y: { field: 'ms', type: 'quantitative', scale: { type: 'log' }, title: 'median ms' },
        color: { field: 'impl', type: 'nominal', title: 'implementation' },
      },
    },
  ];
  if (size !== undefined) layers.push({ data: { values: [{ size }] }, mark: { type: 'rule', strokeDash: [4, 4] }, encoding: { x: { field: 'size', type: 'quantitative' } } });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: `CPU/GPU crossover, float32 matmul: ${verdict}`, subtitle: gpuSentence(r) },
    data: { values },
    width: 480,
    height: 300,
    layer: layers,
  } as Spec;
}

/** Render a vega-lite spec to an SVG string. */
export async function renderSvg(spec: Spec): Promise<string> {
  const compiled = vegaLite.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Chart file names and their specs (charts without data are left out). */
export function chartSpecs(r: BenchResults): { file: string; title: string; spec: Spec }[] {
  const out: { file: string; title: string; spec: Spec }[] = [];
  const models = modelLatencySpec(r);
  if (models) out.push({ file: 'models-latency.svg', title: 'Model latency per backend', spec: models });
  const rate = matmulRateSpec(r);
  if (rate) out.push({ file: 'matmul-gflops.svg', title: 'matmul GFLOP/s per size', spec: rate });
  const cross = crossoverSpec(r);
  if (cross) out.push({ file: 'cpu-gpu-crossover.svg', title: 'CPU/GPU crossover', spec: cross });
  return out;
}
