/**
 * Write a result file and its report: <dir>/<base>.json, <dir>/<base>.md, the SVG charts in <dir>/<base>/,
 * and <dir>/latest-<suite>.md, a copy of the report whose chart links also resolve from <dir>.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chartSpecs, renderSvg } from './charts.js';
import { markdownReport } from './report.js';
import type { BenchResults } from './results.js';

export interface WrittenReport {
  readonly json: string;
  readonly markdown: string;
  readonly latest: string;
  readonly charts: readonly string[];
}

export async function writeReport(results: BenchResults, dir: string, base: string): Promise<WrittenReport> {
  mkdirSync(join(dir, base), { recursive: true });
  const json = join(dir, `${base}.json`);
  writeFileSync(json, `${JSON.stringify(results, null, 2)}\n`);
  const charts: { file: string; title: string }[] = [];
  const written: string[] = [];
  for (const c of chartSpecs(results)) {
    const path = join(dir, base, c.file);
    writeFileSync(path, await renderSvg(c.spec));
    charts.push({ file: c.file, title: c.title });
    written.push(path);
  }
  const md = markdownReport(results, base, charts);
  const markdown = join(dir, `${base}.md`);
  writeFileSync(markdown, `${md}\n`);
  const latest = join(dir, `latest-${results.suite}.md`);
  writeFileSync(latest, `<!-- copy of ${base}.md, written by the last run -->\n${md}\n`);
  return { json, markdown, latest, charts: written };
}

/** Read a result file, checking its format tag. */
export function readResults(path: string): BenchResults {
  const parsed = JSON.parse(readFileSync(path, 'utf8')) as BenchResults;
  if (parsed.format !== 'tessera-bench/1' || !Array.isArray(parsed.entries)) throw new Error(`${path} is not a Tessera benchmark result file (format 'tessera-bench/1')`);
  return parsed;
}

/** Installed version of a package (its package.json), or 'not installed'. */
export function packageVersion(root: string, name: string): string {
  try {
    return (JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'not installed';
  }
}
