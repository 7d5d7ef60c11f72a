/**
 * Renders the committed evaluation set of assets/eval/ that the compression reports measure accuracy on:
 * short text lines (words, numbers, dates, prices, codes) in varied DejaVu fonts, sizes and mild noise, each
 * saved upright and rotated 180 degrees, as 8-bit grayscale PNGs, with lines.json holding every file's exact
 * string, rotation and split:
 *   - 'calibration' (the first CALIBRATION_LINES lines): only static quantization's calibration reads them;
 *   - 'eval' (the rest): accuracy is measured on these only, so calibration never sees an evaluated line.
 * Everything is drawn from a seeded generator, so a rerun reproduces the same strings and render settings.
 *
 * Needs ImageMagick 6 (`/usr/bin/convert`; some machines put a stand-in `convert` first on PATH) and the
 * DejaVu fonts (Debian: apt-get install -y imagemagick fonts-dejavu-core). Run: npx tsx scripts/make-eval-set.ts
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, 'assets', 'eval');
const FONTS = '/usr/share/fonts/truetype/dejavu';
const CONVERT = existsSync('/usr/bin/convert') ? '/usr/bin/convert' : 'convert';
const LINES = 240;
const CALIBRATION_LINES = 40;

const FONT_FILES = [
  'DejaVuSans.ttf',
  'DejaVuSans-Bold.ttf',
  'DejaVuSans-Oblique.ttf',
  'DejaVuSansCondensed.ttf',
  'DejaVuSerif.ttf',
  'DejaVuSerif-Bold.ttf',
  'DejaVuSerif-Italic.ttf',
  'DejaVuSansMono.ttf',
];

const WORDS = (
  'order invoice total paid amount date time price item box room street road city station north south east west ' +
  'open close start stop blue green red black white small large quick brown fox lazy dog river stone paper water ' +
  'light night morning evening market garden window office school report account number model layer tensor ' +
  'kernel graph value table chair apple orange lemon bread coffee ticket train plane hotel floor level exit ' +
  'Monday Friday March April June October Berlin Paris London Tokyo Madrid Oslo Lisbon Vienna Prague Dublin ' +
  'Alice Bob Carol David Emma Frank Grace Henry Iris Jack Kate Leo Mia Noah Olga Paul'
).split(' ');

/** mulberry32: a small seeded generator, so the set is reproducible. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const rand = seeded(20240518);
const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)]!;
const int = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
const pad2 = (n: number): string => String(n).padStart(2, '0');

/** One line of text: 1-3 words mixed with a number of some kind, at most ~20 characters. */
function lineText(): string {
  const number = (): string => {
    switch (int(0, 5)) {
      case 0:
        return String(int(0, 99999));
      case 1:
        return `${int(2000, 2030)}-${pad2(int(1, 12))}-${pad2(int(1, 28))}`;
      case 2:
        return `${int(1, 999)}.${pad2(int(0, 99))}`;
      case 3:
        return `${pad2(int(0, 23))}:${pad2(int(0, 59))}`;
      case 4:
        return `No.${int(1, 9999)}`;
      default:
        return `${String.fromCharCode(65 + int(0, 25))}${int(10, 999)}`;
    }
  };
  for (;;) {
    const parts: string[] = [];
    const words = int(1, 3);
    for (let i = 0; i < words; i++) {
      let w = pick(WORDS);
      const c = rand();
      if (c < 0.2) w = w.toUpperCase();
      else if (c < 0.45) w = w[0]!.toUpperCase() + w.slice(1);
      parts.push(w);
    }
    if (rand() < 0.75) parts.splice(int(0, parts.length), 0, number());
    const text = parts.join(' ');
    if (text.length >= 3 && text.length <= 20) return text;
  }
}

interface Entry {
  file: string;
  text: string;
  /** Degrees the rendered text is turned by: 0 upright, 180 upside down. */
  rotation: 0 | 180;
  split: 'calibration' | 'eval';
  font: string;
  pointsize: number;
  noise: number;
}

function render(): void {
  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(OUT, { recursive: true });
  const entries: Entry[] = [];
  for (let i = 0; i < LINES; i++) {
    const text = lineText();
    const font = pick(FONT_FILES);
    const pointsize = int(18, 30);
    // mild noise on about half of the lines (Gaussian, attenuated); a fixed seed per line keeps it reproducible
    const noise = rand() < 0.5 ? Number((0.1 + Math.round(rand() * 40) / 100).toFixed(2)) : 0;
    const gray = int(0, 60);
    const split = i < CALIBRATION_LINES ? 'calibration' : 'eval';
    const name = `line_${String(i).padStart(3, '0')}`;
    for (const rotation of [0, 180] as const) {
      const file = rotation === 0 ? `${name}.png` : `${name}_r180.png`;
      const args = ['-background', 'white', '-fill', `gray(${gray})`, '-font', join(FONTS, font), '-pointsize', String(pointsize), `label:${text}`];
      args.push('-bordercolor', 'white', '-border', `${int(4, 10)}x${int(3, 7)}`);
      if (noise > 0) args.push('-seed', String(1000 + i), '-attenuate', String(noise), '+noise', 'Gaussian');
      if (rotation === 180) args.push('-rotate', '180');
      args.push('-colorspace', 'Gray', '-depth', '8', '-strip', '-define', 'png:compression-level=9', `PNG8:${join(OUT, file)}`);
      execFileSync(CONVERT, args);
      entries.push({ file, text, rotation, split, font, pointsize, noise });
    }
  }
  // one entry per line keeps the manifest small and diffable
  const head = `"generator": "scripts/make-eval-set.ts", "calibrationLines": ${CALIBRATION_LINES}, "evalLines": ${LINES - CALIBRATION_LINES}`;
  writeFileSync(join(OUT, 'lines.json'), `{${head},\n"lines": [\n${entries.map((e) => JSON.stringify(e)).join(',\n')}\n]}\n`);
  const bytes = readdirSync(OUT).reduce((s, f) => s + statSync(join(OUT, f)).size, 0);
  console.log(`make-eval-set: ${entries.length} images (${LINES} lines upright and rotated) in ${OUT}, ${(bytes / 1024).toFixed(0)} KiB`);
}

render();
