/**
 * Model fuzzer: loads hostile models (see test/reliability/hostile.ts for the mutation classes) into
 * InferenceSession, runs them when they load, and checks that every failure is a TesseraError with a message.
 *
 *   tsx scripts/fuzz.ts [--seconds 60] [--seed S] [--classes truncate,dims,...] [--timeout-ms 20000]
 *   tsx scripts/fuzz.ts --replay <class>:<caseSeed>      (run one case in this process and print it)
 *
 * The parent process generates nothing itself: it sends (class, case seed) to a child process, which builds
 * the case with fast-check from that seed and evaluates it. A child that does not answer within --timeout-ms
 * is killed and the case counted as a hang; a child that dies (out of memory, a native crash) counts as a
 * crash; an error that is not a TesseraError with a message counts as unclassified. Classes are visited
 * round-robin until the time is up. At the end a table of cases per class and outcome is printed; the exit
 * code is 1 when any crash, hang or unclassified error was seen, and for each one the seed, the case, its
 * description and the path of its bytes (written under the OS temp folder) are printed.
 *
 * Self-test of the watchdog: with TESSERA_FUZZ_SELF_TEST=hang|die|throw in the environment, the child's first
 * case spins forever, exits, or reports a TypeError, so tests can check that each is caught and reported.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import fc from 'fast-check';
import { evaluateCase, MUTATION_CLASSES, type FuzzCase, type Outcome } from '../test/reliability/hostile.js';

interface CaseRequest {
  readonly cls: string;
  readonly caseSeed: number;
}

interface CaseReply {
  readonly outcome: Outcome;
  readonly description: string;
  readonly ms: number;
}

/** Build the case of `cls` for `caseSeed` (the same in parent and child: fast-check is deterministic). */
function makeCase(cls: string, caseSeed: number): FuzzCase {
  const arb = MUTATION_CLASSES[cls];
  if (!arb) throw new Error(`unknown class '${cls}'; classes: ${Object.keys(MUTATION_CLASSES).join(', ')}`);
  return fc.sample(arb, { seed: caseSeed, numRuns: 1 })[0]!;
}

/** A 31-bit seed for case `i` of a run seeded `seed` (splitmix-style mixing). */
function caseSeedOf(seed: number, i: number): number {
  let z = (seed ^ Math.imul(i + 1, 0x9e3779b9)) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) & 0x7fffffff;
}

// ---------------------------------------------------------------------------------------------------------
// Child: evaluate cases on request.

function childMain(): void {
  let selfTest = process.env['TESSERA_FUZZ_SELF_TEST'];
  process.on('message', (msg: CaseRequest) => {
    const start = performance.now();
    let reply: CaseReply;
    const injected = selfTest;
    selfTest = undefined;
    if (injected === 'hang') for (;;);
    if (injected === 'die') process.exit(70);
    try {
      if (injected === 'throw') throw new TypeError('self-test: an error that is not a TesseraError');
      const c = makeCase(msg.cls, msg.caseSeed);
      reply = { outcome: evaluateCase(c.bytes), description: c.description, ms: performance.now() - start };
    } catch (e) {
      // the generator itself failed: report it as unclassified so it is seen
      const err = e as Error;
      reply = { outcome: { kind: 'crash', name: err.name, message: err.message, stack: err.stack }, description: '(case generation failed)', ms: 0 };
    }
    process.send!(reply);
  });
  process.send!({ ready: true });
}

// ---------------------------------------------------------------------------------------------------------
// Parent: schedule, watch, tabulate.

type Column = 'cases' | 'pass' | 'refused' | 'unclassified' | 'crash' | 'hang';
const COLUMNS: Column[] = ['cases', 'pass', 'refused', 'unclassified', 'crash', 'hang'];

interface Failure {
  readonly cls: string;
  readonly caseSeed: number;
  readonly kind: 'unclassified' | 'crash' | 'hang';
  readonly detail: string;
}

class Child {
  private proc: ChildProcess | undefined;
  private pending: { resolve: (r: CaseReply | { died: string }) => void } | undefined;

  async start(): Promise<void> {
    const script = fileURLToPath(import.meta.url);
    const proc = fork(script, ['--child'], { serialization: 'advanced', stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    // a self-test failure is injected into the first child only
    delete process.env['TESSERA_FUZZ_SELF_TEST'];
    let stderr = '';
    proc.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-2000);
    });
    this.proc = proc;
    await new Promise<void>((resolve, reject) => {
      const onMsg = (m: unknown): void => {
        if ((m as { ready?: boolean }).ready) {
          proc.off('message', onMsg);
          resolve();
        }
      };
      proc.on('message', onMsg);
      proc.once('exit', (code) => reject(new Error(`fuzz child exited with code ${code} before it was ready: ${stderr}`)));
    });
    proc.on('message', (m: unknown) => {
      const p = this.pending;
      this.pending = undefined;
      p?.resolve(m as CaseReply);
    });
    proc.on('exit', (code, signal) => {
      const p = this.pending;
      this.pending = undefined;
      p?.resolve({ died: `child process exited (code ${code}, signal ${signal}): ${stderr.trim().split('\n').slice(-3).join(' | ')}` });
      if (this.proc === proc) this.proc = undefined;
    });
  }

  /** Evaluate one case; undefined when it took longer than `timeoutMs` (the child is then killed). */
  async run(req: CaseRequest, timeoutMs: number): Promise<CaseReply | { died: string } | undefined> {
    if (!this.proc) await this.start();
    const proc = this.proc!;
    const answer = new Promise<CaseReply | { died: string }>((resolve) => (this.pending = { resolve }));
    proc.send(req);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), timeoutMs)));
    const result = await Promise.race([answer, timeout]);
    clearTimeout(timer);
    if (result === undefined) {
      this.pending = undefined;
      this.proc = undefined;
      proc.kill('SIGKILL');
    }
    return result;
  }

  stop(): void {
    this.proc?.kill('SIGKILL');
    this.proc = undefined;
  }
}

function saveCase(cls: string, caseSeed: number): { description: string; file: string } {
  const c = makeCase(cls, caseSeed);
  const dir = join(tmpdir(), 'tessera-fuzz');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${cls}-${caseSeed}.onnx`);
  writeFileSync(file, c.bytes);
  return { description: c.description, file };
}

function printTable(rows: Map<string, Record<Column, number>>, refusedBy: Map<string, number>): void {
  const total: Record<Column, number> = { cases: 0, pass: 0, refused: 0, unclassified: 0, crash: 0, hang: 0 };
  const lines: string[][] = [['class', ...COLUMNS]];
  for (const [cls, r] of rows) {
    lines.push([cls, ...COLUMNS.map((c) => String(r[c]))]);
    for (const c of COLUMNS) total[c] += r[c];
  }
  lines.push(['total', ...COLUMNS.map((c) => String(total[c]))]);
  const widths = lines[0]!.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
  const fmt = (l: string[]): string => `| ${l.map((s, i) => (i === 0 ? s.padEnd(widths[i]!) : s.padStart(widths[i]!))).join(' | ')} |`;
  console.log(fmt(lines[0]!));
  console.log(`|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`);
  for (const l of lines.slice(1)) console.log(fmt(l));
  console.log(`refused by error class: ${[...refusedBy].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ')}`);
}

async function parentMain(): Promise<number> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '60' },
      seed: { type: 'string' },
      classes: { type: 'string' },
      'timeout-ms': { type: 'string', default: '20000' },
      replay: { type: 'string' },
    },
    strict: true,
  });
  if (values.replay) {
    const [cls, s] = values.replay.split(':');
    const c = makeCase(cls!, Number(s));
    console.log(`case ${values.replay}: ${c.description} (${c.bytes.length} bytes)`);
    console.log(evaluateCase(c.bytes));
    return 0;
  }
  const seconds = Number(values.seconds);
  const timeoutMs = Number(values['timeout-ms']);
  const seed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31);
  if (!Number.isFinite(seconds) || seconds <= 0 || !Number.isInteger(seed) || !(timeoutMs > 0)) {
    console.error('usage: tsx scripts/fuzz.ts [--seconds N] [--seed S] [--classes a,b] [--timeout-ms T] | --replay class:caseSeed');
    return 2;
  }
  const classes = values.classes ? values.classes.split(',') : Object.keys(MUTATION_CLASSES);
  for (const c of classes) if (!MUTATION_CLASSES[c]) throw new Error(`unknown class '${c}'; classes: ${Object.keys(MUTATION_CLASSES).join(', ')}`);
  console.log(`fuzz: seed ${seed}, ${seconds} s, classes ${classes.join(', ')}, watchdog ${timeoutMs} ms per case`);

  const rows = new Map(classes.map((c) => [c, { cases: 0, pass: 0, refused: 0, unclassified: 0, crash: 0, hang: 0 } as Record<Column, number>]));
  const refusedBy = new Map<string, number>();
  const failures: Failure[] = [];
  const child = new Child();
  const deadline = Date.now() + seconds * 1000;
  let i = 0;
  let slowest = { ms: 0, what: '' };
  try {
    while (Date.now() < deadline) {
      const cls = classes[i % classes.length]!;
      const caseSeed = caseSeedOf(seed, i);
      i++;
      const row = rows.get(cls)!;
      row.cases++;
      const r = await child.run({ cls, caseSeed }, timeoutMs);
      if (r === undefined) {
        row.hang++;
        failures.push({ cls, caseSeed, kind: 'hang', detail: `no answer within ${timeoutMs} ms` });
      } else if ('died' in r) {
        row.crash++;
        failures.push({ cls, caseSeed, kind: 'crash', detail: r.died });
      } else {
        if (r.ms > slowest.ms) slowest = { ms: r.ms, what: `${cls}:${caseSeed}` };
        const o = r.outcome;
        if (o.kind === 'pass') row.pass++;
        else if (o.kind === 'refused') {
          row.refused++;
          refusedBy.set(o.name, (refusedBy.get(o.name) ?? 0) + 1);
        } else {
          row.unclassified++;
          failures.push({ cls, caseSeed, kind: 'unclassified', detail: `${o.name}: ${o.message}\n${o.stack ?? ''}` });
        }
      }
    }
  } finally {
    child.stop();
  }
  printTable(rows, refusedBy);
  console.log(`slowest case: ${slowest.what} (${slowest.ms.toFixed(0)} ms)`);
  if (failures.length === 0) {
    console.log(`fuzz: no crash, hang or unclassified error in ${i} cases (seed ${seed})`);
    return 0;
  }
  console.log(`\nfuzz: ${failures.length} failure(s) with seed ${seed}:`);
  for (const f of failures.slice(0, 20)) {
    const saved = saveCase(f.cls, f.caseSeed);
    console.log(`- ${f.kind} in class ${f.cls}, case ${f.cls}:${f.caseSeed} (replay: tsx scripts/fuzz.ts --replay ${f.cls}:${f.caseSeed})`);
    console.log(`  input: ${saved.description}`);
    console.log(`  bytes: ${saved.file}`);
    console.log(`  ${f.detail.split('\n').slice(0, 8).join('\n  ')}`);
  }
  return 1;
}

if (process.argv.includes('--child')) childMain();
else {
  parentMain().then(
    (code) => process.exit(code),
    (e: unknown) => {
      console.error(e);
      process.exit(2);
    },
  );
}
