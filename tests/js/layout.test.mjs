import test from 'node:test';
import assert from 'node:assert/strict';
import {computeLayout, mainScales} from '../../frontend/layout.js';
import {withAlpha} from '../../frontend/colors.js';

const inside = (inner, outer) => inner.x >= outer.x && inner.y >= outer.y &&
  inner.x + inner.w <= outer.x + outer.w && inner.y + inner.h <= outer.y + outer.h;
const overlap = (a, b) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;

test('one panel: plot and both charts inside it, never overlapping', () => {
  const layout = computeLayout({width: 1200, panelCount: 1, height: 800});
  const [panel] = layout.panels;
  for (const rect of [panel.main, panel.charts.sample, panel.charts.batch]) {
    assert.ok(inside(rect, panel.rect), JSON.stringify(rect));
    assert.ok(rect.w > 100 && rect.h > 80);
  }
  assert.ok(!overlap(panel.main, panel.charts.sample));
  assert.ok(!overlap(panel.charts.sample, panel.charts.batch));
  assert.ok(layout.height <= 800);
});

test('four runs side by side: a 2 x 2 grid on a wide page, one column on a narrow one', () => {
  const wide = computeLayout({width: 1300, panelCount: 4, height: 900});
  assert.equal(wide.columns, 2);
  const rects = wide.panels.map((p) => p.rect);
  for (let i = 0; i < 4; i++) for (let j = i + 1; j < 4; j++) assert.ok(!overlap(rects[i], rects[j]));
  assert.equal(computeLayout({width: 800, panelCount: 4}).columns, 1);
});

test('an overlaid legend with more rows pushes the plot down', () => {
  const one = computeLayout({width: 1000, panelCount: 1, legendRows: 1});
  const three = computeLayout({width: 1000, panelCount: 1, legendRows: 3});
  assert.equal(three.panels[0].main.y - one.panels[0].main.y, 32);
});

test('main scales map the data domain onto the plot, y upwards', () => {
  const [panel] = computeLayout({width: 1000, panelCount: 1}).panels;
  const {x, y} = mainScales(panel, [0, 10], [-1, 1]);
  assert.equal(x(0), panel.main.x);
  assert.equal(x(10), panel.main.x + panel.main.w);
  assert.equal(y(-1), panel.main.y + panel.main.h);
  assert.equal(y(1), panel.main.y);
  assert.equal(withAlpha('#4682b4', 0.25), 'rgba(70, 130, 180, 0.25)');
});
