// Loading what the runs shown need: their point sets and settings (GET static), loss histories
// (GET scalars), frames of each series they draw (GET frames, in chunks around the playhead, per
// FrameStore), and loss maps (GET lossmap, at the size a panel asks for). Reloads fetch only what
// changed.

import {fetchFrames, fetchLossMap, fetchScalars, fetchStatic} from './api.js';
import {FrameStore} from './frames.js';
import {runKind} from './kind.js';
import {loadViews, neededViews} from './views/registry.js';

/** A run's data entry, made on first need: {info, kind, store, gridStore, staticData, scalars, lossMaps}. */
export function runEntry(app, run, {staticToo = false, scalarsToo = true} = {}) {
  const info = app.runs[app.runIndex.get(run)];
  let entry = app.data.get(run);
  if (!entry) {
    const kind = runKind(info.settings);
    // Its view's module, fetched beside its static data (which waits for it, below).
    loadViews(neededViews(kind, app.state.view)).catch(() => {});
    entry = {info, kind, staticData: null, scalars: null, error: null, lossMaps: new Map()};
    const onLoad = () => app.onFramesLoaded();
    entry.store = new FrameStore({
      steps: info.steps,
      sampleSize: info.sample_size,
      channels: kind.channels.length,
      fetchFrames: (start, stop, limit) => fetchFrames(run, start, stop, limit),
      onLoad,
    });
    if (kind.grid) {
      entry.gridStore = new FrameStore({
        steps: info.steps,
        sampleSize: kind.grid.size * kind.grid.size,
        channels: kind.gridChannels.length,
        fetchFrames: (start, stop, limit) => fetchFrames(run, start, stop, limit, 'grid'),
        onLoad,
      });
    }
    app.data.set(run, entry);
    staticToo = true;
  }
  if (staticToo) {
    entry.staticPromise = fetchStatic(run).then(async (data) => {
      const kind = runKind(data.settings);
      // Its view's module first (views other than the curve load on demand: registry.js).
      await loadViews(neededViews(kind, app.state.view));
      entry.staticData = data;
      entry.kind = kind;
      app.invalidate();
      app.player.prefetch(); // the view is known now: the series it draws (a grid, say)
    }, (error) => {
      entry.error = `${run}: ${error.message}`;
      app.setStatus(entry.error, true);
    });
  }
  if (scalarsToo) {
    // The loss charts wait for the first frame: the frame is what the user waits for.
    entry.scalarsPromise = app.firstFrame.then(() => fetchScalars(run)).then((data) => {
      entry.scalars = data;
      app.invalidate();
    }, (error) => {
      app.setStatus(`${run}: loss histories: ${error.message}`, true);
    });
  }
  return entry;
}

/** New run listing: updates every entry's steps (only new frames will be fetched). */
export function updateEntries(app, runs) {
  for (const info of runs) {
    const entry = app.data.get(info.run);
    if (!entry) continue;
    const added = entry.store.updateSteps(info.steps);
    if (entry.gridStore) entry.gridStore.updateSteps(info.steps);
    const grew = added !== 0 || entry.info.frame_count !== info.frame_count;
    entry.info = info;
    if (grew) entry.lossMaps.clear(); // the map covers the whole run: ask again
    if (added === -1) runEntry(app, info.run, {staticToo: true});
  }
}

/**
 * The loss map of `run` at `size` cells if it is here; otherwise starts fetching it (the view is
 * drawn again when it arrives) and gives null.
 */
export function lossMapOf(app, run, {width, height}) {
  const entry = app.data.get(run);
  if (!entry) return null;
  const key = `${width}x${height}`;
  const cached = entry.lossMaps.get(key);
  if (cached) return cached.map;
  const slot = {map: null};
  entry.lossMaps.set(key, slot);
  fetchLossMap(run, width, height, 'max').then((map) => {
    slot.map = map;
    app.invalidate();
  }, (error) => {
    // Kept as an empty map with its reason: no retry loop; a reload asks again.
    slot.map = {count: 0, sampleSize: 0, steps: new Float64Array(0), values: new Float32Array(0),
      error: `loss map: ${error.message}`};
    app.invalidate();
  });
  return null;
}
