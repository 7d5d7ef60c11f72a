/**
 * Inputs and outputs of CLI runs: read feeds from .npy, .json or .png files, make synthetic feeds from the
 * model's declared inputs (for bench), and write outputs as .npy or JSON.
 *
 * JSON: either `{"dims": [2, 3], "data": [...], "type": "float32"}` (type optional: the model's declared type)
 * or a nested array whose nesting gives the dims. A JSON object whose keys are the model's input names holds
 * several inputs at once (`--input feeds.json`). Values of an int64 input may be numbers or decimal strings.
 * PNG (pngjs, loaded only when an image is given): RGB (alpha dropped; grey when the model wants 1 channel),
 * float32 scaled by 1/255 (or --scale), optionally normalized per channel with --mean/--std, laid out NCHW
 * unless the model's input is [N, H, W, C].
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import type { ValueMetadata } from '../graph/session.js';
import { isDataType, type DataType } from '../tensor/dtype.js';
import { fromNumbers, Tensor } from '../tensor/tensor.js';
import { UsageError } from './common.js';
import { readNpy, writeNpy } from './npy.js';

/** Image preprocessing options. */
export interface ImageOptions {
  scale?: number;
  mean?: readonly number[];
  std?: readonly number[];
}

/**
 * Feeds from `--input name=path` specs and bare paths (assigned to the inputs without a named file, in order).
 */
export async function loadFeeds(specs: readonly string[], inputs: readonly ValueMetadata[], image: ImageOptions = {}): Promise<Record<string, Tensor>> {
  const feeds: Record<string, Tensor> = {};
  const unnamed: string[] = [];
  const byName = new Map(inputs.map((m) => [m.name, m]));
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    if (eq > 0 && byName.has(spec.slice(0, eq))) {
      const name = spec.slice(0, eq);
      feeds[name] = await loadInput(spec.slice(eq + 1), byName.get(name)!, image);
    } else if (eq > 0 && !/[/\\.]/.test(spec.slice(0, eq))) {
      throw new UsageError(`--input ${spec}: the model has no input '${spec.slice(0, eq)}'; its inputs are: ${inputs.map((m) => m.name).join(', ')}`);
    } else unnamed.push(spec);
  }
  for (const path of unnamed) {
    if (extname(path).toLowerCase() === '.json') {
      const parsed = readJson(path);
      if (isFeedMap(parsed, byName)) {
        for (const [name, value] of Object.entries(parsed as Record<string, unknown>)) feeds[name] = jsonTensor(value, byName.get(name)!, `${path}#${name}`);
        continue;
      }
    }
    const next = inputs.find((m) => !(m.name in feeds));
    if (!next) throw new UsageError(`input file '${path}' has no model input left to feed; the model's inputs are: ${inputs.map((m) => m.name).join(', ')}`);
    feeds[next.name] = await loadInput(path, next, image);
  }
  return feeds;
}

function isFeedMap(value: unknown, inputs: ReadonlyMap<string, ValueMetadata>): boolean {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return keys.length > 0 && !('data' in value) && keys.every((k) => inputs.has(k));
}

/** One input from a file, by extension. */
export async function loadInput(path: string, meta: ValueMetadata, image: ImageOptions = {}): Promise<Tensor> {
  const ext = extname(path).toLowerCase();
  if (ext === '.npy') return readNpy(readBytes(path), path);
  if (ext === '.json') return jsonTensor(readJson(path), meta, path);
  if (ext === '.png') return loadPng(path, meta, image);
  throw new UsageError(`input file '${path}': unknown format '${ext || '(none)'}'; use .npy, .json or .png`);
}

function readBytes(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new UsageError(`cannot read input file '${path}': ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
}

function readJson(path: string): unknown {
  const text = new TextDecoder().decode(readBytes(path));
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new UsageError(`input file '${path}' is not valid JSON: ${(e as Error).message}`);
  }
}

/** A tensor from parsed JSON ({dims, data, type?} or a nested array). */
export function jsonTensor(value: unknown, meta: ValueMetadata, where: string): Tensor {
  let dims: number[];
  let flat: unknown[];
  let type: DataType | undefined = meta.type && isDataType(meta.type) ? meta.type : undefined;
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && 'data' in value) {
    const v = value as { dims?: unknown; data: unknown; type?: unknown };
    if (!Array.isArray(v.data)) throw new UsageError(`${where}: "data" must be an array`);
    flat = (v.data as unknown[]).flat(Infinity);
    dims = Array.isArray(v.dims) ? (v.dims as number[]) : [flat.length];
    if (v.type !== undefined) {
      if (!isDataType(v.type)) throw new UsageError(`${where}: unknown "type" ${JSON.stringify(v.type)}`);
      type = v.type;
    }
  } else if (Array.isArray(value) || typeof value === 'number' || typeof value === 'boolean') {
    dims = [];
    for (let level: unknown = value; Array.isArray(level); level = level[0]) dims.push(level.length);
    flat = Array.isArray(value) ? (value as unknown[]).flat(Infinity) : [value];
  } else throw new UsageError(`${where}: expected a nested array or {"dims": [...], "data": [...]}`);
  const size = dims.reduce((a, b) => a * b, 1);
  if (flat.length !== size) throw new UsageError(`${where}: dims [${dims.join(', ')}] need ${size} values; got ${flat.length} (ragged nested arrays?)`);
  const dtype = type ?? 'float32';
  if (dtype === 'int64') {
    const values = flat.map((x, i) => {
      if (typeof x === 'number' && Number.isInteger(x)) return BigInt(x);
      if (typeof x === 'string' && /^-?\d+$/.test(x)) return BigInt(x);
      throw new UsageError(`${where}: element ${i} (${JSON.stringify(x)}) is not an integer`);
    });
    return new Tensor('int64', BigInt64Array.from(values), dims);
  }
  const numbers = flat.map((x, i) => {
    if (typeof x === 'boolean') return x ? 1 : 0;
    if (typeof x === 'number') return x;
    if (x === 'NaN') return NaN;
    if (x === 'Infinity' || x === '-Infinity') return Number(x);
    throw new UsageError(`${where}: element ${i} (${JSON.stringify(x)}) is not a number`);
  });
  return fromNumbers(dtype, numbers, dims);
}

/** Decode a PNG into the layout the input declares. */
async function loadPng(path: string, meta: ValueMetadata, options: ImageOptions): Promise<Tensor> {
  let PNG: typeof import('pngjs').PNG;
  try {
    ({ PNG } = await import('pngjs'));
  } catch {
    throw new UsageError(`reading '${path}' needs the 'pngjs' package: npm install pngjs`);
  }
  let png: { width: number; height: number; data: Uint8Array };
  try {
    png = PNG.sync.read(Buffer.from(readBytes(path)));
  } catch (e) {
    throw new UsageError(`'${path}' is not a PNG image pngjs can read: ${(e as Error).message}`);
  }
  const shape = meta.shape ?? [];
  if (shape.length !== 4) throw new UsageError(`input '${meta.name}' is declared with rank ${shape.length}; an image needs a rank-4 input ([N, C, H, W] or [N, H, W, C])`);
  const nhwc = (shape[3] === 1 || shape[3] === 3) && shape[1] !== 1 && shape[1] !== 3;
  const channelDim = nhwc ? shape[3] : shape[1];
  const channels = channelDim === 1 ? 1 : 3;
  const [hDim, wDim] = nhwc ? [shape[1], shape[2]] : [shape[2], shape[3]];
  if ((typeof hDim === 'number' && hDim !== png.height) || (typeof wDim === 'number' && wDim !== png.width)) {
    throw new UsageError(`'${path}' is ${png.width}x${png.height}; input '${meta.name}' needs ${String(wDim)}x${String(hDim)} (width x height): resize the image first`);
  }
  const scale = options.scale ?? 1 / 255;
  const mean = options.mean ?? [];
  const std = options.std ?? [];
  for (const [name, list] of [['mean', mean], ['std', std]] as const) {
    if (list.length !== 0 && list.length !== channels) throw new UsageError(`--${name} needs ${channels} value(s) for this input, got ${list.length}`);
  }
  const { width, height, data } = png;
  const plane = width * height;
  const out = new Float32Array(plane * channels);
  for (let p = 0; p < plane; p++) {
    const r = data[4 * p]!;
    const g = data[4 * p + 1]!;
    const b = data[4 * p + 2]!;
    const px = channels === 1 ? [0.299 * r + 0.587 * g + 0.114 * b] : [r, g, b];
    for (let c = 0; c < channels; c++) {
      const v = (px[c]! * scale - (mean[c] ?? 0)) / (std[c] ?? 1);
      out[nhwc ? p * channels + c : c * plane + p] = v;
    }
  }
  return new Tensor('float32', out, nhwc ? [1, height, width, channels] : [1, channels, height, width]);
}

/**
 * Synthetic feeds for `inputs`: deterministic pseudo-random values in [-1, 1) (integers 0..9, bools
 * alternating), dims from the declaration, `shapes` overrides, and 1 for a symbolic first dim. Any other
 * symbolic dim without an override is a usage error naming the input.
 */
export function syntheticFeeds(inputs: readonly ValueMetadata[], shapes: ReadonlyMap<string, readonly number[]>, given: Readonly<Record<string, Tensor>> = {}): Record<string, Tensor> {
  for (const name of shapes.keys()) {
    if (!inputs.some((m) => m.name === name)) throw new UsageError(`--shape ${name}=...: the model has no input '${name}'; its inputs are: ${inputs.map((m) => m.name).join(', ')}`);
  }
  const feeds: Record<string, Tensor> = { ...given };
  let seed = 12345;
  for (const meta of inputs) {
    if (meta.name in feeds) continue;
    const type = meta.type && isDataType(meta.type) ? meta.type : undefined;
    if (!type) throw new UsageError(`input '${meta.name}' has no declared tensor type; give it with --input ${meta.name}=file.npy`);
    let dims = shapes.get(meta.name)?.slice();
    if (!dims) {
      if (!meta.shape) throw new UsageError(`input '${meta.name}' has no declared shape; pass --shape ${meta.name}=d0,d1,...`);
      dims = meta.shape.map((d, i) => {
        if (typeof d === 'number' && d >= 0) return d;
        if (i === 0) return 1;
        throw new UsageError(`input '${meta.name}' has symbolic dims [${meta.shape!.map((x) => x ?? '?').join(', ')}]; pass --shape ${meta.name}=${meta.shape!.map((x) => (typeof x === 'number' ? x : 'N')).join(',')} with numbers for the symbolic ones`);
      });
    } else if (meta.shape && dims.length !== meta.shape.length) {
      throw new UsageError(`--shape ${meta.name}: rank ${dims.length}, but the input is declared with rank ${meta.shape.length}`);
    }
    const n = dims.reduce((a, b) => a * b, 1);
    const values = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      const u = seed / 2 ** 32;
      values[i] = type === 'bool' ? i % 2 : type.startsWith('float') ? u * 2 - 1 : Math.floor(u * 10);
    }
    feeds[meta.name] = fromNumbers(type, values, dims);
  }
  return feeds;
}

/** A tensor as JSON: {type, dims, data} (int64 as numbers when safe, else strings). */
export function tensorJson(t: Tensor): { type: string; dims: number[]; data: (number | string | null)[] } {
  let data: (number | string | null)[];
  if (t.type === 'int64') data = Array.from(t.data as BigInt64Array, (v) => (v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString()));
  else data = Array.from(t.numbers(), (v) => (Number.isFinite(v) ? v : Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity'));
  return { type: t.type, dims: [...t.dims], data };
}

/** A file name for an output name (path separators and odd characters replaced). */
export function outputFileName(name: string, ext: string): string {
  return `${name.replace(/[^A-Za-z0-9._-]/g, '_') || 'output'}.${ext}`;
}

/** Write outputs to `dir` as .npy or .json files; returns the paths. */
export function writeOutputs(outputs: Readonly<Record<string, Tensor>>, dir: string, format: 'npy' | 'json'): string[] {
  return Object.entries(outputs).map(([name, t]) => {
    const path = join(dir, outputFileName(name, format));
    writeFileSync(path, format === 'npy' ? writeNpy(t) : JSON.stringify(tensorJson(t)));
    return path;
  });
}

/** Min, max and mean of a tensor's values (NaN-aware), for summaries. */
export function stats(t: Tensor): { min: number; max: number; mean: number } {
  const v = t.type === 'int64' ? Array.from(t.data as BigInt64Array, Number) : t.numbers();
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  for (let i = 0; i < v.length; i++) {
    const x = v[i]!;
    if (x < min) min = x;
    if (x > max) max = x;
    sum += x;
  }
  return { min, max, mean: v.length ? sum / v.length : NaN };
}
