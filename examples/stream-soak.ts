/**
 * Memory soak of streaming inference: Silero VAD over a long synthetic audio stream (10 minutes by default)
 * through slidingWindows + session.stream, printing live tensors and heap after a GC once per minute of audio.
 * Flat numbers from the second minute on mean nothing accumulates per chunk.
 *
 *   npx tsx examples/stream-soak.ts [--minutes 10]
 *
 * 10 minutes of audio are 18,750 windows of 512 samples (one to three minutes of CPU time). Exits 1 when the
 * JS heap grew by more than 2 MB between the end of minute 1 and the end of the stream. Array-buffer memory is
 * printed but not judged: V8 frees backing stores lazily, so right after a GC it swings by a few MB either way
 * (measured: between 2 and 16 MB with no trend over 2 minutes). SOAK_REPORTS_PER_MINUTE=4 prints more often.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { InferenceSession } from '../src/graph/session.js';
import { mapStream, slidingWindows } from '../src/graph/stream.js';
import { Tensor } from '../src/tensor/tensor.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const MODEL = join(ROOT, 'node_modules', '@jjhbw', 'silero-vad', 'weights', 'silero_vad_16k_op15.onnx');
const RATE = 16000;
const WINDOW = 512;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const { values } = parseArgs({ options: { minutes: { type: 'string', default: '10' } } });
const minutes = Number(values.minutes);
if (!(minutes > 0)) throw new Error(`--minutes must be a positive number, got ${values.minutes}`);
const blocks = Math.floor((minutes * 60 * RATE) / WINDOW);
const blocksPerMinute = Math.floor((60 * RATE) / WINDOW / Number(process.env["SOAK_REPORTS_PER_MINUTE"] ?? 1));

/** A synthetic microphone: a tone whose loudness drifts, in 512-sample blocks. */
async function* microphone(): AsyncGenerator<Float32Array> {
  for (let b = 0; b < blocks; b++) {
    const block = new Float32Array(WINDOW);
    for (let k = 0; k < WINDOW; k++) {
      const t = (b * WINDOW + k) / RATE;
      block[k] = 0.3 * Math.sin(2 * Math.PI * 220 * t) * (0.5 + 0.5 * Math.sin(t / 3));
    }
    yield block;
  }
}

const session = InferenceSession.createSync(MODEL, { logSeverity: 3 });
const sr = new Tensor('int64', BigInt64Array.of(16000n), []);
let previous: Tensor | undefined;
const chunks = mapStream(slidingWindows(microphone(), { size: 576, step: WINDOW, leadingZeros: 64 }), (w) => {
  previous?.dispose();
  previous = new Tensor('float32', w, [1, 576]);
  return { input: previous };
});

const samples: number[] = [];
let n = 0;
let speechy = 0;
const start = performance.now();
for await (const out of session.stream(chunks, { state: { stateN: 'state' }, constants: { sr } })) {
  if (out['output']!.numbers()[0]! > 0.5) speechy++;
  session.recycle(out);
  if (++n % blocksPerMinute === 0 || n === blocks) {
    gc();
    const m = process.memoryUsage();
    samples.push(m.heapUsed);
    console.log(
      `${((n * WINDOW) / RATE / 60).toFixed(1)} min: ${n} windows, live tensors ${Tensor.liveCount}, heap ${(m.heapUsed / 2 ** 20).toFixed(2)} MiB, array buffers ${(m.arrayBuffers / 2 ** 20).toFixed(2)} MiB, ${((performance.now() - start) / n).toFixed(2)} ms/window`,
    );
  }
}
const growth = samples.length > 1 ? samples[samples.length - 1]! - samples[0]! : 0;
console.log(`${n} windows (${speechy} above 0.5); heap growth after the first report: ${(growth / 1024).toFixed(1)} KiB`);
process.exitCode = growth > 2 * 2 ** 20 ? 1 : 0;
