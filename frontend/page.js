// Building the tab's page: the side bar (runs, comparison, view, loss band, loss charts, export),
// the player bar, the canvas; and putting the state's values into the controls. Everything that
// comes from data is set as text (textContent), never parsed as HTML.

import {viewChoices} from './views/registry.js';
import {compileFilter, SPEEDS} from './state.js';
import {toOddWindow} from './smoothing.js';

export const MAX_SMOOTHING = 501;
export const MAX_BATCH_SMOOTHING = 201;

/** Creates an element with attributes, children (nodes or text, never HTML). */
export function el(tag, attributes = {}, ...children) {
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
export function icon(name) {
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

/** Builds the page into `app.root`; the controls call back into `app` and `app.player`. */
export function buildPage(app, styleHref) {
  document.title = 'FitViz';
  document.head.append(el('link', {rel: 'stylesheet', href: styleHref}));
  const ui = {};
  ui.filterInput = el('input', {type: 'search', class: 'fv-filter', placeholder: 'Filter runs (regex)',
    'aria-label': 'Filter runs by regular expression', oninput: () => app.onFilter(ui.filterInput.value)});
  ui.filterError = el('div', {class: 'fv-filter-error', role: 'alert'});
  ui.runList = el('ul', {class: 'fv-run-list', 'aria-label': 'Runs'});
  const radio = (value, label) => el('label', {class: 'fv-radio'},
    el('input', {type: 'radio', name: 'fv-mode', value, onchange: () => app.setSetting('mode', value)}),
    label);
  ui.modeInputs = el('div', {class: 'fv-group', role: 'radiogroup', 'aria-label': 'Compare runs'},
    radio('side', 'Side by side'), radio('overlay', 'Overlaid'));
  ui.viewSelect = el('select', {'aria-label': 'View', onchange: (e) => app.setSetting('view', e.target.value)});
  ui.bandSelect = el('select', {'aria-label': 'Loss band', onchange: (e) => app.setSetting('band', e.target.value)},
    el('option', {value: 'auto', text: "the run's own", title: "the run's own band: it follows the run's loss"}),
    el('option', {value: 'sqrt', text: '± √(smoothed loss)'}),
    el('option', {value: 'raw', text: '± smoothed loss'}),
    el('option', {value: 'off', text: 'none'}));
  ui.smoothingRange = el('input', {type: 'range', min: 1, max: MAX_SMOOTHING, step: 2,
    'aria-label': 'Loss smoothing window', oninput: (e) => app.setSetting('smoothing', toOddWindow(e.target.value))});
  ui.smoothingOut = el('output', {class: 'fv-value'});
  ui.batchRange = el('input', {type: 'range', min: 1, max: MAX_BATCH_SMOOTHING, step: 2,
    'aria-label': 'Batch loss smoothing window',
    oninput: (e) => app.setSetting('batchSmoothing', toOddWindow(e.target.value))});
  ui.batchOut = el('output', {class: 'fv-value'});
  const check = (key, label) => {
    const input = el('input', {type: 'checkbox', onchange: (e) => app.setSetting(key, e.target.checked)});
    return [input, el('label', {class: 'fv-check'}, input, label)];
  };
  const [xLog, xLogLabel] = check('xLog', 'log steps');
  const [yLog, yLogLabel] = check('yLog', 'log loss');
  const [outliers, outliersLabel] = check('ignoreOutliers', 'ignore outliers');
  ui.xLogInput = xLog;
  ui.yLogInput = yLog;
  ui.outliersInput = outliers;
  ui.pngButton = el('button', {type: 'button', onclick: () => app.exportPNG(), title: 'Save the current view as PNG'}, 'PNG');
  ui.webmButton = el('button', {type: 'button', onclick: () => app.exportWebM(),
    title: 'Record the animation as WebM'}, 'WebM');
  ui.exportProgress = el('progress', {class: 'fv-progress', max: 1, value: 0, hidden: true});
  ui.exportStatus = el('div', {class: 'fv-export-status', role: 'status'});

  const side = el('aside', {class: 'fv-side'},
    el('h2', {text: 'Runs'}), ui.filterInput, ui.filterError, ui.runList,
    el('h2', {text: 'Compare'}), ui.modeInputs,
    el('h2', {text: 'View'}), ui.viewSelect,
    el('h2', {text: 'Loss band'}), ui.bandSelect,
    el('div', {class: 'fv-slider-row'}, el('span', {text: 'smoothing'}), ui.smoothingRange, ui.smoothingOut),
    el('h2', {text: 'Loss charts'}),
    el('div', {class: 'fv-slider-row'}, el('span', {text: 'batch smoothing'}), ui.batchRange, ui.batchOut),
    el('div', {class: 'fv-row'}, xLogLabel, yLogLabel),
    el('div', {class: 'fv-row'}, outliersLabel),
    el('h2', {text: 'Export'}),
    el('div', {class: 'fv-row'}, ui.pngButton, ui.webmButton), ui.exportProgress, ui.exportStatus,
    el('p', {class: 'fv-help', text: 'Keys: space play/pause · ←/→ step (shift: 10) · Home/End. ' +
      'Click a loss chart or the loss map to go to a step.'}));

  const player = app.player;
  const button = (iconName, title, onclick) => el('button', {type: 'button', class: 'fv-btn', title,
    'aria-label': title, onclick}, icon(iconName));
  ui.firstButton = button('first', 'First step (Home)', () => player.first());
  ui.prevButton = button('prev', 'Previous step (←)', () => player.step(-1));
  ui.playButton = button('play', 'Play (space)', () => player.toggle());
  ui.nextButton = button('next', 'Next step (→)', () => player.step(1));
  ui.lastButton = button('last', 'Last step (End)', () => player.last());
  ui.slider = el('input', {type: 'range', class: 'fv-slider', min: 0, max: 0, step: 1, value: 0,
    'aria-label': 'Step', oninput: (e) => player.seek(Number(e.target.value))});
  ui.stepLabel = el('span', {class: 'fv-step', 'aria-live': 'off'});
  ui.speedSelect = el('select', {'aria-label': 'Playback speed (frames per second)',
    onchange: (e) => app.setSetting('speed', Number(e.target.value))},
  ...SPEEDS.map((v) => el('option', {value: v, text: `${v} fps`})));
  const [loop, loopLabel] = check('loop', 'loop');
  const [follow, followLabel] = check('follow', 'follow latest');
  ui.loopInput = loop;
  ui.followInput = follow;
  const bar = el('div', {class: 'fv-player'},
    ui.firstButton, ui.prevButton, ui.playButton, ui.nextButton, ui.lastButton,
    ui.slider, ui.stepLabel, ui.speedSelect, loopLabel, followLabel);

  ui.status = el('div', {class: 'fv-status', role: 'status'});
  ui.canvas = el('canvas', {class: 'fv-canvas', role: 'img', 'aria-label': 'FitViz view'});
  ui.canvasHost = el('div', {class: 'fv-canvas-host'}, ui.canvas);
  const main = el('main', {class: 'fv-main'}, bar, ui.status, ui.canvasHost);
  app.root.replaceChildren(el('div', {class: 'fv-root'}, side, main));
  return ui;
}

/** Shows play or pause on the play button. */
export function showPlaying(ui, playing) {
  const label = playing ? 'Pause (space)' : 'Play (space)';
  ui.playButton.replaceChildren(icon(playing ? 'pause' : 'play'));
  ui.playButton.title = label;
  ui.playButton.setAttribute('aria-label', label);
}

/** Puts the state's values into the controls. */
export function syncControls(ui, state, kinds = []) {
  ui.filterInput.value = state.filter;
  for (const input of ui.modeInputs.querySelectorAll('input')) input.checked = input.value === state.mode;
  const choices = viewChoices(kinds);
  const options = [el('option', {value: 'main', text: "each run's main view"}),
    ...choices.map((view) => el('option', {value: view.id, text: view.label}))];
  if (state.view !== 'main' && !choices.some((v) => v.id === state.view)) {
    options.push(el('option', {value: state.view, text: state.view}));
  }
  ui.viewSelect.replaceChildren(...options);
  ui.viewSelect.value = state.view;
  ui.bandSelect.value = state.band;
  ui.smoothingRange.value = String(Math.min(state.smoothing, MAX_SMOOTHING));
  ui.smoothingOut.textContent = String(state.smoothing);
  ui.batchRange.value = String(Math.min(state.batchSmoothing, MAX_BATCH_SMOOTHING));
  ui.batchOut.textContent = String(state.batchSmoothing);
  ui.xLogInput.checked = state.xLog;
  ui.yLogInput.checked = state.yLog;
  ui.outliersInput.checked = state.ignoreOutliers;
  if (!SPEEDS.includes(state.speed) && ![...ui.speedSelect.options].some((o) => Number(o.value) === state.speed)) {
    ui.speedSelect.append(el('option', {value: state.speed, text: `${state.speed} fps`}));
  }
  ui.speedSelect.value = String(state.speed);
  ui.loopInput.checked = state.loop;
  ui.followInput.checked = state.follow;
}

/** The run list: a checkbox, a colour swatch, the name and the frame count per run. */
export function renderRunList(app) {
  const {ui, state} = app;
  const filter = compileFilter(state.filter);
  ui.filterError.textContent = filter.error ? `Invalid regex: ${filter.error}` : '';
  ui.filterInput.classList.toggle('fv-invalid', !!filter.error);
  const items = app.runs.map((info) => {
    const box = el('input', {type: 'checkbox', value: info.run,
      onchange: (e) => app.toggleRun(info.run, e.target.checked)});
    box.checked = state.runs.includes(info.run);
    const swatch = el('span', {class: 'fv-swatch'});
    swatch.style.background = app.colorOf(info.run);
    const kind = info.task ? ` · ${info.task}, ${info.input_width} feature${info.input_width === 1 ? '' : 's'}` : '';
    const item = el('li', {title: `${info.run}: ${info.frame_count} frames${kind}`},
      el('label', {}, box, swatch, el('span', {class: 'fv-run-name', text: info.run}),
        el('span', {class: 'fv-count', text: String(info.frame_count)})));
    item.hidden = !filter.test(info.run);
    return item;
  });
  ui.runList.replaceChildren(...items);
}

/** The status line under the player ('' hides it). */
export function setStatus(ui, text, isError = false) {
  ui.status.textContent = text || '';
  ui.status.classList.toggle('fv-error', !!isError);
  ui.status.hidden = !text;
}
