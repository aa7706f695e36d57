"""Benchmark of `tb-fitviz export`: frames per second written, for every kind of run.

    .venv/bin/python bench/bench_export.py [--frames 120] [--size 960x540] [--quick]

Part 1, every kind: writes one run of each kind with FitVizWriter (1,000 sample
points, a 100 x 100 grid for the surfaces, 2,000 scatter points) and measures
the drawing of each in this one process, on one core (the figure's draw + rgb()
for every frame, its main view; the ratio is to the 1-D curve measured in the
same run), then the whole export of the binary surface to GIF and MP4 with one
drawing process. Target: a surface at 960x540 at least 12 frames/s.

Part 2 (not with --quick), the 1-D run as before:

Writes a run with FitVizWriter (1,000 sample points, 2,000 scatter points, 200
validation points, batch losses), then measures, in this one process:

  draw only   FitFigure.draw + rgb() for every frame: the floor (Matplotlib's Agg)
  GIF         the whole export to .gif: reading the logdir, drawing, palette, LZW
  MP4         the whole export to .mp4: reading, drawing, H.264 through ffmpeg

each with one drawing process (--jobs 1: the cost of everything besides
drawing) and with two (--jobs 2), and prints frames per second and
the ratio to "draw only". The machine is shared: only the ratios within one
run mean much.
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tb_fitviz import FitVizWriter  # noqa: E402
from tb_fitviz import export as ex  # noqa: E402


def write_run(logdir, frames, points=1000):
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 10, 10_000)
    y = 1 + 0.5 * x + rng.normal(0, 1, x.size) * (0.1 + 0.3 * x)
    with FitVizWriter(os.path.join(logdir, "run"), x, y, sample=points, scatter=2000,
                      validation_data=(x[:500], y[:500]), validation_sample=200,
                      title="benchmark") as writer:
        for step in range(frames):
            share = 1 - np.exp(-step / (frames / 4))
            prediction = share * (1 + 0.5 * writer.x_sample) + 0.05 * np.sin(step + writer.x_sample)
            if step:
                writer.record_batch_loss(step, 3.0 / (1 + step))
            writer.record(step, prediction, epoch=step // 50,
                          y_pred_validation=share * (1 + 0.5 * writer.x_validation))
            if step % 50 == 49:
                writer.record_epoch(step, step // 50, loss=1.0)


def draw_only(reader, size, run="run", view=None):
    """Frames per second of the figure alone (draw + rgb), every frame of `run`."""
    from tb_fitviz.figure import GRID_VIEWS

    static = reader.static(run)
    settings = static["settings"]
    view = ex._chosen_view(settings, run, view)
    frames = reader.frames(run)
    grids = reader.frames(run, series="grid") if view in GRID_VIEWS else None
    listing = next(entry for entry in reader.runs() if entry["run"] == run)
    # What export's drawing processes do: the same spec, the same renderer.
    renderer = ex._Renderer({
        "static": static, "settings": settings, "run": run, "size": size,
        "dpi": ex.DEFAULT_DPI, "smoothing": None, "band": "auto", "view": view,
        "theme": "light", "scalars": reader.scalars(run), "epoch_ends": listing["epoch_ends"],
        "loss_map": reader.loss_map(run, *ex.LOSS_MAP_CELLS) if view == "loss_map" else None,
    })
    renderer.figure.rgb()  # the static part, once
    began = time.perf_counter()
    for index in range(len(frames)):
        renderer.render((int(frames.steps[index]), frames.values[index], frames.info[index],
                         None if grids is None else grids.values[index]))
    return len(frames) / (time.perf_counter() - began)


def _moons(rng, n):
    half = n // 2
    angle = rng.uniform(0, np.pi, n)
    x = np.where(np.arange(n) < half, np.cos(angle), 1 - np.cos(angle))
    y = np.where(np.arange(n) < half, np.sin(angle), 0.5 - np.sin(angle))
    return np.column_stack([x, y]) + rng.normal(0, 0.1, (n, 2)), (np.arange(n) >= half)


def _softmax(logits):
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def write_kinds(logdir, frames, points=1000):
    """One run of each kind (predictions that move from frame to frame); {run: what it is}."""
    rng = np.random.default_rng(1)
    runs = {}

    def record(name, x, y, predict, description, **options):
        with FitVizWriter(os.path.join(logdir, name), x, y, sample=points, scatter=2000,
                          images=False, **options) as writer:
            grid = writer.x_grid
            for step in range(frames):
                share = 1 - np.exp(-step / (frames / 4)) + 0.01
                if step:
                    writer.record_batch_loss(step, 3.0 / (1 + step))
                writer.record(step, predict(writer.x_sample, share), epoch=step // 50,
                              y_pred_grid=None if grid is None else predict(grid, share))
                if step % 50 == 49:
                    writer.record_epoch(step, step // 50, loss=1.0)
        runs[name] = description

    x = rng.uniform(0, 6, 10_000)
    y2 = np.column_stack([np.sin(x), 2 * np.cos(x)]) + rng.normal(0, 0.2, (x.size, 2))
    record("curve-2-outputs", x, y2,
           lambda s, a: np.column_stack([a * np.sin(s), a * 2 * np.cos(s)]),
           "curve, 1 feature, 2 outputs")
    labels = np.digitize(x + rng.normal(0, 0.5, x.size), [2, 4])
    centres = np.array([1.0, 3.0, 5.0])
    record("curve-3-classes", x, labels,
           lambda s, a: _softmax(-a * 3 * (s[:, None] - centres) ** 2),
           "curve, 1 feature, 3 classes")
    xm, lm = _moons(rng, 10_000)

    def moon_probability(p, a):
        return 1 / (1 + np.exp(-4 * a * (0.25 - p[:, 1] + 0.3 * np.sin(2 * p[:, 0]))))

    record("surface-binary", xm, lm.astype(int), moon_probability,
           "surface, 2 classes (diverging scale)")
    blob = np.array([[0, 0], [2, 1], [-1, 2]], dtype=float)
    c3 = rng.integers(0, 3, 10_000)
    record("surface-3-classes", blob[c3] + rng.normal(0, 0.6, (10_000, 2)), c3,
           lambda p, a: _softmax(-a * ((p[:, None, :] - blob[None]) ** 2).sum(-1)),
           "surface, 3 classes (decision regions)")
    xs = rng.uniform(-2, 3, (10_000, 2))
    record("surface-regression", xs, xs[:, 0] * xs[:, 1], lambda p, a: a * p[:, 0] * p[:, 1],
           "surface, regression (sequential scale)")
    xr = rng.uniform(-1, 1, (10_000, 3))
    yr = np.column_stack([xr[:, 0] + 0.5 * xr[:, 1], np.sin(2 * xr[:, 2]) - xr[:, 0]])
    record("pred-true-3-features", xr, yr,
           lambda p, a: a * np.column_stack([p[:, 0] + 0.5 * p[:, 1],
                                             np.sin(2 * p[:, 2]) - p[:, 0]]),
           "pred_true, 3 features, 2 outputs")
    c4 = rng.integers(0, 3, 10_000)
    centres4 = np.array([[0, 0, 0, 0], [2, 1, 0, -1], [-1, 2, 1, 0]], dtype=float)
    record("true-class-4-features", centres4[c4] + rng.normal(0, 0.7, (10_000, 4)), c4,
           lambda p, a: _softmax(-a * ((p[:, None, :] - centres4[None]) ** 2).sum(-1)),
           "true_class, 4 features, 3 classes")
    return runs


def bench_kinds(folder, frames, size):
    """Draw-only frames/s of each kind's main view, the 1-D curve first; exports of a surface."""
    from tb_fitviz.plugin.reading import reader_for_logdir

    logdir = os.path.join(folder, "kinds")
    write_run(logdir, frames)
    runs = {"run": "curve, 1 feature, 1 output (the classic figure)"}
    runs.update(write_kinds(logdir, frames))
    reader = reader_for_logdir(logdir)
    rates = {}
    for run in runs:
        reader.frames(run)  # read once: the drawing is timed
        rates[run] = draw_only(reader, size, run)
    rates["loss map of surface-binary"] = draw_only(reader, size, "surface-binary", "loss_map")
    runs["loss map of surface-binary"] = "loss_map view (the playhead moves)"
    exports = {}
    for suffix in (".gif", ".mp4"):
        output = os.path.join(folder, "surface" + suffix)
        began = time.perf_counter()
        result = ex.export(logdir, "surface-binary", output, size=size, progress=False, jobs=1,
                           reader=reader)
        exports[suffix] = result.frames / (time.perf_counter() - began)
    return runs, rates, exports


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--size", default="960x540")
    parser.add_argument("--quick", action="store_true",
                        help="every kind only (part 1), not the 1-D export with 2 processes")
    args = parser.parse_args()
    size = ex.parse_size(args.size)
    # One core: the target is per core, and the machine may be shared.
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

    from tb_fitviz.plugin.reading import reader_for_logdir

    with tempfile.TemporaryDirectory() as folder:
        runs, rates, exports = bench_kinds(folder, args.frames, size)
    base = rates["run"]
    print(f"every kind, {args.frames} frames of 1,000 points, 100 x 100 grids, "
          f"{size[0]}x{size[1]}, one core")
    print(f"(python bench/bench_export.py --frames {args.frames} --size {args.size}"
          f"{' --quick' if args.quick else ''})")
    print("  draw only (figure.draw + rgb), main view of each run:")
    for run, description in runs.items():
        print(f"    {run:<28} {rates[run]:6.1f} frames/s   {rates[run] / base:.2f}x of the "
              f"1-D curve   {description}")
    for suffix, rate in exports.items():
        print(f"  export of surface-binary to {suffix:<4} --jobs 1   {rate:6.1f} frames/s")
    if args.quick:
        return
    with tempfile.TemporaryDirectory() as folder:
        logdir = os.path.join(folder, "logs")
        write_run(logdir, args.frames)
        reader = reader_for_logdir(logdir)
        reader.frames("run")  # read once: the export's own reading is timed below
        floor = draw_only(reader, size)
        results = {}
        for suffix, jobs in ((".gif", 1), (".mp4", 1), (".gif", 2), (".mp4", 2)):
            output = os.path.join(folder, "out" + suffix)
            began = time.perf_counter()
            if jobs > 1 and hasattr(os, "sched_setaffinity"):
                os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
            result = ex.export(logdir, "run", output, size=size, progress=False, jobs=jobs)
            seconds = time.perf_counter() - began
            results[suffix, result.jobs] = (result.frames / seconds, os.path.getsize(output))

    print(f"tb-fitviz export, {args.frames} frames of 1,000 points, {size[0]}x{size[1]} "
          f"(python bench/bench_export.py --frames {args.frames} --size {args.size})")
    print(f"  draw only (FitFigure.draw + rgb)  {floor:6.1f} frames/s   1.00x")
    for (suffix, jobs), (rate, nbytes) in results.items():
        print(f"  export to {suffix:<4} --jobs {jobs:<2}          {rate:6.1f} frames/s   "
              f"{rate / floor:.2f}x of draw only   {nbytes / 1e6:.2f} MB "
              f"({nbytes / args.frames / 1e3:.0f} kB per frame)")


if __name__ == "__main__":
    main()
