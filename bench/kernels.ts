/**
 * Kernel benchmark: Tessera's CPU kernels beside @tensorflow/tfjs-backend-cpu 4.22 in the same process.
 *
 *   npx tsx bench/kernels.ts            (npm run bench:kernels)
 *   npx tsx bench/kernels.ts --quick    (fewer, shorter rounds)
 *
 * Cases: float32 matmul 128/256/512/1024 and 1x4096x4096; Conv 3x3 64->64 on 56x56 (batch 1); depthwise
 * Conv 3x3 on 128 channels of 56x56; Relu, Add and Softmax on 1M elements. Each case runs Tessera on one
 * thread, Tessera on all threads (node:os availableParallelism) and tfjs-cpu, interleaved: every round runs
 * the three variants one after the other (tinybench, after a warm-up), and the reported time is the median
 * of all samples over the rounds. Prints a Markdown table (median ms, GFLOP/s or GB/s, speed-up over
 * tfjs-cpu, all-threads/1-thread speed-up) and writes bench/results/kernels-<date>.json.
 *
 * Rows whose operator has no kernel yet (Conv, Softmax are written by other modules) are skipped with a note.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { Bench } from 'tinybench';
import { hasKernel, runOp, Tensor } from '../src/index.js';
import { shutdownPool, startPool } from '../src/kernels/cpu/pool.js';

const quick = process.argv.includes('--quick');
const allThreads = availableParallelism();
const rounds = quick ? 2 : 3;
const timePerRound = quick ? 150 : 400;
const minIterations = quick ? 2 : 3;

/** Deterministic values in [-1, 1). */
function randomFloats(n: number, seed: number): Float32Array {
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

interface Case {
  name: string;
  /** Work per call: FLOPs (GFLOP/s column) or bytes moved (GB/s column). */
  work: number;
  unit: 'GFLOP/s' | 'GB/s';
  /** Tessera op and inputs; undefined when the op is not available yet. */
  tessera?: (threads: number) => void;
  tfjs: () => void;
  /** Why the Tessera side is skipped. */
  skipped?: string;
  /** Frees inputs at the end. */
  dispose: () => void;
}

interface Row {
  name: string;
  unit: string;
  work: number;
  tessera1Ms?: number;
  tesseraAllMs?: number;
  tfjsMs: number;
  skipped?: string;
}

function tessOp(op: string, inputs: (Tensor | undefined)[], attrs: Record<string, number | readonly number[]>) {
  return (threads: number) => {
    for (const t of runOp(op, inputs, attrs, { threads })) t.dispose();
  };
}

function matmulCase(m: number, k: number, n: number): Case {
  const a = randomFloats(m * k, 1);
  const b = randomFloats(k * n, 2);
  const ta = new Tensor('float32', a, [m, k]);
  const tb = new Tensor('float32', b, [k, n]);
  const fa = tf.tensor2d(a, [m, k]);
  const fb = tf.tensor2d(b, [k, n]);
  return {
    name: `matmul ${m}x${k}x${n}`,
    work: 2 * m * n * k,
    unit: 'GFLOP/s',
    tessera: tessOp('MatMul', [ta, tb], {}),
    tfjs: () => {
      const y = tf.matMul(fa, fb);
      y.dataSync();
      y.dispose();
    },
    dispose: () => {
      ta.dispose();
      tb.dispose();
      fa.dispose();
      fb.dispose();
    },
  };
}

function convCase(name: string, channels: number, outChannels: number, size: number, depthwise: boolean): Case {
  const x = randomFloats(channels * size * size, 3);
  const wCount = depthwise ? channels * 9 : outChannels * channels * 9;
  const w = randomFloats(wCount, 4);
  const bias = randomFloats(outChannels, 5);
  const tx = new Tensor('float32', x, [1, channels, size, size]);
  const tw = new Tensor('float32', w, depthwise ? [channels, 1, 3, 3] : [outChannels, channels, 3, 3]);
  const tbias = new Tensor('float32', bias, [outChannels]);
  // tfjs wants NHWC input and HWIO (or HW,C,multiplier) filters: same values, transposed once here
  const fx = tf.tidy(() => tf.transpose(tf.tensor4d(x, [1, channels, size, size]), [0, 2, 3, 1]));
  const fw = tf.tidy(() =>
    depthwise ? tf.transpose(tf.tensor4d(w, [channels, 1, 3, 3]), [2, 3, 0, 1]) : tf.transpose(tf.tensor4d(w, [outChannels, channels, 3, 3]), [2, 3, 1, 0]),
  );
  const fbias = tf.tensor1d(bias);
  const flops = 2 * outChannels * (depthwise ? 1 : channels) * 9 * size * size;
  const available = hasKernel('Conv', 'cpu');
  return {
    name,
    work: flops,
    unit: 'GFLOP/s',
    tessera: available ? tessOp('Conv', [tx, tw, tbias], { pads: [1, 1, 1, 1], group: depthwise ? channels : 1, kernel_shape: [3, 3] }) : undefined,
    skipped: available ? undefined : 'no Conv kernel registered yet',
    tfjs: () => {
      const y = depthwise
        ? tf.tidy(() => tf.add(tf.depthwiseConv2d(fx as tf.Tensor4D, fw as tf.Tensor4D, 1, 'same'), fbias))
        : tf.tidy(() => tf.add(tf.conv2d(fx as tf.Tensor4D, fw as tf.Tensor4D, 1, 'same'), fbias));
      y.dataSync();
      y.dispose();
    },
    dispose: () => {
      for (const t of [tx, tw, tbias]) t.dispose();
      for (const t of [fx, fw, fbias]) t.dispose();
    },
  };
}

function elementwiseCase(op: 'Relu' | 'Add' | 'Softmax'): Case {
  const n = 1 << 20;
  const x = randomFloats(n, 6);
  const y = randomFloats(n, 7);
  const dims = op === 'Softmax' ? [1024, 1024] : [n];
  const tx = new Tensor('float32', x, dims);
  const ty = new Tensor('float32', y, dims);
  const fx = tf.tensor(x, dims);
  const fy = tf.tensor(y, dims);
  const bytes = (op === 'Add' ? 3 : 2) * 4 * n;
  const available = hasKernel(op, 'cpu');
  const inputs = op === 'Add' ? [tx, ty] : [tx];
  return {
    name: op === 'Softmax' ? 'softmax 1024x1024 (axis -1)' : `${op.toLowerCase()} 1M`,
    work: bytes,
    unit: 'GB/s',
    tessera: available ? tessOp(op, inputs, op === 'Softmax' ? { axis: -1 } : {}) : undefined,
    skipped: available ? undefined : `no ${op} kernel registered yet`,
    tfjs: () => {
      const r = op === 'Relu' ? tf.relu(fx) : op === 'Add' ? tf.add(fx, fy) : tf.softmax(fx as tf.Tensor2D);
      r.dataSync();
      r.dispose();
    },
    dispose: () => {
      for (const t of [tx, ty]) t.dispose();
      for (const t of [fx, fy]) t.dispose();
    },
  };
}

/** Median of all latency samples (ms) of a task over the rounds. */
function median(samples: number[]): number {
  const s = [...samples].sort((p, q) => p - q);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

async function measure(c: Case): Promise<Row> {
  const samples: Record<string, number[]> = { t1: [], tAll: [], tfjs: [] };
  for (let r = 0; r < rounds; r++) {
    const bench = new Bench({ time: timePerRound, iterations: minIterations, warmupIterations: r === 0 ? 2 : 1, warmupTime: 0, retainSamples: true });
    if (c.tessera) {
      const run = c.tessera;
      bench.add('t1', () => run(1));
      if (allThreads > 1) bench.add('tAll', () => run(allThreads));
    }
    bench.add('tfjs', c.tfjs);
    await bench.run();
    for (const task of bench.tasks) {
      const res = task.result as { state: string; latency?: { samples?: number[] }; error?: unknown };
      if (res.state !== 'completed' || !res.latency?.samples) throw new Error(`${c.name} / ${task.name}: ${String(res.error ?? res.state)}`);
      samples[task.name]!.push(...res.latency.samples);
    }
  }
  return {
    name: c.name,
    unit: c.unit,
    work: c.work,
    tessera1Ms: samples.t1!.length ? median(samples.t1!) : undefined,
    tesseraAllMs: samples.tAll!.length ? median(samples.tAll!) : samples.t1!.length ? median(samples.t1!) : undefined,
    tfjsMs: median(samples.tfjs!),
    skipped: c.skipped,
  };
}

function rate(work: number, ms: number | undefined, unit: string): string {
  if (ms === undefined) return '-';
  const perSecond = work / (ms / 1000) / 1e9;
  return perSecond.toFixed(2);
}

function fmtMs(ms: number | undefined): string {
  return ms === undefined ? '-' : ms < 10 ? ms.toFixed(3) : ms.toFixed(1);
}

async function main(): Promise<void> {
  await tf.setBackend('cpu');
  await tf.ready();
  await startPool(allThreads);
  const factories: (() => Case)[] = [
    () => matmulCase(128, 128, 128),
    () => matmulCase(256, 256, 256),
    () => matmulCase(512, 512, 512),
    () => matmulCase(1024, 1024, 1024),
    () => matmulCase(1, 4096, 4096),
    () => convCase('conv 3x3 64->64 56x56', 64, 64, 56, false),
    () => convCase('depthwise conv 3x3 128ch 56x56', 128, 128, 56, true),
    () => elementwiseCase('Relu'),
    () => elementwiseCase('Add'),
    () => elementwiseCase('Softmax'),
  ];
  const rows: Row[] = [];
  for (const make of factories) {
    let c: Case;
    try {
      c = make();
    } catch (e) {
      console.error(`a case could not be set up: ${(e as Error).message}`);
      continue;
    }
    try {
      const row = await measure(c);
      rows.push(row);
      const note = row.skipped ? ` (Tessera skipped: ${row.skipped})` : '';
      console.error(`measured ${row.name}: tessera ${fmtMs(row.tessera1Ms)} ms / ${fmtMs(row.tesseraAllMs)} ms, tfjs ${fmtMs(row.tfjsMs)} ms${note}`);
    } catch (e) {
      console.error(`case ${c.name} failed: ${(e as Error).message}`);
      rows.push({ name: c.name, unit: c.unit, work: c.work, tfjsMs: NaN, skipped: `failed: ${(e as Error).message}` });
    } finally {
      c.dispose();
    }
  }
  await shutdownPool();

  const lines = [
    `| case | Tessera 1 thread ms | ${'rate'} | Tessera ${allThreads} threads ms | rate | tfjs-cpu ms | rate | 1 thread vs tfjs-cpu | ${allThreads}t / 1t |`,
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const vsTfjs = r.tessera1Ms ? `${(r.tfjsMs / r.tessera1Ms).toFixed(2)}x` : '-';
    const scale = r.tessera1Ms && r.tesseraAllMs ? `${(r.tessera1Ms / r.tesseraAllMs).toFixed(2)}x` : '-';
    lines.push(
      `| ${r.name} | ${fmtMs(r.tessera1Ms)} | ${rate(r.work, r.tessera1Ms, r.unit)} ${r.unit} | ${fmtMs(r.tesseraAllMs)} | ${rate(r.work, r.tesseraAllMs, r.unit)} ${r.unit} | ${fmtMs(r.tfjsMs)} | ${rate(r.work, r.tfjsMs, r.unit)} ${r.unit} | ${vsTfjs} | ${scale} |`,
    );
  }
  const notes = rows.filter((r) => r.skipped).map((r) => `- ${r.name}: Tessera skipped (${r.skipped})`);
  const command = `npx tsx bench/kernels.ts${quick ? ' --quick' : ''}`;
  const header = `Kernel benchmark (${command}); ${cpus()[0]?.model ?? 'unknown CPU'}, ${allThreads} threads available, Node ${process.version}; median of ${rounds} interleaved rounds`;
  console.log([header, '', ...lines, ...(notes.length ? ['', ...notes] : [])].join('\n'));

  const date = new Date().toISOString().slice(0, 10);
  const dir = join(dirname(fileURLToPath(import.meta.url)), 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `kernels-${date}.json`);
  const results = {
    command,
    date: new Date().toISOString(),
    node: process.version,
    cpu: cpus()[0]?.model,
    threads: allThreads,
    rounds,
    timePerRoundMs: timePerRound,
    rows: rows.map((r) => ({
      ...r,
      tessera1Rate: r.tessera1Ms ? r.work / (r.tessera1Ms / 1000) / 1e9 : undefined,
      tesseraAllRate: r.tesseraAllMs ? r.work / (r.tesseraAllMs / 1000) / 1e9 : undefined,
      tfjsRate: r.work / (r.tfjsMs / 1000) / 1e9,
      speedupVsTfjs: r.tessera1Ms ? r.tfjsMs / r.tessera1Ms : undefined,
      threadScaling: r.tessera1Ms && r.tesseraAllMs ? r.tessera1Ms / r.tesseraAllMs : undefined,
    })),
  };
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  console.error(`wrote ${file}`);
}

await main();
