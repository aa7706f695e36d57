"""Speed of the FitViz tab in headless Chromium, against a real TensorBoard.

Measures, in one run on this machine:
  1. time to the first frame after clicking the FitViz tab, on a 5,000-frame run
     (target <= 1 s), and how many frames that took (chunks, not the whole run);
  2. draw time per frame, 1 run x 1,000 points with a 2,000-point scatter
     (target <= 2 ms median) and 4 runs side by side (target <= 8 ms), next to a
     baseline measured in the same page: one copy of the cached static layer;
  3. playback at 60 frames per second on the 5,000-frame run: frames shown per second,
     frame intervals, stalls waiting for data, and the chunked fetches ahead of the playhead;
  4. a surface run (two features, a 100 x 100 grid, 2,000 frames, 1,000 points): time to its first
     frame (target <= 1 s), draw time of one surface + 1,000 points (target <= 2 ms median) and of
     four surface runs side by side (target <= 8 ms), playback at 60 fps;
  5. the loss map of the 5,000-frame x 1,000-point run: GET lossmap served (target <= 0.3 s) and
     the view drawn from it (target <= 16 ms).

Usage: .venv/bin/python bench/bench_frontend.py [--frames 5000] [--points 1000] [--keep DIR]
       [--only 1d,surface,lossmap]
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


def write_surface_run(log_dir, frames, points, grid, seed):
    """A two-feature binary classifier's run: its P(class 1) sharpens towards a circle."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, (max(points, 2000) * 2, 2))
    labels = (np.hypot(x[:, 0], x[:, 1]) < 1.1).astype(int)
    with FitVizWriter(log_dir, x, labels, sample=points, grid=grid, images=False) as writer:
        sample, cells = writer.x_sample, writer.x_grid
        radius = lambda p: np.hypot(p[:, 0], p[:, 1])  # noqa: E731
        for step in range(frames):
            sharp = 0.2 + 8.0 * step / frames
            p_sample = 1 / (1 + np.exp(-sharp * (1.1 - radius(sample))))
            p_grid = 1 / (1 + np.exp(-sharp * (1.1 - radius(cells)) + 0.3 * np.sin(step / 50)))
            writer.record_batch_loss(step + 1, float(1 / (1 + step)))
            writer.record(step, p_sample, y_pred_grid=p_grid, epoch=step // max(1, frames // 10))


def loss_map_serving(url, run, width, height, repeats=5):
    """Seconds of GET lossmap: the first (cold: reads the whole run's losses) and the
    following (warm). As in the tab, the run listing (GET runs) comes first, untimed:
    the tab cannot ask for a map before it knows the run."""
    import urllib.parse
    import urllib.request

    with urllib.request.urlopen(f"{url}/data/plugin/fitviz/runs", timeout=120) as r:
        r.read()
    query = urllib.parse.urlencode({"run": run, "width": width, "height": height})
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        with urllib.request.urlopen(f"{url}/data/plugin/fitviz/lossmap?{query}", timeout=120) as r:
            body = r.read()
        times.append(time.perf_counter() - t0)
    return times, len(body)


def loss_map_drawing(browser, url, count=20):
    context = browser.new_context(viewport={"width": 1500, "height": 950})
    page = context.new_page()
    page.goto(url + "/#fitviz&p.fitviz.view=loss_map")
    frame = find_frame(page)
    wait(page, frame, "window.__fitviz.ready()", timeout=120)
    frame.evaluate("window.__fitviz.timeRebuilds(3)")  # warm-up
    rebuilds = frame.evaluate(f"window.__fitviz.timeRebuilds({count})")
    images = frame.evaluate(f"window.__fitviz.timeLossMapImages({count})")
    detail = frame.evaluate("window.__fitviz.panels()[0].detail")
    frames = frame.evaluate("window.__fitviz.timeDraws(0, 100, {group: 10})")
    context.close()
    return rebuilds, images, frames, detail


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
    parser.add_argument("--only", default="1d,surface,lossmap",
                        help="sections to run, comma-separated: 1d, surface, lossmap")
    parser.add_argument("--surface-frames", type=int, default=2000)
    parser.add_argument("--grid", type=int, default=100)
    parser.add_argument("--chromium",
                        default=os.environ.get("FITVIZ_CHROMIUM", "/usr/bin/chromium"))
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    only = set(args.only.split(","))
    with tempfile.TemporaryDirectory(prefix="fitviz_bench_") as tmp:
        root = Path(args.keep) if args.keep else Path(tmp)
        big = root / f"big-{args.frames}x{args.points}"
        four = root / f"four-400x{args.points}"
        surface = root / f"surface-{args.surface_frames}x{args.grid}"
        surfaces = root / f"surfaces-4x400x{args.grid}"
        t0 = time.monotonic()
        if not big.exists() and only & {"1d", "lossmap"}:
            write_run(big / f"run-{args.frames}", args.frames, args.points, args.scatter, seed=0)
        if not four.exists() and "1d" in only:
            for i in range(4):
                write_run(four / f"run-{i}", 400, args.points, args.scatter, seed=i + 1)
        if "surface" in only:
            if not surface.exists():
                write_surface_run(surface / "moons", args.surface_frames, args.points, args.grid, 0)
            if not surfaces.exists():
                for i in range(4):
                    write_surface_run(surfaces / f"surface-{i}", 400, args.points, args.grid, i + 1)
        print(f"logdirs ready in {time.monotonic() - t0:.1f} s")

        results = {}
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=args.chromium, headless=True,
                                                 args=CHROMIUM_ARGS)
            try:
                if "1d" in only:
                    with tensorboard_server(big) as url:
                        results["firsts"] = first_frame_times(browser, url, args.repeats)
                        results["playback"] = playback(browser, url, 5.0)
                    with tensorboard_server(four) as url:
                        results["one"] = draw_times(browser, url, ["run-0"], args.draws)
                        results["many"] = draw_times(browser, url, [f"run-{i}" for i in range(4)],
                                                     args.draws)
                if "surface" in only:
                    with tensorboard_server(surface) as url:
                        results["surface_firsts"] = first_frame_times(browser, url, args.repeats)
                        results["surface_playback"] = playback(browser, url, 5.0)
                        results["surface_one"] = draw_times(browser, url, ["moons"], args.draws)
                    with tensorboard_server(surfaces) as url:
                        results["surface_many"] = draw_times(
                            browser, url, [f"surface-{i}" for i in range(4)], args.draws)
                if "lossmap" in only:
                    with tensorboard_server(big) as url:
                        run = f"run-{args.frames}"
                        results["map_served"] = loss_map_serving(url, run, 560, 460)
                        results["map_drawn"] = loss_map_drawing(browser, url)
            finally:
                browser.close()

    if "1d" in only:
        report_1d(args, results)
    if "surface" in only:
        report_surface(args, results)
    if "lossmap" in only:
        report_loss_map(args, results)


def report_first_frames(firsts, frames):
    ms = [m for m, _, _ in firsts]
    frames_fetched = [sum(stop - start for start, stop in requests) for _, requests, _ in firsts]
    print(f"   median {statistics.median(ms):.0f} ms (runs: {', '.join(f'{m:.0f}' for m in ms)}); "
          f"target <= 1000 ms: {'OK' if statistics.median(ms) <= 1000 else 'MISSED'}")
    print(f"   fetched for it: {len(firsts[0][1])} request(s), "
          f"{frames_fetched[0]:.0f} of {frames} frame steps")
    for i, (_, _, phases) in enumerate(firsts):
        order = ["iframe-start", "fitviz-render", "fitviz-runs", "fitviz-first-frame"]
        steps = ", ".join(f"{name} {phases[name]:.0f}" for name in order if name in phases)
        print(f"   open {i + 1}: {steps} ms after the click")
    print("   (the first open also pays the server's cold reads; later opens reuse its caches)")


def report_draws(label, result, target):
    times, flushed, no_band, (baseline, baseline_flushed), size = result
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


def report_playback(result, label):
    stats, advanced, elapsed, total = result
    intervals = stats["tickIntervals"]
    fps = advanced / elapsed if elapsed else 0
    print(f"== playback at 60 fps for 5 s, {label}")
    print(f"   playhead moved {advanced} frames in {elapsed:.2f} s = {fps:.1f} frames/s, "
          f"in {stats['advances']} drawn frames; stalls waiting for data: {stats['stalls']}")
    if intervals:
        print(f"   animation-frame interval median {statistics.median(intervals):.1f} ms, "
              f"p95 {percentile(intervals, 95):.1f} ms")
    requests = [r for rs in stats["requests"].values() for r in rs]
    sizes = [stop - start for start, stop in requests]
    print(f"   frames fetched in {len(requests)} binary chunks of up to {max(sizes):.0f} steps, "
          f"{sum(sizes):.0f} of {total} steps per series by the end (ahead of the playhead)")
    print(f"   target 60 frames/s: {'OK' if fps >= 57 and stats['stalls'] == 0 else 'MISSED'}")


def report_surface(args, results):
    print()
    print(f"== surface run ({args.grid} x {args.grid} grid, {args.surface_frames} frames, "
          f"{args.points} points): time to first frame")
    report_first_frames(results["surface_firsts"], args.surface_frames)
    report_draws(f"1 surface ({args.grid} x {args.grid}) + {args.points} points",
                 results["surface_one"], 2.0)
    report_draws("4 surface runs side by side", results["surface_many"], 8.0)
    report_playback(results["surface_playback"], f"surface run ({args.surface_frames} frames)")


def report_loss_map(args, results):
    times, size = results["map_served"]
    rebuilds, images, frames, detail = results["map_drawn"]
    print()
    print(f"== loss map of the {args.frames}-frame x {args.points}-point run")
    warm = statistics.median(times[1:])
    verdict = "OK" if max(times) <= 0.3 else ("OK warm" if warm <= 0.3 else "MISSED")
    print(f"   GET lossmap (560 x 460 cells, {size / 1e6:.2f} MB): first (cold) "
          f"{times[0] * 1000:.0f} ms, then median {warm * 1000:.0f} ms; "
          f"target <= 300 ms: {verdict}")
    drawn = statistics.median(images)
    print(f"   drawn when it arrives ({detail['columns']} x {detail['rows']} cells: log range, "
          f"colours, drawn into its box, rasterised): median {drawn:.1f} ms, p95 "
          f"{percentile(images, 95):.1f} ms; target <= 16 ms: {'OK' if drawn <= 16 else 'MISSED'}")
    print(f"   the whole panel's static layer rebuilt around it (axes, colour bar, and the two "
          f"loss charts of {args.frames} steps every view has): median "
          f"{statistics.median(rebuilds):.1f} ms")
    print(f"   a frame of it (the playhead over the cached map): median "
          f"{statistics.median(frames):.3f} ms")


def report_1d(args, results):
    firsts = results["firsts"]
    one, many = results["one"], results["many"]
    print()
    print("== time to first frame (click on the FitViz tab -> first frame drawn), "
          f"{args.frames}-frame run")
    report_first_frames(firsts, args.frames)
    report_draws("1 run x 1,000 points + 2,000 scatter", one, 2.0)
    report_draws("4 runs side by side", many, 8.0)
    report_playback(results["playback"], f"{args.frames}-frame run")


if __name__ == "__main__":
    main()
