// The plugin's HTTP routes (see the HTTP contract). Relative to this module's URL, so they also
// work behind TensorBoard's --path_prefix and under an experiment path.

import {decodeFrames} from './decode.js';

const BASE = new URL('./', import.meta.url);

function url(path, params) {
  const u = new URL(path, BASE);
  for (const [key, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null) u.searchParams.set(key, String(value));
  }
  return u.href;
}

async function check(response, what) {
  if (!response.ok) {
    let detail = '';
    try {
      detail = (await response.text()).slice(0, 300);
    } catch {
      // the status alone is the message then
    }
    throw new Error(`${what}: HTTP ${response.status}${detail ? ` (${detail.trim()})` : ''}`);
  }
  return response;
}

async function getJSON(path, params, started = null) {
  const response = await check(await (started || fetch(url(path, params), {cache: 'no-store'})), path);
  return response.json();
}

/**
 * GET config: the stored format's declarations (frame info fields) and the view defaults.
 * `started`: the fetch of this very URL, if begun already (index.js starts it early).
 */
export function fetchConfig(started = null) {
  return getJSON('config', undefined, started);
}

/** GET runs: every run with FitViz data, sorted by name. `started`: as for fetchConfig. */
export function fetchRuns(started = null) {
  return getJSON('runs', undefined, started);
}

/** GET static: sample, scatter and validation points of a run. */
export async function fetchStatic(run) {
  const data = await getJSON('static', {run});
  for (const name of ['sample', 'scatter', 'validation']) {
    const points = data[name];
    // The first feature and target under short names, for the one-feature views (the route
    // sends each list once).
    if (points) Object.assign(points, {x: points.features[0], y: points.targets[0]});
  }
  return data;
}

/** GET scalars: loss histories of a run (nulls for non-finite values). */
export function fetchScalars(run) {
  return getJSON('scalars', {run});
}

/** GET frames: the binary frames of steps [start, stop) of a series ('sample' or 'grid'), decoded. */
export async function fetchFrames(run, start, stop, limit, series = 'sample') {
  const params = {run, start: Math.max(0, Math.floor(start))};
  if (series !== 'sample') params.series = series;
  if (Number.isFinite(stop)) params.stop = Math.ceil(stop);
  if (limit) params.limit = limit;
  const response = await check(await fetch(url('frames', params), {cache: 'no-store'}), 'frames');
  return decodeFrames(await response.arrayBuffer());
}

/** GET lossmap: the run's per-point loss over (step, point), `width` x `height` cells, decoded. */
export async function fetchLossMap(run, width, height, reduce = 'max') {
  const response = await check(await fetch(url('lossmap', {run, width, height, reduce}),
    {cache: 'no-store'}), 'lossmap');
  return decodeFrames(await response.arrayBuffer());
}

/** The URL of a file of the frontend (e.g. the style sheet). */
export function assetURL(name) {
  return url(name);
}
