/**
 * The committed evaluation set (assets/eval/, rendered by scripts/make-eval-set.ts) as model inputs, and the
 * PP-OCR accuracy measures on it:
 * - cls accuracy: the direction classifier must say '0' for upright lines and '180' for the rotated copies;
 * - rec character accuracy: CTC greedy decode with ppocr_keys_v1.txt against the rendered string, 1 - edit
 *   distance / length summed over lines (src/quant/accuracy.ts).
 * Calibration inputs come from the 'calibration' split only; accuracy is measured on the 'eval' split.
 * A runner is any function from feeds to the output tensor, so Tessera and onnxruntime measure the same way.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';
import { CLS_LABELS, clsInput, ctcCharset, ctcGreedyDecode, recInput, type Image8 } from '../demo/ocr.js';
import { characterAccuracy, classificationAccuracy } from '../src/quant/accuracy.js';
import type { Tensor } from '../src/tensor/tensor.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const EVAL_DIR = join(ROOT, 'assets', 'eval');
export const OCR_MODELS = join(ROOT, 'node_modules', '@gutenye', 'ocr-models', 'assets');
export const CLS_MODEL = join(OCR_MODELS, 'ch_ppocr_mobile_v2.0_cls_infer.onnx');
export const REC_MODEL = join(OCR_MODELS, 'ch_PP-OCRv4_rec_infer.onnx');

/** One rendered line of the manifest. */
export interface EvalLine {
  readonly file: string;
  readonly text: string;
  readonly rotation: 0 | 180;
  readonly split: 'calibration' | 'eval';
}

/** A line with its decoded image. */
export interface EvalImage extends EvalLine {
  readonly image: Image8;
}

function loadPng(path: string): Image8 {
  const png = PNG.sync.read(readFileSync(path));
  return { width: png.width, height: png.height, channels: 4, data: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.length) };
}

/** Lines of one split (optionally only the first `limit` of each rotation), images decoded. */
export function loadEvalSet(split: 'calibration' | 'eval', limit = Infinity): EvalImage[] {
  const manifest = JSON.parse(readFileSync(join(EVAL_DIR, 'lines.json'), 'utf8')) as { lines: EvalLine[] };
  const counts = { 0: 0, 180: 0 };
  const out: EvalImage[] = [];
  for (const l of manifest.lines) {
    if (l.split !== split || counts[l.rotation] >= limit) continue;
    counts[l.rotation]++;
    out.push({ ...l, image: loadPng(join(EVAL_DIR, l.file)) });
  }
  return out;
}

/** Runs a model on feeds and returns its (single) output. */
export type Runner = (feeds: Record<string, Tensor>) => Promise<Tensor>;

/** The recogniser's alphabet in CTC class order. */
export function recCharset(): string[] {
  return ctcCharset(readFileSync(join(OCR_MODELS, 'ppocr_keys_v1.txt'), 'utf8'));
}

/** cls accuracy over upright and rotated lines. */
export async function clsAccuracy(run: Runner, lines: readonly EvalImage[]): Promise<number> {
  const predicted: string[] = [];
  const labels: string[] = [];
  for (const l of lines) {
    const probs = (await run({ x: clsInput(l.image) })).numbers();
    predicted.push(CLS_LABELS[probs[0]! >= probs[1]! ? 0 : 1]);
    labels.push(String(l.rotation));
  }
  return classificationAccuracy(predicted, labels);
}

/** rec character accuracy over upright lines (rotated ones are the classifier's job). */
export async function recAccuracy(run: Runner, lines: readonly EvalImage[], charset: readonly string[]): Promise<{ accuracy: number; exact: number }> {
  const pairs: { predicted: string; reference: string }[] = [];
  for (const l of lines) {
    if (l.rotation !== 0) continue;
    const [decoded] = ctcGreedyDecode(await run({ x: recInput(l.image) }), charset);
    pairs.push({ predicted: decoded!.text.trim(), reference: l.text });
  }
  return { accuracy: characterAccuracy(pairs), exact: pairs.filter((p) => p.predicted === p.reference).length / pairs.length };
}

/** Calibration feeds for a model: cls gets upright and rotated lines, rec upright ones. */
export function calibrationFeeds(model: 'cls' | 'rec', lines: readonly EvalImage[]): Map<string, Tensor>[] {
  return lines.filter((l) => model === 'cls' || l.rotation === 0).map((l) => new Map([['x', model === 'cls' ? clsInput(l.image) : recInput(l.image)]]));
}
