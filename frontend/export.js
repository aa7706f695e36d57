// Export from the page: PNG of the current view, WebM of the animation (MediaRecorder).

/** A file name made of safe characters only. */
export function safeFileName(text, fallback = 'fitviz') {
  const cleaned = String(text).replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._]+|_+$/g, '');
  return (cleaned || fallback).slice(0, 120);
}

/** Hands a Blob to the browser as a download. */
export function download(blob, name) {
  const href = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = href;
  link.download = name;
  link.style.display = 'none';
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(href), 60_000);
}

/** PNG bytes of a canvas. */
export function canvasPNG(canvas) {
  return new Promise((resolve, reject) => {
    canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error('PNG export failed'))), 'image/png');
  });
}

// How long a WebM holds its last frame (ms).
export const HOLD_MS = 600;

/** The WebM type this browser can record, or null. */
export function webmType() {
  if (typeof MediaRecorder === 'undefined') return null;
  for (const type of ['video/webm;codecs=vp9', 'video/webm;codecs=vp8', 'video/webm']) {
    if (MediaRecorder.isTypeSupported(type)) return type;
  }
  return null;
}

/**
 * Records frames drawn on a canvas into a WebM.
 * @param {HTMLCanvasElement} canvas
 * @param {object} p
 * @param {number} p.frameCount frames to record
 * @param {function(number): Promise<void>} p.drawFrame draws frame i on the canvas (awaits data)
 * @param {number} p.fps frames per second of the video
 * @param {function(number, number): void} [p.onProgress] (done, total)
 * @param {{cancelled: boolean}} [p.signal] set cancelled to stop early
 * @returns {Promise<Blob>}
 */
export async function recordWebM(canvas, {frameCount, drawFrame, fps, onProgress, signal}) {
  const type = webmType();
  if (!type) throw new Error('this browser cannot record WebM (no MediaRecorder)');
  const stream = canvas.captureStream(0);
  const track = stream.getVideoTracks()[0];
  const recorder = new MediaRecorder(stream, {mimeType: type, videoBitsPerSecond: 4_000_000});
  const parts = [];
  recorder.ondataavailable = (event) => {
    if (event.data && event.data.size) parts.push(event.data);
  };
  const stopped = new Promise((resolve) => {
    recorder.onstop = resolve;
  });
  recorder.start();
  const interval = 1000 / fps;
  let next = performance.now();
  try {
    for (let i = 0; i < frameCount; i++) {
      if (signal && signal.cancelled) break;
      await drawFrame(i);
      if (track.requestFrame) track.requestFrame();
      if (onProgress) onProgress(i + 1, frameCount);
      next += interval;
      const wait = next - performance.now();
      // Real time pacing: MediaRecorder stamps frames with the wall clock.
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, wait)));
    }
    // The last frame held for HOLD_MS more: a video of one or two frames would otherwise stop
    // before the encoder hands over any (a header and no picture), and a longer one ends on a
    // visible still rather than a flash.
    const holdUntil = performance.now() + HOLD_MS;
    while (!(signal && signal.cancelled) && performance.now() < holdUntil) {
      if (track.requestFrame) track.requestFrame();
      await new Promise((resolve) => setTimeout(resolve, interval));
    }
  } finally {
    recorder.stop();
    await stopped;
    track.stop();
  }
  return new Blob(parts, {type: 'video/webm'});
}

/** A file name for an export of the runs shown at the current step. */
export function exportName(app, extension) {
  const runs = app.shown.length > 3 ? `${app.shown.length}-runs` : app.shown.join('+');
  return `fitviz-${safeFileName(runs)}-step${app.player.currentStep() ?? 0}.${extension}`;
}

/** Saves the current view as a PNG. */
export async function exportPNG(app) {
  const {ui} = app;
  if (!app.view) return;
  app.paint();
  try {
    const blob = await canvasPNG(ui.canvas);
    download(blob, exportName(app, 'png'));
    ui.exportStatus.textContent = `Saved ${exportName(app, 'png')}`;
  } catch (error) {
    ui.exportStatus.textContent = `PNG export failed: ${error.message}`;
  }
}

/** Records the animation from the current step to the last as WebM (a second call cancels). */
export async function exportWebM(app) {
  const {ui, player} = app;
  if (app.exporting) {
    app.exporting.cancelled = true;
    return;
  }
  if (!app.view || !app.timeline.length) return;
  if (!webmType()) {
    ui.exportStatus.textContent = 'This browser cannot record WebM.';
    return;
  }
  player.pause();
  const signal = {cancelled: false};
  app.exporting = signal;
  const start = player.position >= app.timeline.length - 1 ? 0 : player.position;
  const total = app.timeline.length - start;
  const name = `fitviz-${safeFileName(app.shown.join('+') || 'runs')}.webm`;
  ui.webmButton.textContent = 'Cancel';
  ui.exportProgress.hidden = false;
  ui.exportProgress.max = total;
  ui.exportProgress.value = 0;
  try {
    const blob = await recordWebM(ui.canvas, {
      frameCount: total,
      fps: Math.min(60, app.state.speed),
      signal,
      onProgress: (done, all) => {
        ui.exportProgress.value = done;
        ui.exportStatus.textContent = `Recording ${done}/${all}…`;
      },
      drawFrame: async (i) => {
        const position = start + i;
        await app.ensureFrames(position);
        player.seek(position, {force: true});
        app.paint();
      },
    });
    download(blob, name);
    ui.exportStatus.textContent = signal.cancelled ? `Cancelled; saved the part recorded as ${name}`
      : `Saved ${name}`;
  } catch (error) {
    ui.exportStatus.textContent = `WebM export failed: ${error.message}`;
  } finally {
    app.exporting = null;
    ui.webmButton.textContent = 'WebM';
    ui.exportProgress.hidden = true;
  }
}
