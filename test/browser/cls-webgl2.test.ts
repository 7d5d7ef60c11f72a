/**
 * The browser build on WebGL 2: the esbuild bundle of Tessera (scripts/build-browser.ts, built in memory
 * here) runs PP-OCR's direction classifier with backend 'gpu' in Debian's headless Chromium (SwiftShader),
 * and its output must match the Node CPU result (rtol 1e-3, atol 1e-3) with zero CPU fallbacks.
 *
 * The test starts a localhost HTTP server serving a test page, the bundle, gpu.js's browser build, the model
 * bytes and the input tensor (computed in Node from a sample line image), then drives Chromium through
 * playwright-core with a fresh profile folder. The page creates the session from the model's bytes (the
 * bundle has no file system) and reports the outputs, the run statistics and gpuInfo().
 *
 * Without /usr/bin/chromium the suite is skipped with the reason printed; with TESSERA_REQUIRE_GPU=1 (CI)
 * that is a failure instead. Timings come from SwiftShader: software rendering, not GPU speed.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBrowserBundle } from '../../scripts/build-browser.js';
import { clsInput, type Image8 } from '../../demo/ocr.js';
import { InferenceSession } from '../../src/graph/session.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { expectClose } from '../util/tensors.js';

const ROOT = join(import.meta.dirname, '..', '..');
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const CLS = join(ROOT, 'node_modules', '@gutenye', 'ocr-models', 'assets', 'ch_ppocr_mobile_v2.0_cls_infer.onnx');
const GPU_JS = join(ROOT, 'node_modules', 'gpu.js', 'dist', 'gpu-browser.min.js');

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>tessera browser test</title>
<script src="/gpu-browser.min.js"></script>
<script type="module">
import * as tessera from '/tessera.browser.js';
window.tessera = tessera;
window.tesseraReady = true;
</script></head><body></body></html>`;

/** What the page reports for one run. */
interface PageRun {
  outputs: Record<string, { dims: number[]; values: number[] }>;
  cpuFallbacks: string[];
  gpu: { mode: string; renderer: string; software: boolean; uploads: number; downloads: number; compiles: number; dispatches: number; hostOps: string[] } | undefined;
  ms: number;
}

interface PageResult {
  info: { available: boolean; mode?: string; renderer?: string; software?: boolean; reason?: string };
  runs: PageRun[];
  pathError: string;
}

function loadLine(file: string): Image8 {
  const png = PNG.sync.read(readFileSync(join(ROOT, 'assets', 'samples', file)));
  return { width: png.width, height: png.height, channels: 4, data: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.length) };
}

/** Why the browser test cannot run here, or undefined. */
const UNAVAILABLE = existsSync(CHROMIUM) ? undefined : `${CHROMIUM} is not installed (Debian: apt-get install chromium)`;
const REQUIRED = process.env['TESSERA_REQUIRE_GPU'] === '1';

/** Serve `routes` (path -> body and content type) on 127.0.0.1 at a free port. */
async function serve(routes: ReadonlyMap<string, { body: Uint8Array | string; type: string }>): Promise<{ server: Server; origin: string }> {
  const server = createServer((req, res) => {
    const route = routes.get((req.url ?? '/').split('?')[0]!);
    if (!route) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: ${req.url}`);
      return;
    }
    res.writeHead(200, { 'content-type': route.type, 'cache-control': 'no-store' }).end(route.body);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** Runs in the page: create the session from bytes, run cls twice on 'gpu', report outputs and stats. */
async function runInPage(args: { dims: number[] }): Promise<PageResult> {
  interface PageTensor {
    readonly dims: readonly number[];
    numbers(): ArrayLike<number>;
    dispose(): void;
  }
  interface PageSession {
    readonly inputNames: readonly string[];
    lastRunStats?: { cpuFallbacks: readonly string[]; gpu?: PageRun['gpu'] };
    run(feeds: Record<string, unknown>): Promise<Record<string, PageTensor>>;
    release(): Promise<void>;
  }
  const tessera = (window as unknown as {
    tessera: {
      gpuInfo(): PageResult['info'];
      Tensor: new (type: string, data: Float32Array, dims: readonly number[]) => unknown;
      InferenceSession: { create(model: Uint8Array | string, options?: { backend: string }): Promise<PageSession> };
    };
  }).tessera;
  const [model, input] = await Promise.all([fetch('/cls.onnx').then((r) => r.arrayBuffer()), fetch('/input.bin').then((r) => r.arrayBuffer())]);
  const info = tessera.gpuInfo();
  let pathError = '';
  try {
    await tessera.InferenceSession.create('/cls.onnx', { backend: 'cpu' });
  } catch (e) {
    pathError = (e as Error).message;
  }
  const session = await tessera.InferenceSession.create(new Uint8Array(model), { backend: 'gpu' });
  const runs: PageRun[] = [];
  try {
    for (let pass = 0; pass < 2; pass++) {
      const x = new tessera.Tensor('float32', new Float32Array(input), args.dims);
      const t0 = performance.now();
      const out = await session.run({ [session.inputNames[0]!]: x });
      const ms = performance.now() - t0;
      const outputs: PageRun['outputs'] = {};
      for (const [name, t] of Object.entries(out)) {
        outputs[name] = { dims: [...t.dims], values: Array.from(t.numbers()) };
        t.dispose();
      }
      const stats = session.lastRunStats!;
      runs.push({ outputs, cpuFallbacks: [...stats.cpuFallbacks], gpu: stats.gpu && { ...stats.gpu, hostOps: [...stats.gpu.hostOps] }, ms });
    }
  } finally {
    await session.release();
  }
  return { info, runs, pathError };
}

function describeBrowser(name: string, body: () => void): void {
  if (!UNAVAILABLE) {
    describe(name, body);
    return;
  }
  console.warn(`browser tests not run: ${UNAVAILABLE}`);
  if (REQUIRED) {
    describe(name, () => {
      it('needs Chromium (TESSERA_REQUIRE_GPU=1)', () => {
        throw new Error(`browser tests required but not run: ${UNAVAILABLE}`);
      });
    });
  } else describe.skip(`${name} (browser tests not run: ${UNAVAILABLE})`, body);
}

describeBrowser('browser bundle on WebGL 2 (headless Chromium)', () => {
  let server: Server | undefined;
  let origin = '';
  let context: BrowserContext | undefined;
  let profile: string | undefined;
  let page: Page;
  const pageErrors: string[] = [];
  const input = clsInput(loadLine('line_0.png'));

  beforeAll(async () => {
    const bundle = await buildBrowserBundle();
    const inputBytes = new Uint8Array(input.data.buffer, input.data.byteOffset, input.data.byteLength);
    const served = await serve(
      new Map([
        ['/', { body: PAGE, type: 'text/html' }],
        ['/tessera.browser.js', { body: bundle, type: 'text/javascript' }],
        ['/gpu-browser.min.js', { body: readFileSync(GPU_JS), type: 'text/javascript' }],
        ['/cls.onnx', { body: readFileSync(CLS), type: 'application/octet-stream' }],
        ['/input.bin', { body: inputBytes, type: 'application/octet-stream' }],
        ['/favicon.ico', { body: '', type: 'image/x-icon' }],
      ]),
    );
    server = served.server;
    origin = served.origin;
    profile = mkdtempSync(join(tmpdir(), 'tessera-chromium-'));
    context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(`${m.text()} (${m.location().url})`);
    });
    await page.goto(`${origin}/`);
    await page.waitForFunction(() => (window as unknown as { tesseraReady?: boolean }).tesseraReady === true, undefined, { timeout: 30_000 });
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    await new Promise<void>((ok) => (server ? server.close(() => ok()) : ok()));
  });

  it('runs PP-OCR cls on WebGL 2 and matches the Node CPU result', { timeout: 300_000 }, async () => {
    const result = await page.evaluate(runInPage, { dims: [...input.dims] });
    expect(pageErrors).toEqual([]);

    // the device: WebGL 2 named and asserted, the software renderer reported as such
    expect(result.info.available, result.info.reason).toBe(true);
    expect(result.info.mode).toBe('webgl2');
    expect(result.info.renderer).toMatch(/SwiftShader/);
    expect(result.info.software).toBe(true);

    // the browser has no file system: a path is refused with a message saying to pass bytes
    expect(result.pathError).toMatch(/not available in the browser: create the session from the model's bytes/);

    const cpu = InferenceSession.createSync(CLS);
    try {
      const want = cpu.runSync({ [cpu.inputNames[0]!]: input });
      result.runs.forEach((run, pass) => {
        const label = pass === 0 ? 'cold' : 'warm';
        console.log(`cls in Chromium (${label}): ${run.ms.toFixed(0)} ms on ${result.info.renderer}; ${JSON.stringify({ ...run.gpu, renderer: undefined, hostOps: run.gpu?.hostOps.length })}`);
        expect(run.cpuFallbacks).toEqual([]);
        expect(run.gpu?.mode).toBe('webgl2');
        expect(run.gpu!.hostOps).toEqual([]); // shape arithmetic folded for the input's dims
        if (pass === 1) {
          expect(run.gpu!.uploads).toBe(1); // the input; weights stayed resident
          expect(run.gpu!.compiles).toBe(0);
        }
        expect(Object.keys(run.outputs).sort()).toEqual(Object.keys(want).sort());
        for (const [name, expected] of Object.entries(want)) {
          const got = run.outputs[name]!;
          expectClose(new Tensor('float32', Float32Array.from(got.values), got.dims), expected, { rtol: 1e-3, atol: 1e-3, label: `cls ${name} (${label})` });
        }
      });
      for (const t of Object.values(want)) t.dispose();
    } finally {
      await cpu.release();
    }
  });
});
