// Where each panel goes, in CSS pixels. Pure: runs in Node too.
//
// A panel shows one run (or several overlaid): its title on top, its view's main area on the
// left, the two loss charts (sample loss, batch loss) on the right.

import {makeScale} from './scales.js';

/**
 * @param {object} p
 * @param {number} p.width canvas width
 * @param {number} p.panelCount number of panels
 * @param {number} [p.legendRows=0] rows of run legend above an overlaid panel
 * @param {number} [p.height=Infinity] the room there is (the window below the controls)
 */
export function computeLayout({width, panelCount, legendRows = 0, height = Infinity}) {
  width = Math.max(360, Math.floor(width));
  const columns = panelCount <= 1 ? 1 : width >= 1100 ? 2 : 1;
  const rows = Math.max(1, Math.ceil(panelCount / columns));
  const panelWidth = Math.floor(width / columns);
  const titleHeight = 22 + legendRows * 16;
  // As tall as the window allows (all rows visible), within a readable aspect ratio.
  const fit = height / rows - titleHeight;
  const bodyHeight = Math.round(Math.min(560, panelWidth * 0.62, Math.max(260, panelWidth * 0.4, fit)));
  const panelHeight = titleHeight + bodyHeight;
  const panels = [];
  for (let i = 0; i < Math.max(1, panelCount); i++) {
    const x = (i % columns) * panelWidth;
    const y = Math.floor(i / columns) * panelHeight;
    const mainWidth = Math.round(panelWidth * 0.6);
    const sideX = x + mainWidth;
    const sideWidth = panelWidth - mainWidth;
    const top = y + titleHeight;
    const main = {x: x + 56, y: top + 6, w: mainWidth - 56 - 14, h: bodyHeight - 6 - 40};
    const half = Math.floor(bodyHeight / 2);
    const chart = (cy, ch) => ({x: sideX + 50, y: cy + 20, w: sideWidth - 50 - 12, h: ch - 20 - 30});
    panels.push({
      rect: {x, y, w: panelWidth, h: panelHeight},
      title: {x: x + 8, y: y + 15},
      legend: {x: x + 8, y: y + 22, w: panelWidth - 16},
      // The view's whole area (axes labels included) and its plot box.
      area: {x: x + 4, y: top, w: mainWidth - 8, h: bodyHeight},
      main,
      charts: {sample: chart(top, half), batch: chart(top + half, bodyHeight - half)},
    });
  }
  return {width, height: rows * panelHeight, columns, panels};
}

/** Scales of a plot box: x over xDomain, y over yDomain (upwards). */
export function boxScales(box, xDomain, yDomain) {
  return {
    x: makeScale('linear', xDomain, [box.x, box.x + box.w]),
    y: makeScale('linear', yDomain, [box.y + box.h, box.y]),
  };
}

/** Scales of a panel's main plot (the curve's box). */
export function mainScales(panelLayout, xDomain, yDomain) {
  return boxScales(panelLayout.main, xDomain, yDomain);
}

/** `count` boxes stacked in `box` (small multiples sharing the x axis), `gap` px apart. */
export function stackBoxes(box, count, gap = 16) {
  const h = (box.h - gap * (count - 1)) / count;
  return Array.from({length: count}, (_, i) => ({x: box.x, y: box.y + i * (h + gap), w: box.w, h}));
}

/** `count` boxes side by side in `box`, `gap` px apart. */
export function rowBoxes(box, count, gap = 56) {
  const w = (box.w - gap * (count - 1)) / count;
  return Array.from({length: count}, (_, i) => ({x: box.x + i * (w + gap), y: box.y, w, h: box.h}));
}

/** The largest square box centred in `box` (minus `right` px kept free on its right). */
export function squareBox(box, right = 0) {
  const side = Math.max(40, Math.min(box.w - right, box.h));
  return {x: box.x + Math.max(0, (box.w - right - side) / 2), y: box.y + (box.h - side) / 2, w: side, h: side};
}
