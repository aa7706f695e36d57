// Where the loss sits (every run): the per-point loss of the whole run as a heat map, one column per
// group of consecutive frames (early, densely recorded steps get more room), one row per group of
// sample points in their stored order (by x, by y or by class), the playhead as a line; a click
// goes to that step. The map comes downsampled to the pixels asked for (GET lossmap: the maximum of
// each cell), so the tab never fetches the whole run.

import {makeScale, lastAtOrBefore, quantile} from '../scales.js';
import {clip, colorBar, cursorLine, drawAxes, note} from './common.js';

const BAR = 64;

const EXACT_UP_TO = 4096;
const SUBSAMPLE = 65536;

const LOG10_2 = Math.log10(2);

// A float32's top 16 bits (sign, 8 exponent bits, 7 mantissa bits) are its "key": keys of
// positive floats are ordered as the floats are, and a key's values span a factor of at most
// 1 + 1/128 (0.0034 in log10, a quarter of one of 256 colours over three decades). The map is
// coloured through a table over the 65,536 keys, so a cell costs one table look-up.
const KEYS = 65536;
const NEGATIVE = 0x8000;
const EXPONENT_MAX = 255;
// log2 of the middle of each mantissa bucket: log2(1 + (m + 0.5) / 128).
const MANTISSA_LOG2 = Float64Array.from({length: 128}, (_, m) => Math.log2(1 + (m + 0.5) / 128));

/** log10 of the middle of a key's values; NaN for keys of zero, negatives, infinities, NaN. */
export function keyLog10(key) {
  const exponent = (key >> 7) & EXPONENT_MAX;
  if (key & NEGATIVE || exponent === EXPONENT_MAX || key === 0) return NaN;
  // exponent 0: subnormals (below 1.2e-38), read as if normal: far below any colour range
  return (exponent - 127 + MANTISSA_LOG2[key & 127]) * LOG10_2;
}

function keysOf(values) {
  if (values instanceof Float32Array && values.byteOffset % 4 === 0) {
    return new Uint32Array(values.buffer, values.byteOffset, values.length);
  }
  const copy = Float32Array.from(values);
  return new Uint32Array(copy.buffer);
}

/**
 * [lo, hi] of log10 of the positive finite losses, between the 2nd and 98th percentiles: exact for
 * a few thousand values; beyond, from a histogram of the keys of an evenly spread subsample of at
 * most ~65,000 values (a map has up to a million cells: a sort would cost more than drawing it).
 */
export function logRange(values) {
  let lo;
  let hi;
  if (values.length <= EXACT_UP_TO) {
    const logs = [];
    for (const v of values) if (v > 0 && v !== Infinity) logs.push(Math.log10(v));
    if (!logs.length) return [-1, 0];
    const sorted = Float64Array.from(logs).sort();
    lo = quantile(sorted, 0.02);
    hi = quantile(sorted, 0.98);
  } else {
    const bits = keysOf(values);
    const histogram = new Uint32Array(KEYS);
    const stride = Math.max(1, Math.floor(bits.length / SUBSAMPLE));
    for (let i = 0; i < bits.length; i += stride) histogram[bits[i] >>> 16]++;
    // only positive finite keys count: 1 .. (255 << 7) - 1
    const last = (EXPONENT_MAX << 7) - 1;
    let counted = 0;
    for (let k = 1; k <= last; k++) counted += histogram[k];
    if (!counted) return [-1, 0];
    const at = (q) => {
      const target = Math.max(1, q * counted);
      let seen = 0;
      for (let k = 1; k <= last; k++) {
        seen += histogram[k];
        if (seen >= target) return keyLog10(k);
      }
      return keyLog10(last);
    };
    lo = at(0.02);
    hi = at(0.98);
  }
  return hi > lo ? [lo, hi] : [lo - 0.5, hi + 0.5];
}

/**
 * The colour of every key, as RGBA pixels in one 32-bit word each (the platform's byte order, as
 * an ImageData's buffer is read): the heat ramp over log10(loss) in `range`; zero takes the
 * ramp's low end, negatives, NaN and infinities are transparent.
 */
export function keyColors(range, scale) {
  const [lo, hi] = range;
  const {lut, size} = scale;
  const k = (size - 1) / (hi - lo);
  const rgba = new Uint32Array(size + 1); // the last: transparent
  const bytes = new Uint8ClampedArray(rgba.buffer);
  for (let j = 0; j < size; j++) {
    bytes.set([lut[3 * j], lut[3 * j + 1], lut[3 * j + 2], 255], 4 * j);
  }
  const table = new Uint32Array(KEYS).fill(rgba[size]);
  for (let key = 0; key < NEGATIVE; key++) {
    if (key >> 7 === EXPONENT_MAX) break; // infinities and NaN, and above: the negatives
    let j = key === 0 ? 0 : Math.round((keyLog10(key) - lo) * k);
    j = j < 0 ? 0 : j >= size ? size - 1 : j;
    table[key] = rgba[j];
  }
  table[NEGATIVE] = table[0]; // -0
  return table;
}

/**
 * RGBA pixels of a loss map, transposed: `values` column-major (columns x rows, as GET lossmap
 * sends it) give an image `rows` wide and `columns` high, pixel (r, c) = cell (column c, row r),
 * so that both arrays are walked in order (the view draws it turned back, see `drawMap`). Colour:
 * `keyColors(range, scale)`. `out`: a Uint8ClampedArray of 4 bytes a cell (an ImageData's data).
 */
export function lossMapImage(values, range, scale, out, table = keyColors(range, scale)) {
  const bits = keysOf(values);
  const pixels = new Uint32Array(out.buffer, out.byteOffset, bits.length);
  for (let i = 0; i < bits.length; i++) pixels[i] = table[bits[i] >>> 16];
  return out;
}

/** The map's image (transposed: rows wide, columns high) on a canvas of its own, and its range. */
export function mapImage(map, env) {
  const range = logRange(map.values);
  const canvas = env.makeCanvas(map.sampleSize, map.count);
  const context = canvas.getContext('2d');
  const image = context.createImageData(map.sampleSize, map.count);
  lossMapImage(map.values, range, env.theme.heatRamp, image.data);
  context.putImageData(image, 0, 0);
  return {canvas, range, mode: env.theme.mode};
}

/** Draws the transposed map image into `box`: columns (frames) across, rows (points) down. */
export function drawMap(ctx, canvas, box) {
  ctx.save();
  ctx.imageSmoothingEnabled = false;
  ctx.transform(0, 1, 1, 0, 0, 0); // swaps x and y
  ctx.drawImage(canvas, box.y, box.x, box.h, box.w);
  ctx.restore();
}

const ORDER_LABEL = {x: 'sample points, by x', y: 'sample points, by y', class: 'sample points, by class'};

export const lossMapView = {
  id: 'loss_map',
  series: [],
  overlay: false,
  wantsLossMap: true,

  domains() {
    return {};
  },

  prepare(panel, env) {
    const area = panel.layout.main;
    const box = {x: area.x, y: area.y, w: Math.max(60, area.w - BAR), h: area.h};
    panel.plot = {box};
    // Cells asked of the server: one per CSS pixel (at most), so the map is drawn 1:1.
    panel.lossMapSize = {width: Math.max(1, Math.round(box.w)), height: Math.max(1, Math.round(box.h))};
    const run = panel.runs[0];
    const map = env.lossMap(run, panel.lossMapSize);
    panel.map = map;
    if (!map || !map.count) return;
    // The image is made once per map and theme: a redraw (a resize, another setting) reuses it.
    if (!map.image || map.image.mode !== env.theme.mode) map.image = mapImage(map, env);
    panel.range = map.image.range;
    panel.mapCanvas = map.image.canvas;
  },

  drawStatic(ctx, panel, {theme}) {
    const run = panel.runs[0];
    const {box} = panel.plot;
    const map = panel.map;
    const columns = map && map.count ? map.count : 1;
    const sx = makeScale('linear', [0, columns], [box.x, box.x + box.w]);
    sx.ticks = (count) => {
      if (!map || !map.count) return [];
      const every = Math.max(1, Math.ceil(columns / count));
      const ticks = [];
      for (let c = 0; c < columns; c += every) ticks.push(c + 0.5);
      return ticks;
    };
    const rows = map && map.sampleSize ? map.sampleSize : 1;
    const sy = makeScale('linear', [rows, 0], [box.y + box.h, box.y]);
    sy.ticks = () => [];
    drawAxes(ctx, theme, box, sx, sy, {xLabel: 'step (columns: frames in order)',
      yLabel: ORDER_LABEL[run.kind.sampleOrder] || 'sample points', grid: false, xTicks: 5,
      xFormat: (t) => (map && map.count ? String(map.steps[Math.floor(t)]) : '')});
    if (!map || !map.count) {
      note(ctx, theme, box, !map ? 'loading the loss map…' : map.error || 'no frames yet');
      return;
    }
    ctx.save();
    clip(ctx, box);
    drawMap(ctx, panel.mapCanvas, box);
    ctx.restore();
    const [lo, hi] = panel.range;
    const ticks = [];
    for (let e = Math.ceil(lo); e <= Math.floor(hi); e++) ticks.push(e);
    colorBar(ctx, theme, {x: box.x + box.w + 12, y: box.y + 18, w: 12, h: Math.min(220, box.h - 36)},
      theme.heatRamp, lo, hi, {label: 'max loss', ticks: ticks.length >= 2 ? ticks : [lo, hi],
        format: (e) => formatPower(e)});
  },

  drawFrame(ctx, panel, {theme, step}) {
    const map = panel.map;
    if (!map || !map.count) return;
    const {box} = panel.plot;
    const column = Math.max(0, lastAtOrBefore(map.steps, step));
    cursorLine(ctx, theme, box, box.x + ((column + 0.5) * box.w) / map.count);
  },

  hit(panel, x, y) {
    const map = panel.map;
    const box = panel.plot && panel.plot.box;
    if (!map || !map.count || !box) return null;
    if (x < box.x || x > box.x + box.w || y < box.y || y > box.y + box.h) return null;
    const column = Math.min(map.count - 1, Math.max(0, Math.floor(((x - box.x) / box.w) * map.count)));
    return {step: map.steps[column]};
  },

  describe(panel) {
    const map = panel.map;
    return {plot: {...panel.plot.box}, columns: map ? map.count : 0, rows: map ? map.sampleSize : 0,
      range: panel.range || null, steps: map ? Array.from(map.steps) : []};
  },
};

function formatPower(e) {
  const rounded = Math.round(e * 10) / 10;
  if (Number.isInteger(rounded)) return rounded === 0 ? '1' : `1e${rounded}`;
  return (10 ** e).toPrecision(2);
}
