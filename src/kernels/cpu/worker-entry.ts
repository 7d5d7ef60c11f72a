/**
 * How to start a worker thread on one of our own modules, whether Tessera runs from the built dist or from its
 * TypeScript sources. Shared by the kernel pool (./pool.ts starts pool-worker) and runBatch
 * (src/graph/batch.ts starts batch-worker).
 *
 * From the built dist the caller's module URL ends in `.js`, and the worker is the sibling file `<name>.js`,
 * loaded by Node with no loader. From sources (vitest, tsx) the URL ends in `.ts`: Node cannot load `<name>.ts`
 * by itself, so the worker runs a small ESM bootstrap (eval'd code) that registers tsx's loader in the worker
 * and then imports `<name>.ts`. (Passing `execArgv: ['--import', 'tsx']` does not apply the loader hooks to a
 * worker's entry module on Node 20.)
 *
 * Node built-ins are reached through `process.getBuiltinModule` (see `builtin`), never a static import, so the
 * browser bundle (scripts/build-browser.ts, which refuses Node built-ins other than fs and path) keeps building.
 */

type NodeModuleModule = typeof import('node:module');
type NodeUrlModule = typeof import('node:url');

/** A Node built-in module by name ('node:worker_threads', ...), or undefined outside Node (or before Node 20.16). */
export function builtin<T>(name: string): T | undefined {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  if (!proc || typeof proc.getBuiltinModule !== 'function') return undefined;
  try {
    return proc.getBuiltinModule(name) as T | undefined;
  } catch {
    return undefined;
  }
}

/** What to pass to `new Worker(source, { eval: evalCode })`. */
export interface WorkerEntry {
  readonly source: URL | string;
  readonly evalCode: boolean;
}

/**
 * The entry of a worker whose module is `<baseName>.ts` / `<baseName>.js` next to the module at `callerUrl`
 * (pass the caller's `import.meta.url`). See the file comment for the two cases.
 */
export function workerEntry(callerUrl: string, baseName: string): WorkerEntry {
  if (!callerUrl.endsWith('.ts')) return { source: new URL(`./${baseName}.js`, callerUrl), evalCode: false };
  let tsxApi = 'tsx/esm/api';
  const mod = builtin<NodeModuleModule>('node:module');
  const url = builtin<NodeUrlModule>('node:url');
  if (mod && url) {
    try {
      // the ESM build of tsx's API, located through the package's own exports map
      const req = mod.createRequire(callerUrl);
      const pkgPath = req.resolve('tsx/package.json');
      const pkg = req(pkgPath) as { exports?: Record<string, { import?: { default?: string } }> };
      const rel = pkg.exports?.['./esm/api']?.import?.default;
      if (rel) tsxApi = new URL(rel, url.pathToFileURL(pkgPath)).href;
    } catch {
      // fall back to resolving tsx from the working directory
    }
  }
  const entry = new URL(`./${baseName}.ts`, callerUrl).href;
  const code =
    `import(${JSON.stringify(tsxApi)}).then((api) => { (api.register ?? api.default.register)(); ` +
    `return import(${JSON.stringify(entry)}); });`;
  return { source: code, evalCode: true };
}
