// The pure parts of the views: colour scales, grid to image, decision regions, confusion counts,
// the true-class probability, axis grouping, outlier-robust ranges, the loss map's image.
import test from 'node:test';
import assert from 'node:assert/strict';
import {readFileSync} from 'node:fs';
import {classColor, flipRows, mix, normalize, parseColor, ramp, rampColors, regionColors} from '../../frontend/colors.js';
import {groupRuns, axesKey, pointsKey} from '../../frontend/groups.js';
import {confusionCounts, predictedClass, runKind, trueClassProbability} from '../../frontend/kind.js';
import {quantile, robustExtent} from '../../frontend/scales.js';
import {makeTheme} from '../../frontend/theme.js';
import {lossDomain} from '../../frontend/views/losscharts.js';
import {keyLog10, logRange, lossMapImage} from '../../frontend/views/lossmap.js';
import {gridImage, shades} from '../../frontend/views/surface.js';
import {loadViews, neededViews, onViewLoaded, viewById, viewChoices, viewFor, VIEW_IDS} from
  '../../frontend/views/registry.js';
import {bandOf} from '../../frontend/views/curve.js';
import {categoryLabels} from '../../frontend/views/common.js';

const DEFAULTS = JSON.parse(readFileSync(new URL('../../frontend/defaults.json', import.meta.url)));
const LIGHT = makeTheme(DEFAULTS, 'light');
const DARK = makeTheme(DEFAULTS, 'dark');

const binarySettings = {task: 'classification', input_width: 2, class_names: ['a', 'b'],
  views: ['surface', 'true_class', 'loss_map'], grid: {size: 2, x_range: [0, 1], y_range: [0, 1]},
  channels: {sample: ['prob:1', 'loss'], grid: ['prob:1']}};
const threeSettings = {task: 'classification', input_width: 2, class_names: ['a', 'b', 'c'],
  views: ['surface', 'true_class', 'loss_map'], grid: {size: 2, x_range: [0, 1], y_range: [0, 1]},
  channels: {sample: ['prob:0', 'prob:1', 'prob:2', 'loss'], grid: ['prob:0', 'prob:1', 'prob:2']}};

test('colours: parsing, mixing, ramps through their stops', () => {
  assert.deepEqual(parseColor('#4682b4'), [70, 130, 180, 1]);
  assert.deepEqual(parseColor('#80808073').slice(0, 3), [128, 128, 128]);
  assert.throws(() => parseColor('steelblue'), /colour/);
  assert.deepEqual(mix([0, 0, 0, 1], [200, 100, 50, 1], 0.5), [100, 50, 25, 1]);
  const r = ramp(['#000000', '#ffffff'], 3);
  assert.deepEqual(r.at(0), [0, 0, 0]);
  assert.deepEqual(r.at(0.5), [128, 128, 128]);
  assert.deepEqual(r.at(1), [255, 255, 255]);
  assert.deepEqual(r.at(7), [255, 255, 255]); // clamped
  assert.equal(r.at(NaN), null);
  // The diverging ramp of P(class 1): class 0's colour at 0, the neutral at 0.5, class 1's at 1.
  const d = LIGHT.divergingRamp;
  assert.deepEqual(d.at(0), parseColor(DEFAULTS.themes.light.diverging[0]).slice(0, 3));
  assert.deepEqual(d.at(1), parseColor(DEFAULTS.themes.light.diverging[2]).slice(0, 3));
  assert.equal(normalize(5, 0, 10), 0.5);
  assert.ok(Number.isNaN(normalize(Infinity, 0, 1)));
  assert.equal(classColor(LIGHT, 11), LIGHT.classes[1]);
});

test('ramp colours: values to RGBA, non-finite transparent', () => {
  const out = new Uint8ClampedArray(12);
  rampColors([0, 10, NaN], 0, 10, ramp(['#000000', '#ff0000'], 2), out);
  assert.deepEqual([...out], [0, 0, 0, 255, 255, 0, 0, 255, 0, 0, 0, 0]);
});

test('grid to image: a binary surface on the diverging scale, rows flipped (feature 2 upwards)', () => {
  const kind = runKind(binarySettings);
  // Stored row-major, row 0 at the lowest feature-2 value: P(1) = 0, 0.25 (bottom), 0.75, 1 (top).
  const values = Float32Array.from([0, 0.25, 0.75, 1]);
  const rgba = gridImage(kind, values, 2, LIGHT, [0, 1]);
  const pixel = (i) => [...rgba.slice(4 * i, 4 * i + 3)];
  // Image row 0 (top) holds the stored row 1.
  assert.deepEqual(pixel(0), LIGHT.divergingRamp.at(0.75));
  assert.deepEqual(pixel(1), LIGHT.divergingRamp.at(1));
  assert.deepEqual(pixel(2), LIGHT.divergingRamp.at(0));
  assert.deepEqual(pixel(3), LIGHT.divergingRamp.at(0.25));
  const flipped = flipRows(Uint8ClampedArray.from([1, 1, 1, 1, 2, 2, 2, 2]), 1, 2, new Uint8ClampedArray(8));
  assert.deepEqual([...flipped], [2, 2, 2, 2, 1, 1, 1, 1]);
});

test('decision regions: the winning class colour, lighter when unsure, base colour at 1/K', () => {
  const classes = [[255, 0, 0], [0, 255, 0], [0, 0, 255]];
  const base = [255, 255, 255];
  // Three points, class-major: point 0 sure of class 2, point 1 undecided, point 2 diverged.
  const probs = Float32Array.from([0, 1 / 3, NaN, 0, 1 / 3, 0.5, 1, 1 / 3, 0.5]);
  const out = regionColors(probs, 3, 3, classes, base, new Uint8ClampedArray(12));
  assert.deepEqual([...out.slice(0, 4)], [0, 0, 255, 255]);
  assert.deepEqual([...out.slice(4, 8)], [255, 255, 255, 255]);
  assert.equal(out[11], 0);
  const kind = runKind(threeSettings);
  const image = gridImage(kind, Float32Array.from([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0]), 2, DARK);
  // Stored point 0 (bottom left) is sure of class 0: image row 1, column 0.
  assert.deepEqual([...image.slice(8, 11)], parseColor(DARK.classes[0]).slice(0, 3));
});

test('class probabilities, the true class and confusion counts of a frame', () => {
  const binary = runKind(binarySettings);
  // P(class 1) of four points whose labels are 0, 1, 1, 0.
  const values = Float32Array.from([0.2, 0.9, 0.4, 0.6, 0, 0, 0, 0]);
  const labels = Int32Array.from([0, 1, 1, 0]);
  const truth = trueClassProbability(binary, values, labels);
  assert.deepEqual([...truth].map((v) => Math.round(v * 100) / 100), [0.8, 0.9, 0.4, 0.4]);
  assert.equal(predictedClass(binary, values, 4, 2), 0);
  // rows: true 0 -> predicted [1, 1]; true 1 -> [1, 1]
  assert.deepEqual([...confusionCounts(binary, values, labels)], [1, 1, 1, 1]);
  const three = runKind(threeSettings);
  // Two points, class-major probabilities; the second diverged (NaN): counted nowhere.
  const v3 = Float32Array.from([0.1, NaN, 0.7, 0.2, 0.2, 0.3]);
  assert.deepEqual([...confusionCounts(three, v3, Int32Array.from([2, 0]))],
    [0, 0, 0, 0, 0, 0, 0, 1, 0]);
});

test('axis grouping: the same sample shares axes, other data get their own', () => {
  const sample = (offset) => ({features: [[0, 1, 2].map((v) => v + offset)], targets: [[3, 4, 5]]});
  const statics = {
    a: {settings: {task: 'regression', input_width: 1, output_names: ['y']}, sample: sample(0)},
    b: {settings: {task: 'regression', input_width: 1, output_names: ['y']}, sample: sample(0)},
    c: {settings: {task: 'regression', input_width: 1, output_names: ['y']}, sample: sample(10)},
  };
  const groups = groupRuns(['a', 'c', 'b'], (name) => axesKey(statics[name]));
  assert.deepEqual(groups.map((g) => g.runs), [['a', 'b'], ['c']]);
  assert.notEqual(pointsKey(sample(0)), pointsKey(sample(1e-3)));
});

test('outlier-robust ranges: quantiles as TensorBoard, whole extent when off', () => {
  assert.equal(quantile([0, 10], 0.5), 5);
  // A loss curve's first steps are its outliers: 2 of 100 values here.
  const values = [100, 40, ...Array.from({length: 98}, (_, i) => 0.5 + (i % 7) / 10)];
  const [lo, hi] = robustExtent([values], {quantiles: [0.05, 0.95]});
  assert.ok(hi < 2 && lo >= 0.5, `${lo} ${hi}`);
  assert.deepEqual(robustExtent([values]), [0.5, 100]);
  assert.equal(robustExtent([[NaN, null]], {quantiles: [0.05, 0.95]}), null);
  const domain = lossDomain([values], {quantiles: [0.05, 0.95]});
  assert.equal(domain[0], 0);
  assert.ok(domain[1] < 2);
  assert.ok(lossDomain([values])[1] > 100);
  assert.ok(lossDomain([values], {yLog: true, quantiles: [0.05, 0.95]})[1] < 3);
});

test('loss map image: log scale between robust bounds, transposed for speed', () => {
  assert.deepEqual(logRange([1, 10, 100, 0, NaN]).map((v) => Math.round(v * 100) / 100), [0.04, 1.96]);
  const heat = ramp(['#000000', '#ffffff'], 256);
  // Two columns (frames) x two rows (points), column-major: column 0 = [1, 100], column 1 = [10, NaN].
  // The image is transposed (rows wide, columns high): pixel (r, c) at index c * rows + r.
  const out = lossMapImage(Float32Array.from([1, 100, 10, NaN]), [0, 2], heat, new Uint8ClampedArray(16));
  const pixel = (r, c) => [...out.slice(4 * (c * 2 + r), 4 * (c * 2 + r) + 4)];
  assert.deepEqual(pixel(0, 0), [0, 0, 0, 255]);
  assert.deepEqual(pixel(1, 0), [255, 255, 255, 255]);
  // (the logarithm is read off the float's bits: within one colour step of the exact one)
  assert.ok(pixel(0, 1).slice(0, 3).every((c) => Math.abs(c - 128) <= 1) && pixel(0, 1)[3] === 255);
  assert.equal(pixel(1, 1)[3], 0);
});

test('registry: views load on demand; a run is drawn in its main view unless it has the one chosen', async () => {
  const ids = VIEW_IDS.map((v) => v.id);
  assert.deepEqual(ids, ['curve', 'surface', 'pred_true', 'true_class', 'loss_map']);
  const surface = runKind(binarySettings);
  const legacy = runKind({loss: 'squared'}); // version 1: a curve
  // What loading.js waits for before drawing a run: its main view, and the chosen one if it has it.
  assert.deepEqual(neededViews(surface), ['surface']);
  assert.deepEqual(neededViews(surface, 'loss_map'), ['surface', 'loss_map']);
  assert.deepEqual(neededViews(surface, 'pred_true'), ['surface']);
  assert.deepEqual(neededViews(legacy, 'loss_map'), ['curve']); // a version-1 run has no loss map
  // Only the curve comes with the tab; asking for another view loads it and says so.
  assert.equal(viewById('surface'), null);
  const arrived = [];
  onViewLoaded((view) => arrived.push(view.id));
  viewFor(surface, 'loss_map'); // starts loading both (drawn once they arrive)
  const views = await loadViews(ids);
  assert.ok(arrived.includes('loss_map') && arrived.includes('surface'), String(arrived));
  assert.deepEqual(views.map((v) => v.id), ids);
  for (const view of views) {
    for (const method of ['domains', 'prepare', 'drawStatic', 'drawFrame', 'hit', 'describe']) {
      assert.equal(typeof view[method], 'function', `${view.id}.${method}`);
    }
  }
  assert.equal(viewFor(surface).id, 'surface');
  assert.equal(viewFor(surface, 'loss_map').id, 'loss_map');
  assert.equal(viewFor(surface, 'pred_true').id, 'surface');
  assert.equal(viewFor(legacy).id, 'curve');
  assert.equal(viewFor(legacy, 'loss_map').id, 'curve');
  assert.deepEqual(viewChoices([surface, legacy]).map((v) => v.id), ['curve', 'surface', 'true_class', 'loss_map']);
});

test('the band follows the loss the run recorded, unless chosen', () => {
  const run = (band) => ({kind: runKind({view: {band}})});
  assert.equal(bandOf(run('raw'), {band: 'auto'}), 'raw');
  assert.equal(bandOf(run('none'), {band: 'auto'}), 'off');
  assert.equal(bandOf(run('sqrt'), {band: 'raw'}), 'raw');
});

test('points shaded by their true value: grouped into shades of the scale', () => {
  const groups = shades([0, 0.01, 1, NaN], [0, 1], LIGHT.sequentialRamp, 4);
  assert.deepEqual(groups.map((g) => g.indices), [[0, 1], [2]]);
  assert.equal(groups[1].color, `rgb(${LIGHT.sequentialRamp.at(1).join(', ')})`);
});

test('the theme: every colour from the defaults file, light and dark', () => {
  assert.equal(LIGHT.curve, DEFAULTS.themes.light.curve);
  assert.equal(DARK.background, DEFAULTS.themes.dark.background);
  assert.notEqual(LIGHT.background, DARK.background);
  for (const mode of ['light', 'dark']) {
    assert.deepEqual(Object.keys(DEFAULTS.themes[mode]).sort(), Object.keys(DEFAULTS.themes.light).sort());
  }
});

test('loss map range: the histogram of a big map agrees with the exact quantiles', () => {
  const values = new Float32Array(200000);
  for (let i = 0; i < values.length; i++) values[i] = 10 ** (-3 + 5 * ((i * 7919) % 100000) / 100000);
  const [lo, hi] = logRange(values);
  assert.ok(Math.abs(lo - (-3 + 5 * 0.02)) < 0.01, String(lo));
  assert.ok(Math.abs(hi - (-3 + 5 * 0.98)) < 0.01, String(hi));
});

test('loss map colours by the top 16 bits of the float: within a sixth of a colour of Math.log10', () => {
  const values = Float32Array.from([1e-30, 1e-7, 0.5, 1, 3, 1e5, 3.4e38, 0, -0, -1, NaN, Infinity, -Infinity, 1e-42]);
  const keys = new Uint32Array(values.buffer);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    const log = keyLog10(keys[i] >>> 16);
    if (v > 0 && v !== Infinity && v > 1e-38) assert.ok(Math.abs(log - Math.log10(v)) < 0.0018, `${v}: ${log}`);
    else if (!(v > 0) || v === Infinity) assert.ok(Number.isNaN(log), `${v}: ${log}`);
  }
  // zero (either sign) and subnormals take the ramp's low end; negatives, NaN, infinities are clear
  const heat = ramp(['#000000', '#ffffff'], 256);
  const out = lossMapImage(values, [-2, 2], heat, new Uint8ClampedArray(4 * values.length));
  const pixel = (i) => [...out.slice(4 * i, 4 * i + 4)];
  for (const i of [0, 1, 7, 8, 13]) assert.deepEqual(pixel(i), [0, 0, 0, 255], String(values[i]));
  for (const i of [5, 6]) assert.deepEqual(pixel(i), [255, 255, 255, 255], String(values[i]));
  for (const i of [9, 10, 11, 12]) assert.equal(pixel(i)[3], 0, String(values[i]));
  // 3 = 10^0.477: colour round(255 * 2.477 / 4) = 158
  assert.ok(Math.abs(pixel(4)[0] - 158) <= 1, String(pixel(4)));
});

test('class names too long to sit side by side alternate between two rows, never dropped', () => {
  const ctx = {measureText: (text) => ({width: 6 * text.length})}; // 6 px a character
  // 40 px columns: "setosa" (36 px) fits; "versicolor" (60 px) does not.
  assert.deepEqual(categoryLabels(ctx, ['a', 'bb', 'ccc'], 40).map((l) => l.row), [0, 0, 0]);
  const iris = categoryLabels(ctx, ['setosa', 'versicolor', 'virginica'], 40);
  assert.deepEqual(iris, [{text: 'setosa', row: 0}, {text: 'versicolor', row: 1},
    {text: 'virginica', row: 0}]);
  // Wider than two columns: shortened, still there.
  const long = categoryLabels(ctx, ['a', 'a very long class name'], 40);
  assert.equal(long[1].row, 1);
  assert.ok(long[1].text.endsWith('…') && 6 * long[1].text.length <= 74, long[1].text);
});
