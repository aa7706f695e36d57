import test from 'node:test';
import {configureInfoFields} from '../../frontend/decode.js';
import assert from 'node:assert/strict';
import {planFetches, chunkFramesFor, FrameStore, isPrefix, unionSteps,
  frameIndexAtStep} from '../../frontend/frames.js';


// What GET config hands over (tb_fitviz.summary_format.FRAME_INFO_FIELDS).
configureInfoFields(['epoch', 'sample_loss', 'validation_loss', 'regularization_loss']);

test('chunk size aims at about half a megabyte', () => {
  assert.equal(chunkFramesFor(1000), 65);
  assert.equal(chunkFramesFor(10), 1024);
  assert.equal(chunkFramesFor(10_000_000), 4);
});

test('plan: the playhead chunk first, then the chunks ahead, never more than allowed at once', () => {
  const plan = planFetches({frameCount: 1000, chunkFrames: 100, loaded: [], pending: new Set(),
    playhead: 250, ahead: 2, maxInFlight: 3});
  assert.deepEqual(plan, [
    {chunk: 2, from: 200, to: 300}, {chunk: 3, from: 300, to: 400}, {chunk: 4, from: 400, to: 500}]);
  const limited = planFetches({frameCount: 1000, chunkFrames: 100, loaded: [], pending: new Set([2]),
    playhead: 250, ahead: 2, maxInFlight: 2});
  assert.deepEqual(limited, [{chunk: 3, from: 300, to: 400}]);
});

test('plan: not everything at once, loaded chunks skipped, a partial chunk asks only its tail', () => {
  const loaded = [];
  loaded[9] = 40; // chunk 9 had 40 frames before a reload added more
  const plan = planFetches({frameCount: 1010, chunkFrames: 100, loaded, pending: new Set(),
    playhead: 1005, ahead: 2, maxInFlight: 4});
  assert.deepEqual(plan, [{chunk: 10, from: 1000, to: 1010}]); // nothing behind unless asked
  const back = planFetches({frameCount: 1010, chunkFrames: 100, loaded, pending: new Set(),
    playhead: 945, ahead: 1, maxInFlight: 4});
  assert.deepEqual(back, [{chunk: 9, from: 940, to: 1000}, {chunk: 10, from: 1000, to: 1010}]);
  const total = back.reduce((n, r) => n + r.to - r.from, 0);
  assert.ok(total < 1010);
});

test('plan: wraps ahead around the end when looping; nothing for an empty run', () => {
  const plan = planFetches({frameCount: 300, chunkFrames: 100, loaded: [], pending: new Set(),
    playhead: 299, ahead: 1, loop: true, maxInFlight: 4});
  assert.deepEqual(plan.map((r) => r.chunk), [2, 0]);
  assert.deepEqual(planFetches({frameCount: 0, chunkFrames: 10, loaded: [], pending: new Set(),
    playhead: 0}), []);
});

// A fake server over in-memory frames: answers [start, stop) step ranges like GET frames.
function fakeServer(steps, n) {
  const calls = [];
  const fetchFrames = async (start, stop, limit) => {
    calls.push([start, stop, limit]);
    const picked = steps.filter((s) => s >= start && s < stop).slice(0, limit);
    const info = new Float64Array(picked.length * 4);
    const values = new Float32Array(picked.length * 2 * n);
    picked.forEach((s, f) => {
      info[f * 4] = Math.floor(s / 10);
      info[f * 4 + 1] = s / 100;
      for (let i = 0; i < n; i++) {
        values[f * 2 * n + i] = s + i / 1000;  // prediction
        values[f * 2 * n + n + i] = s * 2;     // loss
      }
    });
    return {count: picked.length, sampleSize: n, channels: 2, steps: Float64Array.from(picked), info, values};
  };
  return {calls, fetchFrames};
}

test('store: fetches chunks around the playhead and returns the right frame data', async () => {
  const steps = Array.from({length: 50}, (_, i) => i * 3);
  const server = fakeServer(steps, 4);
  const store = new FrameStore({steps, sampleSize: 4, chunkFrames: 10, fetchFrames: server.fetchFrames});
  assert.equal(store.frame(12), null);
  assert.equal(await store.ensure(12, {ahead: 1}), true);
  const frame = store.frame(12);
  assert.equal(frame.step, 36);
  assert.equal(frame.epoch, 3);
  assert.ok(Math.abs(frame.prediction[2] - 36.002) < 1e-4);
  assert.equal(frame.loss[0], 72);
  // Chunk 1 (frames 10..19: steps 30..57) and chunk 2 ahead; never the whole run.
  assert.deepEqual(server.calls[0], [30, 58, 10]);
  assert.ok(server.calls.length <= 2);
  assert.equal(store.has(49), false);
});

test('store: after a reload only the new frames are fetched, and the place is kept', async () => {
  const steps = Array.from({length: 15}, (_, i) => i);
  const server = fakeServer(steps, 2);
  const store = new FrameStore({steps, sampleSize: 2, chunkFrames: 10, fetchFrames: server.fetchFrames});
  await store.ensure(14, {ahead: 0});
  assert.deepEqual(server.calls, [[10, 15, 5]]);
  const more = Array.from({length: 22}, (_, i) => i);
  server.calls.length = 0;
  const fake = fakeServer(more, 2);
  store.fetchFrames = fake.fetchFrames;
  assert.equal(store.updateSteps(more), 7);
  await store.ensure(21, {ahead: 0});
  await store.ensure(19, {ahead: 0});
  assert.deepEqual(fake.calls, [[20, 22, 2], [15, 20, 5]]);
  assert.equal(store.frame(14).step, 14);
  assert.equal(store.frame(21).step, 21);
});

test('store: a rewritten run (steps not a prefix) starts over', async () => {
  const server = fakeServer([0, 1, 2], 1);
  const store = new FrameStore({steps: [0, 1, 2], sampleSize: 1, chunkFrames: 2, fetchFrames: server.fetchFrames});
  await store.ensure(0);
  assert.equal(store.updateSteps([0, 5, 6]), -1);
  assert.equal(store.has(0), false);
  assert.ok(isPrefix([1, 2], [1, 2, 3]) && !isPrefix([1, 2], [1, 3]));
});

test('store: a failing fetch is reported, not retried in a loop', async () => {
  const store = new FrameStore({steps: [0, 1], sampleSize: 1, chunkFrames: 2,
    fetchFrames: async () => { throw new Error('HTTP 500'); }});
  assert.equal(await store.ensure(1), false);
  assert.match(String(store.errors[0]), /HTTP 500/);
});

test('runs with different steps align on a shared timeline by step', () => {
  const a = [0, 10, 20, 30];
  const b = [0, 5, 15, 25, 35];
  const timeline = unionSteps([a, b]);
  assert.deepEqual([...timeline], [0, 5, 10, 15, 20, 25, 30, 35]);
  assert.equal(frameIndexAtStep(a, 25), 2);  // a shows its step-20 frame at step 25
  assert.equal(frameIndexAtStep(b, 25), 3);
  assert.equal(frameIndexAtStep([5, 6], 1), -1);
});
