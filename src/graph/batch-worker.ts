/**
 * The body of one runBatch worker thread (started by ./batch.ts; messages in ./batch-wire.ts).
 *
 * At start it builds its own InferenceSession from the model bytes in workerData (a view over a
 * SharedArrayBuffer that every worker of the call reads; the weights are decoded here, once per worker) with
 * the calling session's options, forced to backend 'cpu' and threads 1, and posts 'ready' (or 'start-failed'
 * with the error). Then, for each 'run' message, it rebuilds the feeds, runs the item and posts 'done' with the
 * outputs (one copy each, see ./batch-wire.ts) or 'failed' with the item's error, and goes on with the next
 * item (test/modes/batch-pool.test.ts checks that items after failing ones still give exact bits). Items run one
 * at a time in the order they arrive (the caller keeps at most ITEMS_PER_WORKER in this thread's port). The
 * thread lives until the caller terminates it: at the end of the runBatch call, or, for a worker kept in the
 * session's pool between calls, when it has been idle too long or the session is released.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Tensor } from '../tensor/tensor.js';
import { errorToWire, toWire, valueFromWire, type BatchWorkerData, type FromBatchWorker, type RunItemMessage, type WireTensor } from './batch-wire.js';
import { InferenceSession } from './session.js';
import { disposeValue } from './values.js';

const data = workerData as BatchWorkerData;
const port = parentPort!;

function post(msg: FromBatchWorker, transfer: ArrayBuffer[] = []): void {
  port.postMessage(msg, transfer);
}

function runItem(session: InferenceSession, m: RunItemMessage): void {
  if (m.index === data.exitOnIndexForTest) process.exit(70);
  const feeds: Record<string, Tensor | Tensor[] | null> = {};
  let outputs: Record<string, Tensor> | undefined;
  try {
    // defineProperty: a feed named '__proto__' must stay a plain key
    m.names.forEach((n, i) => Object.defineProperty(feeds, n, { value: valueFromWire(m.values[i]!), enumerable: true, writable: true, configurable: true }));
    outputs = session.runSync(feeds, m.fetches);
    const transfer = new Set<ArrayBuffer>();
    const names = Object.keys(outputs);
    const values: WireTensor[] = names.map((n) => toWire(outputs![n]!, transfer));
    post({ type: 'done', index: m.index, names, values }, [...transfer]);
  } catch (e) {
    post({ type: 'failed', index: m.index, error: errorToWire(e) });
  } finally {
    for (const v of Object.values(feeds)) disposeValue(v);
    if (outputs) for (const t of Object.values(outputs)) t.dispose();
  }
}

let session: InferenceSession | undefined;
try {
  session = InferenceSession.createSync(data.model, data.options);
} catch (e) {
  post({ type: 'start-failed', error: errorToWire(e) });
}
if (session) {
  const s = session;
  port.on('message', (m: RunItemMessage) => {
    if (m.type === 'run') runItem(s, m);
  });
  post({ type: 'ready' });
}
