/**
 * Streaming mode: session.stream carries Silero VAD's state exactly as a hand-written loop does; sliding
 * windows regroup blocks correctly for any block size; the openWakeWord pipeline over a live stream gives the
 * same scores as the batch computation of demo/audio.ts; a slow consumer slows the producer; memory stays flat
 * over a long synthetic stream (a reduced length here; examples/stream-soak.ts runs 10 minutes of audio).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { appendScaledMel, embeddingWindows, melChunkInputs, parseWav, wakeWordInputs } from '../../demo/audio.js';
import { wakeWordScores } from '../../examples/wakeword-stream.js';
import { mapStream, slidingWindows } from '../../src/graph/stream.js';
import { InferenceSession } from '../../src/graph/session.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { bitwiseEqual, OWW, SAMPLES, signal, SILERO, sileroConstants } from './models.js';

const silero = InferenceSession.createSync(SILERO, { logSeverity: 3 });

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe('session.stream (Silero VAD)', () => {
  it('feeds stateN back as state: outputs equal a hand-written loop, bit for bit', async () => {
    const chunks = Array.from({ length: 12 }, (_, i) => ({ input: signal([1, 576], 40 + i, 0.5) }));
    const { sr } = sileroConstants();
    let state: Tensor = new Tensor('float32', new Float32Array(256), [2, 1, 128]);
    const manual: Tensor[] = [];
    for (const c of chunks) {
      const out = silero.runSync({ ...c, state, sr });
      manual.push(out['output']!);
      state = out['stateN']!;
    }
    const gen = silero.stream(chunks, { state: { stateN: 'state' }, constants: { sr } });
    const streamed: Tensor[] = [];
    let step = await gen.next();
    while (!step.done) {
      expect(Object.keys(step.value)).toEqual(['output']); // the carried state is not yielded
      streamed.push(step.value['output']!);
      step = await gen.next();
    }
    expect(streamed).toHaveLength(12);
    streamed.forEach((t, i) => expect(bitwiseEqual(t, manual[i]!), `chunk ${i}`).toBe(true));
    // the generator returns the final state, equal to the manual loop's
    expect(bitwiseEqual(step.value['state']!, state)).toBe(true);
    // the state changed along the way (a stream that ignored it would give different outputs)
    const stateless = chunks.map((c) => silero.runSync({ ...c, state: new Tensor('float32', new Float32Array(256), [2, 1, 128]), sr })['output']!);
    expect(stateless.some((t, i) => !bitwiseEqual(t, manual[i]!))).toBe(true);
  });

  it('uses initialState when given, and refuses unknown state names', async () => {
    const { sr } = sileroConstants();
    const initial = { state: signal([2, 1, 128], 77, 0.2) };
    const [first] = await collect(silero.stream([{ input: signal([1, 576], 1) }], { state: { stateN: 'state' }, initialState: initial, constants: { sr } }));
    expect(bitwiseEqual(first!['output']!, silero.runSync({ input: signal([1, 576], 1), ...initial, sr })['output']!)).toBe(true);
    expect(initial.state.disposed).toBe(false);
    await expect(collect(silero.stream([], { state: { hidden: 'state' } }))).rejects.toThrow(/state output 'hidden' is not an output of the model; outputs: output, stateN/);
    await expect(collect(silero.stream([], { state: { stateN: 'h0' } }))).rejects.toThrow(/state input 'h0' is not an input/);
  });
});

describe('slidingWindows', () => {
  it('gives the same windows whatever the block sizes, with leading zeros and step > size', async () => {
    const values = Array.from({ length: 40 }, (_, i) => i + 1);
    const expected = (size: number, step: number, lead: number): number[][] => {
      const padded = [...new Array<number>(lead).fill(0), ...values];
      const out: number[][] = [];
      for (let s = 0; s + size <= padded.length; s += step) out.push(padded.slice(s, s + size));
      return out;
    };
    for (const [size, step, lead] of [[5, 2, 0], [7, 7, 3], [3, 5, 0], [10, 1, 4]] as const) {
      for (const block of [1, 3, 8, 40]) {
        const blocks = Array.from({ length: Math.ceil(values.length / block) }, (_, i) => values.slice(i * block, (i + 1) * block));
        const got = await collect(slidingWindows(blocks, { size, step, leadingZeros: lead }));
        expect(got.map((w) => [...w]), `size ${size} step ${step} lead ${lead} block ${block}`).toEqual(expected(size, step, lead));
      }
    }
  });

  it('windows rows of a given width and refuses partial rows', async () => {
    const got = await collect(slidingWindows([[1, 1, 2, 2], [3, 3]], { size: 2, step: 1, width: 2 }));
    expect(got.map((w) => [...w])).toEqual([[1, 1, 2, 2], [2, 2, 3, 3]]);
    await expect(collect(slidingWindows([[1, 2, 3]], { size: 1, step: 1, width: 2 }))).rejects.toThrow(/not a whole number of rows of 2/);
    await expect(collect(slidingWindows([], { size: 0, step: 1 }))).rejects.toThrow(/size must be a positive integer, got 0/);
  });
});

describe('openWakeWord streaming pipeline', () => {
  const models = {
    mel: InferenceSession.createSync(join(OWW, 'melspectrogram.onnx'), { logSeverity: 3 }),
    embedding: InferenceSession.createSync(join(OWW, 'embedding_model.onnx'), { logSeverity: 3 }),
    wake: InferenceSession.createSync(join(OWW, 'hey_rhasspy_v0.1.onnx'), { logSeverity: 3 }),
  };
  const samples = parseWav(readFileSync(join(SAMPLES, 'hey_rhasspy.wav'))).channels[0]!;

  it('scores the sample clip like the batch computation of demo/audio.ts', async () => {
    // batch: all chunks through mel, all windows through the embedding model at once, then the classifier
    const mel: number[] = [];
    for (const input of melChunkInputs(samples)) appendScaledMel(models.mel.runSync({ input })['output']!, mel);
    const embeddings = models.embedding.runSync({ input_1: embeddingWindows(mel) })['conv2d_19']!;
    const batchScores = wakeWordInputs(embeddings).map((input) => models.wake.runSync({ 'onnx::Flatten_0': input })['39']!.numbers()[0]!);

    // stream: the clip in odd-sized blocks, as a microphone would deliver it
    const blocks = Array.from({ length: Math.ceil(samples.length / 1000) }, (_, i) => samples.subarray(i * 1000, (i + 1) * 1000));
    const streamed = await collect(wakeWordScores(blocks, models));
    expect(streamed.length).toBe(batchScores.length);
    expect(streamed[0]!.chunk).toBe(24);
    streamed.forEach((s, i) => expect(Math.abs(s.score - batchScores[i]!)).toBeLessThan(1e-4));
    // the scores move with the audio (a pipeline feeding constant windows would give one value)
    expect(new Set(streamed.map((s) => s.score)).size).toBeGreaterThan(1);
    // the committed clip (espeak-ng en-us at 120 wpm, scripts/make-samples.sh) is detected (threshold 0.5)
    expect(Math.max(...streamed.map((s) => s.score))).toBeGreaterThanOrEqual(0.5);
  });

  it('backpressure: a slow consumer pulls exactly one audio block per score after warm-up', async () => {
    let produced = 0;
    async function* microphone(): AsyncGenerator<Float32Array> {
      for (let i = 0; i < 40; i++) {
        produced++;
        yield signal([1280], 900 + i, 2000).data;
      }
    }
    const lags: number[] = [];
    let consumed = 0;
    for await (const _ of wakeWordScores(microphone(), models)) {
      consumed++;
      lags.push(produced - consumed);
      await new Promise((r) => setTimeout(r, 5)); // a slow consumer
      if (consumed === 8) break;
    }
    // the first score needs 25 blocks; afterwards each score pulls one more block, never more
    expect(lags).toEqual(new Array(8).fill(24));
    expect(produced).toBe(32);
  });
});

describe('memory over a long stream', () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;

  it('stays flat over 1500 Silero VAD windows (48 s of audio): live tensors and JS heap', async () => {
    const { sr } = sileroConstants();
    async function* audio(): AsyncGenerator<Float32Array> {
      for (let i = 0; i < 1500; i++) yield Float32Array.from({ length: 512 }, (_, k) => 0.3 * Math.sin((i * 512 + k) * 0.01));
    }
    // the caller owns the chunk tensors it makes: each is disposed once the next one is asked for
    let previous: Tensor | undefined;
    const feeds = mapStream(slidingWindows(audio(), { size: 576, step: 512, leadingZeros: 64 }), (w) => {
      previous?.dispose();
      previous = new Tensor('float32', w, [1, 576]);
      return { input: previous };
    });
    const live: number[] = [];
    const heap: number[] = [];
    let n = 0;
    for await (const out of silero.stream(feeds, { state: { stateN: 'state' }, constants: { sr } })) {
      silero.recycle(out);
      if (++n % 250 === 0) {
        gc();
        live.push(Tensor.liveCount);
        const m = process.memoryUsage();
        heap.push(m.heapUsed);
      }
    }
    expect(n).toBe(1500);
    // once warm, the number of live tensors does not move at all
    expect(new Set(live.slice(1)).size).toBe(1);
    // JS heap after GC: under 1 MB of drift from 500 to 1500 windows (keeping each window's input tensor and
    // outputs alive would add well over that). Array-buffer memory is not judged: V8 frees backing stores
    // lazily, so it swings by megabytes right after a GC whatever the trend (see examples/stream-soak.ts).
    expect(Math.abs(heap[heap.length - 1]! - heap[1]!)).toBeLessThan(1_000_000);
  });
});
