// The loss charts beside every view: the loss on the sample per frame, and the loss of every batch,
// with epoch ends, the playhead, and click to seek.

import {finiteExtent, makeScale, robustExtent} from '../scales.js';
import {movingAverage} from '../smoothing.js';
import {beginChart, chartLegend, cursorLine, markers, strokeSeries} from './common.js';

const nulls = (values) => (values || []).map((v) => (v === null ? NaN : v));

const SAMPLE_KEYS = ['sample_loss', 'validation_loss', 'regularization_loss'];
const BATCH_KEYS = ['batch_loss', 'epoch_loss', 'epoch_val_loss'];

/** Scales of a loss chart. */
export function chartScales(rect, xDomain, yDomain, {xLog = false, yLog = false} = {}) {
  return {
    x: makeScale(xLog ? 'log' : 'linear', xLog ? [Math.max(1, xDomain[0]), xDomain[1]] : xDomain,
      [rect.x, rect.x + rect.w]),
    y: makeScale(yLog ? 'log' : 'linear', yDomain, [rect.y + rect.h, rect.y]),
  };
}

/**
 * The y domain of loss series: every finite value, or (ignoring outliers) the values between
 * the given quantiles, as TensorBoard's "Ignore outliers in chart scaling" does; linear charts
 * start at 0 when every loss is >= 0.
 */
export function lossDomain(arrays, {yLog = false, quantiles = null} = {}) {
  const extent = robustExtent(arrays, {quantiles, positiveOnly: yLog});
  if (!extent) return yLog ? [0.01, 1] : [0, 1];
  if (yLog) {
    const [lo, hi] = extent[0] === extent[1] ? [extent[0] / 10, extent[1] * 10] : extent;
    return [lo / 1.3, hi * 1.3];
  }
  const all = finiteExtent(arrays);
  const lo = all && all[0] >= 0 ? 0 : Math.min(0, extent[0]);
  const hi = extent[1] > lo ? extent[1] : lo + 1;
  return [lo, hi + (hi - lo) * 0.05];
}

/** Domains of the loss charts shared by a group of runs: {x, sample, batch}. */
export function chartDomains(runs, state, quantiles) {
  const steps = finiteExtent(runs.flatMap((r) => [r.entry.store.steps, r.entry.scalars?.batch_loss?.steps,
    r.entry.scalars?.epoch_loss?.steps])) || [0, 1];
  // A little room on the right: the cursor and the last epoch's markers stay visible.
  const x = steps[0] === steps[1] ? [steps[0], steps[0] + 1]
    : [steps[0], steps[1] + (steps[1] - steps[0]) * 0.02];
  const series = (keys) => runs.flatMap((r) => keys.map((k) => nulls(r.entry.scalars?.[k]?.values)));
  const options = {yLog: state.yLog, quantiles: state.ignoreOutliers ? quantiles : null};
  return {x, sample: lossDomain(series(SAMPLE_KEYS), options), batch: lossDomain(series(BATCH_KEYS), options)};
}

/** The panel's chart scales from its group's domains. */
export function prepareCharts(panel, domains, state) {
  const axes = {xLog: state.xLog, yLog: state.yLog};
  panel.charts = {
    sample: chartScales(panel.layout.charts.sample, domains.x, domains.sample, axes),
    batch: chartScales(panel.layout.charts.batch, domains.x, domains.batch, axes),
  };
}

export function drawChartsStatic(ctx, panel, env) {
  drawSampleChart(ctx, panel, env);
  drawBatchChart(ctx, panel, env);
}

function drawSampleChart(ctx, panel, {theme}) {
  const {rect, sx, sy, titleWidth} = beginChart(ctx, theme, panel, 'sample', 'Loss on the sample');
  const single = panel.runs.length === 1;
  const legend = [];
  for (const run of panel.runs) {
    const s = run.scalars;
    if (!s) continue;
    const color = single ? theme.curve : run.color;
    if (s.regularization_loss && s.regularization_loss.steps.length) {
      strokeSeries(ctx, s.regularization_loss.steps, nulls(s.regularization_loss.values), sx, sy,
        {color: single ? theme.regularization : color, dash: [1, 2], width: 1.5});
      if (single) legend.push({label: 'regularization', color: theme.regularization, dash: [1, 2]});
    }
    if (s.validation_loss && s.validation_loss.steps.length) {
      strokeSeries(ctx, s.validation_loss.steps, nulls(s.validation_loss.values), sx, sy,
        {color: single ? theme.validation : color, dash: [5, 3], width: 1.5});
      if (single) legend.push({label: 'validation', color: theme.validation, dash: [5, 3]});
    }
    if (s.sample_loss) {
      strokeSeries(ctx, s.sample_loss.steps, nulls(s.sample_loss.values), sx, sy, {color, width: 1.5});
    }
  }
  ctx.restore();
  if (single && legend.length) {
    chartLegend(ctx, theme, rect, [{label: 'sample', color: theme.curve}, ...legend], titleWidth);
  }
}

function drawBatchChart(ctx, panel, {theme, state}) {
  const {rect, sx, sy, titleWidth} = beginChart(ctx, theme, panel, 'batch', 'Batch loss');
  const single = panel.runs.length === 1;
  let hasEpoch = false;
  let hasEpochVal = false;
  for (const run of panel.runs) {
    const s = run.scalars;
    if (!s || !s.batch_loss) continue;
    const color = single ? theme.curve : run.color;
    const values = nulls(s.batch_loss.values);
    if (state.batchSmoothing > 1) {
      strokeSeries(ctx, s.batch_loss.steps, values, sx, sy, {color, width: 1, alpha: 0.25});
      const smooth = movingAverage(values, state.batchSmoothing);
      strokeSeries(ctx, s.batch_loss.steps, smooth, sx, sy, {color, width: 1.5});
    } else {
      strokeSeries(ctx, s.batch_loss.steps, values, sx, sy, {color, width: 1});
    }
  }
  for (const run of panel.runs) {
    const s = run.scalars;
    if (!s) continue;
    if (s.epoch_loss && s.epoch_loss.steps.length) {
      markers(ctx, theme, s.epoch_loss.steps, s.epoch_loss.values, sx, sy, single ? theme.epoch_loss : run.color);
      hasEpoch = true;
    }
    if (s.epoch_val_loss && s.epoch_val_loss.steps.length) {
      markers(ctx, theme, s.epoch_val_loss.steps, s.epoch_val_loss.values, sx, sy,
        single ? theme.validation : run.color, {hollow: true});
      hasEpochVal = true;
    }
  }
  ctx.restore();
  const legend = [];
  if (hasEpoch) legend.push({label: 'epoch', color: single ? theme.epoch_loss : theme.muted, marker: 'filled'});
  if (hasEpochVal) legend.push({label: 'val', color: single ? theme.validation : theme.muted, marker: 'hollow'});
  if (legend.length) chartLegend(ctx, theme, rect, legend, titleWidth);
}

/** The playhead on both charts. */
export function drawChartsFrame(ctx, panel, {theme, step}) {
  for (const kind of ['sample', 'batch']) {
    cursorLine(ctx, theme, panel.layout.charts[kind], panel.charts[kind].x(step));
  }
}

/** {step} of a click on one of the charts (the step under the pointer), or null. */
export function chartsHit(panel, x, y) {
  for (const kind of ['sample', 'batch']) {
    const r = panel.layout.charts[kind];
    if (x >= r.x && x <= r.x + r.w && y >= r.y - 4 && y <= r.y + r.h) {
      return {step: panel.charts[kind].x.invert(x)};
    }
  }
  return null;
}
