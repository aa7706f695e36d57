import test from 'node:test';
import assert from 'node:assert/strict';
import {configureInfoFields, decodeFrames, frameBodyBytes} from '../../frontend/decode.js';

// What GET config hands over (tb_fitviz.summary_format.FRAME_INFO_FIELDS).
configureInfoFields(['epoch', 'sample_loss', 'validation_loss', 'regularization_loss']);

// Builds a body the way the backend does (tb_fitviz/plugin/encoding.py), independently.
function encode(steps, info, values, n) {
  const count = steps.length;
  const buffer = new ArrayBuffer(16 + 8 * count * 5 + 4 * count * 2 * n);
  const view = new DataView(buffer);
  'FVF1'.split('').forEach((c, i) => view.setUint8(i, c.charCodeAt(0)));
  view.setUint32(4, count, true);
  view.setUint32(8, n, true);
  view.setUint32(12, 2, true);
  let o = 16;
  for (const s of steps) { view.setFloat64(o, s, true); o += 8; }
  for (const v of info) { view.setFloat64(o, v, true); o += 8; }
  for (const v of values) { view.setFloat32(o, v, true); o += 4; }
  return buffer;
}

test('decodes steps, info and frame-major values', () => {
  const n = 3;
  const steps = [0, 5];
  const info = [0, 1.5, NaN, NaN, 1, 0.25, 0.5, NaN];
  const values = [1, 2, 3, 0.1, 0.2, 0.3, 4, 5, 6, 0.4, 0.5, 0.6];
  const body = decodeFrames(encode(steps, info, values, n));
  assert.equal(body.count, 2);
  assert.equal(body.sampleSize, 3);
  assert.equal(body.channels, 2);
  assert.deepEqual([...body.steps], steps);
  assert.equal(body.info[1], 1.5);
  assert.ok(Number.isNaN(body.info[2]));
  assert.equal(body.info[6], 0.5);
  assert.deepEqual([...body.values.subarray(6, 9)], [4, 5, 6]);
  assert.ok(Math.abs(body.values[10] - 0.5) < 1e-7);
});

test('keeps NaN and infinities', () => {
  const body = decodeFrames(encode([7], [0, Infinity, NaN, NaN], [NaN, Infinity, -Infinity, 1], 2));
  assert.ok(Number.isNaN(body.values[0]));
  assert.equal(body.values[1], Infinity);
  assert.equal(body.values[2], -Infinity);
  assert.equal(body.info[1], Infinity);
});

test('an empty answer has zero frames', () => {
  const body = decodeFrames(encode([], [], [], 1000));
  assert.equal(body.count, 0);
  assert.equal(body.sampleSize, 1000);
  assert.equal(body.values.length, 0);
});

test('rejects a bad magic, a short header and a truncated body', () => {
  const good = encode([1], [0, 0, 0, 0], [1, 2], 1);
  const bad = good.slice(0);
  new Uint8Array(bad)[0] = 'X'.charCodeAt(0);
  assert.throws(() => decodeFrames(bad), /bad magic/);
  assert.throws(() => decodeFrames(new ArrayBuffer(8)), /shorter than the 16-byte header/);
  assert.throws(() => decodeFrames(good.slice(0, good.byteLength - 4)), /expected 64/);
  assert.throws(() => decodeFrames('FVF1'), /ArrayBuffer/);
});

test('frameBodyBytes matches the layout', () => {
  assert.equal(frameBodyBytes(2, 3), 16 + 2 * 40 + 2 * 2 * 3 * 4);
});
