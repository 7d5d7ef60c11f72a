/**
 * Known-answer tests of the pure pre/postprocessing helpers in demo/ocr.ts and demo/audio.ts that the
 * real-model tests rely on (so a mismatch there is not hidden by both runtimes getting the same wrong input),
 * and of the oracle comparison itself (it must reject what is outside the tolerance).
 */
import { describe, expect, it } from 'vitest';
import {
  appendScaledMel,
  embeddingWindows,
  melChunkInputs,
  OWW_CHUNK,
  OWW_MEL_CONTEXT,
  parseWav,
  sileroInputs,
  wakeWordInputs,
} from '../../demo/audio.js';
import { clsInput, ctcCharset, ctcGreedyDecode, detBoxes, detGeometry, detInput, recInput, resizeBgrPlanes, type Image8 } from '../../demo/ocr.js';
import { Tensor } from '../../src/tensor/tensor.js';
import * as ort from 'onnxruntime-node';
import { compareOutput } from './oracle.js';

/** A RIFF/WAVE file of 16-bit samples (interleaved), with an extra LIST chunk before 'data'. */
function wavBytes(channels: number, rate: number, samples: number[], bits = 16): Uint8Array {
  const data = samples.length * 2;
  const list = 'LIST\u0003\u0000\u0000\u0000abc\u0000'; // odd-sized chunk + pad byte
  const bytes = new Uint8Array(12 + 24 + list.length + 8 + data);
  const view = new DataView(bytes.buffer);
  const put = (at: number, s: string): void => [...s].forEach((ch, i) => (bytes[at + i] = ch.charCodeAt(0)));
  put(0, 'RIFF');
  view.setUint32(4, bytes.length - 8, true);
  put(8, 'WAVE');
  put(12, 'fmt ');
  view.setUint32(16, 16, true);
  view.setUint16(20, 1, true);
  view.setUint16(22, channels, true);
  view.setUint32(24, rate, true);
  view.setUint32(28, rate * channels * 2, true);
  view.setUint16(32, channels * 2, true);
  view.setUint16(34, bits, true);
  put(36, list);
  const dataAt = 36 + list.length;
  put(dataAt, 'data');
  view.setUint32(dataAt + 4, data, true);
  samples.forEach((s, i) => view.setInt16(dataAt + 8 + 2 * i, s, true));
  return bytes;
}

describe('parseWav', () => {
  it('splits interleaved stereo PCM16 and skips unknown chunks', () => {
    const audio = parseWav(wavBytes(2, 16000, [1, -1, 2, -2, 32767, -32768]));
    expect(audio.sampleRate).toBe(16000);
    expect(audio.channels.map((c) => Array.from(c))).toEqual([
      [1, 2, 32767],
      [-1, -2, -32768],
    ]);
  });

  it('rejects files that are not 16-bit PCM WAVE', () => {
    expect(() => parseWav(new Uint8Array(20))).toThrow(/not a RIFF\/WAVE/);
    expect(() => parseWav(wavBytes(1, 8000, [0, 0], 8))).toThrow(/only 16-bit PCM/);
  });
});

describe('openWakeWord framing', () => {
  const samples = Float32Array.from({ length: 3 * OWW_CHUNK + 100 }, (_, i) => i);

  it('gives each whole chunk the 480 samples before it, zeros before the start', () => {
    const inputs = melChunkInputs(samples);
    expect(inputs).toHaveLength(3);
    expect(inputs[0]!.dims).toEqual([1, OWW_MEL_CONTEXT + OWW_CHUNK]);
    const first = inputs[0]!.numbers();
    expect(first[OWW_MEL_CONTEXT - 1]).toBe(0);
    expect(first[OWW_MEL_CONTEXT]).toBe(0); // sample 0
    expect(first[OWW_MEL_CONTEXT + 5]).toBe(5);
    const second = inputs[1]!.numbers();
    expect(second[0]).toBe(OWW_CHUNK - OWW_MEL_CONTEXT);
    expect(second[second.length - 1]).toBe(2 * OWW_CHUNK - 1);
  });

  it('rescales mel frames and cuts 76-frame windows every 8 frames', () => {
    const mel: number[] = [];
    appendScaledMel(new Tensor('float32', Float32Array.from({ length: 90 * 32 }, (_, i) => 10 * Math.floor(i / 32)), [1, 1, 90, 32]), mel);
    expect(mel[0]).toBe(2);
    expect(mel[32 * 5]).toBe(7); // frame 5: 50/10 + 2
    const windows = embeddingWindows(mel);
    expect(windows.dims).toEqual([2, 76, 32, 1]); // starts 0 and 8; 16 + 76 > 90
    expect(windows.numbers()[76 * 32]).toBe(8 + 2); // window 1 starts at frame 8
    expect(() => embeddingWindows(mel.slice(0, 75 * 32))).toThrow(/75 mel frames/);
  });

  it('slides a 16-embedding window one embedding at a time', () => {
    const emb = new Tensor('float32', Float32Array.from({ length: 18 * 96 }, (_, i) => Math.floor(i / 96)), [18, 1, 1, 96]);
    const inputs = wakeWordInputs(emb);
    expect(inputs).toHaveLength(3);
    expect(inputs[2]!.dims).toEqual([1, 16, 96]);
    expect(inputs[2]!.numbers()[0]).toBe(2);
    expect(inputs[2]!.numbers()[16 * 96 - 1]).toBe(17);
  });
});

describe('Silero VAD windows', () => {
  it('prefixes each 512-sample window with the previous 64 samples, scaled to [-1, 1]', () => {
    const samples = Int16Array.from({ length: 2000 }, (_, i) => i);
    const [a, b] = sileroInputs(samples, 100, 2);
    expect(a!.dims).toEqual([1, 576]);
    expect(a!.numbers()[63]).toBe(0); // a fresh stream has zero context
    expect(a!.numbers()[64]).toBeCloseTo(100 / 32768, 9);
    expect(b!.numbers()[0]).toBeCloseTo((100 + 512 - 64) / 32768, 9);
    expect(b!.numbers()[64]).toBeCloseTo((100 + 512) / 32768, 9);
    expect(() => sileroInputs(samples, 1000, 2)).toThrow(/need 2024 samples/);
  });
});

/** A w x h RGBA image filled by `fill(x, y)` -> [r, g, b]. */
function rgba(w: number, h: number, fill: (x: number, y: number) => [number, number, number]): Image8 {
  const data = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      data.set([...fill(x, y), 255], (y * w + x) * 4);
    }
  }
  return { width: w, height: h, channels: 4, data };
}

describe('PP-OCR preprocessing', () => {
  it('resizes bilinearly with half-pixel centres into BGR planes', () => {
    const img = rgba(2, 1, (x) => (x === 0 ? [10, 20, 30] : [30, 40, 50]));
    expect(Array.from(resizeBgrPlanes(img, 2, 1))).toEqual([30, 50, 20, 40, 10, 30]); // same size: B, G, R planes
    expect(Array.from(resizeBgrPlanes(img, 1, 1))).toEqual([40, 30, 20]); // halved: the average
    const gray: Image8 = { width: 1, height: 1, channels: 1, data: Uint8Array.of(7) };
    expect(Array.from(resizeBgrPlanes(gray, 1, 1))).toEqual([7, 7, 7]);
  });

  it('builds cls, rec and det tensors with the models\' sizes and normalisation', () => {
    const white = rgba(100, 20, () => [255, 255, 255]);
    const cls = clsInput(white);
    expect(cls.dims).toEqual([1, 3, 48, 192]);
    expect(cls.numbers()[0]).toBe(1); // white -> (1 - 0.5) / 0.5
    expect(cls.numbers()[191]).toBe(1); // width 48 * 100 / 20 = 240, capped at 192: no padding
    const narrow = clsInput(rgba(20, 20, () => [0, 0, 0]));
    expect(narrow.numbers()[47]).toBe(-1); // black, inside the 48-wide resized line
    expect(narrow.numbers()[48]).toBe(0); // zero padding
    expect(recInput(white).dims).toEqual([1, 3, 48, 240]);
    expect(recInput(white, 200).dims).toEqual([1, 3, 48, 200]);
    expect(detGeometry(rgba(1000, 500, () => [0, 0, 0]))).toEqual({ width: 960, height: 480, scaleX: 1000 / 960, scaleY: 500 / 480 });
    const det = detInput(rgba(40, 30, () => [255, 255, 255])).tensor;
    expect(det.dims).toEqual([1, 3, 32, 32]);
    expect(det.numbers()[0]).toBeCloseTo((1 - 0.485) / 0.229, 5);
  });
});

describe('PP-OCR postprocessing', () => {
  it('decodes CTC greedily: collapse repeats, drop blanks', () => {
    const charset = ctcCharset('a\nb\n');
    expect(charset).toEqual(['', 'a', 'b', ' ']);
    const path = [0, 1, 1, 0, 1, 2, 2, 3, 0];
    const probs = new Float32Array(path.length * 4);
    path.forEach((c, t) => {
      probs.fill(0.1 / 3, t * 4, t * 4 + 4);
      probs[t * 4 + c] = 0.9;
    });
    const [result] = ctcGreedyDecode(new Tensor('float32', probs, [1, path.length, 4]), charset);
    expect(result!.text).toBe('aab ');
    expect(result!.confidence).toBeCloseTo(0.9, 6);
    expect(() => ctcGreedyDecode(new Tensor('float32', probs, [1, path.length, 4]), ['', 'a'])).toThrow(/4 classes/);
  });

  it('finds one box per connected text region, grown by the unclip distance and scaled back', () => {
    const w = 40;
    const h = 20;
    const map = new Float32Array(w * h);
    const paint = (x0: number, y0: number, x1: number, y1: number, p: number): void => {
      for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) map[y * w + x] = p;
    };
    paint(5, 3, 15, 7, 0.9); // 10 x 4: grows by 40 * 1.5 / 28 on each side
    paint(20, 10, 36, 16, 0.8);
    paint(30, 2, 32, 4, 0.9); // 2 x 2: below minSide 3
    paint(2, 12, 10, 18, 0.4); // above 0.3 but mean below 0.6
    const boxes = detBoxes(new Tensor('float32', map, [1, 1, h, w]), { width: w, height: h, scaleX: 2, scaleY: 1 });
    expect(boxes).toHaveLength(2);
    const grow = (10 * 4 * 1.5) / 28;
    expect(boxes[0]).toEqual({ x0: Math.round((5 - grow) * 2), y0: Math.round(3 - grow), x1: Math.round((15 + grow) * 2), y1: Math.round(7 + grow), score: expect.closeTo(0.9, 6) });
    expect([boxes[0]!.x0, boxes[0]!.y0, boxes[0]!.x1, boxes[0]!.y1]).toEqual([6, 1, 34, 9]);
    expect(boxes[1]!.y0).toBeGreaterThan(boxes[0]!.y0);
    expect(boxes[1]!.score).toBeCloseTo(0.8, 6);
  });
});

describe('compareOutput (the oracle comparison)', () => {
  const want = new ort.Tensor('float32', Float32Array.of(1, -2, 1000, 0), [2, 2]);
  it('accepts differences within atol + rtol * |expected| and reports the max errors', () => {
    const got = new Tensor('float32', Float32Array.of(1 + 5e-5, -2, 1000.5, 0), [2, 2]);
    const c = compareOutput('ok', got, want);
    expect(c.maxAbs).toBeCloseTo(0.5, 3);
    expect(c.maxRel).toBeCloseTo(5e-4, 6);
  });
  it('rejects a value outside the tolerance, a NaN, and a shape or dtype mismatch', () => {
    expect(() => compareOutput('far', new Tensor('float32', Float32Array.of(1, -2, 1002, 0), [2, 2]), want)).toThrow(/element 2 is 1002/);
    expect(() => compareOutput('nan', new Tensor('float32', Float32Array.of(1, -2, 1000, NaN), [2, 2]), want)).toThrow(/element 3/);
    expect(() => compareOutput('dims', new Tensor('float32', Float32Array.of(1, -2, 1000, 0), [4]), want)).toThrow(/dims/);
    expect(() => compareOutput('dtype', new Tensor('float64', Float64Array.of(1, -2, 1000, 0), [2, 2]), want)).toThrow(/dtype/);
  });
});
