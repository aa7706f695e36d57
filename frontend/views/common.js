// Canvas drawing shared by the views: axes, points, series, legends, colour bars, text.
// Colours always come from the theme object (theme.js); nothing here holds one.

import {cssColor, withAlpha} from '../colors.js';
import {formatTick, niceTicks} from '../scales.js';

// Pixel coordinates far outside the canvas are clamped: huge values break some canvas backends.
const FAR = 1e5;

export function clampPx(v) {
  return v > FAR ? FAR : v < -FAR ? -FAR : v;
}

export function clip(ctx, rect) {
  ctx.beginPath();
  ctx.rect(rect.x, rect.y, rect.w, rect.h);
  ctx.clip();
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

/**
 * Labels of categories `width` pixels apart: all on one row when each fits its width, else
 * every other one a row further from the axis, with twice the width; what still does not fit
 * is shortened with an ellipsis. [{text, row}], row 0 or 1.
 */
export function categoryLabels(ctx, names, width) {
  const fits = names.every((name) => ctx.measureText(String(name)).width <= width - 4);
  if (fits || names.length < 2) return names.map((name) => ({text: fitText(ctx, name, width - 4), row: 0}));
  return names.map((name, c) => ({text: fitText(ctx, name, 2 * width - 6), row: c % 2}));
}

/** Axes with ticks, grid lines and labels around `rect`. */
export function drawAxes(ctx, theme, rect, sx, sy, {xLabel = '', yLabel = '', grid = true, xTicks = 6,
  yTicks = 5, xFormat = formatTick, yFormat = formatTick, xLabelOffset = 21} = {}) {
  ctx.save();
  ctx.font = theme.font;
  ctx.lineWidth = 1;
  const xt = sx.ticks(xTicks);
  const yt = sy.ticks(yTicks);
  if (grid) {
    ctx.strokeStyle = theme.grid;
    ctx.beginPath();
    for (const t of yt) {
      const py = Math.round(sy(t)) + 0.5;
      if (py < rect.y - 0.5 || py > rect.y + rect.h + 0.5) continue;
      ctx.moveTo(rect.x, py);
      ctx.lineTo(rect.x + rect.w, py);
    }
    ctx.stroke();
  }
  ctx.strokeStyle = theme.axis;
  ctx.strokeRect(Math.round(rect.x) + 0.5, Math.round(rect.y) + 0.5, Math.round(rect.w), Math.round(rect.h));
  ctx.fillStyle = theme.text;
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  ctx.beginPath();
  let lastRight = -Infinity;
  for (const t of xt) {
    const px = Math.round(sx(t)) + 0.5;
    if (px < rect.x - 0.5 || px > rect.x + rect.w + 0.5) continue;
    ctx.moveTo(px, rect.y + rect.h);
    ctx.lineTo(px, rect.y + rect.h + 4);
    const label = xFormat(t);
    const half = ctx.measureText(label).width / 2;
    if (px - half < lastRight + 4) continue; // never overlap tick labels
    ctx.fillText(label, px, rect.y + rect.h + 6);
    lastRight = px + half;
  }
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  let lastTop = Infinity;
  for (const t of yt) {
    const py = Math.round(sy(t)) + 0.5;
    if (py < rect.y - 0.5 || py > rect.y + rect.h + 0.5) continue;
    ctx.moveTo(rect.x - 4, py);
    ctx.lineTo(rect.x, py);
    if (Math.abs(py - lastTop) < 11) continue;
    ctx.fillText(yFormat(t), rect.x - 6, py);
    lastTop = py;
  }
  ctx.stroke();
  if (xLabel) {
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    ctx.fillText(fitText(ctx, xLabel, rect.w), rect.x + rect.w / 2, rect.y + rect.h + xLabelOffset);
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

/** Filled dots (or hollow rings) at data points, one path. */
export function drawPoints(ctx, xs, ys, sx, sy, color, radius, {hollow = false, alpha = 1} = {}) {
  if (!xs || !xs.length) return;
  ctx.save();
  ctx.fillStyle = color;
  ctx.strokeStyle = color;
  ctx.globalAlpha = alpha;
  ctx.beginPath();
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i];
    const y = ys[i];
    if (x === null || y === null || !Number.isFinite(x) || !Number.isFinite(y)) continue;
    const px = clampPx(sx(x));
    const py = clampPx(sy(y));
    ctx.moveTo(px + radius, py);
    ctx.arc(px, py, radius, 0, 2 * Math.PI);
  }
  if (hollow) {
    ctx.lineWidth = 0.8;
    ctx.stroke();
  } else {
    ctx.fill();
  }
  ctx.restore();
}

/** Small squares at pixel positions of the chosen indices: fast for a thousand points a frame. */
export function fillSquares(ctx, pxs, pys, indices, size, color) {
  if (!indices.length) return;
  ctx.fillStyle = color;
  ctx.beginPath();
  const h = size / 2;
  for (const i of indices) ctx.rect(pxs[i] - h, pys[i] - h, size, size);
  ctx.fill();
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

/** Round markers (filled, or hollow with the background inside). */
export function markers(ctx, theme, xs, ys, sx, sy, color, {hollow = false, radius = 3} = {}) {
  ctx.save();
  ctx.fillStyle = hollow ? theme.background : color;
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

/** Draws a title at the top left of `rect` (above it); returns its width. */
export function chartTitle(ctx, theme, rect, text) {
  ctx.save();
  ctx.font = theme.titleFont;
  ctx.fillStyle = theme.text;
  ctx.textBaseline = 'middle';
  ctx.textAlign = 'left';
  const shown = fitText(ctx, text, rect.w);
  ctx.fillText(shown, rect.x, rect.y - 9);
  const width = ctx.measureText(shown).width;
  ctx.restore();
  return width;
}

/**
 * A one-line legend inside a chart's top-right corner, right of `leftLimit`:
 * entries [{label, color, dash?, marker?: 'filled'|'hollow'|'square'}].
 */
export function chartLegend(ctx, theme, rect, entries, titleWidth = 0) {
  if (!entries.length) return;
  ctx.save();
  ctx.font = theme.font;
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
    ctx.fillStyle = theme.text;
    ctx.fillText(e.label, x, y);
    x -= 18;
    legendMark(ctx, theme, e, x, y);
    x -= 8;
  }
  ctx.restore();
}

function legendMark(ctx, theme, e, x, y) {
  ctx.strokeStyle = e.color;
  ctx.fillStyle = e.marker === 'hollow' ? theme.background : e.color;
  ctx.lineWidth = 1.5;
  if (e.marker === 'square') {
    ctx.fillRect(x + 3, y - 4, 8, 8);
  } else if (e.marker) {
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
}

/** A legend in rows from the top left of `rect`: [{label, color, marker?}]; returns rows used. */
export function flowLegend(ctx, theme, rect, entries) {
  ctx.save();
  ctx.font = theme.font;
  ctx.textBaseline = 'middle';
  ctx.textAlign = 'left';
  let x = rect.x;
  let y = rect.y + 8;
  let rows = 1;
  for (const e of entries) {
    const label = fitText(ctx, e.label, 260);
    const w = 22 + ctx.measureText(label).width + 16;
    if (x + w > rect.x + rect.w && x > rect.x) {
      x = rect.x;
      y += 16;
      rows += 1;
    }
    if (e.marker) legendMark(ctx, theme, e, x, y);
    else {
      ctx.strokeStyle = e.color;
      ctx.lineWidth = 2.5;
      ctx.beginPath();
      ctx.moveTo(x, y);
      ctx.lineTo(x + 16, y);
      ctx.stroke();
    }
    ctx.fillStyle = theme.text;
    ctx.fillText(label, x + 22, y);
    x += w;
  }
  ctx.restore();
  return rows;
}

/**
 * `text` on at most two lines of `width` pixels: whole if it fits, else split at the space
 * nearest its middle (each line shortened with an ellipsis if still too wide).
 */
export function twoLines(ctx, text, width) {
  text = String(text);
  if (ctx.measureText(text).width <= width || !text.includes(' ')) return [fitText(ctx, text, width)];
  const middle = text.length / 2;
  let cut = -1;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === ' ' && (cut < 0 || Math.abs(i - middle) < Math.abs(cut - middle))) cut = i;
  }
  return [fitText(ctx, text.slice(0, cut), width), fitText(ctx, text.slice(cut + 1), width)];
}

/**
 * A vertical colour bar at `rect` for a ramp over [lo, hi], with ticks on its right and a label
 * above. `format` formats the tick values. With `labelLeft` and `labelRoom`, the label starts at
 * x = labelLeft and keeps within labelRoom pixels, on two lines if it must (the second line just
 * above the bar: leave 12 pixels more above it, `twoLines` says when).
 */
export function colorBar(ctx, theme, rect, scale, lo, hi, {label = '', ticks, format = formatTick,
  labelLeft = null, labelRoom = 0} = {}) {
  ctx.save();
  const h = Math.max(1, Math.round(rect.h));
  for (let i = 0; i < h; i++) {
    ctx.fillStyle = scale.css(1 - i / Math.max(1, h - 1));
    ctx.fillRect(rect.x, rect.y + i, rect.w, 1);
  }
  ctx.strokeStyle = theme.axis;
  ctx.lineWidth = 1;
  ctx.strokeRect(Math.round(rect.x) + 0.5, Math.round(rect.y) + 0.5, Math.round(rect.w), Math.round(rect.h));
  ctx.font = theme.font;
  ctx.fillStyle = theme.text;
  ctx.textAlign = 'left';
  ctx.textBaseline = 'middle';
  const values = ticks || niceBarTicks(lo, hi);
  ctx.beginPath();
  for (const v of values) {
    const t = hi > lo ? (v - lo) / (hi - lo) : 0.5;
    if (t < -1e-9 || t > 1 + 1e-9) continue;
    const py = Math.round(rect.y + (1 - t) * rect.h) + 0.5;
    ctx.moveTo(rect.x + rect.w, py);
    ctx.lineTo(rect.x + rect.w + 3, py);
    ctx.fillText(format(v), rect.x + rect.w + 5, py);
  }
  ctx.strokeStyle = theme.axis;
  ctx.stroke();
  if (label && labelLeft !== null) {
    ctx.textAlign = 'left';
    ctx.textBaseline = 'bottom';
    const lines = twoLines(ctx, label, labelRoom);
    lines.forEach((line, i) => ctx.fillText(line, labelLeft, rect.y - 4 - 12 * (lines.length - 1 - i)));
  } else if (label) {
    ctx.textAlign = 'center';
    ctx.textBaseline = 'bottom';
    ctx.fillText(fitText(ctx, label, rect.w + 60), rect.x + rect.w / 2, rect.y - 4);
  }
  ctx.restore();
}

function niceBarTicks(lo, hi) {
  if (!(hi > lo)) return [lo];
  return niceTicks(lo, hi, 5);
}

/** A step text at the top right of a panel, drawn per frame. */
export function stepText(ctx, theme, panel, text) {
  const box = panel.layout;
  ctx.save();
  ctx.font = theme.titleFont;
  ctx.textAlign = 'right';
  ctx.textBaseline = 'alphabetic';
  ctx.fillStyle = theme.text;
  ctx.fillText(fitText(ctx, text, box.rect.w * 0.45 - 12), box.rect.x + box.rect.w - 12, box.title.y);
  ctx.restore();
}

/** A short note (loading, missing frame) in the corner of `rect`. */
export function note(ctx, theme, rect, text) {
  if (!text) return;
  ctx.save();
  ctx.font = theme.font;
  ctx.fillStyle = theme.note;
  ctx.textAlign = 'left';
  ctx.textBaseline = 'top';
  ctx.fillText(fitText(ctx, text, rect.w - 12), rect.x + 6, rect.y + 6);
  ctx.restore();
}

/** A vertical line across `rect` at pixel x (the playhead). */
export function cursorLine(ctx, theme, rect, px) {
  px = Math.round(px) + 0.5;
  if (!(px >= rect.x - 0.5 && px <= rect.x + rect.w + 0.5)) return;
  ctx.save();
  ctx.strokeStyle = theme.cursor;
  ctx.lineWidth = 1;
  ctx.beginPath();
  ctx.moveTo(px, rect.y);
  ctx.lineTo(px, rect.y + rect.h);
  ctx.stroke();
  ctx.restore();
}

const MIN_EPOCH_GAP = 12;

/** Dashed lines at epoch ends, at least MIN_EPOCH_GAP px apart (many short epochs would grey a chart). */
export function epochLines(ctx, theme, rect, sx, epochEnds) {
  if (!epochEnds || !epochEnds.length) return;
  ctx.save();
  ctx.strokeStyle = theme.epoch;
  ctx.setLineDash([3, 3]);
  ctx.lineWidth = 1;
  ctx.beginPath();
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

/** Title, axes and epoch lines of one loss chart; leaves the context clipped to it (save()d). */
export function beginChart(ctx, theme, panel, which, title) {
  const rect = panel.layout.charts[which];
  const {x: sx, y: sy} = panel.charts[which];
  const titleWidth = chartTitle(ctx, theme, rect, title);
  drawAxes(ctx, theme, rect, sx, sy, {xTicks: 4, yTicks: 4});
  ctx.save();
  clip(ctx, rect);
  epochLines(ctx, theme, rect, sx, panel.epochEnds);
  return {rect, sx, sy, titleWidth};
}

export {cssColor, withAlpha};
