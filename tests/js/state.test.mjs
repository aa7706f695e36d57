import test from 'node:test';
import assert from 'node:assert/strict';
import {defaultState, parseState, serializeState, mergeState, stateFromUrlData, resolveSelection,
  compileFilter} from '../../frontend/state.js';

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
  assert.equal(merged.smoothing, 21);
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
