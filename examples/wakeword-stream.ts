/**
 * openWakeWord as a live streaming pipeline on Tessera: audio blocks in, one wake-word score per 80 ms out.
 *
 *   audio (16 kHz, int16-valued numbers, blocks of any length)
 *     -> windows of 1760 samples every 1280 (each 80 ms chunk plus the 480 samples before it; zeros first)
 *     -> melspectrogram.onnx: [1, 1760] -> [1, 1, 8, 32] -> 8 mel frames, rescaled x/10 + 2
 *     -> windows of 76 frames every 8 frames
 *     -> embedding_model.onnx: [1, 76, 32, 1] -> one 96-dim embedding
 *     -> windows of 16 embeddings every 1
 *     -> wake-word model (e.g. hey_rhasspy_v0.1.onnx): [1, 16, 96] -> score in [0, 1]
 *
 * Every stage is a pull-based async generator (src/graph/stream.ts), so nothing is computed ahead of the
 * consumer, and each stage keeps only the samples, frames or embeddings its next window needs. The first score
 * comes after 10 + 15 = 25 chunks (2 s): 76 mel frames fill the first embedding window, 16 embeddings the first
 * classifier window.
 *
 *   import { InferenceSession } from '../src/index.js';
 *   const scores = wakeWordScores(micBlocks, { mel, embedding, wake });
 *   for await (const s of scores) if (s.score > 0.5) console.log(`wake word at ${s.seconds.toFixed(2)} s`);
 */
import { modelStage, pipeline, windowStage, windowTensor, type StreamRunner } from '../src/graph/stream.js';

/** Sample rate the models expect. */
export const SAMPLE_RATE = 16000;
const CHUNK = 1280;
const MEL_CONTEXT = 480;
const MEL_BINS = 32;
const EMBEDDING_WINDOW = 76;
const EMBEDDING_STRIDE = 8;
const EMBEDDING_SIZE = 96;
const WAKE_FRAMES = 16;

/** The three sessions of the pipeline. */
export interface WakeWordModels {
  readonly mel: StreamRunner;
  readonly embedding: StreamRunner;
  readonly wake: StreamRunner;
}

/** One classifier output. */
export interface WakeWordScore {
  /** Index of the 80 ms chunk the score ends at. */
  readonly chunk: number;
  /** Time in the stream at the end of that chunk, in seconds. */
  readonly seconds: number;
  readonly score: number;
}

/** Wake-word scores over a stream of audio blocks; see the file comment. */
export function wakeWordScores(audio: Iterable<ArrayLike<number>> | AsyncIterable<ArrayLike<number>>, models: WakeWordModels): AsyncIterable<WakeWordScore> {
  const melInput = models.mel.inputMetadata[0]!.name;
  const embeddingInput = models.embedding.inputMetadata[0]!.name;
  const wakeInput = models.wake.inputMetadata[0]!.name;
  // each chunk adds 8 mel frames (= one embedding stride): the first embedding ends chunk 9, the first score chunk 24
  const firstScoreChunk = Math.ceil(EMBEDDING_WINDOW / EMBEDDING_STRIDE) - 1 + WAKE_FRAMES - 1;
  let scored = 0;
  return pipeline(
    audio,
    windowStage({ size: MEL_CONTEXT + CHUNK, step: CHUNK, leadingZeros: MEL_CONTEXT }),
    modelStage(
      models.mel,
      (samples: Float32Array) => ({ [melInput]: windowTensor(samples, [1, samples.length]) }),
      (out) => {
        const mel = Object.values(out)[0]!.numbers();
        const frames = new Float32Array(mel.length);
        for (let i = 0; i < mel.length; i++) frames[i] = mel[i]! / 10 + 2;
        return frames;
      },
    ),
    (frames) =>
      pipeline(
        frames,
        windowStage({ size: EMBEDDING_WINDOW, step: EMBEDDING_STRIDE, width: MEL_BINS }),
        modelStage(
          models.embedding,
          (w: Float32Array) => ({ [embeddingInput]: windowTensor(w, [1, EMBEDDING_WINDOW, MEL_BINS, 1]) }),
          (out) => Float32Array.from(Object.values(out)[0]!.numbers()),
        ),
        windowStage({ size: WAKE_FRAMES, step: 1, width: EMBEDDING_SIZE }),
        modelStage(
          models.wake,
          (w: Float32Array) => ({ [wakeInput]: windowTensor(w, [1, WAKE_FRAMES, EMBEDDING_SIZE]) }),
          (out): WakeWordScore => {
            const chunk = firstScoreChunk + scored++;
            return { chunk, seconds: ((chunk + 1) * CHUNK) / SAMPLE_RATE, score: Object.values(out)[0]!.numbers()[0]! };
          },
        ),
      ),
  );
}
