// The surface view (two features): the model's output on the run's G x G grid as an image, smoothly
// scaled, changing frame by frame, with the sample's points on top. Regression: a sequential colour
// scale of the prediction, points coloured by their true y on the same scale. Classification: two
// classes: a diverging scale of P(class 1) (as TensorFlow Playground draws it); more: decision
// regions in the class colours, lighter where the model is less sure; points in their class colour,
// wrongly classified ones ringed.

import {classColor, cssColor, flipRows, normalize, parseColor, rampColors, regionColors, withAlpha} from '../colors.js';
import {predictedClass} from '../kind.js';
import {boxScales} from '../layout.js';
import {finiteExtent} from '../scales.js';
import {clip, colorBar, drawAxes, flowLegend, twoLines} from './common.js';

const BAR = 78; // room right of the plot for the colour bar or the class legend

/** RGBA pixels of one grid frame (rows flipped: image row 0 is the top of the plot). */
export function gridImage(kind, values, size, theme, range, scratch = {}) {
  const count = size * size;
  if (!scratch.rgba || scratch.rgba.length !== 4 * count) {
    scratch.rgba = new Uint8ClampedArray(4 * count);
    scratch.flipped = new Uint8ClampedArray(4 * count);
  }
  if (kind.classification && !kind.binary) {
    const classRGB = kind.classNames.map((_, c) => parseColor(classColor(theme, c)));
    regionColors(values, kind.classCount, count, classRGB, parseColor(theme.region_base), scratch.rgba);
  } else if (kind.classification) {
    rampColors(values.subarray(0, count), 0, 1, theme.divergingRamp, scratch.rgba);
  } else {
    rampColors(values.subarray(0, count), range[0], range[1], theme.sequentialRamp, scratch.rgba);
  }
  return flipRows(scratch.rgba, size, size, scratch.flipped);
}

export const surfaceView = {
  id: 'surface',
  series: ['sample', 'grid'],
  overlay: false,

  domains(runs) {
    const grid = runs[0].kind.grid;
    const targets = runs.flatMap((r) => [r.staticData.sample.targets[0], r.staticData.scatter.targets[0]]);
    return {x: grid.x_range, y: grid.y_range, value: finiteExtent(targets) || [0, 1]};
  },

  prepare(panel, env) {
    const area = panel.layout.main;
    const box = {x: area.x, y: area.y, w: Math.max(60, area.w - BAR), h: area.h};
    const {x, y} = boxScales(box, panel.domains.x, panel.domains.y);
    panel.plot = {box, x, y};
    const run = panel.runs[0];
    const d = run.staticData.sample;
    const n = d.features[0].length;
    run.pixelX = new Float64Array(n);
    run.pixelY = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      run.pixelX[i] = x(d.features[0][i]);
      run.pixelY[i] = y(d.features[1][i]);
    }
    const size = run.kind.grid.size;
    panel.gridCanvas = env.makeCanvas(size, size);
    panel.gridContext = panel.gridCanvas.getContext('2d');
    panel.imageData = panel.gridContext.createImageData(size, size);
    // Grid points sit at the centres of the image's pixels: the image reaches half a cell past them.
    const [x0, x1] = panel.domains.x;
    const [y0, y1] = panel.domains.y;
    const hx = (x1 - x0) / (size - 1) / 2;
    const hy = (y1 - y0) / (size - 1) / 2;
    panel.imageRect = {x: x(x0 - hx), y: y(y1 + hy), w: x(x1 + hx) - x(x0 - hx), h: y(y0 - hy) - y(y1 + hy)};
  },

  drawStatic(ctx, panel, {theme}) {
    const run = panel.runs[0];
    const kind = run.kind;
    const {box, x, y} = panel.plot;
    drawAxes(ctx, theme, box, x, y, {xLabel: kind.featureNames[0], yLabel: kind.featureNames[1], grid: false});
    // The bar's label starts right of the plot (the frame's image covers the plot each frame)
    // and keeps to the bar's column, on two lines if it must, the bar then a line lower.
    const label = kind.classification ? `P(${kind.classNames[1]})` : kind.outputNames[0];
    const labelPlace = {labelLeft: box.x + box.w + 4, labelRoom: BAR - 6};
    ctx.save();
    ctx.font = theme.font;
    const extra = 12 * (twoLines(ctx, label, labelPlace.labelRoom).length - 1);
    ctx.restore();
    const bar = {x: box.x + box.w + 14, y: box.y + 18 + extra, w: 12, h: Math.min(220, box.h - 36 - extra)};
    if (!kind.classification) {
      colorBar(ctx, theme, bar, theme.sequentialRamp, panel.domains.value[0], panel.domains.value[1],
        {label, ...labelPlace});
    } else if (kind.binary) {
      colorBar(ctx, theme, bar, theme.divergingRamp, 0, 1, {label, ...labelPlace,
        ticks: [0, 0.25, 0.5, 0.75, 1]});
    } else {
      const entries = kind.classNames.map((name, c) => ({label: name, color: classColor(theme, c), marker: 'square'}));
      ctx.save();
      ctx.font = theme.font;
      ctx.fillStyle = theme.muted;
      ctx.fillText('most probable', box.x + box.w + 8, box.y + 8);
      ctx.restore();
      let top = box.y + 14;
      for (const entry of entries) {
        flowLegend(ctx, theme, {x: box.x + box.w + 8, y: top, w: BAR}, [entry]);
        top += 16;
      }
    }
  },

  drawFrame(ctx, panel, {theme, scratch}) {
    const run = panel.runs[0];
    const kind = run.kind;
    const {box} = panel.plot;
    ctx.save();
    clip(ctx, box);
    if (run.grid) {
      const size = kind.grid.size;
      panel.imageData.data.set(gridImage(kind, run.grid.values, size, theme, panel.domains.value, scratch));
      panel.gridContext.putImageData(panel.imageData, 0, 0);
      ctx.imageSmoothingEnabled = true;
      ctx.imageSmoothingQuality = 'low';
      const r = panel.imageRect;
      ctx.drawImage(panel.gridCanvas, r.x, r.y, r.w, r.h);
    }
    drawSamplePoints(ctx, theme, panel, run, scratch);
    ctx.restore();
  },

  hit() {
    return null;
  },

  describe(panel) {
    return {xDomain: panel.plot.x.domain, yDomain: panel.plot.y.domain, plot: {...panel.plot.box},
      image: {...panel.imageRect}, valueDomain: panel.domains.value};
  },
};

/** The sample's points: class colours (wrong ones ringed), or true y on the sequential scale. */
function drawSamplePoints(ctx, theme, panel, run, scratch) {
  const kind = run.kind;
  const d = run.staticData.sample;
  const targets = d.targets[0];
  const n = targets.length;
  const px = run.pixelX;
  const py = run.pixelY;
  const radius = 3;
  // A thin dark rim, in both themes (the surfaces are bright in both): a point stays visible on
  // a region of its own colour.
  const rim = withAlpha(theme.point_rim, 0.45);
  if (!kind.classification) {
    // Coloured by their true y (which never changes): grouped once into 32 shades of the scale.
    if (!panel.pointShades) panel.pointShades = shades(targets, panel.domains.value, theme.sequentialRamp);
    ctx.lineWidth = 0.7;
    ctx.strokeStyle = rim;
    for (const {color, indices} of panel.pointShades) {
      ctx.fillStyle = color;
      ctx.beginPath();
      for (const i of indices) {
        ctx.moveTo(px[i] + radius, py[i]);
        ctx.arc(px[i], py[i], radius, 0, 2 * Math.PI);
      }
      ctx.fill();
      ctx.stroke();
    }
    return;
  }
  const wrong = [];
  for (let c = 0; c < kind.classCount; c++) {
    ctx.fillStyle = classColor(theme, c);
    ctx.beginPath();
    for (let i = 0; i < n; i++) {
      if (targets[i] !== c) continue;
      ctx.moveTo(px[i] + radius, py[i]);
      ctx.arc(px[i], py[i], radius, 0, 2 * Math.PI);
      if (run.frame && predictedClass(kind, run.frame.values, run.frame.pointCount, i) !== c) wrong.push(i);
    }
    ctx.fill();
  }
  ctx.lineWidth = 0.7;
  ctx.strokeStyle = rim;
  ctx.beginPath();
  for (let i = 0; i < n; i++) {
    ctx.moveTo(px[i] + radius, py[i]);
    ctx.arc(px[i], py[i], radius, 0, 2 * Math.PI);
  }
  ctx.stroke();
  if (wrong.length) {
    ctx.strokeStyle = theme.wrong;
    ctx.lineWidth = 1.4;
    ctx.beginPath();
    for (const i of wrong) {
      ctx.moveTo(px[i] + radius + 2, py[i]);
      ctx.arc(px[i], py[i], radius + 2, 0, 2 * Math.PI);
    }
    ctx.stroke();
  }
}

/** Points grouped by their colour on a ramp over `domain`, in `count` shades. */
export function shades(values, [lo, hi], scale, count = 32) {
  const groups = new Map();
  for (let i = 0; i < values.length; i++) {
    const t = normalize(values[i], lo, hi);
    if (!Number.isFinite(t)) continue;
    const k = Math.max(0, Math.min(count - 1, Math.round(t * (count - 1))));
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k).push(i);
  }
  return [...groups.entries()].sort((a, b) => a[0] - b[0])
    .map(([k, indices]) => ({color: cssColor(scale.at(k / (count - 1))), indices}));
}
