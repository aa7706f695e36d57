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
  } finally {
    recorder.stop();
    await stopped;
    track.stop();
  }
  return new Blob(parts, {type: 'video/webm'});
}
