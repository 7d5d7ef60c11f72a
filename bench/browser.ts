/**
 * The browser benchmark: the suite's kernel cases and PP-OCR cls through the esbuild bundle of Tessera in
 * headless Chromium (Debian's /usr/bin/chromium through playwright-core), CPU beside WebGL 2.
 *
 *   npm run bench:browser               (tsx bench/browser.ts)
 *   npm run bench:browser -- --quick    the --quick kernel subset
 *   options: --filter TEXT (repeatable), --rounds N, --time MS, --machine NAME, --out DIR
 *
 * Node prepares everything the page needs and serves it on 127.0.0.1: the library bundle
 * (scripts/build-browser.ts, built in memory), gpu.js's browser build, the page script (bench/browser/page.ts
 * bundled with tinybench and the shared runner), one ONNX model per case (the one-op models the Node peers
 * run, and the real cls model) and its feeds as raw bytes. The page measures with the same interleaved
 * runner and hands back entries; they are written like the Node suite's, as
 * bench/results/<date>-<machine>-browser[-quick].{json,md} with charts, and bench/results/latest-browser.md.
 *
 * In headless Chromium WebGL 2 runs on SwiftShader, a software rasterizer: the report labels those numbers
 * as software rendering, not GPU speed.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import { buildBrowserBundle } from '../scripts/build-browser.js';
import type { Tensor } from '../src/tensor/tensor.js';
import type { PageCase, PageConfig, PageResult } from './browser/page.js';
import { kernelModelBytes } from './lib/kernel-cases.js';
import { KERNEL_SPECS, inputValues } from './lib/kernel-specs.js';
import { machineInfo, machineSlug } from './lib/machine.js';
import { MODEL_SPECS, modelFeeds, ROOT, variantBytes } from './lib/model-cases.js';
import { headlineTable } from './lib/report.js';
import type { BenchResults } from './lib/results.js';
import { packageVersion, writeReport } from './lib/write.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--enable-unsafe-webgpu'];

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    filter: { type: 'string', multiple: true },
    rounds: { type: 'string' },
    time: { type: 'string' },
    machine: { type: 'string' },
    out: { type: 'string' },
  },
});
const quick = args.quick;
const filters = args.filter ?? [];
const keep = (id: string): boolean => filters.length === 0 || filters.some((f) => id.includes(f));

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>Tessera benchmark</title>
<script src="/gpu-browser.min.js"></script>
<script type="module">import * as tessera from '/tessera.browser.js'; window.tessera = tessera;</script>
<script type="module" src="/page.js"></script>
</head><body><p>Tessera benchmark running; see the console.</p></body></html>`;

type Route = { body: Uint8Array | string; type: string };

function rawBytes(t: Tensor): Uint8Array {
  const d = t.data as ArrayBufferView;
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength).slice();
}

/** The page's cases and the routes serving their models and feeds. */
function prepareCases(routes: Map<string, Route>): PageCase[] {
  const cases: PageCase[] = [];
  for (const spec of KERNEL_SPECS) {
    if ((quick && !spec.quick) || !keep(spec.id)) continue;
    routes.set(`/models/${spec.id}.onnx`, { body: kernelModelBytes(spec), type: 'application/octet-stream' });
    const feeds = spec.inputs
      .map((inp, i) => ({ inp, i }))
      .filter(({ inp }) => !inp.weight)
      .map(({ inp, i }) => {
        const url = `/feeds/${spec.id}/${inp.name}.bin`;
        const v = inputValues(spec, i);
        const typed = inp.type === 'uint8' ? Uint8Array.from(v) : v;
        routes.set(url, { body: new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength), type: 'application/octet-stream' });
        return { name: inp.name, type: inp.type === 'uint8' ? ('uint8' as const) : ('float32' as const), dims: [...inp.dims], url };
      });
    // SwiftShader needs seconds for a 512 matmul: --quick keeps the GPU to the matmuls up to 256
    const gpuOk = spec.dtype === 'float32' && (!quick || (spec.family === 'matmul' && spec.work <= 2 * 256 ** 3));
    cases.push({
      info: { id: spec.id, group: 'kernel', name: spec.name, family: spec.family, dtype: spec.dtype, size: spec.size, work: spec.work, unit: spec.unit },
      model: `/models/${spec.id}.onnx`,
      feeds,
      gpu: gpuOk,
      gpuNote: spec.dtype !== 'float32' ? 'GPU textures hold float32 only' : 'GPU skipped in --quick',
    });
  }
  for (const spec of MODEL_SPECS) {
    if (spec.model !== 'ppocr-cls' || spec.batch !== 1 || spec.variant !== 'float32' || !keep(spec.id)) continue;
    routes.set(`/models/${spec.id}.onnx`, { body: variantBytes(spec), type: 'application/octet-stream' });
    const feeds = Object.entries(modelFeeds(spec.model, spec.batch)).map(([name, t]) => {
      const url = `/feeds/${spec.id}/${encodeURIComponent(name)}.bin`;
      routes.set(url, { body: rawBytes(t), type: 'application/octet-stream' });
      return { name, type: t.type as 'float32' | 'int64', dims: [...t.dims], url };
    });
    cases.push({ info: { id: spec.id, group: 'model', name: `${spec.model} b${spec.batch}`, family: spec.model, dtype: spec.variant, batch: spec.batch }, model: `/models/${spec.id}.onnx`, feeds, gpu: true });
  }
  return cases;
}

async function serve(routes: ReadonlyMap<string, Route>): Promise<{ server: Server; origin: string }> {
  const server = createServer((req, res) => {
    const route = routes.get(decodeURIComponent((req.url ?? '/').split('?')[0]!));
    if (!route) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: ${req.url}`);
      return;
    }
    // cross-origin isolation gives the page a 5 us performance.now() instead of a 100 us one
    res
      .writeHead(200, { 'content-type': route.type, 'cache-control': 'no-store', 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' })
      .end(route.body);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function pageScript(): Promise<string> {
  const out = await build({
    entryPoints: [join(ROOT, 'bench', 'browser', 'page.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
  });
  return out.outputFiles[0]!.text;
}

async function main(): Promise<number> {
  if (!existsSync(CHROMIUM)) {
    console.error(`bench:browser needs ${CHROMIUM} (Debian: apt-get install chromium)`);
    return 2;
  }
  const started = performance.now();
  const startedAt = new Date();
  const rounds = args.rounds ? Number(args.rounds) : quick ? 2 : 3;
  const timePerRoundMs = args.time ? Number(args.time) : quick ? 100 : 300;
  const routes = new Map<string, Route>();
  const cases = prepareCases(routes);
  const config: PageConfig = { cases, rounds, timePerRoundMs, minIterations: quick ? 1 : 3, warmupIterations: quick ? 1 : 2, warmupEveryRound: !quick };
  routes.set('/', { body: PAGE, type: 'text/html' });
  routes.set('/config.json', { body: JSON.stringify(config), type: 'application/json' });
  routes.set('/tessera.browser.js', { body: await buildBrowserBundle(), type: 'text/javascript' });
  routes.set('/page.js', { body: await pageScript(), type: 'text/javascript' });
  routes.set('/gpu-browser.min.js', { body: readFileSync(join(ROOT, 'node_modules', 'gpu.js', 'dist', 'gpu-browser.min.js')), type: 'text/javascript' });
  routes.set('/favicon.ico', { body: '', type: 'image/x-icon' });

  const { server, origin } = await serve(routes);
  const profile = mkdtempSync(join(tmpdir(), 'tessera-bench-chromium-'));
  const bar = new cliProgress.SingleBar({ format: 'bench:browser [{bar}] {value}/{total} cases | {label}', stream: process.stderr, hideCursor: true, clearOnComplete: true }, cliProgress.Presets.shades_classic);
  const pageErrors: string[] = [];
  let result: PageResult;
  try {
    const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    try {
      const page = await context.newPage();
      page.on('pageerror', (e) => pageErrors.push(e.message));
      bar.start(cases.length, 0, { label: 'loading' });
      page.on('console', (m) => {
        const text = m.text();
        const p = /^progress (\d+) (\d+) (.*)$/.exec(text);
        if (p) bar.update(Number(p[1]), { label: p[3] });
        else if (m.type() === 'error') pageErrors.push(text);
      });
      await page.goto(`${origin}/`);
      await page.waitForFunction(() => {
        const w = window as unknown as { benchResult?: unknown; benchError?: string };
        return w.benchResult !== undefined || w.benchError !== undefined;
      }, undefined, { timeout: 0, polling: 500 });
      const error = await page.evaluate(() => (window as unknown as { benchError?: string }).benchError);
      if (error) throw new Error(`the benchmark page failed: ${error}`);
      result = (await page.evaluate(() => (window as unknown as { benchResult: PageResult }).benchResult)) as PageResult;
      bar.update(cases.length, { label: 'done' });
    } finally {
      bar.stop();
      await context.close();
    }
  } finally {
    rmSync(profile, { recursive: true, force: true });
    await new Promise<void>((ok) => server.close(() => ok()));
  }
  const node = machineInfo();
  const chromeVersion = /Chrome\/([\d.]+)/.exec(result.userAgent)?.[1] ?? 'unknown';
  const results: BenchResults = {
    format: 'tessera-bench/1',
    suite: 'browser',
    date: startedAt.toISOString(),
    command: `npm run bench:browser${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    quick,
    machine: { cpu: node.cpu, cores: result.cores, platform: node.platform, memoryGiB: node.memoryGiB, userAgent: result.userAgent },
    gpu: result.gpu,
    threads: 1,
    rounds,
    timePerRoundMs,
    wallSeconds: (performance.now() - started) / 1000,
    versions: { chromium: chromeVersion, 'gpu.js': packageVersion(ROOT, 'gpu.js'), tinybench: packageVersion(ROOT, 'tinybench'), esbuild: packageVersion(ROOT, 'esbuild') },
    cases: result.cases,
    entries: result.entries,
    notes: [
      'Tessera in the page runs InferenceSession on one-op ONNX models (the same files the Node peers run) and on PP-OCR cls; CPU is one thread (the worker pool is Node-only).',
      result.webgpu,
      ...(quick ? ['--quick: the --quick kernel subset; WebGL 2 only for the matmuls up to 256 and the model.'] : []),
      ...result.errors,
      ...pageErrors.map((e) => `page error: ${e}`),
    ],
  };
  const base = `${startedAt.toISOString().slice(0, 10)}-${args.machine ?? machineSlug(node)}-browser${quick ? '-quick' : ''}`;
  const written = await writeReport(results, args.out ?? join(ROOT, 'bench', 'results'), base);
  console.log(headlineTable(results).join('\n'));
  console.log(`\n${result.gpu.available ? `WebGL: ${result.gpu.mode} on ${result.gpu.renderer}${result.gpu.software ? ' (software rendering, not GPU speed)' : ''}` : `no WebGL: ${result.gpu.reason}`}`);
  console.log(result.webgpu);
  console.log(`wall time ${results.wallSeconds.toFixed(0)} s; wrote ${written.json}, ${written.markdown}`);
  return result.errors.length || pageErrors.length ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exitCode = 1;
  },
);
