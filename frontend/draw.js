// Canvas 2D drawing: layout, axes, scatter, fitted curve, loss band, loss charts.
//
// A view is drawn in two layers: a static layer (axes, scatter, validation points, loss charts),
// rendered once per change of data, size or settings into an offscreen canvas, and the frame
// layer (band, curve, cursors), drawn on top of a copy of it for every step.

import {makeScale, formatTick} from './scales.js';
import {movingAverage, bandHalfWidth} from './smoothing.js';

export const STEELBLUE = '#4682b4';
export const PALETTE = [STEELBLUE, '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b',
  '#e377c2', '#17becf', '#bcbd22', '#7f7f7f'];
export const SCATTER_COLOR = 'rgba(128, 128, 128, 0.45)';
export const VALIDATION_COLOR = '#c77c02';
export const CURSOR_COLOR = '#d62728';
const AXIS_COLOR = '#555';
const GRID_COLOR = '#eee';
const TEXT_COLOR = '#222';
const FONT = '11px system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif';
const TITLE_FONT = 'bold 12px system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif';
// Pixel coordinates far outside the canvas are clamped: huge values break some canvas backends.
const FAR = 1e5;

/** A colour with an alpha, from '#rrggbb'. */
export function withAlpha(hex, alpha) {
  const n = Number.parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

/**
 * Where everything goes, in CSS pixels.
 * @param {object} p
 * @param {number} p.width canvas width
 * @param {number} p.panelCount number of panels (runs side by side, or 1 when overlaid)
 * @param {number} [p.legendRows=0] rows of run legend above an overlaid panel
 */
export function computeLayout({width, panelCount, legendRows = 0, height = Infinity}) {
  width = Math.max(360, Math.floor(width));
  const columns = panelCount <= 1 ? 1 : width >= 1100 ? 2 : 1;
  const rows = Math.max(1, Math.ceil(panelCount / columns));
  const panelWidth = Math.floor(width / columns);
  const titleHeight = 22 + legendRows * 16;
  // As tall as the window allows (all rows visible), within a readable aspect ratio.
  const fit = height / rows - titleHeight;
  const bodyHeight = Math.round(Math.min(560, panelWidth * 0.62, Math.max(260, panelWidth * 0.4, fit)));
  const panelHeight = titleHeight + bodyHeight;
  const panels = [];
  for (let i = 0; i < Math.max(1, panelCount); i++) {
    const x = (i % columns) * panelWidth;
    const y = Math.floor(i / columns) * panelHeight;
    const mainWidth = Math.round(panelWidth * 0.6);
    const sideX = x + mainWidth;
    const sideWidth = panelWidth - mainWidth;
    const top = y + titleHeight;
    const main = {x: x + 56, y: top + 6, w: mainWidth - 56 - 14, h: bodyHeight - 6 - 40};
    const half = Math.floor(bodyHeight / 2);
    const chart = (cy, ch) => ({x: sideX + 50, y: cy + 20, w: sideWidth - 50 - 12, h: ch - 20 - 30});
    panels.push({
      rect: {x, y, w: panelWidth, h: panelHeight},
      title: {x: x + 8, y: y + 15},
      legend: {x: x + 8, y: y + 22, w: panelWidth - 16},
      main,
      charts: {sample: chart(top, half), batch: chart(top + half, bodyHeight - half)},
    });
  }
  return {width, height: rows * panelHeight, columns, panels};
}

/** Scales of a panel's main plot: x over the sample, y over the data (shared domains). */
export function mainScales(panelLayout, xDomain, yDomain) {
  const m = panelLayout.main;
  return {
    x: makeScale('linear', xDomain, [m.x, m.x + m.w]),
    y: makeScale('linear', yDomain, [m.y + m.h, m.y]),
  };
}

/** Scales of a loss chart. */
export function chartScales(rect, xDomain, yDomain, {xLog = false, yLog = false} = {}) {
  return {
    x: makeScale(xLog ? 'log' : 'linear', xLog ? [Math.max(1, xDomain[0]), xDomain[1]] : xDomain,
      [rect.x, rect.x + rect.w]),
    y: makeScale(yLog ? 'log' : 'linear', yDomain, [rect.y + rect.h, rect.y]),
  };
}

function clampPx(v) {
  return v > FAR ? FAR : v < -FAR ? -FAR : v;
}

function drawAxes(ctx, rect, sx, sy, {xLabel = '', yLabel = '', grid = true, xTicks = 6, yTicks = 5}) {
  ctx.save();
  ctx.font = FONT;
  ctx.lineWidth = 1;
  const xt = sx.ticks(xTicks);
  const yt = sy.ticks(yTicks);
  if (grid) {
    ctx.strokeStyle = GRID_COLOR;
    ctx.beginPath();
    for (const t of yt) {
      const py = Math.round(sy(t)) + 0.5;
      if (py < rect.y - 0.5 || py > rect.y + rect.h + 0.5) continue;
      ctx.moveTo(rect.x, py);
      ctx.lineTo(rect.x + rect.w, py);
    }
    ctx.stroke();
  }
  ctx.strokeStyle = AXIS_COLOR;
  ctx.strokeRect(Math.round(rect.x) + 0.5, Math.round(rect.y) + 0.5, Math.round(rect.w), Math.round(rect.h));
  ctx.fillStyle = TEXT_COLOR;
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  ctx.beginPath();
  let lastRight = -Infinity;
  for (const t of xt) {
    const px = Math.round(sx(t)) + 0.5;
    if (px < rect.x - 0.5 || px > rect.x + rect.w + 0.5) continue;
    ctx.moveTo(px, rect.y + rect.h);
    ctx.lineTo(px, rect.y + rect.h + 4);
    const label = formatTick(t);
    const half = ctx.measureText(label).width / 2;
    if (px - half < lastRight + 4) continue; // never overlap tick labels
    ctx.fillText(label, px, rect.y + rect.h + 6);
    lastRight = px + half;
  }
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  for (const t of yt) {
    const py = Math.round(sy(t)) + 0.5;
    if (py < rect.y - 0.5 || py > rect.y + rect.h + 0.5) continue;
    ctx.moveTo(rect.x - 4, py);
    ctx.lineTo(rect.x, py);
    ctx.fillText(formatTick(t), rect.x - 6, py);
  }
  ctx.stroke();
  if (xLabel) {
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    ctx.fillText(fitText(ctx, xLabel, rect.w), rect.x + rect.w / 2, rect.y + rect.h + 21);
  }
  if (yLabel) {
    ctx.save();
    ctx.translate(rect.x - 44, rect.y + rect.h / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    ctx.fillText(fitText(ctx, yLabel, rect.h), 0, 0);
    ctx.restore();
  }
  ctx.restore();
}

/** `text` shortened with an ellipsis to fit `width` pixels. */
export function fitText(ctx, text, width) {
  text = String(text);
  if (ctx.measureText(text).width <= width) return text;
  let lo = 0;
  let hi = text.length;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (ctx.measureText(text.slice(0, mid) + '…').width <= width) lo = mid;
    else hi = mid - 1;
  }
  return text.slice(0, lo) + '…';
}

function clip(ctx, rect) {
  ctx.beginPath();
  ctx.rect(rect.x, rect.y, rect.w, rect.h);
  ctx.clip();
}

function drawPoints(ctx, xs, ys, sx, sy, color, radius, hollow = false) {
  if (!xs || !xs.length) return;
  ctx.fillStyle = color;
  ctx.strokeStyle = color;
  ctx.beginPath();
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i];
    const y = ys[i];
    if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
    const px = sx(x);
    const py = sy(y);
    ctx.moveTo(px + radius, py);
    ctx.arc(px, py, radius, 0, 2 * Math.PI);
  }
  if (hollow) {
    // Hollow and half transparent: dense validation points must not hide the data.
    ctx.save();
    ctx.lineWidth = 0.8;
    ctx.globalAlpha = 0.6;
    ctx.stroke();
    ctx.restore();
  } else {
    ctx.fill();
  }
}

/** A polyline with gaps where a value is missing (null, NaN, +-inf, or <= 0 on a log axis). */
export function strokeSeries(ctx, xs, ys, sx, sy, {color, width = 1.5, dash = null, alpha = 1}) {
  ctx.save();
  ctx.strokeStyle = color;
  ctx.lineWidth = width;
  ctx.globalAlpha = alpha;
  if (dash) ctx.setLineDash(dash);
  ctx.beginPath();
  let pen = false;
  const n = Math.min(xs.length, ys.length);
  const lonely = []; // points with no drawable neighbour: a line would not show them
  const at = (i) => {
    if (i < 0 || i >= n || xs[i] === null || ys[i] === null) return null;
    const px = sx(xs[i]);
    const py = sy(ys[i]);
    return Number.isFinite(px) && Number.isFinite(py) ? [clampPx(px), clampPx(py)] : null;
  };
  let previous = null;
  let current = at(0);
  for (let i = 0; i < n; i++) {
    const next = at(i + 1);
    if (!current) {
      pen = false;
    } else {
      if (pen) ctx.lineTo(current[0], current[1]);
      else ctx.moveTo(current[0], current[1]);
      pen = true;
      if (!previous && !next) lonely.push(current);
    }
    previous = current;
    current = next;
  }
  ctx.stroke();
  if (lonely.length) {
    ctx.fillStyle = color;
    ctx.beginPath();
    for (const [px, py] of lonely) {
      ctx.moveTo(px + width, py);
      ctx.arc(px, py, width, 0, 2 * Math.PI);
    }
    ctx.fill();
  }
  ctx.restore();
}

function markers(ctx, xs, ys, sx, sy, color, {hollow = false, radius = 3} = {}) {
  ctx.save();
  ctx.fillStyle = hollow ? '#fff' : color;
  ctx.strokeStyle = color;
  ctx.lineWidth = 1.2;
  for (let i = 0; i < Math.min(xs.length, ys.length); i++) {
    if (xs[i] === null || ys[i] === null) continue;
    const px = sx(xs[i]);
    const py = sy(ys[i]);
    if (!Number.isFinite(px) || !Number.isFinite(py)) continue;
    ctx.beginPath();
    ctx.arc(px, py, radius, 0, 2 * Math.PI);
    ctx.fill();
    ctx.stroke();
  }
  ctx.restore();
}

const MIN_EPOCH_GAP = 12;

function epochLines(ctx, rect, sx, epochEnds) {
  if (!epochEnds || !epochEnds.length) return;
  ctx.save();
  ctx.strokeStyle = '#c8c8c8';
  ctx.setLineDash([3, 3]);
  ctx.lineWidth = 1;
  ctx.beginPath();
  // Many short epochs would grey the chart out: keep lines at least MIN_EPOCH_GAP px apart.
  let last = -Infinity;
  for (const step of epochEnds) {
    const px = Math.round(sx(step)) + 0.5;
    if (!(px >= rect.x && px <= rect.x + rect.w) || px - last < MIN_EPOCH_GAP) continue;
    last = px;
    ctx.moveTo(px, rect.y);
    ctx.lineTo(px, rect.y + rect.h);
  }
  ctx.stroke();
  ctx.restore();
}

/** A one-line legend inside a chart's top-right corner: [{label, color, dash?, marker?}]. */
function chartLegend(ctx, rect, entries, titleWidth) {
  if (!entries.length) return;
  ctx.save();
  ctx.font = FONT;
  const leftLimit = rect.x + titleWidth + 10;
  ctx.textBaseline = 'middle';
  ctx.textAlign = 'left';
  let x = rect.x + rect.w - 6;
  const y = rect.y - 9;
  for (let i = entries.length - 1; i >= 0; i--) {
    const e = entries[i];
    const w = ctx.measureText(e.label).width;
    if (x - w - 18 < leftLimit) break; // no room: the title keeps its place
    x -= w;
    ctx.fillStyle = TEXT_COLOR;
    ctx.fillText(e.label, x, y);
    x -= 18;
    ctx.strokeStyle = e.color;
    ctx.fillStyle = e.marker === 'hollow' ? '#fff' : e.color;
    ctx.lineWidth = 1.5;
    if (e.marker) {
      ctx.beginPath();
      ctx.arc(x + 7, y, 3, 0, 2 * Math.PI);
      ctx.fill();
      ctx.stroke();
    } else {
      ctx.setLineDash(e.dash || []);
      ctx.beginPath();
      ctx.moveTo(x, y);
      ctx.lineTo(x + 14, y);
      ctx.stroke();
      ctx.setLineDash([]);
    }
    x -= 8;
  }
  ctx.restore();
}

/** Draws a chart's title above it; returns its width. */
function chartTitle(ctx, rect, text) {
  ctx.save();
  ctx.font = TITLE_FONT;
  ctx.fillStyle = TEXT_COLOR;
  ctx.textBaseline = 'middle';
  ctx.textAlign = 'left';
  ctx.fillText(text, rect.x, rect.y - 9);
  const width = ctx.measureText(text).width;
  ctx.restore();
  return width;
}

function pointsKey(points) {
  const n = points.x.length;
  let sum = 0;
  for (let i = 0; i < n; i += Math.max(1, Math.floor(n / 64))) sum += points.x[i] * 31 + points.y[i];
  return `${n}:${points.x[0]}:${points.x[n - 1]}:${sum}`;
}

const nulls = (values) => (values || []).map((v) => (v === null ? NaN : v));

/**
 * Draws the static layer of a view: titles, legends, axes, scatter, validation points,
 * and the loss charts.
 * @param {CanvasRenderingContext2D} ctx already scaled to CSS pixels
 * @param {object} view see index.js `buildView`
 */
export function drawStatic(ctx, view) {
  const {layout} = view;
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, layout.width, layout.height);
  for (const panel of view.panels) {
    const box = panel.layout;
    ctx.save();
    ctx.font = TITLE_FONT;
    ctx.fillStyle = TEXT_COLOR;
    ctx.textBaseline = 'alphabetic';
    ctx.textAlign = 'left';
    // The left 55% for the title, the right part for the step text drawn per frame.
    ctx.fillText(fitText(ctx, panel.title, box.rect.w * 0.55 - 12), box.title.x, box.title.y);
    ctx.restore();
    if (panel.legend) drawRunLegend(ctx, box.legend, panel.legend);

    const {x: sx, y: sy} = panel.main;
    drawAxes(ctx, box.main, sx, sy, {xLabel: panel.xLabel, yLabel: panel.yLabel});
    ctx.save();
    clip(ctx, box.main);
    // Overlaid runs usually fit the same data: draw each distinct point set once.
    const drawn = new Set();
    for (const run of panel.runs) {
      if (run.scatter && !drawn.has(pointsKey(run.scatter))) {
        drawPoints(ctx, run.scatter.x, run.scatter.y, sx, sy, SCATTER_COLOR, 1.6);
        drawn.add(pointsKey(run.scatter));
      }
    }
    for (const run of panel.runs) {
      if (run.validation && !drawn.has(pointsKey(run.validation))) {
        drawn.add(pointsKey(run.validation));
        drawPoints(ctx, run.validation.x, run.validation.y, sx, sy,
          VALIDATION_COLOR, 2, true);
      }
    }
    ctx.restore();
    drawSampleChart(ctx, panel, view.settings);
    drawBatchChart(ctx, panel, view.settings);
  }
}

function drawRunLegend(ctx, rect, entries) {
  ctx.save();
  ctx.font = FONT;
  ctx.textBaseline = 'middle';
  let x = rect.x;
  let y = rect.y + 8;
  for (const e of entries) {
    const label = fitText(ctx, e.label, 260);
    const w = 22 + ctx.measureText(label).width + 16;
    if (x + w > rect.x + rect.w && x > rect.x) {
      x = rect.x;
      y += 16;
    }
    ctx.strokeStyle = e.color;
    ctx.lineWidth = 2.5;
    ctx.beginPath();
    ctx.moveTo(x, y);
    ctx.lineTo(x + 16, y);
    ctx.stroke();
    ctx.fillStyle = TEXT_COLOR;
    ctx.fillText(label, x + 22, y);
    x += w;
  }
  ctx.restore();
}

/** Title, axes and epoch lines of one loss chart; leaves the context clipped to it (save()d). */
function beginChart(ctx, panel, which, title) {
  const rect = panel.layout.charts[which];
  const {x: sx, y: sy} = panel.charts[which];
  const titleWidth = chartTitle(ctx, rect, title);
  drawAxes(ctx, rect, sx, sy, {xTicks: 4, yTicks: 4});
  ctx.save();
  clip(ctx, rect);
  epochLines(ctx, rect, sx, panel.epochEnds);
  return {rect, sx, sy, titleWidth};
}

function drawSampleChart(ctx, panel, settings) {
  const {rect, sx, sy, titleWidth} = beginChart(ctx, panel, 'sample', 'Loss on the sample');
  const single = panel.runs.length === 1;
  const legend = [];
  for (const run of panel.runs) {
    const s = run.scalars;
    if (!s) continue;
    const color = single ? STEELBLUE : run.color;
    if (s.regularization_loss && s.regularization_loss.steps.length) {
      strokeSeries(ctx, s.regularization_loss.steps, nulls(s.regularization_loss.values), sx, sy,
        {color: single ? '#9467bd' : color, dash: [1, 2], width: 1.5});
      if (single) legend.push({label: 'regularization', color: '#9467bd', dash: [1, 2]});
    }
    if (s.validation_loss && s.validation_loss.steps.length) {
      strokeSeries(ctx, s.validation_loss.steps, nulls(s.validation_loss.values), sx, sy,
        {color: single ? VALIDATION_COLOR : color, dash: [5, 3], width: 1.5});
      if (single) legend.push({label: 'validation', color: VALIDATION_COLOR, dash: [5, 3]});
    }
    if (s.sample_loss) {
      strokeSeries(ctx, s.sample_loss.steps, nulls(s.sample_loss.values), sx, sy, {color, width: 1.5});
    }
  }
  ctx.restore();
  if (single && legend.length) {
    chartLegend(ctx, rect, [{label: 'sample', color: STEELBLUE}, ...legend], titleWidth);
  }
}

function drawBatchChart(ctx, panel, settings) {
  const {rect, sx, sy, titleWidth} = beginChart(ctx, panel, 'batch', 'Batch loss');
  const single = panel.runs.length === 1;
  let hasEpoch = false;
  let hasEpochVal = false;
  for (const run of panel.runs) {
    const s = run.scalars;
    if (!s || !s.batch_loss) continue;
    const color = single ? STEELBLUE : run.color;
    const values = nulls(s.batch_loss.values);
    if (settings.batchSmoothing > 1) {
      strokeSeries(ctx, s.batch_loss.steps, values, sx, sy, {color, width: 1, alpha: 0.25});
      const smooth = movingAverage(values, settings.batchSmoothing);
      strokeSeries(ctx, s.batch_loss.steps, smooth, sx, sy, {color, width: 1.5});
    } else {
      strokeSeries(ctx, s.batch_loss.steps, values, sx, sy, {color, width: 1});
    }
  }
  for (const run of panel.runs) {
    const s = run.scalars;
    if (!s) continue;
    if (s.epoch_loss && s.epoch_loss.steps.length) {
      markers(ctx, s.epoch_loss.steps, s.epoch_loss.values, sx, sy, single ? '#222' : run.color);
      hasEpoch = true;
    }
    if (s.epoch_val_loss && s.epoch_val_loss.steps.length) {
      markers(ctx, s.epoch_val_loss.steps, s.epoch_val_loss.values, sx, sy,
        single ? VALIDATION_COLOR : run.color, {hollow: true});
      hasEpochVal = true;
    }
  }
  ctx.restore();
  const legend = [];
  if (hasEpoch) legend.push({label: 'epoch', color: single ? '#222' : '#777', marker: 'filled'});
  if (hasEpochVal) legend.push({label: 'val', color: single ? VALIDATION_COLOR : '#777', marker: 'hollow'});
  if (legend.length) chartLegend(ctx, rect, legend, titleWidth);
}

/**
 * Draws the band and the curve of one run's frame in a panel's main plot.
 * @param {object} scratch reusable buffers {half: Float64Array}
 */
export function drawCurve(ctx, panel, run, frame, settings, scratch,
  {color = STEELBLUE, bandAlpha = 0.25, dpr = 1} = {}) {
  const {y: sy} = panel.main;
  const px = run.pixelX; // sample x in pixels, computed once per layout
  const pred = frame.prediction;
  const n = pred.length;
  if (settings.band !== 'off') {
    if (!scratch.half || scratch.half.length !== n) scratch.half = new Float64Array(n);
    const half = bandHalfWidth(frame.loss, settings.smoothing, settings.band, scratch.half);
    // The band is smooth: one vertex per device pixel column is enough, and fills much faster.
    const stride = Math.max(1, Math.floor(n / Math.max(1, panel.layout.main.w * dpr)));
    ctx.fillStyle = withAlpha(color, bandAlpha);
    ctx.beginPath();
    // One polygon per stretch of finite values: upper edge forwards, lower edge back.
    let i = 0;
    while (i < n) {
      while (i < n && !(Number.isFinite(pred[i]) && Number.isFinite(half[i]))) i++;
      const start = i;
      while (i < n && Number.isFinite(pred[i]) && Number.isFinite(half[i])) i++;
      const end = i - 1;
      if (end < start) continue;
      ctx.moveTo(px[start], clampPx(sy(pred[start] + half[start])));
      for (let j = start + stride; j < end; j += stride) ctx.lineTo(px[j], clampPx(sy(pred[j] + half[j])));
      ctx.lineTo(px[end], clampPx(sy(pred[end] + half[end])));
      ctx.lineTo(px[end], clampPx(sy(pred[end] - half[end])));
      let j = end - ((end - start) % stride || stride);
      for (; j > start; j -= stride) ctx.lineTo(px[j], clampPx(sy(pred[j] - half[j])));
      ctx.lineTo(px[start], clampPx(sy(pred[start] - half[start])));
      ctx.closePath();
    }
    ctx.fill();
  }
  // The curve is stroked as 1-device-pixel hairlines through pixel centres, one on the curve
  // and one a pixel above, below, left and right of it: the software rasteriser draws hairlines
  // several times faster than one wide stroke with joins, and the line looks the same (solid,
  // about 3 pixels wide whatever its slope).
  const reach = Math.max(1, Math.round(dpr));
  const offsets = [[0, 0]];
  for (let d = 1; d <= reach; d++) offsets.push([0, -d], [0, d], [-d, 0], [d, 0]);
  ctx.strokeStyle = color;
  ctx.lineWidth = 1 / dpr;
  ctx.beginPath();
  for (const [dx, dy] of offsets) {
    let pen = false;
    for (let i = 0; i < n; i++) {
      const v = pred[i];
      if (!Number.isFinite(v)) {
        pen = false; // NaN or inf: a gap in the curve
        continue;
      }
      const x = px[i] + dx / dpr;
      const y = (Math.floor(clampPx(sy(v)) * dpr) + dy + 0.5) / dpr;
      if (pen) ctx.lineTo(x, y);
      else ctx.moveTo(x, y);
      pen = true;
    }
  }
  ctx.stroke();
}

/** Draws a view's frame layer over its static layer. */
export function drawFrame(ctx, view, staticLayer, scratch) {
  const {layout} = view;
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.drawImage(staticLayer, 0, 0);
  ctx.setTransform(view.dpr, 0, 0, view.dpr, 0, 0);
  for (const panel of view.panels) {
    const box = panel.layout;
    ctx.save();
    clip(ctx, box.main);
    const overlay = panel.runs.length > 1;
    for (const run of panel.runs) {
      if (!run.frame) continue;
      drawCurve(ctx, panel, run, run.frame, view.settings, scratch,
        {color: overlay ? run.color : STEELBLUE, bandAlpha: overlay ? 0.15 : 0.25, dpr: view.dpr});
    }
    ctx.restore();
    // Step and epoch, top right of the panel.
    ctx.save();
    ctx.font = TITLE_FONT;
    ctx.textAlign = 'right';
    ctx.textBaseline = 'alphabetic';
    ctx.fillStyle = TEXT_COLOR;
    ctx.fillText(fitText(ctx, panel.stepText, box.rect.w * 0.45 - 12), box.rect.x + box.rect.w - 12,
      box.title.y);
    ctx.restore();
    if (panel.note) {
      ctx.save();
      ctx.font = FONT;
      ctx.fillStyle = '#a33';
      ctx.textAlign = 'left';
      ctx.textBaseline = 'top';
      ctx.fillText(fitText(ctx, panel.note, box.main.w - 12), box.main.x + 6, box.main.y + 6);
      ctx.restore();
    }
    for (const kind of ['sample', 'batch']) {
      const rect = box.charts[kind];
      const px = Math.round(panel.charts[kind].x(view.step)) + 0.5;
      if (!(px >= rect.x - 0.5 && px <= rect.x + rect.w + 0.5)) continue;
      ctx.strokeStyle = CURSOR_COLOR;
      ctx.lineWidth = 1;
      ctx.beginPath();
      ctx.moveTo(px, rect.y);
      ctx.lineTo(px, rect.y + rect.h);
      ctx.stroke();
    }
  }
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  return layout;
}
