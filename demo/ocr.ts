/**
 * PP-OCR pre- and postprocessing for the three PaddleOCR models (detector, direction classifier, recogniser),
 * as pure functions: images in, Tessera tensors out, and model outputs in, boxes and strings out. Nothing here
 * reads files; callers decode images (any RGBA/RGB/gray 8-bit buffer) and load the character list themselves.
 *
 * What the models expect (PaddleOCR's inference settings):
 * - det (ch_PP-OCRv4_det): [1, 3, H, W] with H and W multiples of 32, each channel (x/255 - mean)/std with
 *   ImageNet mean/std; output [1, 1, H, W] text probability per pixel.
 * - cls (ch_ppocr_mobile_v2.0_cls): [N, 3, 48, 192], the line resized to height 48 keeping its aspect ratio
 *   (width at most 192), normalised to (x/255 - 0.5)/0.5 and right-padded with zeros; output [N, 2] softmax
 *   over the labels '0' and '180' (degrees of rotation).
 * - rec (ch_PP-OCRv4_rec): [N, 3, 48, W], the same normalisation, width by aspect ratio (at most 320 here);
 *   output [N, T, 6625] softmax over CTC classes (0 = blank, then ppocr_keys_v1.txt, then a space).
 * PaddleOCR reads images with OpenCV, so its channel order is BGR; the tensors here use BGR too.
 */
import { Tensor } from '../src/tensor/tensor.js';

/** An 8-bit image: `channels` interleaved values per pixel (1 gray, 3 RGB, 4 RGBA), rows top to bottom. */
export interface Image8 {
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 3 | 4;
  readonly data: Uint8Array;
}

/** An axis-aligned box in pixel coordinates of the original image (x0, y0 inclusive; x1, y1 exclusive). */
export interface TextBox {
  readonly x0: number;
  readonly y0: number;
  readonly x1: number;
  readonly y1: number;
  /** Mean text probability of the component's pixels. */
  readonly score: number;
}

/** ImageNet mean and standard deviation per channel, in the order PaddleOCR applies them to its BGR image. */
export const DET_MEAN = [0.485, 0.456, 0.406] as const;
export const DET_STD = [0.229, 0.224, 0.225] as const;

/** Input height of the cls and rec models. */
export const LINE_HEIGHT = 48;
/** Input width of the cls model. */
export const CLS_WIDTH = 192;
/** Default largest rec input width (PaddleOCR's rec_image_shape 3,48,320). */
export const REC_MAX_WIDTH = 320;

/**
 * Read pixel (x, y) channel c (0 = blue, 1 = green, 2 = red) of an image, gray images repeating their one value.
 */
function bgrAt(img: Image8, x: number, y: number, c: number): number {
  const base = (y * img.width + x) * img.channels;
  return img.channels === 1 ? img.data[base]! : img.data[base + 2 - c]!;
}

/**
 * Bilinear resize to `outW` x `outH` with half-pixel centres (OpenCV's INTER_LINEAR), returning three planes
 * in BGR order as float values 0..255, laid out [3][outH][outW]. Cost: O(outW * outH).
 */
export function resizeBgrPlanes(img: Image8, outW: number, outH: number): Float32Array {
  if (!(outW > 0 && outH > 0 && Number.isInteger(outW) && Number.isInteger(outH))) {
    throw new RangeError(`resizeBgrPlanes: output size ${outW}x${outH} must be positive integers`);
  }
  if (img.width <= 0 || img.height <= 0) throw new RangeError(`resizeBgrPlanes: empty image ${img.width}x${img.height}`);
  if (img.data.length < img.width * img.height * img.channels) {
    throw new RangeError(`resizeBgrPlanes: data has ${img.data.length} bytes; ${img.width}x${img.height}x${img.channels} needs more`);
  }
  const planes = new Float32Array(3 * outW * outH);
  const scaleX = img.width / outW;
  const scaleY = img.height / outH;
  // Precompute the two source columns and weights per output column.
  const xLo = new Int32Array(outW);
  const xHi = new Int32Array(outW);
  const xW = new Float32Array(outW);
  for (let x = 0; x < outW; x++) {
    const sx = Math.min(Math.max((x + 0.5) * scaleX - 0.5, 0), img.width - 1);
    xLo[x] = Math.floor(sx);
    xHi[x] = Math.min(xLo[x]! + 1, img.width - 1);
    xW[x] = sx - xLo[x]!;
  }
  const plane = outW * outH;
  for (let y = 0; y < outH; y++) {
    const sy = Math.min(Math.max((y + 0.5) * scaleY - 0.5, 0), img.height - 1);
    const y0 = Math.floor(sy);
    const y1 = Math.min(y0 + 1, img.height - 1);
    const wy = sy - y0;
    for (let x = 0; x < outW; x++) {
      const a = xLo[x]!;
      const b = xHi[x]!;
      const wx = xW[x]!;
      for (let c = 0; c < 3; c++) {
        const top = bgrAt(img, a, y0, c) * (1 - wx) + bgrAt(img, b, y0, c) * wx;
        const bottom = bgrAt(img, a, y1, c) * (1 - wx) + bgrAt(img, b, y1, c) * wx;
        planes[c * plane + y * outW + x] = top * (1 - wy) + bottom * wy;
      }
    }
  }
  return planes;
}

/** Width a line image gets at height 48, keeping its aspect ratio, capped at `maxWidth`. */
export function lineWidth(img: Image8, maxWidth: number): number {
  return Math.max(1, Math.min(maxWidth, Math.ceil((LINE_HEIGHT * img.width) / img.height)));
}

/**
 * One line image as [1, 3, 48, padWidth]: resized to height 48 and width by aspect ratio (at most `padWidth`),
 * normalised to (x/255 - 0.5)/0.5 in [-1, 1], right-padded with zeros.
 */
function lineTensor(img: Image8, padWidth: number): Tensor<'float32'> {
  const w = lineWidth(img, padWidth);
  const planes = resizeBgrPlanes(img, w, LINE_HEIGHT);
  const out = new Float32Array(3 * LINE_HEIGHT * padWidth);
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < LINE_HEIGHT; y++) {
      const src = (c * LINE_HEIGHT + y) * w;
      const dst = (c * LINE_HEIGHT + y) * padWidth;
      for (let x = 0; x < w; x++) out[dst + x] = (planes[src + x]! / 255 - 0.5) / 0.5;
    }
  }
  return new Tensor('float32', out, [1, 3, LINE_HEIGHT, padWidth]);
}

/** Direction-classifier input [1, 3, 48, 192] for one text line. */
export function clsInput(img: Image8): Tensor<'float32'> {
  return lineTensor(img, CLS_WIDTH);
}

/** Labels of the direction classifier's two outputs. */
export const CLS_LABELS = ['0', '180'] as const;

/**
 * Recogniser input [1, 3, 48, W] for one text line, W = ceil(48 * width / height) capped at `maxWidth`
 * (PaddleOCR pads a batch to its widest line; a single line needs no padding).
 */
export function recInput(img: Image8, maxWidth: number = REC_MAX_WIDTH): Tensor<'float32'> {
  return lineTensor(img, lineWidth(img, maxWidth));
}

/** Detector input geometry: the resized size and the scale back to the original image. */
export interface DetGeometry {
  readonly width: number;
  readonly height: number;
  readonly scaleX: number;
  readonly scaleY: number;
}

/**
 * Detector input size: the image scaled so its longer side is at most `maxSide` (never enlarged), then each
 * side rounded to the nearest multiple of 32 (at least 32), as PaddleOCR's DetResizeForTest does.
 */
export function detGeometry(img: Image8, maxSide = 960): DetGeometry {
  const ratio = Math.max(img.width, img.height) > maxSide ? maxSide / Math.max(img.width, img.height) : 1;
  const width = Math.max(32, Math.round((img.width * ratio) / 32) * 32);
  const height = Math.max(32, Math.round((img.height * ratio) / 32) * 32);
  return { width, height, scaleX: img.width / width, scaleY: img.height / height };
}

/** Detector input [1, 3, H, W] (H, W multiples of 32) normalised with ImageNet mean/std, and its geometry. */
export function detInput(img: Image8, maxSide = 960): { tensor: Tensor<'float32'>; geometry: DetGeometry } {
  const geometry = detGeometry(img, maxSide);
  const planes = resizeBgrPlanes(img, geometry.width, geometry.height);
  const plane = geometry.width * geometry.height;
  for (let c = 0; c < 3; c++) {
    const mean = DET_MEAN[c]!;
    const std = DET_STD[c]!;
    for (let i = c * plane; i < (c + 1) * plane; i++) planes[i] = (planes[i]! / 255 - mean) / std;
  }
  return { tensor: new Tensor('float32', planes, [1, 3, geometry.height, geometry.width]), geometry };
}

/** Options of the detector postprocess. */
export interface DetPostOptions {
  /** Pixels with probability above this are text (PaddleOCR's det_db_thresh, 0.3). */
  threshold?: number;
  /** Components whose mean probability is below this are dropped (det_db_box_thresh, 0.6). */
  boxThreshold?: number;
  /** Components smaller than this many pixels on either side are dropped (3). */
  minSide?: number;
  /**
   * The DB detector predicts shrunk text regions; each box grows by area * ratio / perimeter on every side
   * (det_db_unclip_ratio, 1.5).
   */
  unclipRatio?: number;
}

/**
 * Text boxes from the detector's probability map [1, 1, H, W]: threshold, 8-connected components (iterative
 * flood fill with an explicit stack), a bounding box per component, filtered by size and mean probability,
 * grown by the unclip distance and mapped back to the original image. Boxes are sorted top to bottom, then
 * left to right. Cost: O(H * W).
 */
export function detBoxes(probMap: Tensor, geometry: DetGeometry, options: DetPostOptions = {}): TextBox[] {
  const threshold = options.threshold ?? 0.3;
  const boxThreshold = options.boxThreshold ?? 0.6;
  const minSide = options.minSide ?? 3;
  const unclipRatio = options.unclipRatio ?? 1.5;
  const dims = probMap.dims;
  if (dims.length !== 4 || dims[0] !== 1 || dims[1] !== 1) {
    throw new RangeError(`detBoxes: probability map has shape [${dims.join(', ')}]; expected [1, 1, H, W]`);
  }
  const h = dims[2]!;
  const w = dims[3]!;
  const prob = probMap.numbers();
  const label = new Int32Array(h * w); // 0 = unvisited, -1 = background, k > 0 = component k
  const stack = new Int32Array(h * w);
  const boxes: TextBox[] = [];
  let next = 1;
  for (let start = 0; start < h * w; start++) {
    if (label[start] !== 0) continue;
    if (!(prob[start]! > threshold)) {
      label[start] = -1;
      continue;
    }
    const id = next++;
    let top = 0;
    stack[top++] = start;
    label[start] = id;
    let x0 = w, y0 = h, x1 = -1, y1 = -1, sum = 0, count = 0;
    while (top > 0) {
      const p = stack[--top]!;
      const py = Math.floor(p / w);
      const px = p - py * w;
      sum += prob[p]!;
      count++;
      if (px < x0) x0 = px;
      if (px > x1) x1 = px;
      if (py < y0) y0 = py;
      if (py > y1) y1 = py;
      for (let dy = -1; dy <= 1; dy++) {
        const ny = py + dy;
        if (ny < 0 || ny >= h) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const nx = px + dx;
          if (nx < 0 || nx >= w || (dx === 0 && dy === 0)) continue;
          const q = ny * w + nx;
          if (label[q] !== 0) continue;
          if (prob[q]! > threshold) {
            label[q] = id;
            stack[top++] = q;
          } else label[q] = -1;
        }
      }
    }
    const bw = x1 - x0 + 1;
    const bh = y1 - y0 + 1;
    const score = sum / count;
    if (Math.min(bw, bh) < minSide || score < boxThreshold) continue;
    const grow = (bw * bh * unclipRatio) / (2 * (bw + bh));
    const gx0 = Math.max(0, x0 - grow);
    const gy0 = Math.max(0, y0 - grow);
    const gx1 = Math.min(w, x1 + 1 + grow);
    const gy1 = Math.min(h, y1 + 1 + grow);
    boxes.push({
      x0: Math.round(gx0 * geometry.scaleX),
      y0: Math.round(gy0 * geometry.scaleY),
      x1: Math.round(gx1 * geometry.scaleX),
      y1: Math.round(gy1 * geometry.scaleY),
      score,
    });
  }
  return boxes.sort((a, b) => a.y0 - b.y0 || a.x0 - b.x0);
}

/** Crop a box out of an image (clamped to the image), keeping the channel layout. */
export function cropImage(img: Image8, box: Pick<TextBox, 'x0' | 'y0' | 'x1' | 'y1'>): Image8 {
  const x0 = Math.max(0, Math.min(img.width - 1, box.x0));
  const y0 = Math.max(0, Math.min(img.height - 1, box.y0));
  const x1 = Math.max(x0 + 1, Math.min(img.width, box.x1));
  const y1 = Math.max(y0 + 1, Math.min(img.height, box.y1));
  const width = x1 - x0;
  const height = y1 - y0;
  const data = new Uint8Array(width * height * img.channels);
  for (let y = 0; y < height; y++) {
    const src = ((y0 + y) * img.width + x0) * img.channels;
    data.set(img.data.subarray(src, src + width * img.channels), y * width * img.channels);
  }
  return { width, height, channels: img.channels, data };
}

/**
 * The recogniser's CTC classes from the text of ppocr_keys_v1.txt (one character per line): index 0 is the
 * blank, then the keys in file order, then a space (PaddleOCR's use_space_char).
 */
export function ctcCharset(keysText: string): string[] {
  const keys = keysText.split(/\r?\n/);
  if (keys.length > 0 && keys[keys.length - 1] === '') keys.pop();
  return ['', ...keys, ' '];
}

/** A decoded text line. */
export interface DecodedText {
  readonly text: string;
  /** Mean probability of the characters kept (0 for an empty string). */
  readonly confidence: number;
  /** The argmax class index per time step, before collapsing. */
  readonly classes: Int32Array;
}

/**
 * Greedy CTC decoding of the recogniser's output [N, T, C]: per time step the most likely class; repeats
 * collapse and blanks (class 0) drop. Returns one result per batch item. Cost: O(N * T * C).
 */
export function ctcGreedyDecode(probs: Tensor, charset: readonly string[]): DecodedText[] {
  const dims = probs.dims;
  if (dims.length !== 3) throw new RangeError(`ctcGreedyDecode: output has shape [${dims.join(', ')}]; expected [N, T, C]`);
  const [n, steps, classes] = dims as [number, number, number];
  if (classes !== charset.length) {
    throw new RangeError(`ctcGreedyDecode: output has ${classes} classes but the charset has ${charset.length}`);
  }
  const values = probs.numbers();
  const results: DecodedText[] = [];
  for (let b = 0; b < n; b++) {
    const best = new Int32Array(steps);
    let text = '';
    let confSum = 0;
    let kept = 0;
    let previous = -1;
    for (let t = 0; t < steps; t++) {
      const base = (b * steps + t) * classes;
      let arg = 0;
      let max = values[base]!;
      for (let c = 1; c < classes; c++) {
        const v = values[base + c]!;
        if (v > max) {
          max = v;
          arg = c;
        }
      }
      best[t] = arg;
      if (arg !== 0 && arg !== previous) {
        text += charset[arg]!;
        confSum += max;
        kept++;
      }
      previous = arg;
    }
    results.push({ text, confidence: kept ? confSum / kept : 0, classes: best });
  }
  return results;
}
