// The FitViz tab. TensorBoard loads this ES module in the plugin's iframe and calls render().
//
// Data access lives in api.js / frames.js, the view's settings in state.js, drawing in draw.js;
// this module builds the page, keeps the playhead and wires the controls together.

import {assetURL, fetchFrames, fetchRuns, fetchScalars, fetchStatic} from './api.js';
import {computeLayout, chartScales, drawFrame, drawStatic, mainScales, PALETTE} from './draw.js';
import {canvasPNG, download, recordWebM, safeFileName, webmType} from './export.js';
import {FrameStore, frameIndexAtStep, unionSteps} from './frames.js';
import {connectHost, MESSAGES} from './host.js';
import {finiteExtent, lastAtOrBefore, nearestIndex, padDomain} from './scales.js';
import {toOddWindow} from './smoothing.js';
import {compileFilter, mergeState, parseState, resolveSelection, serializeState, SPEEDS,
  stateFromUrlData, urlDataFromHash} from './state.js';

const STORAGE_KEY = 'tb-fitviz:state:v1';
const MAX_SMOOTHING = 501;
const MAX_BATCH_SMOOTHING = 201;

/** Entry point called by TensorBoard's plugin_entry.html. */
export async function render() {
  const app = new FitVizApp(document.body);
  window.__fitviz = app.handle();
  await app.start();
}

/** Creates an element with attributes, children (nodes or text, never HTML). */
function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const ICONS = {
  first: 'M3 2h2v12H3zM14 2v12L6 8z',
  prev: 'M12 2v12L4 8z',
  play: 'M4 2v12l10-6z',
  pause: 'M3 2h4v12H3zM9 2h4v12H9z',
  next: 'M4 2v12l8-6z',
  last: 'M11 2h2v12h-2zM2 2v12l8-6z',
};

/** A 16x16 SVG icon (built as DOM nodes: fonts may lack the media symbols). */
function icon(name) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 16 16');
  svg.setAttribute('width', '14');
  svg.setAttribute('height', '14');
  svg.setAttribute('aria-hidden', 'true');
  const path = document.createElementNS(ns, 'path');
  path.setAttribute('d', ICONS[name]);
  path.setAttribute('fill', 'currentColor');
  svg.append(path);
  return svg;
}

const nullsToNaN = (values) => (values || []).map((v) => (v === null ? NaN : v));

class FitVizApp {
  constructor(root) {
    this.root = root;
    this.state = parseState(readStorage());
    this.runs = [];           // GET runs objects
    this.runIndex = new Map(); // name -> index in this.runs (colour)
    this.data = new Map();    // name -> {info, store, staticData, scalars, loading promises}
    this.shown = [];          // names of the runs drawn
    this.timeline = new Float64Array(0);
    this.position = 0;
    this.playing = false;
    this.view = null;         // layout, scales and static layer; rebuilt when invalid
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

  async start() {
    performance.mark('fitviz-render');
    this.buildDom();
    this.host = connectHost({
      [MESSAGES.DATA_RELOADED]: () => {
        this.reload();
        return null;
      },
      [MESSAGES.RUNS_CHANGED]: () => {
        this.reload();
        return null;
      },
    });
    const urlData = this.host.connected
      ? this.host.send(MESSAGES.GET_URL_DATA, {pluginName: 'fitviz'}, 1500).catch(() => null)
      : Promise.resolve(null);
    let runs;
    try {
      [runs] = await Promise.all([fetchRuns(), urlData.then((data) => {
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
    this.syncControls();
    await this.applyRuns(runs);
  }

  buildDom() {
    document.title = 'FitViz';
    document.head.append(el('link', {rel: 'stylesheet', href: assetURL('style.css')}));
    const s = this.state;
    this.filterInput = el('input', {type: 'search', class: 'fv-filter', placeholder: 'Filter runs (regex)',
      'aria-label': 'Filter runs by regular expression', oninput: () => this.onFilter()});
    this.filterError = el('div', {class: 'fv-filter-error', role: 'alert'});
    this.runList = el('ul', {class: 'fv-run-list', 'aria-label': 'Runs'});
    const radio = (value, label) => el('label', {class: 'fv-radio'},
      el('input', {type: 'radio', name: 'fv-mode', value, onchange: () => this.setSetting('mode', value)}),
      label);
    this.modeInputs = el('div', {class: 'fv-group', role: 'radiogroup', 'aria-label': 'Compare runs'},
      radio('side', 'Side by side'), radio('overlay', 'Overlaid'));
    this.bandSelect = el('select', {'aria-label': 'Loss band', onchange: (e) => this.setSetting('band', e.target.value)},
      el('option', {value: 'sqrt', text: '± √(smoothed loss)'}),
      el('option', {value: 'raw', text: '± smoothed loss'}),
      el('option', {value: 'off', text: 'none'}));
    this.smoothingRange = el('input', {type: 'range', min: 1, max: MAX_SMOOTHING, step: 2,
      'aria-label': 'Loss smoothing window', oninput: (e) => this.setSetting('smoothing', toOddWindow(e.target.value))});
    this.smoothingOut = el('output', {class: 'fv-value'});
    this.batchRange = el('input', {type: 'range', min: 1, max: MAX_BATCH_SMOOTHING, step: 2,
      'aria-label': 'Batch loss smoothing window',
      oninput: (e) => this.setSetting('batchSmoothing', toOddWindow(e.target.value))});
    this.batchOut = el('output', {class: 'fv-value'});
    const check = (key, label) => {
      const input = el('input', {type: 'checkbox', onchange: (e) => this.setSetting(key, e.target.checked)});
      return [input, el('label', {class: 'fv-check'}, input, label)];
    };
    const [xLog, xLogLabel] = check('xLog', 'log steps');
    const [yLog, yLogLabel] = check('yLog', 'log loss');
    this.xLogInput = xLog;
    this.yLogInput = yLog;
    this.pngButton = el('button', {type: 'button', onclick: () => this.exportPNG(), title: 'Save the current view as PNG'}, 'PNG');
    this.webmButton = el('button', {type: 'button', onclick: () => this.exportWebM(),
      title: 'Record the animation as WebM'}, 'WebM');
    this.exportProgress = el('progress', {class: 'fv-progress', max: 1, value: 0, hidden: true});
    this.exportStatus = el('div', {class: 'fv-export-status', role: 'status'});

    const side = el('aside', {class: 'fv-side'},
      el('h2', {text: 'Runs'}), this.filterInput, this.filterError, this.runList,
      el('h2', {text: 'Compare'}), this.modeInputs,
      el('h2', {text: 'Loss band'}), this.bandSelect,
      el('div', {class: 'fv-slider-row'}, el('span', {text: 'smoothing'}), this.smoothingRange, this.smoothingOut),
      el('h2', {text: 'Loss charts'}),
      el('div', {class: 'fv-slider-row'}, el('span', {text: 'batch smoothing'}), this.batchRange, this.batchOut),
      el('div', {class: 'fv-row'}, xLogLabel, yLogLabel),
      el('h2', {text: 'Export'}),
      el('div', {class: 'fv-row'}, this.pngButton, this.webmButton), this.exportProgress, this.exportStatus,
      el('p', {class: 'fv-help', text: 'Keys: space play/pause · ←/→ step (shift: 10) · Home/End. ' +
        'Click a loss chart to go to a step.'}));

    const button = (iconName, title, onclick) => el('button', {type: 'button', class: 'fv-btn', title,
      'aria-label': title, onclick}, icon(iconName));
    this.firstButton = button('first', 'First step (Home)', () => {
      this.pause();
      this.seek(0);
    });
    this.prevButton = button('prev', 'Previous step (←)', () => this.step(-1));
    this.playButton = button('play', 'Play (space)', () => this.togglePlay());
    this.nextButton = button('next', 'Next step (→)', () => this.step(1));
    this.lastButton = button('last', 'Last step (End)', () => {
      this.pause();
      this.seek(this.timeline.length - 1);
    });
    this.slider = el('input', {type: 'range', class: 'fv-slider', min: 0, max: 0, step: 1, value: 0,
      'aria-label': 'Step', oninput: (e) => this.seek(Number(e.target.value))});
    this.stepLabel = el('span', {class: 'fv-step', 'aria-live': 'off'});
    this.speedSelect = el('select', {'aria-label': 'Playback speed (frames per second)',
      onchange: (e) => this.setSetting('speed', Number(e.target.value))},
    ...SPEEDS.map((v) => el('option', {value: v, text: `${v} fps`})));
    const [loop, loopLabel] = check('loop', 'loop');
    const [follow, followLabel] = check('follow', 'follow latest');
    this.loopInput = loop;
    this.followInput = follow;
    const player = el('div', {class: 'fv-player'},
      this.firstButton, this.prevButton, this.playButton, this.nextButton, this.lastButton,
      this.slider, this.stepLabel, this.speedSelect, loopLabel, followLabel);

    this.status = el('div', {class: 'fv-status', role: 'status'});
    this.canvas = el('canvas', {class: 'fv-canvas', role: 'img', 'aria-label': 'FitViz view'});
    this.canvasHost = el('div', {class: 'fv-canvas-host'}, this.canvas);
    const main = el('main', {class: 'fv-main'}, player, this.status, this.canvasHost);
    this.root.replaceChildren(el('div', {class: 'fv-root'}, side, main));
    this.ctx = this.canvas.getContext('2d');

    this.canvas.addEventListener('click', (e) => this.onCanvasClick(e));
    this.canvas.addEventListener('mousemove', (e) => {
      this.canvas.style.cursor = this.chartAt(e) ? 'pointer' : 'default';
    });
    document.addEventListener('keydown', (e) => this.onKey(e));
    new ResizeObserver(() => {
      if (this.view && this.hostWidth() !== this.view.cssWidth) this.invalidate();
    }).observe(this.canvasHost);
    this.syncControls();
  }

  /** Puts the state's values into the controls. */
  syncControls() {
    const s = this.state;
    this.filterInput.value = s.filter;
    for (const input of this.modeInputs.querySelectorAll('input')) input.checked = input.value === s.mode;
    this.bandSelect.value = s.band;
    this.smoothingRange.value = String(Math.min(s.smoothing, MAX_SMOOTHING));
    this.smoothingOut.textContent = String(s.smoothing);
    this.batchRange.value = String(Math.min(s.batchSmoothing, MAX_BATCH_SMOOTHING));
    this.batchOut.textContent = String(s.batchSmoothing);
    this.xLogInput.checked = s.xLog;
    this.yLogInput.checked = s.yLog;
    if (!SPEEDS.includes(s.speed)) {
      this.speedSelect.append(el('option', {value: s.speed, text: `${s.speed} fps`}));
    }
    this.speedSelect.value = String(s.speed);
    this.loopInput.checked = s.loop;
    this.followInput.checked = s.follow;
  }

  setStatus(text, isError = false) {
    this.status.textContent = text || '';
    this.status.classList.toggle('fv-error', !!isError);
    this.status.hidden = !text;
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
    this.syncControls();
    if (key === 'mode' || key === 'batchSmoothing' || key === 'xLog' || key === 'yLog') this.invalidate();
    else if (key === 'follow' && value) this.seek(this.timeline.length - 1);
    else this.requestDraw();
    if (key === 'speed' || key === 'loop') this.prefetch();
  }

  // -- runs and data --------------------------------------------------------------------

  async applyRuns(runs) {
    this.runs = runs;
    this.runIndex = new Map(runs.map((r, i) => [r.run, i]));
    for (const info of runs) {
      const entry = this.data.get(info.run);
      if (entry) {
        const added = entry.store.updateSteps(info.steps);
        entry.info = info;
        if (added === -1) this.loadRunData(info.run, {staticToo: true});
      }
    }
    const available = runs.map((r) => r.run);
    if (this.runsFromUrl) {
      this.state.knownRuns = available;
      this.runsFromUrl = false;
    }
    this.state.runs = resolveSelection(this.state, available);
    this.state.knownRuns = available;
    this.saveState();
    this.renderRunList();
    if (!runs.length) {
      this.setStatus('No FitViz data yet. Record runs with tb_fitviz.FitVizCallback (Keras) or ' +
        'tb_fitviz.FitVizWriter into the log directory; they appear here on the next reload.');
    }
    await this.updateShown();
  }

  renderRunList() {
    const filter = compileFilter(this.state.filter);
    this.filterError.textContent = filter.error ? `Invalid regex: ${filter.error}` : '';
    this.filterInput.classList.toggle('fv-invalid', !!filter.error);
    const items = this.runs.map((info, i) => {
      const box = el('input', {type: 'checkbox', value: info.run,
        onchange: (e) => this.toggleRun(info.run, e.target.checked)});
      box.checked = this.state.runs.includes(info.run);
      const swatch = el('span', {class: 'fv-swatch'});
      swatch.style.background = PALETTE[i % PALETTE.length];
      const item = el('li', {title: `${info.run}: ${info.frame_count} frames`},
        el('label', {}, box, swatch, el('span', {class: 'fv-run-name', text: info.run}),
          el('span', {class: 'fv-count', text: String(info.frame_count)})));
      item.hidden = !filter.test(info.run);
      return item;
    });
    this.runList.replaceChildren(...items);
  }

  toggleRun(run, on) {
    const set = new Set(this.state.runs);
    if (on) set.add(run);
    else set.delete(run);
    this.state.runs = this.runs.map((r) => r.run).filter((r) => set.has(r));
    this.saveState();
    this.updateShown();
  }

  onFilter() {
    this.state.filter = this.filterInput.value;
    this.saveState();
    this.renderRunList();
    this.updateShown();
  }

  /** Loads what a run needs (static points, scalars) and creates its frame store. */
  loadRunData(run, {staticToo = false, scalarsToo = true} = {}) {
    const info = this.runs[this.runIndex.get(run)];
    let entry = this.data.get(run);
    if (!entry) {
      entry = {info, staticData: null, scalars: null, error: null};
      entry.store = new FrameStore({
        steps: info.steps,
        sampleSize: info.sample_size,
        fetchFrames: (start, stop, limit) => fetchFrames(run, start, stop, limit),
        onLoad: () => this.onFramesLoaded(),
      });
      this.data.set(run, entry);
      staticToo = true;
    }
    if (staticToo) {
      entry.staticPromise = fetchStatic(run).then((data) => {
        entry.staticData = data;
        this.invalidate();
      }, (error) => {
        entry.error = `${run}: ${error.message}`;
        this.setStatus(entry.error, true);
      });
    }
    if (scalarsToo) {
      // The loss charts wait for the first frame: the frame is what the user waits for.
      entry.scalarsPromise = this.firstFrame.then(() => fetchScalars(run)).then((data) => {
        entry.scalars = data;
        this.invalidate();
      }, (error) => {
        this.setStatus(`${run}: loss histories: ${error.message}`, true);
      });
    }
    return entry;
  }

  async updateShown() {
    const filter = compileFilter(this.state.filter);
    const shown = this.state.runs.filter((r) => this.runIndex.has(r) && filter.test(r));
    const keepStep = this.currentStep();
    this.shown = shown;
    for (const run of shown) if (!this.data.has(run)) this.loadRunData(run);
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
    this.seek(Math.max(0, position), {force: true});
    this.invalidate();
    await Promise.all(shown.map((r) => this.data.get(r).staticPromise));
  }

  currentStep() {
    return this.timeline.length ? this.timeline[this.position] : null;
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
            if (this.data.has(run)) this.loadRunData(run, {scalarsToo: true});
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
    const errors = this.shown.flatMap((r) => this.data.get(r)?.store.errors || []);
    if (errors.length) this.setStatus(`Could not load frames: ${errors[errors.length - 1].message}`, true);
    this.requestDraw();
  }

  // -- playhead ----------------------------------------------------------------------------

  /** Frame index of a run at the current step (its last frame at or before it). */
  frameIndex(run, position = this.position) {
    const entry = this.data.get(run);
    if (!entry || !this.timeline.length) return -1;
    return frameIndexAtStep(entry.store.steps, this.timeline[position]);
  }

  seek(position, {force = false} = {}) {
    const last = this.timeline.length - 1;
    position = Math.max(0, Math.min(last, Math.round(position)));
    if (!Number.isFinite(position)) position = 0;
    if (position === this.position && !force) return;
    this.position = position;
    const step = this.currentStep();
    if (step !== null && this.state.step !== step) {
      this.state.step = step;
      this.saveState();
    }
    this.slider.max = String(Math.max(0, last));
    this.slider.value = String(position);
    this.prefetch();
    this.requestDraw();
  }

  step(delta) {
    this.pause();
    this.seek(this.position + delta);
  }

  prefetch() {
    const speed = this.state.speed;
    for (const run of this.shown) {
      const entry = this.data.get(run);
      if (!entry) continue;
      const chunk = entry.store.chunkFrames;
      const ahead = this.playing ? Math.max(2, Math.ceil((speed * 3) / chunk)) : 1;
      const index = Math.max(0, this.frameIndex(run));
      // Until the first frame is drawn, only its own chunk: nothing competes with it.
      const first = this.stats.firstFrameMs === null;
      entry.store.prefetch(index, {ahead: first ? 0 : ahead, behind: first || this.playing ? 0 : 1,
        loop: this.state.loop, maxInFlight: first ? 1 : this.playing ? 3 : 2});
    }
  }

  framesReady(position) {
    return this.shown.every((run) => {
      const index = this.frameIndex(run, position);
      return index < 0 || this.data.get(run).store.has(index);
    });
  }

  togglePlay() {
    if (this.playing) this.pause();
    else this.play();
  }

  play() {
    if (!this.timeline.length || this.exporting) return;
    if (this.position >= this.timeline.length - 1) this.seek(0);
    this.playing = true;
    this.playButton.replaceChildren(icon('pause'));
    this.playButton.title = 'Pause (space)';
    this.playButton.setAttribute('aria-label', 'Pause (space)');
    this.accumulated = 0;
    this.lastTick = null;
    this.prefetch();
    requestAnimationFrame((t) => this.tick(t));
  }

  pause() {
    if (!this.playing) return;
    this.playing = false;
    this.playButton.replaceChildren(icon('play'));
    this.playButton.title = 'Play (space)';
    this.playButton.setAttribute('aria-label', 'Play (space)');
  }

  tick(now) {
    if (!this.playing) return;
    if (this.lastTick !== null) {
      const dt = Math.min(250, now - this.lastTick);
      this.stats.tickIntervals.push(now - this.lastTick);
      if (this.stats.tickIntervals.length > 2000) this.stats.tickIntervals.splice(0, 1000);
      this.accumulated += (dt * this.state.speed) / 1000;
    }
    this.lastTick = now;
    // Rounded, not floored: at a speed equal to the display rate, timer jitter (a tick of 16.6
    // instead of 16.7 ms) must not skip a tick and then jump two frames.
    const advance = Math.floor(this.accumulated + 0.5);
    if (advance >= 1) {
      const last = this.timeline.length - 1;
      let target = this.position + advance;
      let stop = false;
      if (target > last) {
        if (this.state.loop) target = this.position === last ? 0 : last;
        else {
          target = last;
          stop = true;
        }
      }
      if (this.framesReady(target)) {
        this.seek(target);
        this.accumulated -= advance;
        this.stats.advances += 1;
        this.paint(); // in this animation frame, not the next
        if (stop) this.pause();
      } else {
        this.stats.stalls += 1;
        this.accumulated = Math.min(this.accumulated, 1);
        this.prefetch();
      }
    }
    requestAnimationFrame((t) => this.tick(t));
  }

  // -- input -------------------------------------------------------------------------------

  onKey(event) {
    const target = event.target;
    const tag = target && target.tagName;
    const typing = (tag === 'INPUT' && !['range', 'checkbox', 'radio'].includes(target.type)) ||
      tag === 'SELECT' || tag === 'TEXTAREA';
    if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
    const big = event.shiftKey ? 10 : 1;
    switch (event.key) {
      case ' ':
      case 'Spacebar':
        this.togglePlay();
        break;
      case 'ArrowRight':
        this.step(big);
        break;
      case 'ArrowLeft':
        this.step(-big);
        break;
      case 'Home':
        this.pause();
        this.seek(0);
        break;
      case 'End':
        this.pause();
        this.seek(this.timeline.length - 1);
        break;
      default:
        return;
    }
    event.preventDefault();
  }

  chartAt(event) {
    if (!this.view) return null;
    const box = this.canvas.getBoundingClientRect();
    const x = event.clientX - box.left;
    const y = event.clientY - box.top;
    for (const panel of this.view.panels) {
      for (const kind of ['sample', 'batch']) {
        const r = panel.layout.charts[kind];
        if (x >= r.x && x <= r.x + r.w && y >= r.y - 4 && y <= r.y + r.h) return {panel, kind, x};
      }
    }
    return null;
  }

  onCanvasClick(event) {
    const hit = this.chartAt(event);
    if (!hit || !this.timeline.length) return;
    const step = hit.panel.charts[hit.kind].x.invert(hit.x);
    this.pause();
    this.seek(nearestIndex(this.timeline, step));
  }

  // -- drawing -----------------------------------------------------------------------------

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

  /** Layout, scales and static layer for the runs shown, at the current size. */
  buildView() {
    const runs = this.shown.map((name) => ({name, entry: this.data.get(name)}))
      .filter((r) => r.entry && r.entry.staticData);
    if (!runs.length) return null;
    const overlay = this.state.mode === 'overlay' && runs.length > 1;
    const cssWidth = this.hostWidth();
    const legend = overlay ? runs.map((r) => ({label: r.name, color: this.colorOf(r.name)})) : null;
    const legendRows = overlay ? estimateLegendRows(legend, cssWidth) : 0;
    const top = this.canvasHost.getBoundingClientRect().top + window.scrollY;
    const layout = computeLayout({width: cssWidth, panelCount: overlay ? 1 : runs.length, legendRows,
      height: Math.max(300, window.innerHeight - top - 16)});
    const dpr = window.devicePixelRatio || 1;

    // Shared axes: one domain over every run shown.
    const pick = (fn) => runs.flatMap((r) => fn(r.entry.staticData)).filter(Boolean);
    const xDomain = padDomain(finiteExtent(pick((d) => [d.sample.x, d.scatter.x, d.validation?.x])) || [0, 1], 0.02);
    const yDomain = padDomain(finiteExtent(pick((d) => [d.sample.y, d.scatter.y, d.validation?.y])) || [0, 1], 0.08);
    const stepExtent = finiteExtent(runs.flatMap((r) => [r.entry.store.steps,
      r.entry.scalars?.batch_loss?.steps, r.entry.scalars?.epoch_loss?.steps])) || [0, 1];
    // A little room on the right: the cursor and the last epoch's markers stay visible.
    const chartX = stepExtent[0] === stepExtent[1] ? [stepExtent[0], stepExtent[0] + 1]
      : [stepExtent[0], stepExtent[1] + (stepExtent[1] - stepExtent[0]) * 0.02];
    const lossDomain = (keys) => {
      const arrays = runs.flatMap((r) => keys.map((k) => nullsToNaN(r.entry.scalars?.[k]?.values)));
      const extent = finiteExtent(arrays, {positiveOnly: this.state.yLog});
      if (!extent) return this.state.yLog ? [0.01, 1] : [0, 1];
      if (this.state.yLog) return [extent[0] / 1.3, extent[1] * 1.3];
      const lo = Math.min(0, extent[0]);
      return [lo, extent[1] + (extent[1] - lo) * 0.05 || 1];
    };
    const sampleY = lossDomain(['sample_loss', 'validation_loss', 'regularization_loss']);
    const batchY = lossDomain(['batch_loss', 'epoch_loss', 'epoch_val_loss']);
    const settings = runs[0].entry.staticData.settings || {};
    const axesOptions = {xLog: this.state.xLog, yLog: this.state.yLog};

    const groups = overlay ? [runs] : runs.map((r) => [r]);
    const panels = groups.map((group, i) => {
      const box = layout.panels[i];
      const scales = mainScales(box, xDomain, yDomain);
      const title = overlay ? `${group.length} runs overlaid` : panelTitle(group[0]);
      return {
        layout: box,
        title,
        legend: overlay ? legend : null,
        xLabel: settings.x_label || 'x',
        yLabel: settings.y_label || 'y',
        main: scales,
        charts: {
          sample: chartScales(box.charts.sample, chartX, sampleY, axesOptions),
          batch: chartScales(box.charts.batch, chartX, batchY, axesOptions),
        },
        epochEnds: [...new Set(group.flatMap((r) => r.entry.info.epoch_ends || []))],
        runs: group.map((r) => {
          const d = r.entry.staticData;
          const sampleX = d.sample.x;
          const pixelX = new Float64Array(sampleX.length);
          for (let k = 0; k < sampleX.length; k++) pixelX[k] = scales.x(sampleX[k]);
          return {name: r.name, entry: r.entry, color: this.colorOf(r.name), scatter: d.scatter,
            validation: d.validation, scalars: r.entry.scalars, pixelX, sampleX, frame: null};
        }),
      };
    });

    const pixelWidth = Math.round(layout.width * dpr);
    const pixelHeight = Math.round(layout.height * dpr);
    if (this.canvas.width !== pixelWidth || this.canvas.height !== pixelHeight) {
      this.canvas.width = pixelWidth;
      this.canvas.height = pixelHeight;
    }
    this.canvas.style.width = `${layout.width}px`;
    this.canvas.style.height = `${layout.height}px`;
    const staticLayer = document.createElement('canvas');
    staticLayer.width = pixelWidth;
    staticLayer.height = pixelHeight;
    const view = {layout, panels, dpr, cssWidth, settings: this.drawSettings(), step: 0};
    const sctx = staticLayer.getContext('2d');
    sctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    drawStatic(sctx, view);
    view.staticLayer = staticLayer;
    return view;
  }

  hostWidth() {
    const style = getComputedStyle(this.canvasHost);
    const padding = parseFloat(style.paddingLeft) + parseFloat(style.paddingRight);
    return Math.floor(this.canvasHost.clientWidth - padding) || 960;
  }

  drawSettings() {
    const s = this.state;
    return {band: s.band, smoothing: s.smoothing, batchSmoothing: s.batchSmoothing, xLog: s.xLog, yLog: s.yLog};
  }

  colorOf(run) {
    return PALETTE[(this.runIndex.get(run) ?? 0) % PALETTE.length];
  }

  /** Draws the current step now. */
  paint() {
    if (!this.viewValid) {
      this.view = this.buildView();
      this.viewValid = !!this.view;
      if (!this.view) {
        this.canvas.width = 0;
        this.canvas.height = 0;
        this.updateStepLabel(null);
        return;
      }
    }
    const view = this.view;
    view.settings = this.drawSettings();
    const step = this.currentStep();
    view.step = step ?? 0;
    let exact = true;
    for (const panel of view.panels) {
      let epoch = null;
      const notes = [];
      for (const run of panel.runs) {
        const store = run.entry.store;
        const index = frameIndexAtStep(store.steps, view.step);
        let frame = index >= 0 ? store.frame(index) : null;
        if (index < 0) notes.push(`${run.name}: no frame at or before this step`);
        else if (!frame) {
          exact = false;
          const near = store.nearestLoaded(index);
          frame = near >= 0 ? store.frame(near) : null;
          notes.push('loading…');
        }
        run.frame = frame;
        if (frame && epoch === null && Number.isFinite(frame.epoch)) epoch = frame.epoch;
      }
      panel.note = [...new Set(notes)].join(' · ');
      panel.stepText = stepText(step, panel.runs, epoch);
    }
    const t0 = performance.now();
    drawFrame(this.ctx, view, view.staticLayer, this.scratch);
    const t1 = performance.now();
    this.stats.drawTimes.push(t1 - t0);
    if (this.stats.drawTimes.length > 5000) this.stats.drawTimes.splice(0, 2500);
    if (exact && this.stats.firstFrameMs === null) {
      this.stats.firstFrameMs = t1;
      this.stats.requestsForFirstFrame = this.shown.flatMap((r) => this.data.get(r).store.requests);
      performance.mark('fitviz-first-frame');
      this.firstFrameDrawn();
      this.prefetch(); // what the first frame did not need: the chunk behind, and so on
    }
    this.lastPaintExact = exact;
    this.updateStepLabel(step);
  }

  updateStepLabel(step) {
    const total = this.timeline.length;
    this.stepLabel.textContent = step === null ? 'no frames'
      : `step ${step} (${this.position + 1}/${total})`;
  }

  // -- export ------------------------------------------------------------------------------

  exportName(extension) {
    const runs = this.shown.length > 3 ? `${this.shown.length}-runs` : this.shown.join('+');
    return `fitviz-${safeFileName(runs)}-step${this.currentStep() ?? 0}.${extension}`;
  }

  async exportPNG() {
    if (!this.view) return;
    this.paint();
    try {
      const blob = await canvasPNG(this.canvas);
      download(blob, this.exportName('png'));
      this.exportStatus.textContent = `Saved ${this.exportName('png')}`;
    } catch (error) {
      this.exportStatus.textContent = `PNG export failed: ${error.message}`;
    }
  }

  async exportWebM() {
    if (this.exporting) {
      this.exporting.cancelled = true;
      return;
    }
    if (!this.view || !this.timeline.length) return;
    if (!webmType()) {
      this.exportStatus.textContent = 'This browser cannot record WebM.';
      return;
    }
    this.pause();
    const signal = {cancelled: false};
    this.exporting = signal;
    const start = this.position >= this.timeline.length - 1 ? 0 : this.position;
    const total = this.timeline.length - start;
    const name = `fitviz-${safeFileName(this.shown.join('+') || 'runs')}.webm`;
    this.webmButton.textContent = 'Cancel';
    this.exportProgress.hidden = false;
    this.exportProgress.max = total;
    this.exportProgress.value = 0;
    try {
      const blob = await recordWebM(this.canvas, {
        frameCount: total,
        fps: Math.min(60, this.state.speed),
        signal,
        onProgress: (done, all) => {
          this.exportProgress.value = done;
          this.exportStatus.textContent = `Recording ${done}/${all}…`;
        },
        drawFrame: async (i) => {
          const position = start + i;
          this.position = position;
          await Promise.all(this.shown.map((run) => {
            const index = this.frameIndex(run, position);
            return index < 0 ? true : this.data.get(run).store.ensure(index, {ahead: 2});
          }));
          this.seek(position, {force: true});
          this.paint();
        },
      });
      download(blob, name);
      this.exportStatus.textContent = signal.cancelled ? `Cancelled; saved the part recorded as ${name}`
        : `Saved ${name}`;
    } catch (error) {
      this.exportStatus.textContent = `WebM export failed: ${error.message}`;
    } finally {
      this.exporting = null;
      this.webmButton.textContent = 'WebM';
      this.exportProgress.hidden = true;
    }
  }

  // -- for tests and the benchmark -------------------------------------------------------

  handle() {
    const app = this;
    return {
      get state() {
        return {...app.state};
      },
      shown: () => [...app.shown],
      step: () => app.currentStep(),
      position: () => app.position,
      timeline: () => [...app.timeline],
      playing: () => app.playing,
      /** True when every run shown is drawn at its exact frame with its loss charts. */
      ready: () => !!app.view && app.viewValid && app.lastPaintExact && !app.drawRequested &&
        app.view.panels.every((p) => p.runs.every((r) => r.scalars)) &&
        app.shown.every((r) => app.data.get(r)?.staticData),
      panels: () => (app.view ? app.view.panels.map((p) => ({
        title: p.title,
        runs: p.runs.map((r) => r.name),
        frameSteps: p.runs.map((r) => (r.frame ? r.frame.step : null)),
        main: {...p.layout.main, xDomain: p.main.x.domain, yDomain: p.main.y.domain},
        charts: Object.fromEntries(Object.entries(p.charts).map(([k, c]) => [k,
          {...p.layout.charts[k], xDomain: c.x.domain, yDomain: c.y.domain, xType: c.x.type, yType: c.y.type}])),
      })) : []),
      dpr: () => (app.view ? app.view.dpr : window.devicePixelRatio),
      stats: () => ({...app.stats, drawTimes: [...app.stats.drawTimes],
        tickIntervals: [...app.stats.tickIntervals],
        requests: Object.fromEntries(app.shown.map((r) => [r, [...(app.data.get(r)?.store.requests || [])]]))}),
      resetStats: () => {
        Object.assign(app.stats, {drawTimes: [], tickIntervals: [], advances: 0, stalls: 0});
      },
      seek: (position) => app.seek(position),
      play: () => app.play(),
      pause: () => app.pause(),
      setSetting: (key, value) => app.setSetting(key, value),
      framesReady: (position) => app.framesReady(position),
      ensureAll: () => Promise.all(app.shown.map((run) => {
        const store = app.data.get(run).store;
        return Promise.all(Array.from({length: Math.ceil(store.frameCount / store.chunkFrames)},
          (_, k) => store.ensure(k * store.chunkFrames, {ahead: 0})));
      })),
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
            app.position = (from + i + j) % app.timeline.length;
            app.paint();
            if (flush) app.ctx.getImageData(0, 0, 1, 1);
          }
          times.push((performance.now() - t0) / group);
        }
        return times;
      },
    };
  }
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
  const title = run.entry.staticData.settings?.title;
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
