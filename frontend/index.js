// The FitViz tab. TensorBoard loads this ES module in the plugin's iframe and calls render().
// The application is in app.js; this module starts it and gives tests and the benchmark a handle
// (window.__fitviz).
//
// Loading: there is no build step, so the browser learns a module's imports only once it has
// fetched and parsed that module, and the tab's import chain is five modules deep. This module
// therefore has no static import: as soon as it runs it starts the two requests every open needs
// (GET runs and GET config) and imports every module of the tab at once (MODULES, checked against
// the folder by tests/js/loading.test.mjs), so that all are fetched in parallel. Modules that the
// first frame does not need are loaded when first used (LATER).

export const MODULES = [
  './api.js', './app.js', './colors.js', './decode.js', './frames.js',
  './groups.js', './host.js', './input.js', './kind.js', './layout.js', './loading.js',
  './page.js', './playback.js', './scales.js', './smoothing.js', './state.js', './theme.js',
  './views/common.js', './views/curve.js', './views/losscharts.js', './views/registry.js',
];

/**
 * Loaded on first use: export.js (PNG and WebM export), and the views other than the curve (when
 * a run shown needs one: views/registry.js).
 */
export const LATER = ['./export.js', './views/lossmap.js', './views/predtrue.js', './views/surface.js',
  './views/trueclass.js'];

let early = null;
if (typeof window !== 'undefined' && typeof fetch === 'function') {
  // The same URLs as api.js builds (both modules are in this folder); handed to it in render().
  const get = (path) => fetch(new URL(path, import.meta.url), {cache: 'no-store'});
  early = {runs: get('runs'), config: get('config')};
  for (const request of Object.values(early)) request.catch(() => {}); // reported by the app
}
const modules = typeof window !== 'undefined'
  ? Promise.all(MODULES.map((path) => import(path))) : null;

/** Entry point called by TensorBoard's plugin_entry.html. */
export async function render() {
  const loaded = await modules;
  const module = (path) => loaded[MODULES.indexOf(path)];
  const requests = early;
  early = null; // a second render (if any) asks anew
  const app = new (module('./app.js').FitVizApp)(document.body);
  window.__fitviz = handle(app);
  await app.start(requests);
}

/** What tests and the benchmark may read and do. */
function handle(app) {
  return {
    get state() {
      return {...app.state};
    },
    shown: () => [...app.shown],
    step: () => app.player.currentStep(),
    position: () => app.player.position,
    timeline: () => [...app.timeline],
    playing: () => app.player.playing,
    theme: () => (app.theme ? app.theme.mode : null),
    colors: () => (app.theme ? Object.fromEntries(Object.entries(app.theme)
      .filter(([, v]) => typeof v === 'string' || Array.isArray(v))) : null),
    /** True when every run shown is drawn at its exact frame with its loss charts. */
    ready: () => !!app.view && app.viewValid && app.lastPaintExact && !app.drawRequested &&
      app.view.panels.every((p) => p.runs.every((r) => r.scalars)) &&
      app.shown.every((r) => app.data.get(r)?.staticData) &&
      app.view.panels.every((p) => !p.view.wantsLossMap || p.map),
    panels: () => (app.view ? app.view.panels.map((p) => ({
      title: p.title,
      note: p.note,
      view: p.view.id,
      runs: p.runs.map((r) => r.name),
      frameSteps: p.runs.map((r) => (r.frame ? r.frame.step : null)),
      gridSteps: p.runs.map((r) => (r.grid ? r.grid.step : null)),
      main: {...p.layout.main, ...p.view.describe(p)},
      detail: p.view.describe(p),
      charts: Object.fromEntries(Object.entries(p.charts).map(([k, c]) => [k,
        {...p.layout.charts[k], xDomain: c.x.domain, yDomain: c.y.domain, xType: c.x.type, yType: c.y.type}])),
    })) : []),
    dpr: () => (app.view ? app.view.dpr : window.devicePixelRatio),
    stats: () => ({...app.stats, drawTimes: [...app.stats.drawTimes],
      tickIntervals: [...app.stats.tickIntervals],
      requests: Object.fromEntries(app.shown.map((r) => [r, app.storesOf(r).flatMap((s) => [...s.requests])]))}),
    resetStats: () => {
      Object.assign(app.stats, {drawTimes: [], tickIntervals: [], advances: 0, stalls: 0});
    },
    seek: (position) => app.player.seek(position),
    play: () => app.player.play(),
    pause: () => app.player.pause(),
    setSetting: (key, value) => app.setSetting(key, value),
    framesReady: (position) => app.player.framesReady(position),
    ensureAll: () => Promise.all(app.shown.flatMap((run) => app.storesOf(run).map((store) =>
      Promise.all(Array.from({length: Math.ceil(store.frameCount / store.chunkFrames)},
        (_, k) => store.ensure(k * store.chunkFrames, {ahead: 0})))))),
    /** Milliseconds of rebuilding the view (layout, scales, static layer: e.g. a loss map's image), each of `count`. */
    timeRebuilds: (count) => {
      const times = [];
      for (let i = 0; i < count; i++) {
        const t0 = performance.now();
        app.viewValid = false;
        app.paint();
        app.ctx.getImageData(0, 0, 1, 1);
        times.push(performance.now() - t0);
      }
      return times;
    },
    /**
     * Milliseconds of drawing each loss map as when it arrives: its image (log range, colours)
     * made and drawn into its box on a canvas of the page's size, rasterised (1-pixel readback).
     */
    timeLossMapImages: async (count) => {
      const {drawMap, mapImage} = await import('./views/lossmap.js');
      const times = [];
      const layer = document.createElement('canvas');
      layer.width = app.ui.canvas.width;
      layer.height = app.ui.canvas.height;
      const ctx = layer.getContext('2d');
      ctx.setTransform(app.view.dpr, 0, 0, app.view.dpr, 0, 0);
      for (let i = 0; i < count; i++) {
        for (const panel of app.view ? app.view.panels : []) {
          if (!panel.map || !panel.map.count) continue;
          const t0 = performance.now();
          const image = mapImage(panel.map, app.env());
          drawMap(ctx, image.canvas, panel.plot.box);
          ctx.getImageData(0, 0, 1, 1);
          times.push(performance.now() - t0);
        }
      }
      return times;
    },
    /**
     * Draws `count` successive steps from `from`; returns milliseconds per draw, each the mean
     * over a group of `group` draws (performance.now() is coarse in an iframe: 0.1 ms).
     * With `flush`, every draw also waits for the raster work (a 1-pixel readback).
     */
    timeDraws: (from, count, {flush = false, group = 1} = {}) => {
      const times = [];
      for (let i = 0; i < count; i += group) {
        const t0 = performance.now();
        for (let j = 0; j < group; j++) {
          app.player.position = (from + i + j) % app.timeline.length;
          app.paint();
          if (flush) app.ctx.getImageData(0, 0, 1, 1);
        }
        times.push((performance.now() - t0) / group);
      }
      return times;
    },
  };
}
