/**
 * The body of one pool worker thread (started by ./pool.ts; see there for the protocol).
 *
 * Loop: wait for the caller to bump this slot's SEQ word (spinning for POOL_SPIN_MS after each task, then
 * sleeping in Atomics.wait); read the current task's tag, kind and parameters; pick up a newer shared arena
 * from the port if the generation moved; claim chunks until none are left, computing each with the same
 * kernel code the calling thread uses (./gemm.ts, ./depthwise.ts, so results are bitwise identical) and counting it complete.
 * A chunk that throws posts its error on the port, sets this slot's FAILED word, counts the chunk complete
 * and ends the loop; the pool replaces this worker.
 */
import { receiveMessageOnPort, workerData } from 'node:worker_threads';
import { runDepthwiseChunk } from './depthwise.js';
import { GemmWorkspace, runGemmChunk } from './gemm.js';
import {
  claimChunk,
  CTRL_ARENA_GEN,
  CTRL_COMPLETED,
  CTRL_KIND,
  CTRL_OWNERS,
  CTRL_PARAMS_BYTE,
  CTRL_TAG,
  CTRL_TOTAL,
  ctrlSlotBase,
  POOL_SPIN_MS,
  SLOT_FAILED,
  SLOT_READY,
  SLOT_SEQ,
  TASK_DEPTHWISE,
  TASK_EXIT,
  TASK_GEMM,
  TASK_PARAM_WORDS,
  TASK_THROW_FOR_TEST,
  type ErrorMessage,
  type PoolPortMessage,
  type PoolWorkerData,
} from './pool.js';

const { control, port, slot } = workerData as PoolWorkerData;
const ctrl = new Int32Array(control);
const sharedParams = new Float64Array(control, CTRL_PARAMS_BYTE, TASK_PARAM_WORDS);
const params = new Float64Array(TASK_PARAM_WORDS);
const base = ctrlSlotBase(slot);
const workspace = new GemmWorkspace();
let arenaGeneration = 0;
let arena: Float32Array = new Float32Array(0);
/** Long-lived shared buffers by id (pool.shareWithWorkers), as Float64 views. */
const sharedBuffers = new Map<number, Float64Array>();

/** Apply one message from the caller; false when the port had none. */
function takeMessage(): boolean {
  const msg = receiveMessageOnPort(port);
  if (!msg) return false;
  const m = msg.message as PoolPortMessage;
  if (m.type === 'arena') {
    if (m.generation >= arenaGeneration) {
      arenaGeneration = m.generation;
      arena = new Float32Array(m.buffer, 0, Math.floor(m.buffer.byteLength / 4));
    }
  } else if (m.type === 'shared') {
    sharedBuffers.set(m.id, new Float64Array(m.buffer, 0, Math.floor(m.buffer.byteLength / 8)));
  } else if (m.type === 'drop') {
    sharedBuffers.delete(m.id);
  }
  return true;
}

/** Take the arena of the current generation from the port (it was posted before the generation moved). */
function refreshArena(): void {
  const wanted = Atomics.load(ctrl, CTRL_ARENA_GEN);
  while (arenaGeneration !== wanted) takeMessage(); // posted but maybe not yet queued: spin until it is
}

/** The shared buffer `id` as Float64; drains the port until it has arrived (it was posted before the task). */
function sharedBuffer(id: number): Float64Array {
  for (;;) {
    const buffer = sharedBuffers.get(id);
    if (buffer) return buffer;
    takeMessage();
  }
}

/** Wait until SEQ differs from `seen`; return the new value. */
function nextWakeUp(seen: number): number {
  const idx = base + SLOT_SEQ;
  const spinUntil = performance.now() + POOL_SPIN_MS;
  let spins = 0;
  for (;;) {
    const s = Atomics.load(ctrl, idx);
    if (s !== seen) return s;
    if (++spins < 1024 || performance.now() < spinUntil) continue;
    Atomics.wait(ctrl, idx, seen);
    spins = 0;
  }
}

function runChunk(kind: number, chunk: number): void {
  if (kind === TASK_GEMM) runGemmChunk(params, arena, chunk, workspace, sharedBuffer);
  else if (kind === TASK_DEPTHWISE) runDepthwiseChunk(params, arena, chunk);
  else if (kind === TASK_THROW_FOR_TEST) throw new Error(`pool self-test failure ${params[0]}`);
  else throw new Error(`pool worker: unknown task kind ${kind}`);
}

/** Claim and run chunks of the current task; false when a chunk threw (the worker must stop). */
function work(): boolean {
  const tag = Atomics.load(ctrl, CTRL_TAG);
  const kind = Atomics.load(ctrl, CTRL_KIND);
  const total = Atomics.load(ctrl, CTRL_TOTAL);
  params.set(sharedParams);
  let chunk = claimChunk(ctrl, tag, total);
  if (chunk < 0) return true;
  refreshArena();
  for (; chunk >= 0; chunk = claimChunk(ctrl, tag, total)) {
    ctrl[CTRL_OWNERS + chunk] = 1 + slot;
    try {
      runChunk(kind, chunk);
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      port.postMessage({ type: 'error', name: err.name, message: err.message, stack: err.stack } satisfies ErrorMessage);
      Atomics.store(ctrl, base + SLOT_FAILED, 1);
      Atomics.add(ctrl, CTRL_COMPLETED, 1);
      Atomics.notify(ctrl, CTRL_COMPLETED);
      return false;
    }
    Atomics.add(ctrl, CTRL_COMPLETED, 1);
    Atomics.notify(ctrl, CTRL_COMPLETED);
  }
  return true;
}

function run(): void {
  let seen = Atomics.load(ctrl, base + SLOT_SEQ);
  Atomics.store(ctrl, base + SLOT_READY, 1);
  for (;;) {
    seen = nextWakeUp(seen);
    if (Atomics.load(ctrl, CTRL_KIND) === TASK_EXIT) return;
    if (!work()) return;
  }
}

run();
port.close();
