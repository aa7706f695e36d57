// The FitViz tab's application: its state, the runs and which are shown, and the view (panels,
// scales, static layer) built from each run's declared kind and drawn at the playhead.
//
// Jobs live in their own modules: page.js builds the page, loading.js fetches run data,
// playback.js moves the playhead, input.js handles keys and clicks, export.js saves PNG/WebM,
// views/ draws (one module per view, views/registry.js lists them), theme.js holds every colour.

import {assetURL, fetchConfig, fetchRuns} from './api.js';
import {configureInfoFields} from './decode.js';
import {frameIndexAtStep, unionSteps} from './frames.js';
import {axesKey, groupRuns, pointsKey} from './groups.js';
import {connectHost, MESSAGES} from './host.js';
import {installInput} from './input.js';
import {computeLayout} from './layout.js';
import {lossMapOf, runEntry, updateEntries} from './loading.js';
import {buildPage, renderRunList, setStatus, syncControls} from './page.js';
import {Player} from './playback.js';
import {lastAtOrBefore} from './scales.js';
import {compileFilter, mergeState, parseState, resolveSelection, serializeState, stateFromUrlData,
  urlDataFromHash} from './state.js';
import {applyCss, makeTheme, prefersDark, watchDarkMode} from './theme.js';
import {chartDomains, drawChartsFrame, drawChartsStatic, prepareCharts} from './views/losscharts.js';
import {curveView} from './views/curve.js';
import {flowLegend, fitText, note, stepText as drawStepText} from './views/common.js';
import {onViewLoaded, viewFor} from './views/registry.js';

const STORAGE_KEY = 'tb-fitviz:state:v1';

export class FitVizApp {
  constructor(root) {
    this.root = root;
    this.config = null;
    this.state = null;
    this.runs = [];            // GET runs objects
    this.runIndex = new Map(); // name -> index in this.runs (colour)
    this.data = new Map();     // name -> run entry (loading.js)
    this.shown = [];           // names of the runs drawn
    this.timeline = new Float64Array(0);
    this.player = new Player(this);
    this.view = null;          // layout, panels and static layer; rebuilt when invalid
    this.viewValid = false;
    this.scratch = {};
    this.stats = {drawTimes: [], tickIntervals: [], advances: 0, stalls: 0, firstFrameMs: null,
      startMs: performance.now()};
    this.reloading = null;
    this.exporting = null;
    this.firstFrame = new Promise((resolve) => {
      this.firstFrameDrawn = resolve;
      setTimeout(resolve, 3000); // frames failing to load must not hold the charts back
    });
  }

  // -- start-up ---------------------------------------------------------------------------

  /** `early`: {runs, config}, the fetches of those two routes if begun already (index.js). */
  async start(early = null) {
    performance.mark('fitviz-render');
    // A view chosen in the menu may load after the choice (views/registry.js): drawn on arrival.
    onViewLoaded(() => {
      if (!this.ui) return;
      this.invalidate();
      this.player.prefetch();
    });
    const runsPromise = fetchRuns(early && early.runs);
    runsPromise.catch(() => {}); // reported below, once the page exists
    // The host's URL data is asked for first too: its answer is the last thing the first frame
    // waits for. A reload announced before the page exists is moot (the runs are being read).
    const reload = () => {
      if (this.ui) this.reload();
      return null;
    };
    this.host = connectHost({[MESSAGES.DATA_RELOADED]: reload, [MESSAGES.RUNS_CHANGED]: reload});
    const urlData = this.host.connected
      ? this.host.send(MESSAGES.GET_URL_DATA, {pluginName: 'fitviz'}, 1500).catch(() => null)
      : Promise.resolve(null);
    try {
      this.config = await fetchConfig(early && early.config);
    } catch (error) {
      document.body.textContent = `FitViz could not load its configuration: ${error.message}`;
      return;
    }
    configureInfoFields(this.config.frame_info_fields);
    this.state = parseState(readStorage(), this.config.defaults.view);
    this.setTheme(prefersDark());
    this.ui = buildPage(this, assetURL('style.css'));
    this.ctx = this.ui.canvas.getContext('2d');
    installInput(this);
    new ResizeObserver(() => {
      if (this.view && this.hostWidth() !== this.view.cssWidth) this.invalidate();
    }).observe(this.ui.canvasHost);
    watchDarkMode((dark) => {
      this.setTheme(dark);
      this.invalidate();
    });
    syncControls(this.ui, this.state);
    let runs;
    try {
      [runs] = await Promise.all([runsPromise, urlData.then((data) => {
        if (!data || !Object.keys(data).length) data = parentHashData();
        const fromUrl = stateFromUrlData(data);
        this.state = mergeState(this.state, fromUrl);
        // Runs named in the URL are the whole choice: no other run joins them.
        this.runsFromUrl = Array.isArray(fromUrl.runs);
      })]);
    } catch (error) {
      this.setStatus(`Could not load the runs: ${error.message}`, true);
      return;
    }
    performance.mark('fitviz-runs');
    syncControls(this.ui, this.state);
    await this.applyRuns(runs);
  }

  setTheme(dark) {
    this.theme = makeTheme(this.config.defaults, dark ? 'dark' : 'light');
    applyCss(this.theme);
  }

  setStatus(text, isError = false) {
    setStatus(this.ui, text, isError);
  }

  saveState() {
    clearTimeout(this.saveTimer);
    this.saveTimer = setTimeout(() => {
      try {
        localStorage.setItem(STORAGE_KEY, serializeState(this.state));
      } catch {
        // storage full or disabled: the view still works, it is just not remembered
      }
    }, 150);
  }

  setSetting(key, value) {
    if (this.state[key] === value) return;
    this.state[key] = value;
    this.saveState();
    syncControls(this.ui, this.state, this.kindsShown());
    if (['mode', 'view', 'batchSmoothing', 'xLog', 'yLog', 'ignoreOutliers'].includes(key)) {
      this.invalidate();
      if (key === 'mode' || key === 'view') this.player.prefetch();
    } else if (key === 'follow' && value) this.player.seek(this.timeline.length - 1);
    else this.requestDraw();
    if (key === 'speed' || key === 'loop') this.player.prefetch();
  }

  // -- runs ------------------------------------------------------------------------------

  async applyRuns(runs) {
    this.runs = runs;
    this.runIndex = new Map(runs.map((r, i) => [r.run, i]));
    updateEntries(this, runs);
    const available = runs.map((r) => r.run);
    if (this.runsFromUrl) {
      this.state.knownRuns = available;
      this.runsFromUrl = false;
    }
    this.state.runs = resolveSelection(this.state, available);
    this.state.knownRuns = available;
    this.saveState();
    renderRunList(this);
    if (!runs.length) {
      this.setStatus('No FitViz data yet. Record runs with tb_fitviz.FitVizCallback (Keras) or ' +
        'tb_fitviz.FitVizWriter into the log directory; they appear here on the next reload.');
    }
    await this.updateShown();
  }

  toggleRun(run, on) {
    const set = new Set(this.state.runs);
    if (on) set.add(run);
    else set.delete(run);
    this.state.runs = this.runs.map((r) => r.run).filter((r) => set.has(r));
    this.saveState();
    this.updateShown();
  }

  onFilter(text) {
    this.state.filter = text;
    this.saveState();
    renderRunList(this);
    this.updateShown();
  }

  async updateShown() {
    const filter = compileFilter(this.state.filter);
    const shown = this.state.runs.filter((r) => this.runIndex.has(r) && filter.test(r));
    const keepStep = this.player.currentStep();
    this.shown = shown;
    for (const run of shown) if (!this.data.has(run)) runEntry(this, run);
    this.timeline = unionSteps(shown.map((r) => this.data.get(r).store.steps));
    const last = this.timeline.length - 1;
    let position = last;
    const wanted = keepStep ?? this.state.step;
    if (!this.state.follow && wanted !== null && wanted !== undefined && last >= 0) {
      position = Math.max(0, lastAtOrBefore(this.timeline, wanted));
    }
    if (this.runs.length && !shown.length) {
      this.setStatus(this.state.runs.length ? 'No chosen run matches the filter.' : 'Choose a run on the left.');
    } else if (this.runs.length) {
      this.setStatus('');
    }
    syncControls(this.ui, this.state, this.kindsShown());
    this.player.seek(Math.max(0, position), {force: true});
    this.invalidate();
    await Promise.all(shown.map((r) => this.data.get(r).staticPromise));
    syncControls(this.ui, this.state, this.kindsShown());
  }

  kindsShown() {
    return this.shown.map((r) => this.data.get(r)).filter((e) => e && e.staticData).map((e) => e.kind);
  }

  /** The view a run is drawn in now (its main view, or the chosen one if it has it). */
  viewOf(run) {
    return viewFor(this.data.get(run).kind, this.state.view);
  }

  /** The frame stores the view of `run` draws from. */
  storesOf(run) {
    const entry = this.data.get(run);
    if (!entry) return [];
    const series = entry.staticData ? this.viewOf(run).series : ['sample'];
    const stores = [];
    if (series.includes('sample') || !series.length) stores.push(entry.store);
    if (series.includes('grid') && entry.gridStore) stores.push(entry.gridStore);
    return stores;
  }

  /** Reacts to TensorBoard's reload (button or timer): only new frames are fetched. */
  async reload() {
    if (this.reloading) {
      this.reloadAgain = true;
      return this.reloading;
    }
    this.reloading = (async () => {
      do {
        this.reloadAgain = false;
        try {
          const runs = await fetchRuns();
          for (const run of this.shown) {
            if (this.data.has(run)) runEntry(this, run, {scalarsToo: true});
          }
          await this.applyRuns(runs);
        } catch (error) {
          this.setStatus(`Reload failed: ${error.message}`, true);
        }
      } while (this.reloadAgain);
      this.reloading = null;
    })();
    return this.reloading;
  }

  onFramesLoaded() {
    const errors = this.shown.flatMap((r) => this.storesOf(r).flatMap((s) => s.errors));
    if (errors.length) this.setStatus(`Could not load frames: ${errors[errors.length - 1].message}`, true);
    this.requestDraw();
  }

  /** Resolves when every series shown holds its frame at timeline `position`. */
  ensureFrames(position) {
    const step = this.timeline[position];
    return Promise.all(this.shown.flatMap((run) => this.storesOf(run).map((store) => {
      const index = frameIndexAtStep(store.steps, step);
      return index < 0 ? true : store.ensure(index, {ahead: 2});
    })));
  }

  colorOf(run) {
    const palette = this.theme.runs;
    return palette[(this.runIndex.get(run) ?? 0) % palette.length];
  }

  // -- the view ----------------------------------------------------------------------------

  invalidate() {
    this.viewValid = false;
    this.requestDraw();
  }

  requestDraw() {
    if (this.drawRequested) return;
    this.drawRequested = true;
    requestAnimationFrame(() => {
      this.drawRequested = false;
      this.paint();
    });
  }

  hostWidth() {
    const style = getComputedStyle(this.ui.canvasHost);
    const padding = parseFloat(style.paddingLeft) + parseFloat(style.paddingRight);
    return Math.floor(this.ui.canvasHost.clientWidth - padding) || 960;
  }

  env() {
    return {
      theme: this.theme,
      state: this.state,
      dpr: this.view ? this.view.dpr : (window.devicePixelRatio || 1),
      scratch: this.scratch,
      step: this.player.currentStep() ?? 0,
      makeCanvas: (width, height) => {
        const canvas = document.createElement('canvas');
        canvas.width = width;
        canvas.height = height;
        return canvas;
      },
      lossMap: (run, size) => lossMapOf(this, run.name, size),
    };
  }

  /**
   * Panels for the runs shown: each run its own panel (its view chosen from its kind), or, overlaid,
   * one panel for each set of runs that can share one (one-output curves over the same data), the
   * others each their own. Runs with the same data share axes; others get their own.
   */
  buildView() {
    const names = this.shown.filter((name) => this.data.get(name)?.staticData);
    if (!names.length) return null;
    const runs = names.map((name) => this.runObject(name));
    const byName = new Map(runs.map((r) => [r.name, r]));
    const curves = runs.filter((r) => r.view === curveView && curveView.canOverlay([r]));
    const sets = this.state.mode !== 'overlay' ? [] : groupRuns(curves.map((r) => r.name),
      (name) => axesKey(byName.get(name).staticData))
      .filter((set) => set.runs.length > 1).map((set) => set.runs.map((name) => byName.get(name)));
    const overlay = sets.length > 0;
    const overlaid = new Set(sets.flat());
    const alone = runs.filter((r) => !overlaid.has(r));
    // What the first panel says when runs asked to be overlaid are not.
    this.overlayNote = this.state.mode !== 'overlay' || runs.length < 2 ? ''
      : !overlay ? 'overlaid: one-output curves of the same data only'
        : alone.length ? 'other data or views side by side' : '';
    const cssWidth = this.hostWidth();
    const legendOf = (group) => group.map((r) => ({label: r.name, color: r.color}));
    const legendRows = Math.max(0, ...sets.map((set) => estimateLegendRows(legendOf(set), cssWidth)));
    const groups = [...sets, ...alone.map((r) => [r])];
    const top = this.ui.canvasHost.getBoundingClientRect().top + window.scrollY;
    const layout = computeLayout({width: cssWidth, panelCount: groups.length, legendRows,
      height: Math.max(300, window.innerHeight - top - 16)});
    const dpr = window.devicePixelRatio || 1;
    // Axes are shared by runs drawn in the same view over the same data (same sample).
    const shareKey = (r) => `${r.view.id}|${overlaid.has(r) ? 'overlay|' : ''}${axesKey(r.staticData)}`;
    const shares = groupRuns(runs.map((r) => r.name), (name) => shareKey(runs.find((r) => r.name === name)));
    const domains = new Map();
    for (const share of shares) {
      const members = share.runs.map((name) => runs.find((r) => r.name === name));
      domains.set(share.key, {
        view: members[0].view.domains(members),
        charts: chartDomains(members, this.state, this.config.defaults.view.outlier_quantiles),
      });
    }
    this.view = {layout, dpr, cssWidth, panels: []};
    const env = this.env();
    env.dpr = dpr;
    const panels = groups.map((group, i) => {
      const shared = domains.get(shareKey(group[0]));
      const panel = {
        layout: layout.panels[i],
        view: group[0].view,
        runs: group,
        title: group.length > 1 ? `${group.length} runs overlaid` : panelTitle(group[0]),
        legend: group.length > 1 ? legendOf(group) : null,
        domains: shared.view,
        epochEnds: [...new Set(group.flatMap((r) => r.entry.info.epoch_ends || []))],
      };
      panel.view.prepare(panel, env);
      prepareCharts(panel, shared.charts, this.state);
      return panel;
    });
    this.view.panels = panels;
    const pixelWidth = Math.round(layout.width * dpr);
    const pixelHeight = Math.round(layout.height * dpr);
    const canvas = this.ui.canvas;
    if (canvas.width !== pixelWidth || canvas.height !== pixelHeight) {
      canvas.width = pixelWidth;
      canvas.height = pixelHeight;
    }
    canvas.style.width = `${layout.width}px`;
    canvas.style.height = `${layout.height}px`;
    const staticLayer = document.createElement('canvas');
    staticLayer.width = pixelWidth;
    staticLayer.height = pixelHeight;
    const sctx = staticLayer.getContext('2d');
    sctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    this.drawStatic(sctx, env);
    this.view.staticLayer = staticLayer;
    return this.view;
  }

  runObject(name) {
    const entry = this.data.get(name);
    return {
      name,
      entry,
      kind: entry.kind,
      staticData: entry.staticData,
      settings: entry.staticData.settings || {},
      scalars: entry.scalars,
      color: this.colorOf(name),
      view: viewFor(entry.kind, this.state.view),
      dataKey: pointsKey(entry.staticData.scatter),
      frame: null,
      grid: null,
    };
  }

  drawStatic(ctx, env) {
    const {theme} = env;
    const {layout} = this.view;
    ctx.fillStyle = theme.background;
    ctx.fillRect(0, 0, layout.width, layout.height);
    for (const panel of this.view.panels) {
      const box = panel.layout;
      ctx.save();
      ctx.font = theme.titleFont;
      ctx.fillStyle = theme.text;
      ctx.textBaseline = 'alphabetic';
      ctx.textAlign = 'left';
      // The left 55% for the title, the right part for the step text drawn per frame.
      ctx.fillText(fitText(ctx, panel.title, box.rect.w * 0.55 - 12), box.title.x, box.title.y);
      ctx.restore();
      if (panel.legend) flowLegend(ctx, theme, box.legend, panel.legend);
      panel.view.drawStatic(ctx, panel, env);
      drawChartsStatic(ctx, panel, env);
    }
  }

  /** Draws the current step now. */
  paint() {
    if (!this.viewValid) {
      this.view = this.buildView();
      this.viewValid = !!this.view;
      if (!this.view) {
        this.ui.canvas.width = 0;
        this.ui.canvas.height = 0;
        this.updateStepLabel(null);
        return;
      }
    }
    const view = this.view;
    const step = this.player.currentStep();
    const env = this.env();
    env.dpr = view.dpr;
    let exact = true;
    for (const panel of view.panels) {
      let epoch = null;
      const notes = [];
      for (const run of panel.runs) {
        run.scalars = run.entry.scalars;
        const series = panel.view.series;
        const sample = lookUp(run.entry.store, env.step, series.includes('sample') || !series.length);
        const grid = series.includes('grid') && run.entry.gridStore
          ? lookUp(run.entry.gridStore, env.step, true) : {frame: null, exact: true};
        if (sample.missing) notes.push(`${run.name}: no frame at or before this step`);
        else if (!sample.exact || !grid.exact) {
          exact = false;
          notes.push('loading…');
        }
        run.frame = sample.frame;
        run.grid = grid.frame;
        if (run.frame && epoch === null && Number.isFinite(run.frame.epoch)) epoch = run.frame.epoch;
      }
      if (this.overlayNote && panel === view.panels[0]) notes.push(this.overlayNote);
      panel.note = [...new Set(notes)].join(' · ');
      panel.stepText = stepText(step, panel.runs, epoch);
    }
    const t0 = performance.now();
    this.drawFrame(env);
    const t1 = performance.now();
    this.stats.drawTimes.push(t1 - t0);
    if (this.stats.drawTimes.length > 5000) this.stats.drawTimes.splice(0, 2500);
    if (exact && this.stats.firstFrameMs === null) {
      this.stats.firstFrameMs = t1;
      this.stats.requestsForFirstFrame = this.shown.flatMap((r) => this.storesOf(r).flatMap((s) => s.requests));
      performance.mark('fitviz-first-frame');
      this.firstFrameDrawn();
      this.player.prefetch(); // what the first frame did not need: the chunk behind, and so on
    }
    this.lastPaintExact = exact;
    this.updateStepLabel(step);
  }

  drawFrame(env) {
    const {view, ctx} = this;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.drawImage(view.staticLayer, 0, 0);
    ctx.setTransform(view.dpr, 0, 0, view.dpr, 0, 0);
    for (const panel of view.panels) {
      panel.view.drawFrame(ctx, panel, env);
      drawStepText(ctx, env.theme, panel, panel.stepText);
      note(ctx, env.theme, panel.layout.main, panel.note);
      drawChartsFrame(ctx, panel, env);
    }
    ctx.setTransform(1, 0, 0, 1, 0, 0);
  }

  updateStepLabel(step) {
    const total = this.timeline.length;
    this.ui.stepLabel.textContent = step === null ? 'no frames'
      : `step ${step} (${this.player.position + 1}/${total})`;
  }

  // export.js is loaded on the first export: the first frame does not wait for it.
  async exportPNG() {
    return (await import('./export.js')).exportPNG(this);
  }

  async exportWebM() {
    return (await import('./export.js')).exportWebM(this);
  }
}

/** The frame of `store` at a step: {frame, exact, missing}; a nearby loaded one while loading. */
function lookUp(store, step, wanted) {
  if (!wanted) return {frame: null, exact: true, missing: false};
  const index = frameIndexAtStep(store.steps, step);
  if (index < 0) return {frame: null, exact: true, missing: true};
  const frame = store.frame(index);
  if (frame) return {frame, exact: true, missing: false};
  const near = store.nearestLoaded(index);
  return {frame: near >= 0 ? store.frame(near) : null, exact: false, missing: false};
}

/** "step 45 · epoch 3", or "step 45 · frame of step 30" when a run has no frame at that step. */
function stepText(step, runs, epoch) {
  if (step === null) return '';
  if (runs.length > 1) return `step ${step}`;
  const frame = runs[0].frame;
  const shown = frame && frame.step !== step ? ` · frame of step ${frame.step}` : '';
  return `step ${step}${shown}${epoch !== null ? ` · epoch ${epoch + 1}` : ''}`;
}

function panelTitle(run) {
  const title = run.settings.title;
  return title ? `${run.name} — ${title}` : run.name;
}

function estimateLegendRows(entries, width) {
  let rows = 1;
  let x = 0;
  for (const e of entries) {
    const w = 22 + Math.min(260, e.label.length * 6.5) + 16;
    if (x + w > width - 16 && x > 0) {
      rows += 1;
      x = 0;
    }
    x += w;
  }
  return rows;
}

/** `p.fitviz.*` fields of TensorBoard's own URL (the parent page: same origin). */
function parentHashData() {
  try {
    return window.parent === window ? {} : urlDataFromHash(window.parent.location.hash);
  } catch {
    return {}; // not same-origin after all: no URL fields
  }
}

function readStorage() {
  try {
    return localStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}
