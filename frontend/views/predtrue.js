// Predicted against true (a regression, any number of features): for each output, the sample's
// points at (true y, predicted y) of the current frame, with the diagonal where they would be if
// the model were right.

import {boxScales, rowBoxes} from '../layout.js';
import {finiteExtent, padDomain} from '../scales.js';
import {clip, drawAxes} from './common.js';

export const predTrueView = {
  id: 'pred_true',
  series: ['sample'],
  overlay: false,

  domains(runs) {
    const kind = runs[0].kind;
    const out = [];
    for (let j = 0; j < kind.outputCount; j++) {
      out.push(padDomain(finiteExtent(runs.map((r) => r.staticData.sample.targets[j])) || [0, 1], 0.1));
    }
    return {outputs: out};
  },

  prepare(panel) {
    const kind = panel.runs[0].kind;
    const boxes = rowBoxes(panel.layout.main, kind.outputCount, 60);
    panel.boxes = boxes.map((box, j) => {
      const side = Math.min(box.w, box.h);
      const square = {x: box.x + (box.w - side) / 2, y: box.y + (box.h - side) / 2, w: side, h: side};
      const domain = panel.domains.outputs[j];
      return {box: square, ...boxScales(square, domain, domain)};
    });
    const run = panel.runs[0];
    const targets = run.staticData.sample.targets;
    run.pixelTrue = panel.boxes.map(({x}, j) => Float64Array.from(targets[j], (v) => x(v)));
  },

  drawStatic(ctx, panel, {theme}) {
    const kind = panel.runs[0].kind;
    panel.boxes.forEach(({box, x, y}, j) => {
      const name = kind.outputNames[j];
      drawAxes(ctx, theme, box, x, y, {xLabel: `true ${name}`, yLabel: `predicted ${name}`, xTicks: 5, yTicks: 5});
      ctx.save();
      clip(ctx, box);
      ctx.strokeStyle = theme.diagonal;
      ctx.setLineDash([4, 3]);
      ctx.beginPath();
      const [lo, hi] = x.domain;
      ctx.moveTo(x(lo), y(lo));
      ctx.lineTo(x(hi), y(hi));
      ctx.stroke();
      ctx.restore();
    });
  },

  drawFrame(ctx, panel, {theme}) {
    const run = panel.runs[0];
    if (!run.frame) return;
    const n = run.frame.pointCount;
    panel.boxes.forEach(({box, y}, j) => {
      const pred = run.frame.values.subarray(j * n, (j + 1) * n);
      const px = run.pixelTrue[j];
      ctx.save();
      clip(ctx, box);
      ctx.fillStyle = theme.curve;
      ctx.globalAlpha = 0.7;
      ctx.beginPath();
      for (let i = 0; i < n; i++) {
        const v = pred[i];
        if (!Number.isFinite(v)) continue;
        const py = y(v);
        ctx.moveTo(px[i] + 2.2, py);
        ctx.arc(px[i], py, 2.2, 0, 2 * Math.PI);
      }
      ctx.fill();
      ctx.restore();
    });
  },

  hit() {
    return null;
  },

  describe(panel) {
    return {boxes: panel.boxes.map((b) => ({...b.box, xDomain: b.x.domain, yDomain: b.y.domain}))};
  },
};
