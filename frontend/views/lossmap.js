// Where the loss sits (every run): the per-point loss of the whole run as a heat map, one column per
// group of consecutive frames (early, densely recorded steps get more room), one row per group of
// sample points in their stored order (by x, by y or by class), the playhead as a line; a click
// goes to that step. The map comes downsampled to the pixels asked for (GET lossmap: the maximum of
// each cell), so the tab never fetches the whole run.

import {makeScale, lastAtOrBefore, quantile} from '../scales.js';
import {clip, colorBar, cursorLine, drawAxes, note} from './common.js';

const BAR = 64;

/** [lo, hi] of log10 of the positive finite losses, between the 2nd and 98th percentiles. */
export function logRange(values) {
  const logs = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (Number.isFinite(v) && v > 0) logs.push(Math.log10(v));
  }
  if (!logs.length) return [-1, 0];
  logs.sort((a, b) => a - b);
  const lo = quantile(logs, 0.02);
  const hi = quantile(logs, 0.98);
  return hi > lo ? [lo, hi] : [lo - 0.5, hi + 0.5];
}

/**
 * RGBA pixels of a loss map: `values` column-major (columns x rows, as GET lossmap sends it),
 * image row r = row r of the map (the first sample point at the top), colour = the heat ramp over
 * log10(loss) in `range`; zero losses take the ramp's low end, missing cells are transparent.
 */
export function lossMapImage(values, columns, rows, range, scale, out) {
  const [lo, hi] = range;
  const {lut, size} = scale;
  const k = (size - 1) / (hi - lo);
  for (let c = 0; c < columns; c++) {
    for (let r = 0; r < rows; r++) {
      const v = values[c * rows + r];
      const o = 4 * (r * columns + c);
      if (!Number.isFinite(v)) {
        out[o + 3] = 0;
        continue;
      }
      let j = v > 0 ? Math.round((Math.log10(v) - lo) * k) : 0;
      j = j < 0 ? 0 : j >= size ? size - 1 : j;
      out[o] = lut[3 * j];
      out[o + 1] = lut[3 * j + 1];
      out[o + 2] = lut[3 * j + 2];
      out[o + 3] = 255;
    }
  }
  return out;
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
    panel.range = logRange(map.values);
    panel.mapCanvas = env.makeCanvas(map.count, map.sampleSize);
    const context = panel.mapCanvas.getContext('2d');
    const image = context.createImageData(map.count, map.sampleSize);
    lossMapImage(map.values, map.count, map.sampleSize, panel.range, env.theme.heatRamp, image.data);
    context.putImageData(image, 0, 0);
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
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(panel.mapCanvas, box.x, box.y, box.w, box.h);
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
