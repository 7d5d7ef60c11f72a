/**
 * ONNX backend conformance runner.
 *
 *   tsx scripts/conformance.ts [--backend cpu] [--suite node[,simple...]] [--filter <substring>]
 *                              [--timeout <seconds per case, default 60>] [--jobs <worker processes, default 1>]
 *
 * Runs every case of ../shared/onnx-backend-tests/{node,simple,pytorch-operator,pytorch-converted,light}
 * through the public InferenceSession API (see test/conformance/cases.ts for how a case is judged) in a
 * pool of child processes: a case that hangs past the timeout or crashes its worker is recorded as a
 * failure and the worker is replaced, so one case cannot stop the run.
 *
 * Writes conformance/<backend>.json ({"<suite>": {"<test>": "pass" | "fail" | "unsupported"}}),
 * conformance/<backend>-details.json (error line, model ops and time per case) and conformance/<backend>.md
 * (summary per suite, the most common failure causes by op, and every failure with its first error line).
 * With --suite or --filter, results are merged into the existing files instead of replacing them.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { listCases, runCase, SUITES, type CaseResult, type ConformanceCase, type Status, type Suite } from '../test/conformance/cases.js';
import type { Backend } from '../src/kernels/registry.js';

const SCRIPT = fileURLToPath(import.meta.url);
const OUT_DIR = resolve(dirname(SCRIPT), '..', 'conformance');

interface Job {
  readonly suite: Suite;
  readonly name: string;
}

interface WorkerReply {
  readonly suite: Suite;
  readonly name: string;
  readonly result: CaseResult;
}

type Details = Record<string, Record<string, CaseResult>>;

// ---------------------------------------------------------------------------------------------------------
// Worker side: receive {suite, name}, run the case, reply with the result.

async function workerMain(backend: Backend): Promise<void> {
  const bySuite = new Map<Suite, Map<string, ConformanceCase>>();
  const find = (suite: Suite, name: string): ConformanceCase | undefined => {
    let m = bySuite.get(suite);
    if (!m) {
      m = new Map(listCases(suite).map((c) => [c.name, c]));
      bySuite.set(suite, m);
    }
    return m.get(name);
  };
  process.on('message', (job: Job) => {
    void (async () => {
      const c = find(job.suite, job.name);
      const result: CaseResult = c ? await runCase(c, backend) : { status: 'fail', error: 'case not found', ops: [], ms: 0 };
      process.send!({ suite: job.suite, name: job.name, result } satisfies WorkerReply);
    })();
  });
  process.send!({ ready: true });
}

// ---------------------------------------------------------------------------------------------------------
// Main side: a pool of workers with a per-case watchdog.

class Pool {
  private queue: Job[];
  private readonly results: WorkerReply[] = [];
  private finished = 0;
  private total = 0;
  private resolveAll!: () => void;

  constructor(
    jobs: Job[],
    private readonly size: number,
    private readonly timeoutMs: number,
    private readonly backend: Backend,
    private readonly onResult: (r: WorkerReply, done: number) => void,
  ) {
    this.queue = [...jobs];
  }

  run(): Promise<WorkerReply[]> {
    this.total = this.queue.length;
    return new Promise((res) => {
      this.resolveAll = () => res(this.results);
      if (this.total === 0) res(this.results);
      for (let i = 0; i < Math.min(this.size, this.total); i++) this.spawn();
    });
  }

  private record(r: WorkerReply): void {
    this.results.push(r);
    this.finished++;
    this.onResult(r, this.finished);
  }

  private spawn(): void {
    const child = fork(SCRIPT, ['--worker', '--backend', this.backend], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    let current: Job | undefined;
    let timer: NodeJS.Timeout | undefined;
    let started = 0;
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-2000);
    });
    const next = (): void => {
      current = this.queue.shift();
      if (!current) {
        child.kill();
        return;
      }
      started = performance.now();
      stderr = '';
      timer = setTimeout(() => {
        const job = current!;
        current = undefined;
        child.removeAllListeners('exit');
        child.kill('SIGKILL');
        this.record({ ...job, result: { status: 'fail', error: `timeout: no result after ${this.timeoutMs / 1000} s`, ops: [], ms: Math.round(performance.now() - started) } });
        this.afterWorkerGone();
      }, this.timeoutMs);
      child.send(current);
    };
    child.on('message', (m: WorkerReply | { ready: true }) => {
      if ('ready' in m) {
        next();
        return;
      }
      clearTimeout(timer);
      current = undefined;
      this.record(m);
      if (this.finished === this.total) this.resolveAll();
      next();
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (current) {
        const job = current;
        current = undefined;
        const why = stderr.trim().split('\n').filter(Boolean).pop() ?? '';
        this.record({ ...job, result: { status: 'fail', error: `worker died (${signal ?? `exit ${code}`}) ${why}`.trim(), ops: [], ms: Math.round(performance.now() - started) } });
        this.afterWorkerGone();
      }
    });
  }

  private afterWorkerGone(): void {
    if (this.finished === this.total) this.resolveAll();
    else if (this.queue.length > 0) this.spawn();
  }
}

// ---------------------------------------------------------------------------------------------------------
// Reports.

function readJson<T>(file: string, fallback: T): T {
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as T) : fallback;
}

function sortObject<T>(o: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]!]));
}

/** The op a failure is attributed to: the op named by the error, else the model's op if it has one. */
function culprit(r: CaseResult): string {
  const m = /^(?:\w+Error: )?(?:node '[^']*' \(([\w.]+)\)|([A-Z][\w.]*)(?: \(node '[^']*'\))?: )/.exec(r.error ?? '');
  if (m) return m[1] ?? m[2]!;
  if (r.ops.length === 1) return r.ops[0]!;
  return r.ops.length ? `(multi-op: ${r.ops.slice(0, 4).join(', ')}${r.ops.length > 4 ? ', ...' : ''})` : '(model not read)';
}

function markdown(details: Details, backend: Backend, command: string): string {
  const lines: string[] = [];
  lines.push(`# ONNX backend conformance: ${backend}`, '');
  lines.push(`Command: \`${command}\`. Data: ../shared/onnx-backend-tests (ONNX 1.23.0 fixtures).`, '');
  lines.push('| suite | cases | pass | fail | unsupported |', '|---|---|---|---|---|');
  const totals = { n: 0, pass: 0, fail: 0, unsupported: 0 };
  for (const suite of SUITES) {
    const rs = Object.values(details[suite] ?? {});
    if (!rs.length) continue;
    const c = { pass: 0, fail: 0, unsupported: 0 };
    for (const r of rs) c[r.status]++;
    totals.n += rs.length;
    totals.pass += c.pass;
    totals.fail += c.fail;
    totals.unsupported += c.unsupported;
    lines.push(`| ${suite} | ${rs.length} | ${c.pass} | ${c.fail} | ${c.unsupported} |`);
  }
  lines.push(`| **all** | ${totals.n} | ${totals.pass} | ${totals.fail} | ${totals.unsupported} |`, '');

  const failuresByOp = new Map<string, number>();
  const missing = new Map<string, number>();
  for (const suite of SUITES) {
    for (const r of Object.values(details[suite] ?? {})) {
      if (r.status === 'fail') failuresByOp.set(culprit(r), (failuresByOp.get(culprit(r)) ?? 0) + 1);
      if (r.status === 'unsupported') {
        const reasons = [...(r.error ?? '').matchAll(/operator ([\w.]+) has no (?:schema|kernel)|type ([\w()]+)|kernel registered for operator '([\w.]+)'/g)];
        const keys = new Set(reasons.map((m) => (m[1] ? `op ${m[1]}` : m[2] ? `type ${m[2]}` : `kernel ${m[3]}`)));
        for (const key of keys) missing.set(key, (missing.get(key) ?? 0) + 1);
        if (!reasons.length) missing.set('(other)', (missing.get('(other)') ?? 0) + 1);
      }
    }
  }
  const top = (m: Map<string, number>, n: number): string[] =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .slice(0, n)
      .map(([k, v]) => `| ${k} | ${v} |`);
  lines.push('## Most common failure causes by op', '', '| op | failing cases |', '|---|---|', ...top(failuresByOp, 40), '');
  lines.push('## Most common reasons for "unsupported"', '', '| missing | cases |', '|---|---|', ...top(missing, 40), '');
  lines.push('## Failures', '');
  for (const suite of SUITES) {
    const fails = Object.entries(details[suite] ?? {}).filter(([, r]) => r.status === 'fail');
    if (!fails.length) continue;
    lines.push(`### ${suite} (${fails.length})`, '');
    for (const [name, r] of fails) lines.push(`- \`${name}\`: ${(r.error ?? '').replace(/\|/g, '\\|')}`);
    lines.push('');
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      backend: { type: 'string', default: 'cpu' },
      suite: { type: 'string', multiple: true },
      filter: { type: 'string' },
      timeout: { type: 'string', default: '60' },
      jobs: { type: 'string', default: '1' },
      worker: { type: 'boolean', default: false },
    },
  });
  const backend = values.backend as Backend;
  if (backend !== 'cpu' && backend !== 'gpu') throw new Error(`--backend must be cpu or gpu, got ${backend}`);
  if (values.worker) return workerMain(backend);

  const suites = (values.suite ?? [...SUITES]).flatMap((s) => s.split(',')) as Suite[];
  for (const s of suites) if (!SUITES.includes(s)) throw new Error(`unknown suite '${s}'; suites: ${SUITES.join(', ')}`);
  const filter = values.filter;
  const timeoutMs = Number(values.timeout) * 1000;
  const jobsCount = Math.max(1, Number(values.jobs));
  const jobs: Job[] = [];
  for (const suite of suites) {
    for (const c of listCases(suite)) if (!filter || c.name.includes(filter)) jobs.push({ suite, name: c.name });
  }
  console.log(`conformance: ${jobs.length} cases on ${backend}, ${jobsCount} worker(s), ${timeoutMs / 1000} s per case`);

  const partial = values.suite !== undefined || filter !== undefined;
  mkdirSync(OUT_DIR, { recursive: true });
  const detailsFile = join(OUT_DIR, `${backend}-details.json`);
  const details: Details = partial ? readJson<Details>(detailsFile, {}) : {};
  const t0 = performance.now();
  const pool = new Pool(jobs, jobsCount, timeoutMs, backend, (r, done) => {
    (details[r.suite] ??= {})[r.name] = r.result;
    if (r.result.status === 'fail' || done % 100 === 0 || done === jobs.length) {
      const tag = r.result.status === 'fail' ? `FAIL ${r.suite}/${r.name}: ${r.result.error}` : '';
      console.log(`[${done}/${jobs.length}] ${tag}`.trimEnd());
    }
  });
  await pool.run();

  const summary: Record<string, Record<string, Status>> = {};
  const sortedDetails: Details = {};
  for (const suite of SUITES) {
    if (!details[suite]) continue;
    sortedDetails[suite] = sortObject(details[suite]!);
    summary[suite] = Object.fromEntries(Object.entries(sortedDetails[suite]!).map(([k, r]) => [k, r.status]));
  }
  writeFileSync(join(OUT_DIR, `${backend}.json`), `${JSON.stringify(summary, null, 1)}\n`);
  writeFileSync(detailsFile, `${JSON.stringify(sortedDetails, null, 1)}\n`);
  const command = `npm run conformance -- --backend ${backend}`;
  writeFileSync(join(OUT_DIR, `${backend}.md`), markdown(sortedDetails, backend, command));
  for (const suite of suites) {
    const rs = Object.values(sortedDetails[suite] ?? {});
    const count = (s: Status) => rs.filter((r) => r.status === s).length;
    console.log(`${suite}: ${rs.length} cases, ${count('pass')} pass, ${count('fail')} fail, ${count('unsupported')} unsupported`);
  }
  console.log(`done in ${((performance.now() - t0) / 1000).toFixed(0)} s; wrote conformance/${backend}.json, ${backend}.md, ${backend}-details.json`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
