// Where the loss sits (every run): the per-point loss of the whole run as a heat map, one column per
// group of consecutive frames (early, densely recorded steps get more room), one row per group of
// sample points in their stored order (by x, by y or by class), the playhead as a line; a click
// goes to that step. The map comes downsampled to the pixels asked for (GET lossmap: the maximum of
// each cell), so the tab never fetches the whole run.

import {makeScale, lastAtOrBefore, quantile} from '../scales.js';
import {clip, colorBar, cursorLine, drawAxes, note} from './common.js';

const BAR = 64;

const EXACT_UP_TO = 4096;
const BINS = 4096;

const LOG10_2 = Math.log10(2);

/**
 * log10 of each value (NaN where a value is not a positive finite number), one pass. For a
 * Float32Array (what GET lossmap gives) the logarithm is read off the float's bits: its exponent,
 * and a cubic in its mantissa (error under 0.0004 in log10, a fiftieth of one of the 256 colours
 * over five decades), several times faster than Math.log10 over a million cells.
 */
export function logValues(values, out) {
  const n = values.length;
  const logs = out && out.length === n ? out : new Float32Array(n);
  if (values instanceof Float32Array && values.byteOffset % 4 === 0) {
    const bits = new Int32Array(values.buffer, values.byteOffset, n);
    for (let i = 0; i < n; i++) {
      const b = bits[i];
      const exponent = (b >> 23) & 255;
      if (b <= 0 || exponent === 255 || exponent === 0) {
        // <= 0, NaN, infinite, or subnormal: only the last has a logarithm
        const v = values[i];
        logs[i] = v > 0 && v !== Infinity ? Math.log10(v) : NaN;
        continue;
      }
      const m = (b & 0x7fffff) / 8388608;
      logs[i] = (exponent - 127 + m * (1.42086 + m * (-0.57725 + m * 0.15639))) * LOG10_2;
    }
    return logs;
  }
  for (let i = 0; i < n; i++) {
    const v = values[i];
    logs[i] = v > 0 && v !== Infinity ? Math.log10(v) : NaN;
  }
  return logs;
}

/**
 * [lo, hi] of log10 of the positive finite losses, between the 2nd and 98th percentiles: exact for
 * a few thousand values, from a 4,096-bin histogram beyond (a map has up to a million cells; a
 * sort would cost more than drawing it). `logs`: logValues(values), if at hand.
 */
export function logRange(values, logs = logValues(values)) {
  let count = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < logs.length; i++) {
    const l = logs[i];
    if (l !== l) continue; // NaN
    if (l < min) min = l;
    if (l > max) max = l;
    count++;
  }
  if (!count) return [-1, 0];
  let lo;
  let hi;
  if (count <= EXACT_UP_TO || max === min) {
    const sorted = new Float64Array(count);
    let k = 0;
    for (let i = 0; i < logs.length; i++) if (logs[i] === logs[i]) sorted[k++] = logs[i];
    sorted.sort();
    lo = quantile(sorted, 0.02);
    hi = quantile(sorted, 0.98);
  } else {
    // Quantiles of an evenly spread subsample of at most ~65,000 values are as good for colours.
    const histogram = new Float64Array(BINS);
    const scale = (BINS - 1) / (max - min);
    const stride = Math.max(1, Math.floor(logs.length / 65536));
    let counted = 0;
    for (let i = 0; i < logs.length; i += stride) {
      const l = logs[i];
      if (l === l) {
        histogram[Math.round((l - min) * scale)] += 1;
        counted++;
      }
    }
    const at = (q) => {
      const target = q * counted;
      let seen = 0;
      for (let b = 0; b < BINS; b++) {
        seen += histogram[b];
        if (seen >= target) return min + b / scale;
      }
      return max;
    };
    lo = at(0.02);
    hi = at(0.98);
  }
  return hi > lo ? [lo, hi] : [lo - 0.5, hi + 0.5];
}

/**
 * RGBA pixels of a loss map, transposed: `values` column-major (columns x rows, as GET lossmap
 * sends it) give an image `rows` wide and `columns` high, pixel (r, c) = cell (column c, row r),
 * so that both arrays are walked in order (the view draws it turned back, see `drawMap`). Colour:
 * the heat ramp over log10(loss) in `range`; zero losses take the ramp's low end, missing cells
 * are transparent. `logs`: logValues(values), if at hand.
 */
export function lossMapImage(values, range, scale, out, logs = logValues(values)) {
  const [lo, hi] = range;
  const {lut, size} = scale;
  const k = (size - 1) / (hi - lo);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    const o = 4 * i;
    if (!(v >= 0) || v === Infinity) {
      out[o + 3] = 0;
      continue;
    }
    let j = v > 0 ? Math.round((logs[i] - lo) * k) : 0;
    j = j < 0 ? 0 : j >= size ? size - 1 : j;
    out[o] = lut[3 * j];
    out[o + 1] = lut[3 * j + 1];
    out[o + 2] = lut[3 * j + 2];
    out[o + 3] = 255;
  }
  return out;
}

/** The map's image (transposed: rows wide, columns high) on a canvas of its own, and its range. */
export function mapImage(map, env) {
  const logs = logValues(map.values);
  const range = logRange(map.values, logs);
  const canvas = env.makeCanvas(map.sampleSize, map.count);
  const context = canvas.getContext('2d');
  const image = context.createImageData(map.sampleSize, map.count);
  lossMapImage(map.values, range, env.theme.heatRamp, image.data, logs);
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
  label: 'Where the loss sits',
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
