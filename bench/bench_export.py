"""Benchmark of `tb-fitviz export`: frames per second written, GIF and MP4.

    .venv/bin/python bench/bench_export.py [--frames 120] [--size 960x540]

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


def draw_only(reader, size):
    static = reader.static("run")
    frames = reader.frames("run")
    figure = ex._make_figure(static, static["settings"], "run", size, ex.DEFAULT_DPI,
                             ex.DEFAULT_SMOOTHING, "sqrt")
    history = ex._History(reader.scalars("run"), reader.runs()[0]["epoch_ends"])
    began = time.perf_counter()
    for index in range(len(frames)):
        ex._draw(figure, history, int(frames.steps[index]), frames.values[index],
                 frames.info[index])
        figure.rgb()
    return len(frames) / (time.perf_counter() - began)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--size", default="960x540")
    args = parser.parse_args()
    size = ex.parse_size(args.size)

    from tb_fitviz.plugin.reading import reader_for_logdir

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
