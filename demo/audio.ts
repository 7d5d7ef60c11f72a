/**
 * Audio helpers for the speech models Tessera runs: a small WAV (RIFF PCM16) parser, the openWakeWord pipeline
 * (melspectrogram -> speech embedding -> wake-word classifier) and Silero VAD's streaming windows. Pure
 * functions over arrays and Tessera tensors; nothing here reads files.
 *
 * openWakeWord (16 kHz audio, int16-valued samples, no scaling):
 * 1. audio arrives in 1280-sample chunks (80 ms). Each chunk goes to melspectrogram.onnx ([1, samples] ->
 *    [1, 1, frames, 32], frames = samples/160 - 3) together with the 480 samples before it, giving 8 frames
 *    of 32 mel bins per chunk; the frames are rescaled as x/10 + 2.
 * 2. embedding_model.onnx maps a window of 76 mel frames [1, 76, 32, 1] to one 96-dim embedding
 *    [1, 1, 1, 96]; windows advance by 8 frames (one chunk).
 * 3. a wake-word model (e.g. hey_rhasspy_v0.1.onnx) scores the last 16 embeddings [1, 16, 96] -> [1, 1].
 *
 * Silero VAD (silero_vad_16k_op15.onnx): 512-sample windows of audio in [-1, 1], each preceded by the last 64
 * samples of the previous window (zeros before the first), so the input is [1, 576]; the recurrent state
 * [2, 1, 128] starts at zero and each run's `stateN` is fed back as the next `state`; `sr` is int64 16000.
 */
import { Tensor } from '../src/tensor/tensor.js';

/** Decoded PCM audio: one Int16Array per channel. */
export interface PcmAudio {
  readonly sampleRate: number;
  readonly channels: readonly Int16Array[];
}

/**
 * Parse a RIFF/WAVE file holding 16-bit PCM. Walks the chunk list for 'fmt ' and 'data' (skipping others,
 * e.g. LIST), checks the format and splits interleaved samples into channels. Throws on anything else.
 */
export function parseWav(bytes: Uint8Array): PcmAudio {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = (at: number): string => String.fromCharCode(bytes[at]!, bytes[at + 1]!, bytes[at + 2]!, bytes[at + 3]!);
  if (bytes.length < 12 || tag(0) !== 'RIFF' || tag(8) !== 'WAVE') throw new RangeError('parseWav: not a RIFF/WAVE file');
  let format: { channels: number; sampleRate: number; bits: number; code: number } | undefined;
  let offset = 12;
  while (offset + 8 <= bytes.length) {
    const id = tag(offset);
    const size = view.getUint32(offset + 4, true);
    const body = offset + 8;
    if (body + size > bytes.length && id !== 'data') throw new RangeError(`parseWav: chunk '${id}' runs past the end of the file`);
    if (id === 'fmt ') {
      if (size < 16) throw new RangeError(`parseWav: 'fmt ' chunk has ${size} bytes; expected at least 16`);
      format = {
        code: view.getUint16(body, true),
        channels: view.getUint16(body + 2, true),
        sampleRate: view.getUint32(body + 4, true),
        bits: view.getUint16(body + 14, true),
      };
    } else if (id === 'data') {
      if (!format) throw new RangeError("parseWav: 'data' chunk before 'fmt '");
      // 1 = PCM; 0xfffe = WAVE_FORMAT_EXTENSIBLE, accepted when the sample size says 16-bit integer.
      if ((format.code !== 1 && format.code !== 0xfffe) || format.bits !== 16) {
        throw new RangeError(`parseWav: format ${format.code} with ${format.bits}-bit samples; only 16-bit PCM is supported`);
      }
      if (format.channels < 1) throw new RangeError('parseWav: zero channels');
      const available = Math.min(size, bytes.length - body);
      const frames = Math.floor(available / (2 * format.channels));
      const channels = Array.from({ length: format.channels }, () => new Int16Array(frames));
      for (let i = 0; i < frames; i++) {
        for (let c = 0; c < format.channels; c++) channels[c]![i] = view.getInt16(body + 2 * (i * format.channels + c), true);
      }
      return { sampleRate: format.sampleRate, channels };
    }
    offset = body + size + (size & 1); // chunks are padded to even sizes
  }
  throw new RangeError("parseWav: no 'data' chunk");
}

/** openWakeWord's chunk of new audio per step (80 ms at 16 kHz). */
export const OWW_CHUNK = 1280;
/** Samples before each chunk that the melspectrogram also sees (3 hops of 160). */
export const OWW_MEL_CONTEXT = 480;
/** Mel bins per frame. */
export const OWW_MEL_BINS = 32;
/** Mel frames per embedding window, and the step between windows. */
export const OWW_EMBEDDING_WINDOW = 76;
export const OWW_EMBEDDING_STRIDE = 8;
/** Size of one speech embedding. */
export const OWW_EMBEDDING_SIZE = 96;
/** Embeddings a wake-word model scores at once. */
export const OWW_WAKE_FRAMES = 16;

/**
 * Melspectrogram inputs [1, 1760] for every whole 1280-sample chunk of `samples` (int16 values as floats):
 * chunk i with the 480 samples before it, zeros before the start of the audio.
 */
export function melChunkInputs(samples: ArrayLike<number>): Tensor<'float32'>[] {
  const count = Math.floor(samples.length / OWW_CHUNK);
  const inputs: Tensor<'float32'>[] = [];
  for (let i = 0; i < count; i++) {
    const window = new Float32Array(OWW_MEL_CONTEXT + OWW_CHUNK);
    const from = i * OWW_CHUNK - OWW_MEL_CONTEXT;
    for (let k = 0; k < window.length; k++) {
      const at = from + k;
      window[k] = at >= 0 ? samples[at]! : 0;
    }
    inputs.push(new Tensor('float32', window, [1, window.length]));
  }
  return inputs;
}

/**
 * The melspectrogram model's output [1, 1, frames, 32] as rescaled frames (x/10 + 2, openWakeWord's
 * melspec_transform), appended to `into` (frames * 32 values, row-major).
 */
export function appendScaledMel(output: Tensor, into: number[]): void {
  const d = output.dims;
  if (d.length !== 4 || d[0] !== 1 || d[1] !== 1 || d[3] !== OWW_MEL_BINS) {
    throw new RangeError(`appendScaledMel: output has shape [${d.join(', ')}]; expected [1, 1, frames, ${OWW_MEL_BINS}]`);
  }
  for (const v of output.numbers()) into.push(v / 10 + 2);
}

/**
 * Embedding-model input [n, 76, 32, 1]: every 76-frame window of the scaled mel frames `mel`
 * (frames * 32 values) starting at frames 0, 8, 16, ... Throws when there are fewer than 76 frames.
 */
export function embeddingWindows(mel: ArrayLike<number>): Tensor<'float32'> {
  const frames = Math.floor(mel.length / OWW_MEL_BINS);
  if (frames < OWW_EMBEDDING_WINDOW) throw new RangeError(`embeddingWindows: ${frames} mel frames; need at least ${OWW_EMBEDDING_WINDOW}`);
  const n = Math.floor((frames - OWW_EMBEDDING_WINDOW) / OWW_EMBEDDING_STRIDE) + 1;
  const windowSize = OWW_EMBEDDING_WINDOW * OWW_MEL_BINS;
  const out = new Float32Array(n * windowSize);
  for (let w = 0; w < n; w++) {
    const from = w * OWW_EMBEDDING_STRIDE * OWW_MEL_BINS;
    for (let k = 0; k < windowSize; k++) out[w * windowSize + k] = mel[from + k]!;
  }
  return new Tensor('float32', out, [n, OWW_EMBEDDING_WINDOW, OWW_MEL_BINS, 1]);
}

/**
 * Wake-word model inputs [1, 16, 96]: every run of 16 consecutive embeddings from the embedding model's
 * output [n, 1, 1, 96], i.e. the classifier's input after each chunk once 16 embeddings exist.
 */
export function wakeWordInputs(embeddings: Tensor): Tensor<'float32'>[] {
  const d = embeddings.dims;
  if (d.length !== 4 || d[3] !== OWW_EMBEDDING_SIZE || d[1] !== 1 || d[2] !== 1) {
    throw new RangeError(`wakeWordInputs: embeddings have shape [${d.join(', ')}]; expected [n, 1, 1, ${OWW_EMBEDDING_SIZE}]`);
  }
  const values = Float32Array.from(embeddings.numbers());
  const inputs: Tensor<'float32'>[] = [];
  const span = OWW_WAKE_FRAMES * OWW_EMBEDDING_SIZE;
  for (let end = OWW_WAKE_FRAMES; end <= d[0]!; end++) {
    const from = (end - OWW_WAKE_FRAMES) * OWW_EMBEDDING_SIZE;
    inputs.push(new Tensor('float32', values.slice(from, from + span), [1, OWW_WAKE_FRAMES, OWW_EMBEDDING_SIZE]));
  }
  return inputs;
}

/** Silero VAD window and context sizes at 16 kHz. */
export const SILERO_WINDOW = 512;
export const SILERO_CONTEXT = 64;

/**
 * Silero VAD inputs [1, 576] for `count` consecutive 512-sample windows starting at sample `start`, samples
 * scaled to [-1, 1] (int16 / 32768); each window is preceded by the last 64 samples of the previous one
 * (zeros for the first, as a fresh stream starts). Throws when the audio is too short.
 */
export function sileroInputs(samples: Int16Array, start: number, count: number): Tensor<'float32'>[] {
  if (start < 0 || start + count * SILERO_WINDOW > samples.length) {
    throw new RangeError(`sileroInputs: ${count} windows from sample ${start} need ${start + count * SILERO_WINDOW} samples; got ${samples.length}`);
  }
  const inputs: Tensor<'float32'>[] = [];
  for (let i = 0; i < count; i++) {
    const data = new Float32Array(SILERO_CONTEXT + SILERO_WINDOW);
    const from = start + i * SILERO_WINDOW - SILERO_CONTEXT;
    for (let k = i === 0 ? SILERO_CONTEXT : 0; k < data.length; k++) data[k] = samples[from + k]! / 32768;
    inputs.push(new Tensor('float32', data, [1, data.length]));
  }
  return inputs;
}

/** Silero VAD's initial recurrent state: zeros [2, 1, 128]. */
export function sileroInitialState(): Tensor<'float32'> {
  return new Tensor('float32', new Float32Array(2 * 128), [2, 1, 128]);
}

/** Silero VAD's `sr` input: the sample rate as an int64 scalar. */
export function sileroSampleRate(rate = 16000): Tensor<'int64'> {
  return new Tensor('int64', BigInt64Array.of(BigInt(rate)), []);
}
