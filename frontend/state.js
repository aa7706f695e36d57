// The view's settings: defaults, validation, and (de)serialisation for localStorage and links.
// Pure: runs in Node too.

export const MODES = ['side', 'overlay'];
// 'auto': each run's own band, the one its settings declare (faithful to its loss).
export const BANDS = ['auto', 'sqrt', 'raw', 'off'];
export const SPEEDS = [1, 2, 5, 10, 15, 30, 60, 120];
export const MAX_DEFAULT_RUNS = 4;

/**
 * The state of a first visit.
 * @param {object} view the view defaults (`defaults.view` of GET config: smoothing, batch_smoothing,
 *   ignore_outliers), the one place they are declared (frontend/defaults.json)
 */
export function defaultState(view) {
  if (!view || !Number.isInteger(view.smoothing)) {
    throw new TypeError('defaultState: expected the view defaults of GET config');
  }
  return {
    runs: null,        // selected run names; null: not chosen yet (pick the first few)
    knownRuns: [],     // runs seen before, so that new runs can be told apart
    filter: '',        // regular expression on run names, as in TensorBoard
    step: null,        // current step on the shared timeline; null: the last one
    mode: 'side',      // 'side': one panel per run (axes shared by runs of the same data); 'overlay'
    view: 'main',      // the view drawn: each run's main view, or a view id (views/registry.js)
    smoothing: view.smoothing, // moving-average window of the per-point loss (odd)
    band: 'auto',      // loss band: the run's own, +/- sqrt(smoothed loss), +/- smoothed loss, none
    batchSmoothing: view.batch_smoothing, // moving-average window of the batch-loss chart (odd)
    ignoreOutliers: view.ignore_outliers, // loss charts scaled without outliers, as TensorBoard
    xLog: false,       // loss charts: log step axis
    yLog: false,       // loss charts: log loss axis
    speed: 30,         // playback, frames per second
    loop: false,
    follow: false,     // follow the latest frame when new frames arrive
  };
}

const CHECKS = {
  runs: (v) => v === null || (Array.isArray(v) && v.every((r) => typeof r === 'string')),
  knownRuns: (v) => Array.isArray(v) && v.every((r) => typeof r === 'string'),
  filter: (v) => typeof v === 'string' && v.length < 1000,
  step: (v) => v === null || (Number.isFinite(v) && v >= 0),
  mode: (v) => MODES.includes(v),
  view: (v) => typeof v === 'string' && /^[a-z_]{1,40}$/.test(v),
  ignoreOutliers: (v) => typeof v === 'boolean',
  smoothing: (v) => Number.isInteger(v) && v >= 1 && v % 2 === 1 && v < 1e7,
  band: (v) => BANDS.includes(v),
  batchSmoothing: (v) => Number.isInteger(v) && v >= 1 && v % 2 === 1 && v < 1e7,
  xLog: (v) => typeof v === 'boolean',
  yLog: (v) => typeof v === 'boolean',
  speed: (v) => Number.isFinite(v) && v > 0 && v <= 1000,
  loop: (v) => typeof v === 'boolean',
  follow: (v) => typeof v === 'boolean',
};

/** The defaults overridden by every valid field of `partial` (invalid ones are dropped). */
export function mergeState(base, partial) {
  const out = {...base};
  if (!partial || typeof partial !== 'object') return out;
  for (const key of Object.keys(CHECKS)) {
    if (Object.prototype.hasOwnProperty.call(partial, key) && CHECKS[key](partial[key])) {
      out[key] = Array.isArray(partial[key]) ? [...partial[key]] : partial[key];
    }
  }
  return out;
}

/** JSON text of a state for localStorage. */
export function serializeState(state) {
  const out = {};
  for (const key of Object.keys(CHECKS)) out[key] = state[key];
  return JSON.stringify(out);
}

/** A state from stored JSON text; unreadable text gives the defaults. */
export function parseState(text, view) {
  if (!text) return defaultState(view);
  try {
    return mergeState(defaultState(view), JSON.parse(text));
  } catch {
    return defaultState(view);
  }
}

/**
 * Fields from TensorBoard's URL (`#fitviz&p.fitviz.runs=a,b&p.fitviz.step=40`), as strings
 * (the host hands them over through experimental.GetURLPluginData).
 */
export function stateFromUrlData(data) {
  const partial = {};
  if (!data || typeof data !== 'object') return partial;
  const text = (key) => (typeof data[key] === 'string' ? data[key] : null);
  const bool = (v) => (v === 'true' || v === '1' ? true : v === 'false' || v === '0' ? false : null);
  if (text('runs') !== null) partial.runs = text('runs').split(',').filter(Boolean);
  if (text('filter') !== null) partial.filter = text('filter');
  if (text('step') !== null && text('step') !== '') partial.step = Number(text('step'));
  if (text('mode') !== null) partial.mode = text('mode');
  if (text('view') !== null) partial.view = text('view');
  if (text('band') !== null) partial.band = text('band');
  for (const key of ['smoothing', 'batchSmoothing', 'speed']) {
    if (text(key) !== null) partial[key] = Number(text(key));
  }
  for (const key of ['xLog', 'yLog', 'loop', 'follow', 'ignoreOutliers']) {
    if (text(key) !== null && bool(text(key)) !== null) partial[key] = bool(text(key));
  }
  return partial;
}

/**
 * The `p.<plugin>.<key>=<value>` fields of a TensorBoard URL hash, as {key: value} strings.
 * (TensorBoard 2.x no longer hands them over through experimental.GetURLPluginData, so the
 * page reads its parent's hash: same origin.)
 */
export function urlDataFromHash(hash, pluginName = 'fitviz') {
  const prefix = `p.${pluginName}.`;
  const out = {};
  for (const part of String(hash || '').replace(/^#/, '').split('&')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    let key;
    let value;
    try {
      key = decodeURIComponent(part.slice(0, eq));
      value = decodeURIComponent(part.slice(eq + 1));
    } catch {
      continue; // malformed escape: skip the field
    }
    if (key.startsWith(prefix) && key.length > prefix.length) out[key.slice(prefix.length)] = value;
  }
  return out;
}

/**
 * The runs to show: the chosen ones that exist, plus new runs while fewer than
 * MAX_DEFAULT_RUNS are chosen. With no choice yet, the first MAX_DEFAULT_RUNS runs.
 */
export function resolveSelection(state, available) {
  if (state.runs === null) return available.slice(0, MAX_DEFAULT_RUNS);
  const chosen = state.runs.filter((r) => available.includes(r));
  const known = new Set(state.knownRuns);
  for (const run of available) {
    if (!known.has(run) && !chosen.includes(run) && chosen.length < MAX_DEFAULT_RUNS) chosen.push(run);
  }
  return available.filter((r) => chosen.includes(r));
}

/** A compiled run filter, or {error} for an invalid expression. Case-insensitive, like TensorBoard. */
export function compileFilter(text) {
  if (!text) return {test: () => true, error: null};
  try {
    const re = new RegExp(text, 'i');
    return {test: (name) => re.test(name), error: null};
  } catch (error) {
    return {test: () => true, error: String(error.message || error)};
  }
}
