import test from 'node:test';
import assert from 'node:assert/strict';
import {makeScale, niceTicks, logTicks, formatTick, finiteExtent, padDomain, lastAtOrBefore,
  nearestIndex, tickStep} from '../../frontend/scales.js';

test('linear scale maps the domain onto the range, reversed ranges too, and inverts', () => {
  const x = makeScale('linear', [0, 10], [50, 150]);
  assert.equal(x(0), 50);
  assert.equal(x(10), 150);
  assert.equal(x(2.5), 75);
  assert.equal(x.invert(75), 2.5);
  const y = makeScale('linear', [-1, 1], [200, 0]);
  assert.equal(y(-1), 200);
  assert.equal(y(1), 0);
  assert.equal(y(0), 100);
});

test('log scale: decades are evenly spaced, non-positive values fall off the chart', () => {
  const y = makeScale('log', [0.01, 100], [400, 0]);
  assert.equal(y(0.01), 400);
  assert.ok(Math.abs(y(1) - 200) < 1e-9);
  assert.ok(Math.abs(y.invert(100) - 10) < 1e-9);
  assert.equal(y(0), Infinity);
  assert.deepEqual(y.ticks(5), [0.01, 0.1, 1, 10, 100]);
  // A domain starting at 0 (step 0) still gives a usable scale.
  const x = makeScale('log', [0, 1000], [0, 300]);
  assert.ok(Number.isFinite(x(1)) && Number.isFinite(x(1000)));
});

test('nice ticks are round and inside the domain', () => {
  assert.deepEqual(niceTicks(0, 10, 5), [0, 2, 4, 6, 8, 10]);
  assert.deepEqual(niceTicks(-1.3, 1.3, 5), [-1, -0.5, 0, 0.5, 1]);
  assert.deepEqual(niceTicks(0.1, 0.3, 4), [0.1, 0.15, 0.2, 0.25, 0.3]);
  assert.equal(tickStep(0, 1000, 4), 200);
  assert.deepEqual(niceTicks(3, 3, 5), [3]);
  assert.deepEqual(logTicks(1, 1e6, 3), [1, 1000, 1000000]);
  assert.deepEqual(logTicks(1, 1e6, 10), [1, 10, 100, 1000, 10000, 100000, 1000000]);
});

test('tick labels are short', () => {
  assert.equal(formatTick(0), '0');
  assert.equal(formatTick(0.25), '0.25');
  assert.equal(formatTick(2), '2');
  assert.equal(formatTick(12000), '12k');
  assert.equal(formatTick(1500000), '1.5M');
  assert.equal(formatTick(0.0001), '1e-4');
  assert.equal(formatTick(-3.5), '-3.5');
  assert.equal(formatTick(0.30000000000000004), '0.3');
});

test('extents skip NaN, infinities and null; positive-only for log axes', () => {
  assert.deepEqual(finiteExtent([[1, NaN, 5], [Infinity, -2, null]]), [-2, 5]);
  assert.deepEqual(finiteExtent([[0, -1, 0.5, 3]], {positiveOnly: true}), [0.5, 3]);
  assert.equal(finiteExtent([[NaN]]), null);
  assert.deepEqual(padDomain([0, 10], 0.1), [-1, 11]);
  assert.deepEqual(padDomain([2, 2]), [1.8, 2.2]);
});

test('searches in sorted arrays', () => {
  const steps = [0, 1, 2, 4, 8, 16];
  assert.equal(lastAtOrBefore(steps, 5), 3);
  assert.equal(lastAtOrBefore(steps, 16), 5);
  assert.equal(lastAtOrBefore(steps, -1), -1);
  assert.equal(nearestIndex(steps, 5), 3);
  assert.equal(nearestIndex(steps, 7), 4);
  assert.equal(nearestIndex(steps, 100), 5);
  assert.equal(nearestIndex([], 1), -1);
});
