// Chunked frame fetching: which frames to ask for next, and a cache of what arrived.
// Pure (the network is injected as a function), so it runs and is tested in Node.

import {infoFields} from './decode.js';
import {lastAtOrBefore} from './scales.js';

/** Bytes a chunk aims at: small enough to arrive fast, big enough to keep requests few. */
export const CHUNK_TARGET_BYTES = 512 * 1024;

/** Frames per chunk for frames of `sampleSize` points and `channels` float32 channels. */
export function chunkFramesFor(sampleSize, targetBytes = CHUNK_TARGET_BYTES, channels = 2) {
  const perFrame = Math.max(1, sampleSize) * channels * 4 + 8 * (1 + infoFields().length);
  return Math.max(4, Math.min(1024, Math.floor(targetBytes / perFrame)));
}

/**
 * Which frame ranges to fetch next, nearest the playhead first.
 *
 * Chunk k holds frames [k*chunkFrames, (k+1)*chunkFrames). A chunk's frames arrive as a prefix
 * (`loaded[k]` of them), so after a reload added frames only the missing tail is asked for.
 *
 * @param {object} p
 * @param {number} p.frameCount frames the run has now
 * @param {number} p.chunkFrames frames per chunk
 * @param {ArrayLike<number>} p.loaded frames already held per chunk (missing entries: 0)
 * @param {Set<number>} p.pending chunks being fetched now
 * @param {number} p.playhead frame index being shown (clamped)
 * @param {number} [p.ahead=2] chunks to have ahead of the playhead's chunk
 * @param {number} [p.behind=0] chunks to have behind it
 * @param {boolean} [p.loop=false] wrap "ahead" around the end
 * @param {number} [p.maxInFlight=2] most fetches at once (counting pending ones)
 * @returns {{chunk:number, from:number, to:number}[]} frame-index ranges [from, to)
 */
export function planFetches({frameCount, chunkFrames, loaded, pending, playhead,
  ahead = 2, behind = 0, loop = false, maxInFlight = 2}) {
  const plan = [];
  if (frameCount <= 0) return plan;
  const chunkCount = Math.ceil(frameCount / chunkFrames);
  const head = Math.min(chunkCount - 1, Math.max(0, Math.floor(playhead / chunkFrames)));
  const order = [head];
  for (let i = 1; i <= ahead; i++) {
    const k = head + i;
    if (k < chunkCount) order.push(k);
    else if (loop) order.push(k % chunkCount);
  }
  for (let i = 1; i <= behind; i++) if (head - i >= 0) order.push(head - i);
  let budget = maxInFlight - pending.size;
  const seen = new Set();
  for (const k of order) {
    if (budget <= 0) break;
    if (seen.has(k) || pending.has(k)) continue;
    seen.add(k);
    const start = k * chunkFrames;
    const end = Math.min(start + chunkFrames, frameCount);
    const have = loaded[k] || 0;
    if (start + have >= end) continue;
    plan.push({chunk: k, from: start + have, to: end});
    budget--;
  }
  return plan;
}

/** True when `next` starts with every element of `previous` (the run only grew). */
export function isPrefix(previous, next) {
  if (previous.length > next.length) return false;
  for (let i = 0; i < previous.length; i++) if (previous[i] !== next[i]) return false;
  return true;
}

/**
 * Frames of one series of a run (its sample frames, or its grid frames), fetched in chunks around
 * the playhead and kept in typed arrays.
 *
 * `fetchFrames(start, stop, limit)` resolves to a decoded frames body (decode.js) holding the
 * frames whose step is in [start, stop). Each frame has `channels` channels of `sampleSize` points.
 */
export class FrameStore {
  constructor({steps, sampleSize, fetchFrames, chunkFrames, channels = 2, maxBytes = 512 * 1024 * 1024,
    onLoad = null}) {
    this.sampleSize = sampleSize;
    this.channels = channels;
    this.chunkFrames = chunkFrames || chunkFramesFor(sampleSize, CHUNK_TARGET_BYTES, channels);
    this.fetchFrames = fetchFrames;
    this.onLoad = onLoad;
    this.maxChunks = Math.max(4, Math.floor(maxBytes / (this.chunkFrames * sampleSize * channels * 4)));
    this.errors = [];
    this.requests = [];  // [start, stop) step ranges asked for, for tests and the benchmark
    this._reset(steps);
  }

  _reset(steps) {
    this.steps = Float64Array.from(steps);
    this.chunks = new Map(); // k -> {loaded, info: Float64Array, values: Float32Array, used}
    this.pending = new Set();
    this._generation = (this._generation || 0) + 1;
    this._waiters = [];
  }

  get frameCount() {
    return this.steps.length;
  }

  /** New step list after a reload; returns how many frames were added (or -1 if reset). */
  updateSteps(steps) {
    if (isPrefix(this.steps, steps)) {
      const added = steps.length - this.steps.length;
      if (added > 0) this.steps = Float64Array.from(steps);
      return added;
    }
    this._reset(steps);
    return -1;
  }

  has(index) {
    const chunk = this.chunks.get(Math.floor(index / this.chunkFrames));
    return !!chunk && index % this.chunkFrames < chunk.loaded;
  }

  /**
   * Frame `index`, or null while not loaded: its step and info, `values` (its channels, C x N,
   * channel-major), and `prediction` / `loss`, the first two channels.
   */
  frame(index) {
    if (index < 0 || index >= this.steps.length) return null;
    const k = Math.floor(index / this.chunkFrames);
    const chunk = this.chunks.get(k);
    const j = index % this.chunkFrames;
    if (!chunk || j >= chunk.loaded) return null;
    chunk.used = ++FrameStore._clock;
    const n = this.sampleSize;
    const c = this.channels;
    const base = j * c * n;
    const fields = infoFields();
    const at = (name) => chunk.info[j * fields.length + fields.indexOf(name)];
    return {
      index,
      step: this.steps[index],
      epoch: at('epoch'),
      sampleLoss: at('sample_loss'),
      validationLoss: at('validation_loss'),
      regularizationLoss: at('regularization_loss'),
      pointCount: n,
      channels: c,
      values: chunk.values.subarray(base, base + c * n),
      prediction: chunk.values.subarray(base, base + n),
      loss: chunk.values.subarray(base + n, base + 2 * n),
    };
  }

  /** The nearest loaded frame at or before `index` (else after), for a preview while loading. */
  nearestLoaded(index) {
    for (let i = index; i >= 0 && index - i < 4 * this.chunkFrames; i--) if (this.has(i)) return i;
    for (let i = index + 1; i < this.steps.length && i - index < 4 * this.chunkFrames; i++) {
      if (this.has(i)) return i;
    }
    return -1;
  }

  /** Starts the fetches the playhead needs now. */
  prefetch(playhead, {ahead = 2, behind = 0, loop = false, maxInFlight = 2} = {}) {
    const loaded = [];
    for (const [k, chunk] of this.chunks) loaded[k] = chunk.loaded;
    const plan = planFetches({frameCount: this.steps.length, chunkFrames: this.chunkFrames,
      loaded, pending: this.pending, playhead, ahead, behind, loop, maxInFlight});
    for (const range of plan) this._fetch(range, playhead);
    return plan;
  }

  /** Resolves when frame `index` is loaded (fetching it if needed). */
  ensure(index, options) {
    if (this.has(index)) return Promise.resolve(true);
    return new Promise((resolve) => {
      this._waiters.push({index, resolve});
      this.prefetch(index, options);
    });
  }

  async _fetch({chunk: k, from, to}, playhead) {
    const generation = this._generation;
    this.pending.add(k);
    const start = this.steps[from];
    const stop = this.steps[to - 1] + 1;
    this.requests.push([start, stop]);
    try {
      const body = await this.fetchFrames(start, stop, to - from);
      if (generation !== this._generation) return;
      const before = this.chunks.get(k)?.loaded || 0;
      this._store(k, body);
      if ((this.chunks.get(k)?.loaded || 0) === before) {
        throw new Error(`frames: no new frame in steps [${start}, ${stop})`);
      }
      this._evict(playhead);
    } catch (error) {
      if (generation === this._generation) this.errors.push(error);
    } finally {
      if (generation === this._generation) this.pending.delete(k);
    }
    if (generation !== this._generation) return;
    const still = [];
    for (const waiter of this._waiters) {
      if (this.has(waiter.index)) waiter.resolve(true);
      else if (this.errors.length) waiter.resolve(false);
      else still.push(waiter);
    }
    this._waiters = still;
    for (const waiter of still) if (!this.pending.size) this.prefetch(waiter.index);
    if (this.onLoad) this.onLoad(this);
  }

  _store(k, body) {
    const n = this.sampleSize;
    const channels = this.channels;
    if (body.count && (body.sampleSize !== n || body.channels !== channels)) {
      throw new Error(`frames: ${body.channels} x ${body.sampleSize} values per frame, expected ` +
        `${channels} x ${n}`);
    }
    const c = this.chunkFrames;
    const fields = infoFields().length;
    let chunk = this.chunks.get(k);
    if (!chunk) {
      chunk = {loaded: 0, info: new Float64Array(c * fields), values: new Float32Array(c * channels * n),
        used: 0};
      this.chunks.set(k, chunk);
    }
    chunk.used = ++FrameStore._clock;
    for (let f = 0; f < body.count; f++) {
      const index = lastAtOrBefore(this.steps, body.steps[f]);
      if (index < 0 || this.steps[index] !== body.steps[f]) continue;
      if (Math.floor(index / c) !== k) continue;
      const j = index % c;
      // Only a contiguous prefix counts as loaded: the next request starts after it.
      if (j !== chunk.loaded) continue;
      chunk.info.set(body.info.subarray(f * fields, (f + 1) * fields), j * fields);
      chunk.values.set(body.values.subarray(f * channels * n, (f + 1) * channels * n), j * channels * n);
      chunk.loaded = j + 1;
    }
  }

  _evict(playhead) {
    if (this.chunks.size <= this.maxChunks) return;
    const head = Math.floor(playhead / this.chunkFrames);
    const victims = [...this.chunks.keys()].filter((k) => Math.abs(k - head) > 2)
      .sort((a, b) => this.chunks.get(a).used - this.chunks.get(b).used);
    while (this.chunks.size > this.maxChunks && victims.length) this.chunks.delete(victims.shift());
  }
}
FrameStore._clock = 0;

/** Sorted union of several ascending step lists: the shared timeline of the runs shown. */
export function unionSteps(stepLists) {
  const all = [];
  for (const steps of stepLists) for (let i = 0; i < steps.length; i++) all.push(steps[i]);
  all.sort((a, b) => a - b);
  const out = [];
  for (const s of all) if (!out.length || out[out.length - 1] !== s) out.push(s);
  return Float64Array.from(out);
}

/** Frame index of a run at a timeline step: its last frame at or before the step (or -1). */
export function frameIndexAtStep(steps, step) {
  return lastAtOrBefore(steps, step);
}
