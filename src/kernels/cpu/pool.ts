/**
 * A worker-thread pool for CPU kernels that keeps the calling thread synchronous.
 *
 * A kernel cuts one operation into chunks (aligned blocks of rows or columns) and calls `runChunked`. The
 * calling thread wakes up to T-1 workers through a shared control block, then it and the workers claim chunks
 * from one shared counter (Atomics.compareExchange) until none are left, and the caller waits (spin, then
 * Atomics.wait) until every claimed chunk is complete. Nothing is awaited: a kernel call is an ordinary
 * synchronous function call. Claiming dynamically rather than handing each thread a fixed share means a
 * worker that the OS schedules late (a busy, shared machine) costs nothing: the caller simply takes more chunks.
 * Who computes a chunk never changes its result (kernels guarantee that), so results are bitwise identical
 * for any thread count.
 *
 * Shared memory:
 *   - the control block (one SharedArrayBuffer, fixed size): the arena generation; the task's claim word
 *     (task tag << 20 | next chunk: a late worker still holding an older tag can never claim a chunk of a newer
 *     task), completed-chunk count, kind, chunk total; per worker slot a SEQ word (bumped to wake it), a READY
 *     word and a FAILED word; per chunk the id of the thread that computed it; TASK_PARAM_WORDS Float64 words of
 *     task parameters;
 *   - the arena (a SharedArrayBuffer of float32, grown on demand) holding operands and results. Growing it
 *     posts the new buffer to every worker on its MessagePort and bumps the generation; a worker that sees a
 *     newer generation takes the buffer synchronously with `receiveMessageOnPort`;
 *   - long-lived shared buffers (`shareWithWorkers`: e.g. a convolution's weights packed once into GEMM panels)
 *     are posted once to every worker with an id (and again to workers started later); a task names them by
 *     id, and a worker that does not have an id yet drains its port until it arrives (the post happens before
 *     any task that uses it, and a port delivers in order). When the owner object of such a buffer is
 *     garbage-collected, a 'drop' message lets the workers forget it (processed the next time they drain).
 *
 * Workers spin on their SEQ word briefly after each task (POOL_SPIN_MS; a hot worker joins within about a
 * microsecond) and then sleep in Atomics.wait (waking one costs 35-60 us); the caller likewise spins only
 * briefly (CALLER_SPIN_MS) before sleeping while it waits for workers. Spins are short on purpose: on a shared,
 * oversubscribed machine a spinning thread takes the core its partner needs. Measured on PP-OCR rec, 2 threads,
 * with another process keeping one of the 2 cores busy (median of 8 runs): spins of 2 ms (worker) / 1 ms
 * (caller) 225 ms, 0.1 / 0.05 ms 178 ms, no timed spin 167 ms, against 157-170 ms on 1 thread. They are
 * unref()'d, so they never keep the process alive; `shutdownPool()` ends them explicitly.
 *
 * Errors: a chunk that throws in a worker is reported back on its port; the call throws an error with the same
 * name and message once all claimed chunks are done, and that worker is replaced by a fresh one so the pool
 * keeps working. A worker that fails to start disables the pool (kernels then run on the calling thread only).
 * Limitation: a worker killed from outside while it holds a chunk would leave the caller waiting.
 *
 * Where SharedArrayBuffer, Atomics.wait or worker_threads are missing (a browser main thread), the pool
 * reports itself unsupported and kernels use one thread. Workers are started lazily: a call that finds too few
 * ready workers uses the ready ones; `startPool(n)` waits until n threads are available.
 *
 * Loading the worker: from TypeScript sources (vitest, tsx) this module's URL ends in `.ts`, and the worker runs
 * `pool-worker.ts` through tsx (see `workerEntry` in ./worker-entry.ts); from the built dist it is `pool-worker.js` with no loader.
 */
import type { MessagePort as NodeMessagePort, Worker as NodeWorker } from 'node:worker_threads';
import { KernelError } from '../../tensor/errors.js';
import { builtin, workerEntry } from './worker-entry.js';

/** Task kinds a worker understands. */
export const TASK_GEMM = 1;
/** Test hook: every chunk a worker claims throws an Error whose message is `pool self-test failure <param0>`. */
export const TASK_THROW_FOR_TEST = 2;
/** Ends the worker's loop (used by shutdownPool). */
export const TASK_EXIT = 3;
/** A chunk of input planes of a depthwise convolution (./depthwise.ts). */
export const TASK_DEPTHWISE = 4;

/** Float64 parameter words per task. */
export const TASK_PARAM_WORDS = 32;
/** Most workers the pool will run. */
export const MAX_POOL_WORKERS = 32;
/** Most chunks one task may have. */
export const MAX_TASK_CHUNKS = 1024;
/** The owners table of the last `runChunked`, reused from task to task (no allocation per task). */
const OWNERS = new Int32Array(MAX_TASK_CHUNKS);
/** How long a worker spins after a task before it sleeps (besides a fixed 1024 polls); see the file comment. */
export const POOL_SPIN_MS = 0.05;

// control block layout (Int32 word indices, shared with pool-worker.ts)
export const CTRL_ARENA_GEN = 0;
/** task tag << CLAIM_TAG_SHIFT | index of the next unclaimed chunk */
export const CTRL_CLAIM = 1;
export const CTRL_COMPLETED = 2;
export const CTRL_KIND = 4;
export const CTRL_TOTAL = 5;
export const CTRL_TAG = 6;
export const CLAIM_TAG_SHIFT = 20;
const CLAIM_INDEX_MASK = (1 << CLAIM_TAG_SHIFT) - 1;
const TAG_MASK = 0x3ff;
/** Int32 index of slot `s`'s first word (SEQ, READY, FAILED). */
export function ctrlSlotBase(slot: number): number {
  return 16 + slot * 3;
}
export const SLOT_SEQ = 0;
export const SLOT_READY = 1;
/** Set by a worker whose chunk threw (it then leaves its loop). */
export const SLOT_FAILED = 2;
/** Int32 index of the per-chunk owner table (0 = the calling thread, 1 + slot = a worker). */
export const CTRL_OWNERS = 128;
/** Byte offset of the Float64 task parameters. */
export const CTRL_PARAMS_BYTE = (CTRL_OWNERS + MAX_TASK_CHUNKS) * 4;
/** Size of the control block in bytes. */
export const CONTROL_BYTES = CTRL_PARAMS_BYTE + TASK_PARAM_WORDS * 8;

/**
 * Claim the next chunk of the task tagged `tag` (total `total` chunks): its index, or -1 when the task has
 * no chunks left or is no longer the current task.
 */
export function claimChunk(ctrl: Int32Array, tag: number, total: number): number {
  for (;;) {
    const word = Atomics.load(ctrl, CTRL_CLAIM);
    const next = word & CLAIM_INDEX_MASK;
    if (word >>> CLAIM_TAG_SHIFT !== tag || next >= total) return -1;
    if (Atomics.compareExchange(ctrl, CTRL_CLAIM, word, word + 1) === word) return next;
  }
}

/** What the pool posts to a worker at start. */
export interface PoolWorkerData {
  control: SharedArrayBuffer;
  port: NodeMessagePort;
  slot: number;
}

/** Messages on a worker's port, caller to worker. */
export interface ArenaMessage {
  type: 'arena';
  generation: number;
  buffer: SharedArrayBuffer;
}

/** A long-lived shared buffer that tasks name by `id` (see `shareWithWorkers`). */
export interface SharedBufferMessage {
  type: 'shared';
  id: number;
  buffer: SharedArrayBuffer;
}

/** The owner of shared buffer `id` is gone: workers may forget it. */
export interface DropSharedMessage {
  type: 'drop';
  id: number;
}

/** Any message on a worker's port, caller to worker. */
export type PoolPortMessage = ArenaMessage | SharedBufferMessage | DropSharedMessage;

/** Messages on a worker's port, worker to caller. */
export interface ErrorMessage {
  type: 'error';
  name: string;
  message: string;
  stack?: string;
}

type WorkerThreadsModule = typeof import('node:worker_threads');

interface Slot {
  worker: NodeWorker;
  port: NodeMessagePort;
  /** Last wake-up number posted. */
  seq: number;
  /** The worker has exited or failed; the slot must be refilled. */
  dead: boolean;
}

interface PoolState {
  wt: WorkerThreadsModule;
  control: SharedArrayBuffer;
  ctrl: Int32Array;
  params: Float64Array;
  slots: (Slot | undefined)[];
  /** Tag of the last task. */
  tag: number;
  arena: SharedArrayBuffer | undefined;
  arenaGeneration: number;
  /** Set when a worker could not start: the pool then stays single-threaded. */
  brokenReason: string | undefined;
  tasksRun: number;
  /** Buffers shared with workers by id (weakly held: their owners keep them alive). */
  shared: Map<number, WeakRef<SharedArrayBuffer>>;
}

/** Ids of shared buffers: unique for the life of the process (a pool restarted by shutdownPool never reuses one). */
let nextSharedId = 0;

let state: PoolState | undefined;
let supportChecked = false;
let wtModule: WorkerThreadsModule | undefined;

/** True when this environment can run the pool (Node worker_threads, SharedArrayBuffer, Atomics.wait). */
export function poolSupported(): boolean {
  if (!supportChecked) {
    supportChecked = true;
    if (typeof SharedArrayBuffer === 'function' && typeof Atomics === 'object' && typeof Atomics.wait === 'function') {
      wtModule = builtin<WorkerThreadsModule>('node:worker_threads');
    }
  }
  return wtModule !== undefined && (state === undefined || state.brokenReason === undefined);
}

function getState(): PoolState | undefined {
  if (!poolSupported()) return undefined;
  if (!state) {
    const control = new SharedArrayBuffer(CONTROL_BYTES);
    state = {
      wt: wtModule!,
      control,
      ctrl: new Int32Array(control),
      params: new Float64Array(control, CTRL_PARAMS_BYTE, TASK_PARAM_WORDS),
      slots: [],
      tag: 0,
      arena: undefined,
      arenaGeneration: 0,
      brokenReason: undefined,
      tasksRun: 0,
      shared: new Map(),
    };
  }
  return state;
}

function spawn(st: PoolState, slotIndex: number): void {
  const base = ctrlSlotBase(slotIndex);
  for (const w of [SLOT_SEQ, SLOT_READY, SLOT_FAILED]) Atomics.store(st.ctrl, base + w, 0);
  const { port1, port2 } = new st.wt.MessageChannel();
  const entry = workerEntry(import.meta.url, 'pool-worker');
  const data: PoolWorkerData = { control: st.control, port: port2, slot: slotIndex };
  const worker = new st.wt.Worker(entry.source, { eval: entry.evalCode, workerData: data, transferList: [port2] });
  worker.unref();
  port1.unref();
  const slot: Slot = { worker, port: port1, seq: 0, dead: false };
  worker.on('error', (err: Error) => {
    slot.dead = true;
    if (Atomics.load(st.ctrl, base + SLOT_READY) === 0 && st.slots[slotIndex] === slot) {
      // it never started: the environment cannot run our workers, stop trying
      st.brokenReason = `pool worker failed to start: ${err.message}`;
    }
  });
  worker.on('exit', () => {
    slot.dead = true;
  });
  if (st.arena) port1.postMessage({ type: 'arena', generation: st.arenaGeneration, buffer: st.arena } satisfies ArenaMessage);
  for (const [id, ref] of st.shared) {
    const buffer = ref.deref();
    if (buffer) port1.postMessage({ type: 'shared', id, buffer } satisfies SharedBufferMessage);
    else st.shared.delete(id);
  }
  st.slots[slotIndex] = slot;
}

/**
 * Make sure `wanted` workers exist (starting missing ones) and return how many are ready to take a task now
 * (at most `wanted`). Never blocks.
 */
export function readyWorkerCount(wanted: number): number {
  const st = getState();
  if (!st) return 0;
  const n = Math.min(wanted, MAX_POOL_WORKERS);
  let ready = 0;
  for (let s = 0; s < n; s++) {
    const slot = st.slots[s];
    if (!slot || slot.dead) {
      if (st.brokenReason !== undefined) return 0;
      spawn(st, s);
      continue;
    }
    if (Atomics.load(st.ctrl, ctrlSlotBase(s) + SLOT_READY) === 1) ready++;
    else break; // slots are used in order; a call uses the ready prefix
  }
  return ready;
}

/**
 * Start workers so that `threads` threads (the caller plus threads - 1 workers) are available, and resolve
 * when they are ready. Resolves at once where the pool is unsupported. Rejects when a worker cannot start.
 */
export async function startPool(threads: number): Promise<void> {
  const wanted = Math.min(Math.max(0, threads - 1), MAX_POOL_WORKERS);
  if (wanted === 0 || !getState()) return;
  const deadline = Date.now() + 60_000;
  for (;;) {
    const ready = readyWorkerCount(wanted);
    if (ready >= wanted) return;
    if (state?.brokenReason) throw new KernelError(state.brokenReason);
    if (Date.now() > deadline) throw new KernelError(`pool: ${wanted - ready} of ${wanted} workers not ready after 60 s`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/**
 * The shared arena as a Float32Array of at least `floats` elements (grown, and posted to workers, when too
 * small). Only valid until the next call; undefined where the pool is unsupported.
 */
export function sharedArena(floats: number): Float32Array | undefined {
  const st = getState();
  if (!st) return undefined;
  const bytes = floats * 4;
  if (!st.arena || st.arena.byteLength < bytes) {
    const size = Math.max(bytes, Math.ceil((st.arena?.byteLength ?? 0) * 1.5), 1 << 20);
    st.arena = new SharedArrayBuffer(Math.ceil(size / 8) * 8);
    st.arenaGeneration++;
    for (const slot of st.slots) {
      if (slot && !slot.dead) slot.port.postMessage({ type: 'arena', generation: st.arenaGeneration, buffer: st.arena } satisfies ArenaMessage);
    }
    Atomics.store(st.ctrl, CTRL_ARENA_GEN, st.arenaGeneration);
  }
  return new Float32Array(st.arena, 0, Math.floor(st.arena.byteLength / 4));
}

/** Posts 'drop' for a shared buffer once its owner is garbage-collected. */
const sharedOwners = new FinalizationRegistry<{ st: PoolState; id: number }>(({ st, id }) => {
  st.shared.delete(id);
  for (const slot of st.slots) {
    if (slot && !slot.dead) slot.port.postMessage({ type: 'drop', id } satisfies DropSharedMessage);
  }
});

/**
 * Make `buffer` readable by every pool worker (present and future) under the returned id, for as long as
 * `owner` (which must keep `buffer` alive) lives. Returns -1 where the pool is unsupported. The caller must not
 * write into the buffer after sharing it unless no task is running (workers read it without locks).
 */
export function shareWithWorkers(buffer: SharedArrayBuffer, owner: object): number {
  const st = getState();
  if (!st) return -1;
  const id = nextSharedId++;
  st.shared.set(id, new WeakRef(buffer));
  for (const slot of st.slots) {
    if (slot && !slot.dead) slot.port.postMessage({ type: 'shared', id, buffer } satisfies SharedBufferMessage);
  }
  sharedOwners.register(owner, { st, id });
  return id;
}

/** True when `buffer` is shared with the current pool's workers under `id` (false after a pool restart). */
export function isSharedWithWorkers(id: number, buffer: SharedArrayBuffer): boolean {
  return state !== undefined && state.shared.get(id)?.deref() === buffer;
}

/** How long the caller spins on the completed count before sleeping on it (besides 1024 polls). */
const CALLER_SPIN_MS = 0.05;

/** Wait until `total` chunks are complete; `onIdle` runs between checks (it may claim chunks itself). */
function waitCompleted(ctrl: Int32Array, total: number, onIdle: () => void): void {
  const spinUntil = performance.now() + CALLER_SPIN_MS;
  let spins = 0;
  for (;;) {
    const done = Atomics.load(ctrl, CTRL_COMPLETED);
    if (done >= total) return;
    if (++spins < 1024 || performance.now() < spinUntil) continue;
    onIdle();
    Atomics.wait(ctrl, CTRL_COMPLETED, done, 20);
  }
}

function takeError(slot: Slot, wt: WorkerThreadsModule): Error {
  const giveUp = performance.now() + 200;
  for (;;) {
    const msg = wt.receiveMessageOnPort(slot.port);
    if (!msg) {
      // the worker posts before it counts its chunk complete; allow for a message still in flight
      if (performance.now() < giveUp) continue;
      break;
    }
    const m = msg.message as ErrorMessage | undefined;
    if (m && m.type === 'error') {
      const e = new Error(m.message);
      e.name = m.name;
      if (m.stack) e.stack = m.stack;
      return e;
    }
  }
  return new KernelError('pool: a worker failed without reporting an error');
}

/** What `runChunked` did. */
export interface ChunkedRun {
  /**
   * For each chunk, 0 when the calling thread computed it, 1 + slot when a worker did. A reused buffer:
   * valid until the next `runChunked` (copy it to keep it).
   */
  owners: Int32Array;
}

/** Options of `runChunked`. */
export interface ChunkedOptions {
  /**
   * The calling thread claims chunks too (default true). Tests turn it off to force work onto workers; chunks a
   * failed worker leaves behind are then still run by the caller.
   */
  callerClaims?: boolean;
}

/**
 * Run a task of `total` chunks on the calling thread and the first `workers` pool workers (callers ask
 * `readyWorkerCount` first). Workers run task `kind` with `params` on each chunk they claim; the calling thread
 * runs `runLocal(chunk)` on each chunk it claims. Returns when every chunk is complete, with who computed
 * which. Throws the first worker error (after replacing that worker) or the calling thread's error.
 */
export function runChunked(kind: number, params: ArrayLike<number>, total: number, workers: number, runLocal: (chunk: number) => void, options: ChunkedOptions = {}): ChunkedRun {
  const st = getState();
  if (!st) throw new KernelError('pool: worker threads are not available here');
  if (!Number.isInteger(total) || total < 0 || total > MAX_TASK_CHUNKS) throw new KernelError(`pool: ${total} chunks; expected 0..${MAX_TASK_CHUNKS}`);
  if (params.length > TASK_PARAM_WORDS) throw new KernelError(`pool: task has ${params.length} parameters; at most ${TASK_PARAM_WORDS}`);
  if (workers > MAX_POOL_WORKERS) throw new KernelError(`pool: ${workers} workers requested; at most ${MAX_POOL_WORKERS}`);
  const ctrl = st.ctrl;
  for (let i = 0; i < workers; i++) {
    const slot = st.slots[i];
    if (!slot || slot.dead || Atomics.load(ctrl, ctrlSlotBase(i) + SLOT_READY) !== 1) throw new KernelError(`pool: worker ${i} is not ready`);
  }
  // a new tag first: from here on no late worker of an older task can claim anything
  st.tag = (st.tag + 1) & TAG_MASK || 1;
  const tag = st.tag;
  Atomics.store(ctrl, CTRL_CLAIM, tag << CLAIM_TAG_SHIFT);
  Atomics.store(ctrl, CTRL_COMPLETED, 0);
  st.params.set(params);
  new Int32Array(st.control, CTRL_OWNERS * 4, total).fill(0);
  Atomics.store(ctrl, CTRL_KIND, kind);
  Atomics.store(ctrl, CTRL_TOTAL, total);
  Atomics.store(ctrl, CTRL_TAG, tag);
  for (let i = 0; i < workers; i++) {
    const slot = st.slots[i]!;
    slot.seq = (slot.seq + 1) | 0 || 1;
    const seqIdx = ctrlSlotBase(i) + SLOT_SEQ;
    Atomics.store(ctrl, seqIdx, slot.seq);
    Atomics.notify(ctrl, seqIdx, 1);
  }
  let localError: unknown;
  let localFailed = false;
  const claimAll = (): void => {
    for (let chunk = claimChunk(ctrl, tag, total); chunk >= 0; chunk = claimChunk(ctrl, tag, total)) {
      try {
        runLocal(chunk);
      } catch (e) {
        if (!localFailed) localError = e;
        localFailed = true;
      }
      Atomics.add(ctrl, CTRL_COMPLETED, 1);
    }
  };
  if (options.callerClaims !== false) claimAll();
  // with callerClaims off, chunks left behind by workers that failed fall back to the caller
  const rescue = (): void => {
    for (let i = 0; i < workers; i++) if (Atomics.load(ctrl, ctrlSlotBase(i) + SLOT_FAILED) === 1) return claimAll();
  };
  waitCompleted(ctrl, total, rescue);
  st.tasksRun++;
  const owners = OWNERS.subarray(0, total);
  owners.set(new Int32Array(st.control, CTRL_OWNERS * 4, total));
  // every worker whose chunk threw has left its loop: report the first error, replace them all
  let workerError: Error | undefined;
  for (let i = 0; i < st.slots.length; i++) {
    const slot = st.slots[i];
    if (!slot || slot.dead || Atomics.load(ctrl, ctrlSlotBase(i) + SLOT_FAILED) !== 1) continue;
    const err = takeError(slot, st.wt);
    workerError ??= err;
    slot.dead = true;
    void slot.worker.terminate();
    spawn(st, i);
  }
  if (workerError) throw workerError;
  if (localFailed) throw localError;
  return { owners };
}

/** Counters for tests and benchmarks. */
export function poolStats(): { supported: boolean; workers: number; ready: number; tasksRun: number; arenaGeneration: number } {
  const supported = poolSupported();
  const st = state;
  if (!st) return { supported, workers: 0, ready: 0, tasksRun: 0, arenaGeneration: 0 };
  let workers = 0;
  let ready = 0;
  st.slots.forEach((slot, s) => {
    if (!slot || slot.dead) return;
    workers++;
    if (Atomics.load(st.ctrl, ctrlSlotBase(s) + SLOT_READY) === 1) ready++;
  });
  return { supported, workers, ready, tasksRun: st.tasksRun, arenaGeneration: st.arenaGeneration };
}

/** End every worker and forget the pool (a later parallel call starts a new one). */
export async function shutdownPool(): Promise<void> {
  const st = state;
  if (!st) return;
  state = undefined;
  const ends: Promise<unknown>[] = [];
  st.slots.forEach((slot, s) => {
    if (!slot || slot.dead) return;
    const base = ctrlSlotBase(s);
    Atomics.store(st.ctrl, CTRL_KIND, TASK_EXIT);
    Atomics.store(st.ctrl, base + SLOT_SEQ, (slot.seq + 1) | 0 || 1);
    Atomics.notify(st.ctrl, base + SLOT_SEQ, 1);
    ends.push(slot.worker.terminate());
    slot.port.close();
  });
  await Promise.all(ends);
}
