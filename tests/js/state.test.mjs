import test from 'node:test';
import assert from 'node:assert/strict';
import {readFileSync} from 'node:fs';
import {defaultState as makeDefaultState, parseState as parse, serializeState, mergeState,
  stateFromUrlData, resolveSelection, compileFilter} from '../../frontend/state.js';

// The view defaults come from the one defaults file (GET config serves it to the tab).
const VIEW = JSON.parse(readFileSync(new URL('../../frontend/defaults.json', import.meta.url))).view;
const defaultState = () => makeDefaultState(VIEW);
const parseState = (text) => parse(text, VIEW);

test('round trip through localStorage text', () => {
  const state = {...defaultState(), runs: ['a', 'b'], step: 120, mode: 'overlay', smoothing: 51,
    band: 'raw', xLog: true, follow: true, speed: 60};
  assert.deepEqual(parseState(serializeState(state)), state);
});

test('invalid or unreadable stored fields fall back to the defaults', () => {
  assert.deepEqual(parseState('{not json'), defaultState());
  const got = parseState(JSON.stringify({smoothing: 4, mode: 'grid', step: -3, runs: [1], speed: 60}));
  assert.equal(got.smoothing, defaultState().smoothing);
  assert.equal(got.mode, 'side');
  assert.equal(got.step, null);
  assert.equal(got.runs, null);
  assert.equal(got.speed, 60);
  assert.deepEqual(mergeState(defaultState(), null), defaultState());
});

test("TensorBoard's URL fields (p.fitviz.*) become state", () => {
  const partial = stateFromUrlData({runs: 'a,b', step: '40', mode: 'overlay', loop: 'true', smoothing: '9'});
  assert.deepEqual(partial, {runs: ['a', 'b'], step: 40, mode: 'overlay', loop: true, smoothing: 9});
  const merged = mergeState(defaultState(), stateFromUrlData({smoothing: '8', mode: 'x'}));
  assert.equal(merged.smoothing, VIEW.smoothing);
  assert.equal(merged.mode, 'side');
});

test('selection: first runs by default, chosen ones kept, new runs join while few are shown', () => {
  const available = ['a', 'b', 'c', 'd', 'e'];
  assert.deepEqual(resolveSelection(defaultState(), available), ['a', 'b', 'c', 'd']);
  const chose = {...defaultState(), runs: ['c'], knownRuns: ['a', 'b', 'c']};
  assert.deepEqual(resolveSelection(chose, available), ['c', 'd', 'e']);
  const gone = {...defaultState(), runs: ['zz', 'a'], knownRuns: available};
  assert.deepEqual(resolveSelection(gone, available), ['a']);
});

test('run filter: case-insensitive regex; an invalid one is reported and filters nothing', () => {
  const f = compileFilter('^adam');
  assert.ok(f.test('Adam-lr0.1') && !f.test('sgd'));
  const bad = compileFilter('(');
  assert.ok(bad.error);
  assert.ok(bad.test('anything'));
});

test('p.fitviz.* fields are read from a TensorBoard URL hash', async () => {
  const {urlDataFromHash} = await import('../../frontend/state.js');
  assert.deepEqual(urlDataFromHash('#fitviz&p.fitviz.runs=a%2Cb&p.fitviz.step=10&p.other.x=1&junk'),
    {runs: 'a,b', step: '10'});
  assert.deepEqual(urlDataFromHash('#p.fitviz.mode=%E0%A4%A'), {});
  assert.deepEqual(urlDataFromHash(''), {});
});

test('the defaults come from the defaults file; a view and the outlier toggle are remembered', () => {
  const state = defaultState();
  assert.equal(state.smoothing, VIEW.smoothing);
  assert.equal(state.ignoreOutliers, VIEW.ignore_outliers);
  assert.equal(state.band, 'auto');
  assert.equal(state.view, 'main');
  const chosen = {...state, view: 'loss_map', ignoreOutliers: false};
  assert.deepEqual(parseState(serializeState(chosen)), chosen);
  assert.equal(mergeState(state, {view: '<script>'}).view, 'main');
  assert.deepEqual(stateFromUrlData({view: 'surface', ignoreOutliers: 'false'}),
    {view: 'surface', ignoreOutliers: false});
  assert.throws(() => makeDefaultState(), /view defaults/);
});
