/**
 * Build the browser bundle of Tessera: one ES module, dist/tessera.browser.js.
 *
 *   tsx scripts/build-browser.ts [--outfile dist/tessera.browser.js] [--minify]
 *
 * The bundle holds the public API (src/index.ts) plus the GPU entry points a page needs (`gpuInfo`,
 * `provideGpuJs`, `getGpuDevice`, `GpuUnavailableError`). gpu.js is not bundled: the page loads
 * node_modules/gpu.js/dist/gpu-browser.min.js first (it defines the `GPU` global the backend looks for), or
 * hands the module over with `provideGpuJs`.
 *
 * A few library modules import Node built-ins for file access only: node:fs and node:path (reading a model
 * or its external tensor data from a path). In the browser those modules resolve to small stubs whose
 * functions throw "... is not available in the browser: create the session from the model's bytes"; a
 * session is created from a Uint8Array or ArrayBuffer there. Any other Node built-in reached by the bundle
 * is a build error naming the module, so a new Node-only import cannot slip into the browser silently.
 * Type-only imports (node:worker_threads in the CPU thread pool) are erased and never reach the bundler.
 *
 * `buildBrowserBundle` is exported for the browser test, which builds in memory.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build, type Plugin } from 'esbuild';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Default output of the script. */
export const BROWSER_BUNDLE = join(ROOT, 'dist', 'tessera.browser.js');

/** Node built-ins the library imports, with the names it imports from each (stubbed in the browser). */
const STUBBED: Readonly<Record<string, readonly string[]>> = {
  fs: ['readFileSync', 'existsSync', 'statSync', 'openSync', 'readSync', 'closeSync', 'realpathSync'],
  path: ['dirname', 'resolve', 'join', 'normalize', 'relative', 'isAbsolute', 'basename', 'extname'],
};

/** The source of the stub module standing in for node:<name>. */
function stubSource(name: string): string {
  const fns = STUBBED[name]!;
  const lines = [
    `function unavailable(fn) {`,
    `  return function () {`,
    `    throw new Error('node:${name}.' + fn + ' is not available in the browser: create the session from the model\\'s bytes (a Uint8Array or ArrayBuffer), with external data embedded');`,
    `  };`,
    `}`,
    ...fns.map((fn) => `export const ${fn} = unavailable('${fn}');`),
  ];
  if (name === 'path') lines.push(`export const sep = '/';`);
  return lines.join('\n');
}

/** esbuild plugin: node:fs / node:path become throwing stubs; any other Node built-in fails the build. */
const nodeBuiltinsPlugin: Plugin = {
  name: 'tessera-node-builtins',
  setup(b) {
    b.onResolve({ filter: /^node:/ }, (args) => {
      const name = args.path.slice('node:'.length);
      if (STUBBED[name]) return { path: name, namespace: 'node-stub' };
      return { errors: [{ text: `${args.path} (imported by ${args.importer}) has no browser stub; keep Node-only code out of the browser bundle` }] };
    });
    b.onLoad({ filter: /.*/, namespace: 'node-stub' }, (args) => ({ contents: stubSource(args.path), loader: 'js' }));
  },
};

/** What the bundle exports: the public API and the GPU entry points. */
const ENTRY = [
  `export * from './src/index.ts';`,
  `export { gpuInfo, provideGpuJs, getGpuDevice, GpuUnavailableError } from './src/kernels/gpu/index.ts';`,
].join('\n');

/** Options of buildBrowserBundle. */
export interface BrowserBuildOptions {
  /** Where to write the bundle; undefined builds in memory only. */
  outfile?: string;
  minify?: boolean;
}

/** Bundle Tessera for browsers (ES module, ES2022) and return the code; writes it when `outfile` is given. */
export async function buildBrowserBundle(options: BrowserBuildOptions = {}): Promise<string> {
  const result = await build({
    stdin: { contents: ENTRY, resolveDir: ROOT, sourcefile: 'tessera-browser-entry.ts', loader: 'ts' },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: options.minify ?? false,
    write: false,
    logLevel: 'silent',
    legalComments: 'none',
    plugins: [nodeBuiltinsPlugin],
  });
  const code = result.outputFiles[0]!.text;
  if (options.outfile) {
    mkdirSync(dirname(options.outfile), { recursive: true });
    writeFileSync(options.outfile, code);
  }
  return code;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { outfile: { type: 'string', default: BROWSER_BUNDLE }, minify: { type: 'boolean', default: false } } });
  const outfile = resolve(values.outfile!);
  const code = await buildBrowserBundle({ outfile, minify: values.minify });
  console.log(`wrote ${outfile} (${(code.length / 1024).toFixed(0)} KiB); load node_modules/gpu.js/dist/gpu-browser.min.js before it for backend 'gpu'`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
