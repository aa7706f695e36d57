// The playhead: one position on the shared timeline of the runs shown, seeking, stepping, playing
// at the chosen speed, and fetching frames ahead of it.

import {frameIndexAtStep} from './frames.js';
import {showPlaying} from './page.js';

export class Player {
  constructor(app) {
    this.app = app;
    this.position = 0;
    this.playing = false;
    this.accumulated = 0;
    this.lastTick = null;
  }

  get timeline() {
    return this.app.timeline;
  }

  currentStep() {
    return this.timeline.length ? this.timeline[this.position] : null;
  }

  seek(position, {force = false} = {}) {
    const app = this.app;
    const last = this.timeline.length - 1;
    position = Math.max(0, Math.min(last, Math.round(position)));
    if (!Number.isFinite(position)) position = 0;
    if (position === this.position && !force) return;
    this.position = position;
    const step = this.currentStep();
    if (step !== null && app.state.step !== step) {
      app.state.step = step;
      app.saveState();
    }
    app.ui.slider.max = String(Math.max(0, last));
    app.ui.slider.value = String(position);
    this.prefetch();
    app.requestDraw();
  }

  step(delta) {
    this.pause();
    this.seek(this.position + delta);
  }

  first() {
    this.pause();
    this.seek(0);
  }

  last() {
    this.pause();
    this.seek(this.timeline.length - 1);
  }

  /** Starts the fetches the playhead needs now, for every frame series of every run shown. */
  prefetch() {
    const app = this.app;
    const speed = app.state.speed;
    const first = app.stats.firstFrameMs === null;
    for (const run of app.shown) {
      for (const store of app.storesOf(run)) {
        const chunk = store.chunkFrames;
        const ahead = this.playing ? Math.max(2, Math.ceil((speed * 3) / chunk)) : 1;
        const index = Math.max(0, frameIndexAtStep(store.steps, this.currentStep() ?? 0));
        // Until the first frame is drawn, only its own chunk: nothing competes with it.
        store.prefetch(index, {ahead: first ? 0 : ahead, behind: first || this.playing ? 0 : 1,
          loop: app.state.loop, maxInFlight: first ? 1 : this.playing ? 3 : 2});
      }
    }
  }

  /** Whether every frame series of every run shown holds its frame at `position`. */
  framesReady(position) {
    const step = this.timeline[position];
    return this.app.shown.every((run) => this.app.storesOf(run).every((store) => {
      const index = frameIndexAtStep(store.steps, step);
      return index < 0 || store.has(index);
    }));
  }

  toggle() {
    if (this.playing) this.pause();
    else this.play();
  }

  play() {
    if (!this.timeline.length || this.app.exporting) return;
    if (this.position >= this.timeline.length - 1) this.seek(0);
    this.playing = true;
    showPlaying(this.app.ui, true);
    this.accumulated = 0;
    this.lastTick = null;
    this.prefetch();
    requestAnimationFrame((t) => this.tick(t));
  }

  pause() {
    if (!this.playing) return;
    this.playing = false;
    showPlaying(this.app.ui, false);
  }

  tick(now) {
    if (!this.playing) return;
    const stats = this.app.stats;
    if (this.lastTick !== null) {
      const dt = Math.min(250, now - this.lastTick);
      stats.tickIntervals.push(now - this.lastTick);
      if (stats.tickIntervals.length > 2000) stats.tickIntervals.splice(0, 1000);
      this.accumulated += (dt * this.app.state.speed) / 1000;
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
        if (this.app.state.loop) target = this.position === last ? 0 : last;
        else {
          target = last;
          stop = true;
        }
      }
      if (this.framesReady(target)) {
        this.seek(target);
        this.accumulated -= advance;
        stats.advances += 1;
        this.app.paint(); // in this animation frame, not the next
        if (stop) this.pause();
      } else {
        stats.stalls += 1;
        this.accumulated = Math.min(this.accumulated, 1);
        this.prefetch();
      }
    }
    requestAnimationFrame((t) => this.tick(t));
  }
}
