// The curve view (one feature): the data as a scatter, and at each frame the model's prediction over
// x with a loss band around it; one stacked panel per output (small multiples sharing x). For a
// classifier: the probability of each class over x, the data drawn in a row per class above it.

import {classColor, withAlpha} from '../colors.js';
import {boxScales, stackBoxes} from '../layout.js';
import {finiteExtent, padDomain} from '../scales.js';
import {bandHalfWidth} from '../smoothing.js';
import {clampPx, clip, drawAxes, drawPoints, flowLegend} from './common.js';

// Above the probability axis of a classifier: one row per class for the data, this high.
const ROW = 0.07;

function outputCount(run) {
  return run.kind.classification ? 1 : run.kind.outputCount;
}

/** The band a run is drawn with: the user's choice, or (auto) the one its settings declare. */
export function bandOf(run, state) {
  const band = state.band === 'auto' ? (run.kind.view.band || 'sqrt') : state.band;
  return band === 'none' ? 'off' : band;
}

export const curveView = {
  id: 'curve',
  series: ['sample'],
  overlay: true,

  /** Several runs can share one panel when they are one-output regressions. */
  canOverlay(runs) {
    return runs.every((r) => !r.kind.classification && r.kind.outputCount === 1);
  },

  domains(runs) {
    const data = runs.map((r) => r.staticData);
    const x = padDomain(finiteExtent(data.flatMap((d) => [d.sample.x, d.scatter.x, d.validation?.x]))
      || [0, 1], 0.02);
    const kind = runs[0].kind;
    if (kind.classification) {
      return {x, y: [[-0.04, 1 + ROW * kind.classCount + 0.02]]};
    }
    const y = [];
    for (let j = 0; j < kind.outputCount; j++) {
      y.push(padDomain(finiteExtent(data.flatMap((d) => [d.sample.targets[j], d.scatter.targets[j],
        d.validation?.targets[j]])) || [0, 1], 0.08));
    }
    return {x, y};
  },

  prepare(panel) {
    const run = panel.runs[0];
    const count = outputCount(run);
    const boxes = count === 1 ? [panel.layout.main] : stackBoxes(panel.layout.main, count, 22);
    panel.boxes = boxes.map((box, j) => ({box, ...boxScales(box, panel.domains.x, panel.domains.y[j])}));
    // The classic single curve keeps `panel.main` (scales of the first box).
    panel.main = {x: panel.boxes[0].x, y: panel.boxes[0].y};
    for (const r of panel.runs) {
      const xs = r.staticData.sample.x;
      r.pixelX = new Float64Array(xs.length);
      for (let k = 0; k < xs.length; k++) r.pixelX[k] = panel.boxes[0].x(xs[k]);
    }
  },

  drawStatic(ctx, panel, {theme}) {
    const run = panel.runs[0];
    const kind = run.kind;
    const last = panel.boxes.length - 1;
    panel.boxes.forEach(({box, x: sx, y: sy}, j) => {
      const yLabel = kind.classification ? `P(${kind.outputNames[0]})`
        : (j === 0 && run.settings.y_label) || kind.outputNames[j];
      drawAxes(ctx, theme, box, sx, sy, {xLabel: j === last ? (run.settings.x_label || kind.featureNames[0]) : '',
        yLabel, yTicks: kind.classification ? 5 : (panel.boxes.length > 2 ? 3 : 5),
        yFormat: kind.classification ? (t) => (t > 1.0001 ? '' : String(Math.round(t * 100) / 100)) : undefined});
      ctx.save();
      clip(ctx, box);
      // Overlaid runs usually fit the same data: draw each distinct point set once.
      const drawn = new Set();
      for (const r of panel.runs) {
        const d = r.staticData;
        if (kind.classification) {
          drawClassRows(ctx, theme, r, sx, sy);
          continue;
        }
        if (!drawn.has(r.dataKey)) {
          drawPoints(ctx, d.scatter.x, d.scatter.targets[j], sx, sy, theme.scatter, 1.6);
          if (d.validation) {
            drawPoints(ctx, d.validation.x, d.validation.targets[j], sx, sy, theme.validation, 2,
              {hollow: true, alpha: 0.6});
          }
          drawn.add(r.dataKey);
        }
      }
      ctx.restore();
    });
    if (kind.classification) {
      const entries = kind.classNames.map((name, c) => ({label: name, color: classColor(theme, c), marker: 'square'}));
      flowLegend(ctx, theme, {x: panel.layout.main.x + 4, y: panel.layout.main.y + 2,
        w: panel.layout.main.w - 8}, entries);
    }
  },

  drawFrame(ctx, panel, env) {
    const {theme, state, dpr, scratch} = env;
    const overlay = panel.runs.length > 1;
    for (const run of panel.runs) {
      if (!run.frame) continue;
      const kind = run.kind;
      const n = run.frame.pointCount;
      panel.boxes.forEach(({box, y: sy}, j) => {
        ctx.save();
        clip(ctx, box);
        if (kind.classification) {
          const prob = run.frame.values;
          for (let c = 0; c < kind.classCount; c++) {
            const values = kind.binary ? (c === 1 ? prob.subarray(0, n) : complement(prob, n, scratch))
              : prob.subarray(c * n, (c + 1) * n);
            drawCurve(ctx, run.pixelX, values, null, sy, {color: classColor(theme, c), dpr});
          }
        } else {
          const pred = run.frame.values.subarray(j * n, (j + 1) * n);
          const lossIndex = kind.outputCount > 1 ? kind.channel(`loss:${j}`) : kind.channel('loss');
          const loss = run.frame.values.subarray(lossIndex * n, (lossIndex + 1) * n);
          const band = bandOf(run, state);
          let half = null;
          if (band !== 'off') {
            if (!scratch.half || scratch.half.length !== n) scratch.half = new Float64Array(n);
            half = bandHalfWidth(loss, state.smoothing, band, scratch.half);
          }
          const color = overlay ? run.color : theme.curve;
          drawCurve(ctx, run.pixelX, pred, half, sy, {color, bandAlpha: overlay ? 0.15 : 0.25,
            dpr, boxWidth: box.w});
        }
        ctx.restore();
      });
    }
  },

  hit() {
    return null;
  },

  describe(panel) {
    return {xDomain: panel.boxes[0].x.domain, yDomain: panel.boxes[0].y.domain,
      boxes: panel.boxes.map((b) => ({...b.box, xDomain: b.x.domain, yDomain: b.y.domain}))};
  },
};

function complement(prob, n, scratch) {
  if (!scratch.complement || scratch.complement.length !== n) scratch.complement = new Float64Array(n);
  for (let i = 0; i < n; i++) scratch.complement[i] = 1 - prob[i];
  return scratch.complement;
}

/** The data of a classifier: one row of points per class above the probability axis. */
function drawClassRows(ctx, theme, run, sx, sy) {
  const d = run.staticData;
  const labels = d.scatter.targets[0];
  const xs = d.scatter.x;
  const kind = run.kind;
  for (let c = 0; c < kind.classCount; c++) {
    const px = [];
    const py = [];
    for (let i = 0; i < xs.length; i++) {
      if (labels[i] !== c) continue;
      px.push(xs[i]);
      // A little vertical jitter (fixed by the index) so that dense rows stay readable.
      py.push(1 + ROW * (c + 0.5) + ROW * 0.3 * (((i * 7919) % 13) / 13 - 0.5));
    }
    drawPoints(ctx, px, py, sx, sy, withAlpha(classColor(theme, c), 0.7), 1.8);
  }
  ctx.save();
  ctx.strokeStyle = theme.grid;
  ctx.beginPath();
  const top = Math.round(sy(1)) + 0.5;
  ctx.moveTo(sx.range[0], top);
  ctx.lineTo(sx.range[1], top);
  ctx.stroke();
  ctx.restore();
}

/**
 * Draws a band (± half around pred, if half is given) and the curve through (pixelX, pred).
 * The curve is stroked as 1-device-pixel hairlines through pixel centres, one on the curve and one
 * a pixel above, below, left and right of it: the software rasteriser draws hairlines several times
 * faster than one wide stroke with joins, and the line looks the same (about 3 pixels wide).
 */
export function drawCurve(ctx, px, pred, half, sy, {color, bandAlpha = 0.25, dpr = 1, boxWidth = 600}) {
  const n = pred.length;
  if (half) {
    // The band is smooth: one vertex per device pixel column is enough, and fills much faster.
    const stride = Math.max(1, Math.floor(n / Math.max(1, boxWidth * dpr)));
    ctx.fillStyle = withAlpha(color, bandAlpha);
    ctx.beginPath();
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
