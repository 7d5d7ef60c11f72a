/**
 * Kernel benchmark only (kept for `npm run bench:kernels`): the kernel half of the suite in bench/run.ts.
 *
 *   npx tsx bench/kernels.ts [--quick] [other bench/run.ts options]
 */
if (!process.argv.includes('--only')) process.argv.splice(2, 0, '--only', 'kernels');
await import('./run.js');
