"""What the runs listing pays for reading epoch ends (`fitviz/epoch_end`).

Six runs of 200 frames x 1,000 points and 20 epoch ends each (written by the real
FitVizWriter) are listed cold (GET runs of a TensorBoard app made anew, as after a
restart) by the plugin as it is, and with its epoch-end read turned off (what runs
written before that tag cost), alternately, six times each, on one data path.

    python bench/bench_listing.py --load-fast true     # the Rust data server
    python bench/bench_listing.py --load-fast false    # TensorBoard's Python loader
"""

import argparse
import json
import os
import statistics
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_plugin  # noqa: E402


def write_runs(root, runs=6, steps=400, epoch=20):
    from tb_fitviz import FitVizWriter

    x = np.linspace(0, 1, 1000)
    for r in range(runs):
        with FitVizWriter(os.path.join(root, f"run{r}"), x, np.sin(x), images=False) as writer:
            for step in range(1, steps + 1):
                writer.record_batch_loss(step, 1.0 / step)
                if step % 2 == 0:
                    writer.record(step, np.sin(x) * step / steps, epoch=(step - 1) // epoch)
                if step % epoch == 0:
                    writer.record_epoch(step, step // epoch - 1)


def main(argv=None):
    from tb_fitviz.plugin.reading import FitVizReader

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--load-fast", choices=("true", "false"), default="true")
    parser.add_argument("--repeat", type=int, default=6)
    args = parser.parse_args(argv)
    root = tempfile.mkdtemp(prefix="fitviz-bench-listing-")
    write_runs(root)
    real = FitVizReader._epoch_ends
    seconds = {"with": [], "without": []}
    for i in range(args.repeat):
        for variant in ("with", "without") if i % 2 == 0 else ("without", "with"):
            FitVizReader._epoch_ends = real if variant == "with" else (lambda self, listing: {})
            client, _ = bench_plugin.in_process_app(root, args.load_fast)
            elapsed, body = bench_plugin.timed_get(client, "runs")
            ends = json.loads(body)[0]["epoch_ends"]
            assert len(ends) == (20 if variant == "with" else 0), ends
            seconds[variant].append(elapsed)
    FitVizReader._epoch_ends = real
    for variant, label in (("with", "epoch ends read"), ("without", "epoch-end read off")):
        times = [round(1000 * t) for t in seconds[variant]]
        print(f"cold runs listing, {label}: median "
              f"{1000 * statistics.median(seconds[variant]):.1f} ms {times}")


if __name__ == "__main__":
    main()
