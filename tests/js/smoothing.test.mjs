import test from 'node:test';
import assert from 'node:assert/strict';
import {movingAverage, bandHalfWidth, checkWindow, toOddWindow} from '../../frontend/smoothing.js';

const close = (a, b) => assert.ok(Math.abs(a - b) < 1e-12, `${a} != ${b}`);

test('centred average, window shrinking at the edges (no zero padding)', () => {
  assert.deepEqual([...movingAverage([1, 2, 3, 4], 3)], [1.5, 2, 3, 3.5]);
  const constant = movingAverage(new Float64Array(10).fill(7), 5);
  for (const v of constant) close(v, 7);
});

test('matches a brute-force mean of the points inside the window', () => {
  const values = Array.from({length: 37}, (_, i) => Math.sin(i) * 3 + i * 0.1);
  for (const window of [1, 3, 5, 9, 37, 101]) {
    const got = movingAverage(values, window);
    const half = (window - 1) / 2;
    values.forEach((_, i) => {
      const part = values.slice(Math.max(0, i - half), Math.min(values.length, i + half + 1));
      close(got[i], part.reduce((a, b) => a + b, 0) / part.length);
    });
  }
});

test('a sample shorter than the window is averaged over what there is', () => {
  assert.deepEqual([...movingAverage([2, 4], 11)], [3, 3]);
  assert.deepEqual([...movingAverage([], 5)], []);
});

test('NaN and infinities stay inside the windows that hold them', () => {
  const got = movingAverage([1, NaN, 1, 1, 1, 1, Infinity, 1], 3);
  assert.ok(Number.isNaN(got[0]) && Number.isNaN(got[1]) && Number.isNaN(got[2]));
  assert.equal(got[3], 1);
  assert.equal(got[4], 1);
  assert.equal(got[5], Infinity);
  assert.equal(got[7], Infinity);
  assert.ok(Number.isNaN(movingAverage([Infinity, -Infinity], 3)[0]));
});

test('windows must be positive odd integers', () => {
  assert.throws(() => movingAverage([1], 2), /positive odd integer/);
  assert.throws(() => checkWindow(0), /got 0/);
  assert.throws(() => checkWindow(1.5), /got 1.5/);
  assert.equal(toOddWindow(4), 5);
  assert.equal(toOddWindow(-3), 1);
  assert.equal(toOddWindow(100, 10), 9);
  assert.equal(toOddWindow('abc'), 1);
});

test('band: square root of the smoothed squared error (units of y), or the raw smoothed loss', () => {
  const loss = [4, 4, 16, 16];
  const sqrt = bandHalfWidth(loss, 1, 'sqrt');
  assert.deepEqual([...sqrt], [2, 2, 4, 4]);
  const raw = bandHalfWidth(loss, 3, 'raw');
  assert.deepEqual([...raw], [4, 8, 12, 16]);
  assert.throws(() => bandHalfWidth(loss, 1, 'wide'), /band mode/);
});
