/**
 * Re-write the Markdown report and SVG charts of an existing result file (after a change to the report
 * writer, or for a file copied from another machine), next to it:
 *
 *   npx tsx bench/report.ts bench/results/<date>-<machine>.json
 */
import { basename, dirname } from 'node:path';
import { writeReport, readResults } from './lib/write.js';

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: npx tsx bench/report.ts RESULT.json [...]');
  process.exitCode = 2;
}
for (const file of files) {
  const written = await writeReport(readResults(file), dirname(file), basename(file, '.json'));
  console.log(`wrote ${written.markdown} and ${written.charts.length} charts`);
}
