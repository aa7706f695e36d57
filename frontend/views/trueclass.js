// The true class (a classifier, any number of features): left, the probability the current frame
// gives each sample point's true class, one column of points per class; right, the confusion
// matrix of the frame (rows: true class, columns: predicted), its counts written in shaded cells.

import {classColor, cssColor, mix, parseColor} from '../colors.js';
import {confusionCounts, trueClassProbability} from '../kind.js';
import {boxScales} from '../layout.js';
import {makeScale} from '../scales.js';
import {categoryLabels, clip, drawAxes, fitText} from './common.js';

/** Horizontal jitter of point i inside its class column, in [-0.5, 0.5): fixed by the index. */
export function jitter(i) {
  return ((i * 0.6180339887498949) % 1) - 0.5;
}

export const trueClassView = {
  id: 'true_class',
  series: ['sample'],
  overlay: false,

  domains() {
    return {};
  },

  prepare(panel) {
    const kind = panel.runs[0].kind;
    const area = panel.layout.main;
    // Room for the matrix's row labels (class names; about 6.5 px a character at 11 px).
    const longest = Math.max(...kind.classNames.map((name) => String(name).length));
    const gap = Math.min(130, Math.max(70, 14 + 6.5 * longest));
    panel.rowLabelRoom = gap - 10;
    const stripW = Math.max(80, (area.w - gap) * 0.5);
    const strip = {x: area.x, y: area.y, w: stripW, h: area.h};
    const side = Math.max(60, Math.min(area.w - stripW - gap - 10, area.h - 30));
    const matrix = {x: area.x + stripW + gap, y: area.y + 14, w: side, h: side};
    const k = kind.classCount;
    // A little past 0 and 1: dots there are drawn whole, not cut by the frame.
    panel.strip = {box: strip, ...boxScales(strip, [-0.5, k - 0.5], [-0.02, 1.03])};
    panel.matrix = {box: matrix, cell: side / k};
    const run = panel.runs[0];
    const labels = run.staticData.sample.targets[0];
    run.labels = Int32Array.from(labels);
    run.pixelX = Float64Array.from(labels, (c, i) => panel.strip.x(c + 0.7 * jitter(i)));
  },

  drawStatic(ctx, panel, {theme}) {
    const kind = panel.runs[0].kind;
    const {box, y} = panel.strip;
    const classes = makeScale('linear', [-0.5, kind.classCount - 0.5], [box.x, box.x + box.w]);
    classes.ticks = () => kind.classNames.map((_, c) => c);
    ctx.save();
    ctx.font = theme.font;
    // Class names under their columns, every other one a row lower when they are too long
    // to sit side by side (drawAxes would leave such labels out).
    const names = categoryLabels(ctx, kind.classNames, box.w / kind.classCount);
    const rows = Math.max(...names.map((label) => label.row)) + 1;
    drawAxes(ctx, theme, box, classes, y, {xLabel: 'true class', yLabel: 'P(true class)',
      xFormat: () => '', yTicks: 5, xLabelOffset: rows > 1 ? 29 : 21});
    ctx.fillStyle = theme.text;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    names.forEach(({text, row}, c) => {
      ctx.fillText(text, classes(c), box.y + box.h + 6 + 11 * row);
    });
    ctx.restore();
    if (kind.binary) {
      ctx.save();
      ctx.strokeStyle = theme.diagonal;
      ctx.setLineDash([4, 3]);
      ctx.beginPath();
      ctx.moveTo(box.x, Math.round(y(0.5)) + 0.5);
      ctx.lineTo(box.x + box.w, Math.round(y(0.5)) + 0.5);
      ctx.stroke();
      ctx.restore();
    }
    const {box: m, cell} = panel.matrix;
    ctx.save();
    ctx.font = theme.font;
    ctx.fillStyle = theme.text;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'bottom';
    ctx.fillText('predicted', m.x + m.w / 2, m.y - 2);
    ctx.textBaseline = 'top';
    categoryLabels(ctx, kind.classNames, cell).forEach(({text, row}, c) => {
      ctx.fillText(text, m.x + (c + 0.5) * cell, m.y + m.h + 4 + 11 * row);
    });
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    kind.classNames.forEach((name, c) => {
      ctx.fillText(fitText(ctx, name, panel.rowLabelRoom), m.x - 4, m.y + (c + 0.5) * cell);
    });
    ctx.restore();
  },

  drawFrame(ctx, panel, {theme, scratch}) {
    const run = panel.runs[0];
    if (!run.frame) return;
    const kind = run.kind;
    const n = run.frame.pointCount;
    const probability = trueClassProbability(kind, run.frame.values, run.labels, scratch.trueClass);
    scratch.trueClass = probability;
    const {box, y} = panel.strip;
    ctx.save();
    clip(ctx, box);
    ctx.globalAlpha = 0.75;
    for (let c = 0; c < kind.classCount; c++) {
      ctx.fillStyle = classColor(theme, c);
      ctx.beginPath();
      for (let i = 0; i < n; i++) {
        if (run.labels[i] !== c || !Number.isFinite(probability[i])) continue;
        const py = y(probability[i]);
        ctx.moveTo(run.pixelX[i] + 2.2, py);
        ctx.arc(run.pixelX[i], py, 2.2, 0, 2 * Math.PI);
      }
      ctx.fill();
    }
    ctx.restore();
    const counts = confusionCounts(kind, run.frame.values, run.labels, scratch.counts);
    scratch.counts = counts;
    drawMatrix(ctx, theme, panel.matrix, counts, kind.classCount);
  },

  hit() {
    return null;
  },

  describe(panel) {
    return {strip: {...panel.strip.box}, matrix: {...panel.matrix.box, cell: panel.matrix.cell}};
  },
};

/** The confusion matrix: each cell shaded by its share of its row (the true class), count written. */
export function drawMatrix(ctx, theme, {box, cell}, counts, k) {
  const base = parseColor(theme.background);
  const ink = parseColor(theme.curve);
  ctx.save();
  ctx.font = theme.titleFont;
  ctx.textAlign = 'center';
  ctx.textBaseline = 'middle';
  for (let t = 0; t < k; t++) {
    let total = 0;
    for (let p = 0; p < k; p++) total += counts[t * k + p];
    for (let p = 0; p < k; p++) {
      const count = counts[t * k + p];
      const share = total ? count / total : 0;
      ctx.fillStyle = cssColor(mix(base, ink, share));
      const x = box.x + p * cell;
      const yy = box.y + t * cell;
      ctx.fillRect(x, yy, cell, cell);
      ctx.fillStyle = share > 0.55 ? theme.background : theme.text;
      ctx.fillText(String(count), x + cell / 2, yy + cell / 2);
    }
  }
  ctx.strokeStyle = theme.axis;
  ctx.lineWidth = 1;
  ctx.strokeRect(Math.round(box.x) + 0.5, Math.round(box.y) + 0.5, Math.round(box.w), Math.round(box.h));
  ctx.restore();
}
