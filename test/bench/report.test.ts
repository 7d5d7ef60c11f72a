/**
 * The benchmark suite's pure parts: latency statistics, the CPU/GPU crossover, the regression comparison
 * (ratios, margin, entries in one file only), the Markdown report (GPU label, headline table, ratios,
 * skipped entries), the chart specs and their SVG rendering, and the machine slug.
 */
import { describe, expect, it } from 'vitest';
import { chartSpecs, crossoverData, gpuSentence, renderSvg } from '../../bench/lib/charts.js';
import { compareResults, formatComparison } from '../../bench/lib/compare.js';
import { KERNEL_SPECS, inputValues } from '../../bench/lib/kernel-specs.js';
import { machineSlug } from '../../bench/lib/machine.js';
import { headlineTable, markdownReport, ratioTable } from '../../bench/lib/report.js';
import { crossoverSize, latencyStats, speedRatio, type BenchCase, type BenchEntry, type BenchResults } from '../../bench/lib/results.js';
import { maxAbsDifference, measureCase } from '../../bench/lib/runner.js';

function ok(caseId: string, impl: string, median: number, extra: Partial<BenchEntry> = {}): BenchEntry {
  return { caseId, impl, status: 'ok', ms: { median, min: median * 0.9, max: median * 1.5, mean: median, samples: 10 }, ...extra };
}

const CASES: BenchCase[] = [
  { id: 'matmul-128-float32', group: 'kernel', name: 'matmul 128x128x128', family: 'matmul', dtype: 'float32', size: 128, work: 2 * 128 ** 3, unit: 'GFLOP/s', reference: 'ort-node' },
  { id: 'matmul-256-float32', group: 'kernel', name: 'matmul 256x256x256', family: 'matmul', dtype: 'float32', size: 256, work: 2 * 256 ** 3, unit: 'GFLOP/s', reference: 'ort-node' },
  { id: 'matmul-512-float32', group: 'kernel', name: 'matmul 512x512x512', family: 'matmul', dtype: 'float32', size: 512, work: 2 * 512 ** 3, unit: 'GFLOP/s', reference: 'ort-node' },
  { id: 'ppocr-cls-b1-float32', group: 'model', name: 'ppocr-cls b1', family: 'ppocr-cls', dtype: 'float32', batch: 1, reference: 'ort-node' },
];

function results(entries: BenchEntry[], gpu: BenchResults['gpu'] = { available: true, mode: 'headlessgl', renderer: 'Mesa llvmpipe (software rasterizer)', software: true }): BenchResults {
  return {
    format: 'tessera-bench/1',
    suite: 'node',
    date: '2026-01-02T03:04:05.000Z',
    command: 'npm run bench -- --quick',
    quick: true,
    machine: { cpu: 'AMD EPYC', cores: 2, node: 'v20.20.2', platform: 'linux' },
    gpu,
    threads: 2,
    rounds: 2,
    timePerRoundMs: 100,
    wallSeconds: 95,
    versions: { tinybench: '6.2.3' },
    cases: CASES,
    entries,
    notes: ['a run note'],
  };
}

const ENTRIES: BenchEntry[] = [
  ok('matmul-128-float32', 'tessera-cpu-1t', 1, { rate: 4.2 }),
  ok('matmul-128-float32', 'tessera-gpu', 8, { firstRunMs: 460, setupMs: 100 }),
  ok('matmul-128-float32', 'ort-node', 0.05),
  ok('matmul-256-float32', 'tessera-cpu-1t', 10, { rate: 3.3 }),
  ok('matmul-256-float32', 'tessera-gpu', 9),
  ok('matmul-256-float32', 'ort-node', 0.2),
  ok('matmul-512-float32', 'tessera-cpu-1t', 80),
  ok('matmul-512-float32', 'tessera-gpu', 40),
  ok('ppocr-cls-b1-float32', 'tessera-cpu-1t', 50),
  ok('ppocr-cls-b1-float32', 'ort-node', 1),
  { caseId: 'ppocr-cls-b1-float32', impl: 'tfjs-cpu', status: 'skipped', note: 'tfjs cannot load ONNX models' },
  { caseId: 'ppocr-cls-b1-float32', impl: 'ort-web', status: 'failed', note: 'failed: boom' },
];

describe('statistics', () => {
  it('median, min, max and mean of odd and even sample counts', () => {
    expect(latencyStats([5, 1, 3])).toEqual({ median: 3, min: 1, max: 5, mean: 3, samples: 3 });
    expect(latencyStats([4, 1, 3, 2])).toMatchObject({ median: 2.5, min: 1, max: 4, mean: 2.5 });
    expect(() => latencyStats([])).toThrow(/no samples/);
  });

  it('speed ratio is peer median over Tessera median', () => {
    expect(speedRatio(ENTRIES, 'matmul-128-float32', 'tessera-cpu-1t', 'ort-node')).toBeCloseTo(0.05);
    expect(speedRatio(ENTRIES, 'ppocr-cls-b1-float32', 'tessera-cpu-1t', 'ort-web')).toBeUndefined();
  });

  it('crossover is the smallest size from which the GPU stays faster', () => {
    expect(crossoverSize([{ size: 128, cpuMs: 1, gpuMs: 8 }, { size: 256, cpuMs: 10, gpuMs: 9 }, { size: 512, cpuMs: 80, gpuMs: 40 }])).toBe(256);
    // a single noisy win below a loss is not a crossover
    expect(crossoverSize([{ size: 128, cpuMs: 2, gpuMs: 1 }, { size: 256, cpuMs: 10, gpuMs: 20 }])).toBeUndefined();
    expect(crossoverSize([])).toBeUndefined();
    expect(crossoverData(results(ENTRIES))).toMatchObject({ size: 256, cpuImpl: 'tessera-cpu-1t' });
  });

  it('max abs difference flags length mismatches and NaN', () => {
    expect(maxAbsDifference([1, 2, 3], [1, 2.5, 2])).toBe(1);
    expect(maxAbsDifference([1], [1, 2])).toBe(Infinity);
    expect(maxAbsDifference([NaN], [1])).toBe(Infinity);
  });
});

describe('compare', () => {
  const old = results(ENTRIES);
  const slower = results([...ENTRIES.filter((e) => !(e.caseId === 'matmul-256-float32' && e.impl === 'tessera-cpu-1t') && e.caseId !== 'matmul-512-float32'), ok('matmul-256-float32', 'tessera-cpu-1t', 12), ok('new-case', 'tessera-cpu-1t', 1)]);

  it('ratios new/old, flags only entries beyond the margin', () => {
    const c = compareResults(old, slower, 0.1);
    const row = c.rows.find((r) => r.key === 'matmul-256-float32 | tessera-cpu-1t')!;
    expect(row.ratio).toBeCloseTo(1.2);
    expect(row.verdict).toBe('slower');
    expect(c.regressions).toBe(1);
    expect(c.rows.filter((r) => r.verdict === 'same').length).toBe(c.rows.length - 1);
    expect(c.onlyOld).toEqual(['matmul-512-float32 | tessera-cpu-1t', 'matmul-512-float32 | tessera-gpu']);
    expect(c.onlyNew).toEqual(['new-case | tessera-cpu-1t']);
    // a 25 % margin accepts the 20 % slowdown
    expect(compareResults(old, slower, 0.25).regressions).toBe(0);
    // skipped and failed entries are never compared
    expect(c.rows.some((r) => r.impl === 'tfjs-cpu' || r.impl === 'ort-web')).toBe(false);
  });

  it('marks improvements, filters implementations, rejects a negative margin', () => {
    const faster = results(ENTRIES.map((e) => (e.status === 'ok' ? ok(e.caseId, e.impl, e.ms!.median / 2) : e)));
    const c = compareResults(old, faster, 0.1, (i) => i === 'ort-node');
    expect(c.rows.every((r) => r.impl === 'ort-node' && r.verdict === 'faster')).toBe(true);
    expect(c.regressions).toBe(0);
    expect(() => compareResults(old, faster, -1)).toThrow(/margin/);
    const text = formatComparison(compareResults(old, slower, 0.1), 'a.json', 'b.json');
    expect(text).toMatch(/matmul 256x256x256 \| tessera-cpu-1t .* 1\.200  SLOWER/);
    expect(text).toMatch(/1 of \d+ entries slower by more than 10 %/);
  });
});

describe('report', () => {
  it('labels a software GPU as not GPU speed, and names a missing GPU', () => {
    expect(gpuSentence(results(ENTRIES))).toMatch(/Mesa llvmpipe.*software rendering, not GPU speed/);
    expect(gpuSentence(results(ENTRIES, { available: false, reason: 'no display' }))).toMatch(/No GPU context \(no display\)/);
  });

  it('headline table: models with medians, n/a for skipped, ratio to onnxruntime-node', () => {
    const t = headlineTable(results(ENTRIES));
    expect(t[0]).toBe('| model (median ms) | tessera-cpu-1t | ort-node | ort-node / tessera-cpu-1t |');
    expect(t[2]).toBe('| ppocr-cls b1 | 50.00 | 1.00 | 0.020x |');
  });

  it('ratio table compares Tessera cpu with each peer', () => {
    const t = ratioTable(results(ENTRIES), CASES.slice(0, 1));
    expect(t[0]).toBe('| case | ort-node / tessera-cpu-1t |');
    expect(t[2]).toBe('| matmul 128x128x128 | 0.050x |');
  });

  it('markdown has machine, GPU label, first-run table, charts, notes and skipped reasons', () => {
    const md = markdownReport(results(ENTRIES), 'charts-dir', [{ file: 'models-latency.svg', title: 'Model latency' }]);
    expect(md).toContain('Machine: AMD EPYC, 2 logical cores');
    expect(md).toContain('software rendering, not GPU speed');
    expect(md).toMatch(/\| matmul 128x128x128 \| tessera-gpu \(software rendering\) \| 100 \| 460 \| 8\.00 \| 57\.5x \|/);
    expect(md).toContain('![Model latency](charts-dir/models-latency.svg)');
    expect(md).toContain('- a run note');
    expect(md).toContain('- ppocr-cls b1 / tfjs-cpu: tfjs cannot load ONNX models');
    expect(md).toContain('- ppocr-cls b1 / ort-web: failed: boom');
  });

  it('chart specs exist for the data present and render to SVG', async () => {
    const specs = chartSpecs(results(ENTRIES));
    expect(specs.map((s) => s.file)).toEqual(['models-latency.svg', 'matmul-gflops.svg', 'cpu-gpu-crossover.svg']);
    const svg = await renderSvg(specs[2]!.spec);
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('faster from N = 256');
    expect(svg).toContain('software rendering');
    expect(chartSpecs(results([]))).toEqual([]);
    // every model bar has a length on the log axis, the smallest one included
    const bars = (await renderSvg(specs[0]!.spec)).match(/aria-roledescription="bar" d="M[^"]*"/g) ?? [];
    expect(bars.length).toBe(2);
    for (const d of bars) expect(d).not.toMatch(/h0v/);
  });

  it('machine slug', () => {
    expect(machineSlug({ cpu: 'AMD EPYC 9B14 96-Core Processor', cores: 2 })).toBe('amd-epyc-9b14-2c');
    expect(machineSlug({ cpu: 'Intel(R) Core(TM) i7-8700 CPU @ 3.20GHz', cores: 12 })).toBe('intel-core-i7-8700-12c');
    expect(machineSlug({ cpu: '', cores: 1 })).toBe('unknown-1c');
  });
});

describe('runner and specs', () => {
  it('measures interleaved impls, records failures and unavailable ones, compares outputs', async () => {
    let calls = 0;
    const ticks: string[] = [];
    const entries = await measureCase(
      {
        info: { id: 'c', group: 'kernel', name: 'c', family: 'x', dtype: 'float32', work: 2e6, unit: 'GFLOP/s', reference: 'a' },
        impls: [
          { name: 'a', run: () => void calls++, output: () => [1, 2] },
          { name: 'b', run: () => undefined, output: () => [1, 2.5] },
          { name: 'bad', run: () => { throw new Error('no kernel'); } },
        ],
        unavailable: [{ impl: 'tfjs-cpu', reason: 'not expressible' }],
      },
      { rounds: 2, timePerRoundMs: 5, minIterations: 2, warmupIterations: 1, onTick: (l) => ticks.push(l) },
    );
    expect(entries.map((e) => [e.impl, e.status])).toEqual([['a', 'ok'], ['b', 'ok'], ['bad', 'failed'], ['tfjs-cpu', 'skipped']]);
    expect(entries[0]!.ms!.samples).toBeGreaterThanOrEqual(4);
    expect(calls).toBeGreaterThanOrEqual(1 + 1 + 4);
    expect(entries[0]!.rate).toBeGreaterThan(0);
    expect(entries[1]!.maxAbsDiff).toBeCloseTo(0.5);
    expect(entries[2]!.note).toBe('failed: no kernel');
    expect(ticks.length).toBe(3 * 3);
  });

  it('kernel specs: unique ids, quick subset, work and inputs consistent', () => {
    const ids = KERNEL_SPECS.map((s) => s.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(KERNEL_SPECS.some((s) => s.quick)).toBe(true);
    for (const s of KERNEL_SPECS) {
      expect(s.work).toBeGreaterThan(0);
      s.inputs.forEach((inp, i) => {
        const v = inputValues(s, i);
        if (inp.type === 'uint8') expect(Math.min(...v.slice(0, 1000)) >= 0 && Math.max(...v.slice(0, 1000)) <= 255).toBe(true);
        if (inp.type === 'int8') expect(Math.max(...v.slice(0, 1000).map(Math.abs)) <= 127).toBe(true);
      });
    }
    const mm = KERNEL_SPECS.find((s) => s.id === 'matmul-256-float32')!;
    expect(mm.work).toBe(2 * 256 ** 3);
  });
});
