/**
 * The Markdown report of a result file: the machine and GPU label, a headline table (models, median ms per
 * implementation), the kernel tables (median ms, min-max, GFLOP/s or GB/s), the ratios of Tessera to each
 * peer, GPU first-run (compile + upload) times apart from steady state, links to the SVG charts, and every
 * skipped or failed entry with its reason. Pure: results in, text out.
 */
import { gpuSentence, implLabel } from './charts.js';
import { isPeer, speedRatio, type BenchCase, type BenchEntry, type BenchResults } from './results.js';

/** Milliseconds with a precision that suits their size. */
export function fmtMs(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '-';
  if (ms < 1) return ms.toFixed(3);
  if (ms < 100) return ms.toFixed(2);
  return ms.toFixed(0);
}

function fmtRatio(r: number | undefined): string {
  if (r === undefined) return '-';
  return `${r >= 10 ? r.toFixed(1) : r >= 0.1 ? r.toFixed(2) : r.toPrecision(2)}x`;
}

function entry(r: BenchResults, caseId: string, impl: string): BenchEntry | undefined {
  return r.entries.find((e) => e.caseId === caseId && e.impl === impl);
}

/** Implementations that have at least one entry, in the canonical order. */
function implsOf(r: BenchResults, cases: readonly BenchCase[]): string[] {
  const ids = new Set(cases.map((c) => c.id));
  const seen: string[] = [];
  for (const e of r.entries) if (ids.has(e.caseId) && !seen.includes(e.impl) && e.status === 'ok') seen.push(e.impl);
  const order = ['tessera-cpu-1t', 'tessera-cpu-all', 'tessera-gpu', 'gpujs-webgl2-naive', 'gpujs-webgpu-naive', 'ort-node', 'ort-web', 'tfjs-cpu', 'tfjs-wasm'];
  return seen.sort((a, b) => (order.indexOf(a) + 1 || 99) - (order.indexOf(b) + 1 || 99));
}

function cell(e: BenchEntry | undefined): string {
  if (!e) return '';
  if (e.status !== 'ok') return e.status === 'skipped' ? 'n/a' : 'failed';
  return fmtMs(e.ms!.median);
}

function table(header: string[], rows: string[][]): string[] {
  return [`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`, ...rows.map((row) => `| ${row.join(' | ')} |`)];
}

/** The headline table: each model case, median ms per implementation, and Tessera 1-thread vs onnxruntime-node. */
export function headlineTable(r: BenchResults): string[] {
  const cases = r.cases.filter((c) => c.group === 'model');
  if (cases.length === 0) return ['(no model cases in this run)'];
  const impls = implsOf(r, cases);
  const base = impls.includes('tessera-cpu-1t') ? 'tessera-cpu-1t' : impls.find((i) => !isPeer(i));
  const header = ['model (median ms)', ...impls.map((i) => implLabel(i, r)), ...(base && impls.includes('ort-node') ? [`ort-node / ${implLabel(base, r)}`] : [])];
  const rows = cases.map((c) => [
    c.name,
    ...impls.map((i) => cell(entry(r, c.id, i))),
    ...(base && impls.includes('ort-node') ? [fmtRatio(speedRatio(r.entries, c.id, base, 'ort-node'))] : []),
  ]);
  return table(header, rows);
}

function kernelTable(r: BenchResults, cases: readonly BenchCase[]): string[] {
  const impls = implsOf(r, cases);
  const header = ['kernel', 'unit', ...impls.map((i) => `${implLabel(i, r)} ms (rate)`)];
  const rows = cases.map((c) => [
    c.name,
    c.unit ?? '',
    ...impls.map((i) => {
      const e = entry(r, c.id, i);
      if (!e || e.status !== 'ok') return cell(e);
      return `${fmtMs(e.ms!.median)} (${e.rate !== undefined ? e.rate.toFixed(2) : '-'})`;
    }),
  ]);
  return table(header, rows);
}

function spreadTable(r: BenchResults, cases: readonly BenchCase[]): string[] {
  const impls = implsOf(r, cases);
  const rows = cases.map((c) => [
    c.name,
    ...impls.map((i) => {
      const e = entry(r, c.id, i);
      return e?.status === 'ok' ? `${fmtMs(e.ms!.min)}-${fmtMs(e.ms!.max)} (n=${e.ms!.samples})` : cell(e);
    }),
  ]);
  return table(['case: min-max ms (samples)', ...impls.map((i) => implLabel(i, r))], rows);
}

/**
 * Ratios peer median / Tessera median for Tessera's CPU implementations and every peer (above 1: Tessera
 * faster). The GPU is compared with the CPU in the crossover chart instead.
 */
export function ratioTable(r: BenchResults, cases: readonly BenchCase[]): string[] {
  const impls = implsOf(r, cases);
  const ours = impls.filter((i) => !isPeer(i) && i.startsWith('tessera-cpu'));
  const peers = impls.filter(isPeer);
  if (ours.length === 0 || peers.length === 0) return [];
  const header = ['case', ...ours.flatMap((o) => peers.map((p) => `${p} / ${implLabel(o, r)}`))];
  const rows = cases.map((c) => [c.name, ...ours.flatMap((o) => peers.map((p) => fmtRatio(speedRatio(r.entries, c.id, o, p))))]).filter((row) => row.slice(1).some((v) => v !== '-'));
  return rows.length ? table(header, rows) : [];
}

function gpuFirstRunTable(r: BenchResults): string[] {
  const gpuImpls = ['tessera-gpu', 'gpujs-webgl2-naive', 'gpujs-webgpu-naive'];
  const rows = r.cases.flatMap((c) =>
    gpuImpls
      .map((g) => entry(r, c.id, g))
      .filter((e): e is BenchEntry => !!e && e.status === 'ok')
      .map((e) => [c.name, implLabel(e.impl, r), fmtMs(e.setupMs), fmtMs(e.firstRunMs), fmtMs(e.ms!.median), e.firstRunMs !== undefined ? fmtRatio(e.firstRunMs / e.ms!.median) : '-']),
  );
  if (rows.length === 0) return [];
  return table(['case', 'implementation', 'setup ms (session / upload)', 'first run ms (compile + upload)', 'steady median ms', 'first / steady'], rows);
}

function accuracyNotes(r: BenchResults): string[] {
  const out: string[] = [];
  for (const e of r.entries) {
    if (e.status !== 'ok' || e.maxAbsDiff === undefined) continue;
    const c = r.cases.find((x) => x.id === e.caseId);
    // integer outputs must match exactly; float outputs within a loose bound (different summation orders)
    const bound = c?.dtype === 'int8' && c.group === 'kernel' ? 0 : 1e-2 * (c?.family === 'matmul' ? 10 : 1);
    if (e.maxAbsDiff > bound) out.push(`- ${c?.name ?? e.caseId} / ${e.impl}: output differs from ${c?.reference ?? 'the reference'} by up to ${e.maxAbsDiff.toExponential(2)}`);
  }
  return out;
}

/** The whole Markdown report. `chartsDir` is the charts folder relative to the report, `charts` the file names written. */
export function markdownReport(r: BenchResults, chartsDir: string, charts: readonly { file: string; title: string }[]): string {
  const m = r.machine;
  const kernels = r.cases.filter((c) => c.group === 'kernel');
  const models = r.cases.filter((c) => c.group === 'model');
  const lines: string[] = [
    `# Tessera benchmark (${r.suite}${r.quick ? ', --quick' : ''}), ${r.date.slice(0, 10)}`,
    '',
    `Command: \`${r.command}\`; wall time ${r.wallSeconds.toFixed(0)} s.`,
    '',
    `Machine: ${m.cpu}, ${m.cores} logical cores${m.memoryGiB ? `, ${m.memoryGiB} GiB` : ''}, ${m.platform}${m.node ? `, Node ${m.node}` : ''}${m.userAgent ? `, ${m.userAgent}` : ''}.`,
    '',
    `**${gpuSentence(r)}**`,
    '',
    `Method: ${r.rounds} interleaved rounds per case (tinybench, ${r.timePerRoundMs} ms per implementation per round, warm-up first); ` +
      `median, min and max over all timed samples. ` +
      (r.suite === 'node' ? `Tessera cpu-all uses ${r.threads} threads; onnxruntime-node and onnxruntime-web (wasm) run on 1 thread. ` : 'Tessera runs on one thread in the page. ') +
      'Ratios are other median / Tessera median: above 1 means Tessera is faster.',
    '',
    `Versions: ${Object.entries(r.versions)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}.`,
    '',
  ];
  if (models.length) lines.push('## Models', '', ...headlineTable(r), '');
  if (kernels.length) lines.push('## Kernels', '', 'Median ms, and in parentheses GFLOP/s (matmul, conv) or GB/s (memory-bound ops) at the median.', '', ...kernelTable(r, kernels), '');
  const gpu = gpuFirstRunTable(r);
  if (gpu.length) lines.push('## GPU: first run apart from steady state', '', `${gpuSentence(r)}`, '', ...gpu, '');
  if (charts.length) {
    lines.push('## Charts', '');
    for (const c of charts) lines.push(`![${c.title}](${chartsDir}/${c.file})`, '');
  }
  const kernelRatios = ratioTable(r, kernels);
  if (kernelRatios.length) lines.push('## Ratios to peers: kernels', '', ...kernelRatios, '');
  const modelRatios = ratioTable(r, models);
  if (modelRatios.length) lines.push('## Ratios to peers: models', '', ...modelRatios, '');
  lines.push('## Spread', '', ...spreadTable(r, r.cases), '');
  const skipped = r.entries.filter((e) => e.status !== 'ok');
  const diffs = accuracyNotes(r);
  const notes = [...r.notes.map((n) => `- ${n}`), ...diffs, ...skipped.map((e) => `- ${r.cases.find((c) => c.id === e.caseId)?.name ?? e.caseId} / ${e.impl}: ${e.note ?? e.status}`)];
  if (notes.length) lines.push('## Notes, skipped and failed entries', '', ...notes, '');
  return lines.join('\n');
}
