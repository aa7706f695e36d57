// Keyboard and pointer input: playback keys, and clicks on the canvas that go to a step (a loss
// chart, the loss map: whatever the view under the pointer says a click means).

import {nearestIndex} from './scales.js';
import {chartsHit} from './views/losscharts.js';

/** What a click at the event's position means: {panel, step} or null. */
export function hitAt(app, event) {
  if (!app.view) return null;
  const box = app.ui.canvas.getBoundingClientRect();
  const x = event.clientX - box.left;
  const y = event.clientY - box.top;
  for (const panel of app.view.panels) {
    const hit = chartsHit(panel, x, y) || panel.view.hit(panel, x, y);
    if (hit) return {panel, ...hit};
  }
  return null;
}

export function installInput(app) {
  const {canvas} = app.ui;
  canvas.addEventListener('click', (event) => {
    const hit = hitAt(app, event);
    if (!hit || !app.timeline.length) return;
    app.player.pause();
    app.player.seek(nearestIndex(app.timeline, hit.step));
  });
  canvas.addEventListener('mousemove', (event) => {
    canvas.style.cursor = hitAt(app, event) ? 'pointer' : 'default';
  });
  document.addEventListener('keydown', (event) => onKey(app, event));
}

function onKey(app, event) {
  const target = event.target;
  const tag = target && target.tagName;
  const typing = (tag === 'INPUT' && !['range', 'checkbox', 'radio'].includes(target.type)) ||
    tag === 'SELECT' || tag === 'TEXTAREA';
  if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
  const player = app.player;
  const big = event.shiftKey ? 10 : 1;
  switch (event.key) {
    case ' ':
    case 'Spacebar':
      player.toggle();
      break;
    case 'ArrowRight':
      player.step(big);
      break;
    case 'ArrowLeft':
      player.step(-big);
      break;
    case 'Home':
      player.first();
      break;
    case 'End':
      player.last();
      break;
    default:
      return;
  }
  event.preventDefault();
}
