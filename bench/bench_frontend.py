"""Speed of the FitViz tab in headless Chromium, against a real TensorBoard.

Measures, in one run on this machine:
  1. time to the first frame after clicking the FitViz tab, on a 5,000-frame run
     (target <= 1 s), and how many frames that took (chunks, not the whole run);
  2. draw time per frame, 1 run x 1,000 points with a 2,000-point scatter
     (target <= 2 ms median) and 4 runs side by side (target <= 8 ms), next to a
     baseline measured in the same page: one copy of the cached static layer;
  3. playback at 60 frames per second on the 5,000-frame run: frames shown per second,
     frame intervals, stalls waiting for data, and the chunked fetches ahead of the playhead.

Usage: .venv/bin/python bench/bench_frontend.py [--frames 5000] [--points 1000] [--keep DIR]
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from tb_process import tensorboard_server  # noqa: E402

from tb_fitviz import FitVizWriter  # noqa: E402

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]


def write_run(log_dir, frames, points, scatter, seed):
    """A run of `frames` frames whose curve moves towards a sine, with batch and epoch losses."""
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 12, max(points, scatter) * 2)
    y = np.sin(x) + rng.normal(0, 0.3, x.shape)
    with FitVizWriter(log_dir, x, y, sample=points, scatter=scatter,
                      validation_data=(x[::5], y[::5]), validation_sample=200) as writer:
        target = np.sin(writer.x_sample)
        pred = np.zeros(points)
        per_epoch = max(1, frames // 10)
        for step in range(frames):
            pred += (target - pred) * 0.002 + rng.normal(0, 0.002, points)
            writer.record_batch_loss(step, float(np.mean((target - pred) ** 2)) + 0.09)
            writer.record(step, pred, epoch=step // per_epoch)
            if (step + 1) % per_epoch == 0:
                loss = float(np.mean((target - pred) ** 2))
                writer.record_epoch(step, step // per_epoch, loss=loss)


def percentile(values, q):
    return float(np.percentile(values, q)) if values else float("nan")


def find_frame(page, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for frame in page.frames:
            if "plugin_entry.html" in frame.url:
                try:
                    if frame.evaluate("typeof window.__fitviz === 'object'"):
                        return frame
                except Exception:  # noqa: BLE001 - still navigating
                    pass
        page.wait_for_timeout(20)
    raise RuntimeError("the FitViz iframe did not load")


def wait(page, frame, expression, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if frame.evaluate(expression):
            return
        page.wait_for_timeout(20)
    raise RuntimeError(f"timed out: {expression}")


def first_frame_times(browser, url, repeats):
    """Click the FitViz tab from the Scalars tab; ms from the click to the first frame drawn."""
    results = []
    for _ in range(repeats):
        context = browser.new_context(viewport={"width": 1500, "height": 950})
        page = context.new_page()
        page.goto(url + "/#scalars")
        tab = page.get_by_text("FitViz", exact=False).first
        tab.wait_for()
        page.wait_for_timeout(500)
        clicked = page.evaluate("performance.timeOrigin + performance.now()")
        tab.click()
        frame = find_frame(page)
        wait(page, frame, "window.__fitviz.stats().firstFrameMs !== null")
        first = frame.evaluate("performance.timeOrigin + window.__fitviz.stats().firstFrameMs")
        requests = frame.evaluate("window.__fitviz.stats().requestsForFirstFrame")
        marks = frame.evaluate(
            "Object.fromEntries(performance.getEntriesByType('mark')"
            ".map((m) => [m.name, performance.timeOrigin + m.startTime]))")
        marks["iframe-start"] = frame.evaluate("performance.timeOrigin")
        phases = {name: at - clicked for name, at in marks.items()}
        results.append((first - clicked, requests, phases))
        context.close()
    return results


def draw_times(browser, url, runs, count):
    context = browser.new_context(viewport={"width": 1500, "height": 950})
    page = context.new_page()
    page.goto(url + "/#fitviz")
    frame = find_frame(page)
    wait(page, frame, "window.__fitviz.ready()")
    frame.evaluate(
        """(runs) => {
            for (const box of document.querySelectorAll('.fv-run-list input[type=checkbox]')) {
              if (box.checked !== runs.includes(box.value)) box.click();
            }
        }""",
        runs,
    )
    wait(page, frame, f"window.__fitviz.shown().length === {len(runs)} && window.__fitviz.ready()")
    frame.evaluate("window.__fitviz.ensureAll()")
    frame.evaluate("window.__fitviz.timeDraws(0, 50)")  # warm-up: JIT, caches
    times = frame.evaluate(f"window.__fitviz.timeDraws(0, {count}, {{group: 10}})")
    flushed = frame.evaluate(f"window.__fitviz.timeDraws(0, {count // 2}, {{flush: true}})")
    frame.evaluate("window.__fitviz.setSetting('band', 'off')")
    no_band = frame.evaluate(f"window.__fitviz.timeDraws(0, {count // 2}, {{flush: true}})")
    frame.evaluate("window.__fitviz.setSetting('band', 'sqrt')")
    baseline = frame.evaluate(
        f"""() => {{
            const canvas = document.querySelector('canvas.fv-canvas');
            const ctx = canvas.getContext('2d');
            const copy = document.createElement('canvas');
            copy.width = canvas.width; copy.height = canvas.height;
            copy.getContext('2d').drawImage(canvas, 0, 0);
            const out = [];
            for (let i = 0; i < {count}; i += 10) {{
              const t0 = performance.now();
              for (let j = 0; j < 10; j++) ctx.drawImage(copy, 0, 0);
              out.push((performance.now() - t0) / 10);
            }}
            ctx.getImageData(0, 0, 1, 1);
            const t1 = performance.now();
            for (let j = 0; j < 10; j++) {{
              ctx.drawImage(copy, 0, 0);
              ctx.getImageData(0, 0, 1, 1);
            }}
            return [out, (performance.now() - t1) / 10];
        }}"""
    )
    size = frame.evaluate("[document.querySelector('canvas.fv-canvas').width, "
                          "document.querySelector('canvas.fv-canvas').height]")
    context.close()
    return times, flushed, no_band, baseline, size


def playback(browser, url, seconds):
    context = browser.new_context(viewport={"width": 1500, "height": 950})
    page = context.new_page()
    page.goto(url + "/#fitviz")
    frame = find_frame(page)
    wait(page, frame, "window.__fitviz.ready()")
    frame.evaluate("window.__fitviz.setSetting('speed', 60)")
    frame.evaluate("window.__fitviz.seek(0)")
    wait(page, frame, "window.__fitviz.ready()")
    frame.evaluate("window.__fitviz.resetStats()")
    start_position = frame.evaluate("window.__fitviz.position()")
    frame.evaluate("window.__fitviz.play()")
    t0 = time.monotonic()
    page.wait_for_timeout(int(seconds * 1000))
    frame.evaluate("window.__fitviz.pause()")
    elapsed = time.monotonic() - t0
    stats = frame.evaluate("window.__fitviz.stats()")
    position = frame.evaluate("window.__fitviz.position()")
    total = len(frame.evaluate("window.__fitviz.timeline()"))
    context.close()
    return stats, position - start_position, elapsed, total


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=5000, help="frames of the big run")
    parser.add_argument("--points", type=int, default=1000, help="points per frame")
    parser.add_argument("--scatter", type=int, default=2000, help="scatter points")
    parser.add_argument("--repeats", type=int, default=3, help="first-frame measurements")
    parser.add_argument("--draws", type=int, default=300, help="frames drawn per draw measurement")
    parser.add_argument("--keep", help="write the logdirs here and reuse them on the next run")
    parser.add_argument("--chromium",
                        default=os.environ.get("FITVIZ_CHROMIUM", "/usr/bin/chromium"))
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="fitviz_bench_") as tmp:
        root = Path(args.keep) if args.keep else Path(tmp)
        big = root / f"big-{args.frames}x{args.points}"
        four = root / f"four-400x{args.points}"
        t0 = time.monotonic()
        if not big.exists():
            write_run(big / f"run-{args.frames}", args.frames, args.points, args.scatter, seed=0)
        if not four.exists():
            for i in range(4):
                write_run(four / f"run-{i}", 400, args.points, args.scatter, seed=i + 1)
        print(f"logdirs ready in {time.monotonic() - t0:.1f} s "
              f"({args.frames} frames x {args.points} points; 4 x 400 frames)")

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=args.chromium, headless=True,
                                                 args=CHROMIUM_ARGS)
            try:
                with tensorboard_server(big) as url:
                    firsts = first_frame_times(browser, url, args.repeats)
                    stats, advanced, elapsed, total = playback(browser, url, 5.0)
                with tensorboard_server(four) as url:
                    one = draw_times(browser, url, ["run-0"], args.draws)
                    many = draw_times(browser, url, [f"run-{i}" for i in range(4)], args.draws)
            finally:
                browser.close()

    print()
    print("== time to first frame (click on the FitViz tab -> first frame drawn), "
          f"{args.frames}-frame run")
    ms = [m for m, _, _ in firsts]
    frames_fetched = [sum(stop - start for start, stop in requests) for _, requests, _ in firsts]
    print(f"   median {statistics.median(ms):.0f} ms (runs: {', '.join(f'{m:.0f}' for m in ms)}); "
          f"target <= 1000 ms: {'OK' if statistics.median(ms) <= 1000 else 'MISSED'}")
    print(f"   fetched for it: {len(firsts[0][1])} request(s), "
          f"{frames_fetched[0]:.0f} of {args.frames} frame steps")
    for i, (_, _, phases) in enumerate(firsts):
        order = ["iframe-start", "fitviz-render", "fitviz-runs", "fitviz-first-frame"]
        steps = ", ".join(f"{name} {phases[name]:.0f}" for name in order if name in phases)
        print(f"   open {i + 1}: {steps} ms after the click")
    print("   (the first open also pays the server's cold reads; later opens reuse its caches)")

    for label, (times, flushed, no_band, (baseline, baseline_flushed), size), target in (
        ("1 run x 1,000 points + 2,000 scatter", one, 2.0),
        ("4 runs side by side", many, 8.0),
    ):
        median = statistics.median(times)
        base = statistics.median(baseline)
        full = statistics.median(flushed)
        print(f"== draw time per frame, {label} (canvas {size[0]}x{size[1]})")
        print(f"   main-thread time of a frame's drawing calls: median {median:.3f} ms, "
              f"p95 {percentile(times, 95):.3f} ms; target <= {target:g} ms: "
              f"{'OK' if median <= target else 'MISSED'} "
              f"(baseline, one copy of the cached static layer: {base:.3f} ms)")
        print(f"   with the pixels rasterised on the CPU too (--disable-gpu; 1-pixel readback): "
              f"median {full:.2f} ms, without the loss band {statistics.median(no_band):.2f} ms; "
              f"baseline copy {baseline_flushed:.2f} ms "
              f"(frame / baseline = {full / baseline_flushed if baseline_flushed else 0:.1f}x)")

    intervals = stats["tickIntervals"]
    fps = advanced / elapsed if elapsed else 0
    print("== playback at 60 fps for 5 s, " f"{args.frames}-frame run")
    print(f"   playhead moved {advanced} frames in {elapsed:.2f} s = {fps:.1f} frames/s, "
          f"in {stats['advances']} drawn frames; stalls waiting for data: {stats['stalls']}")
    if intervals:
        print(f"   animation-frame interval median {statistics.median(intervals):.1f} ms, "
              f"p95 {percentile(intervals, 95):.1f} ms")
    requests = [r for rs in stats["requests"].values() for r in rs]
    sizes = [stop - start for start, stop in requests]
    print(f"   frames fetched in {len(requests)} binary chunks of up to {max(sizes):.0f} steps, "
          f"{sum(sizes):.0f} of {total} steps by the end (ahead of the playhead, not all at once)")
    print(f"   target 60 frames/s: {'OK' if fps >= 57 and stats['stalls'] == 0 else 'MISSED'}")


if __name__ == "__main__":
    main()
