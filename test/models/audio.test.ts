/**
 * The speech models in Tessera against onnxruntime-node on the committed clip assets/samples/hey_rhasspy.wav
 * (espeak-ng saying "hey rhasspy", 16 kHz): openWakeWord's melspectrogram, speech-embedding and hey_rhasspy
 * models chained as openWakeWord streams them, and Silero VAD over 20 consecutive windows with its recurrent
 * state fed back. Every output of every run must match within rtol 1e-3 / atol 1e-4.
 *
 * Each stage's input comes from onnxruntime's output of the previous stage, so a mismatch is pinned to the
 * model that produced it instead of compounding along the chain.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  appendScaledMel,
  embeddingWindows,
  melChunkInputs,
  OWW_WAKE_FRAMES,
  parseWav,
  sileroInitialState,
  sileroInputs,
  sileroSampleRate,
  SILERO_WINDOW,
  wakeWordInputs,
} from '../../demo/audio.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { compareOutput, loadPair, OWW_MODELS, Report, runBoth, SAMPLES, SILERO_MODELS } from './oracle.js';

const report = new Report();
const audio = parseWav(readFileSync(join(SAMPLES, 'hey_rhasspy.wav')));
const samples = audio.channels[0]!;

/** An onnxruntime float output as a Tessera tensor. */
function fromOrt(t: ort.Tensor): Tensor<'float32'> {
  return new Tensor('float32', Float32Array.from(t.data as Float32Array), t.dims.slice());
}

afterAll(() => report.print());

describe('the sample clip', () => {
  it('is 16 kHz mono PCM16 long enough for 16 wake-word embeddings and 20 VAD windows', () => {
    expect(audio.sampleRate).toBe(16000);
    expect(audio.channels).toHaveLength(1);
    // 16 embeddings need 76 + 15 * 8 = 196 mel frames = 24.5 chunks of 1280 samples.
    expect(samples.length).toBeGreaterThanOrEqual(25 * 1280);
    expect(samples.length).toBeGreaterThanOrEqual(20 * SILERO_WINDOW);
    let peak = 0;
    for (const s of samples) peak = Math.max(peak, Math.abs(s));
    expect(peak).toBeGreaterThan(3000);
  });
});

describe('openWakeWord: melspectrogram -> embedding -> hey_rhasspy', () => {
  it('matches onnxruntime at every stage of the pipeline', async () => {
    const mel = await loadPair(join(OWW_MODELS, 'melspectrogram.onnx'));
    const melFrames: number[] = [];
    for (const [i, input] of melChunkInputs(samples).entries()) {
      const out = await runBoth(mel, { input }, report, 'oww melspectrogram', `chunk ${i}`);
      expect(out.ort['output']!.dims).toEqual([1, 1, 8, 32]);
      appendScaledMel(fromOrt(out.ort['output']!), melFrames);
    }

    const embedding = await loadPair(join(OWW_MODELS, 'embedding_model.onnx'));
    const windows = embeddingWindows(melFrames);
    const embedded = await runBoth(embedding, { input_1: windows }, report, 'oww embedding_model', `${windows.dims[0]} windows`);
    const embeddings = fromOrt(embedded.ort['conv2d_19']!);
    expect(embeddings.dims[0]).toBeGreaterThanOrEqual(OWW_WAKE_FRAMES);

    const wake = await loadPair(join(OWW_MODELS, 'hey_rhasspy_v0.1.onnx'));
    const scores: number[] = [];
    for (const [i, input] of wakeWordInputs(embeddings).entries()) {
      const out = await runBoth(wake, { 'onnx::Flatten_0': input }, report, 'oww hey_rhasspy', `step ${i}`);
      scores.push(out.tessera['39']!.numbers()[0]!);
    }
    expect(scores.every((s) => s >= 0 && s <= 1)).toBe(true);
    report.row('oww hey_rhasspy').notes.push(`scores ${scores.map((s) => s.toFixed(3)).join(' ')}`);
  });
});

describe('Silero VAD (silero_vad_16k_op15)', () => {
  let pair: Awaited<ReturnType<typeof loadPair>>;
  beforeAll(async () => {
    pair = await loadPair(join(SILERO_MODELS, 'silero_vad_16k_op15.onnx'));
  });

  it('matches onnxruntime over 20 consecutive windows with the state fed back', async () => {
    // From 0.3 s: silence, then the start of the speech.
    const inputs = sileroInputs(samples, 4800, 20);
    const sr = sileroSampleRate();
    let tesseraState: Tensor = sileroInitialState();
    let ortState = sileroInitialState();
    const probs: number[] = [];
    for (const [i, input] of inputs.entries()) {
      // runBoth runs both runtimes on the oracle's state; Tessera's own chain (its stateN fed back) runs
      // beside it and must track the oracle too, so drift of the recurrent state fails at the step it appears.
      const out = await runBoth(pair, { input, state: ortState, sr }, report, 'silero vad', `window ${i}`);
      const chained = await pair.tessera.run({ input, state: tesseraState, sr });
      compareOutput(`silero vad window ${i} (Tessera's own state chain) output`, chained['output']!, out.ort['output']!);
      compareOutput(`silero vad window ${i} (Tessera's own state chain) stateN`, chained['stateN']!, out.ort['stateN']!);
      tesseraState = chained['stateN']!;
      ortState = fromOrt(out.ort['stateN']!);
      probs.push((out.ort['output']!.data as Float32Array)[0]!);
    }
    report.row('silero vad').notes.push(`speech probability ${probs.map((p) => p.toFixed(2)).join(' ')}`);
  });
});
