"""Where does a frame's cost over its floor go? Parts of the frame path turned off in turn.

The workloads and the floor (b) are `bench_recording.py`'s: a frame after every batch
(`FitVizCallback(every=1, images=False)`) against a compiled forward pass on the same
points. Each variant below does one part less than the full (a):

  b          the floor: a compiled forward pass after every batch, nothing else
  no-record  FitVizCallback with `writer.record` a no-op: its forward pass, reading the
             results, the batch losses, its bookkeeping
  no-events  `record` without its event output (`EventOutput.frame` a no-op): the
             per-point losses and the frame's arrays
  no-write   events built and serialized, not written (`EventFile.write` serializes only,
             `flush` does nothing)
  a          everything: what a user gets

Figures: the median time between batch ends (every batch of these variants does the same
work), as a ratio to (b) within each repeat (median and range). Repeats are interleaved,
each run is 3 epochs from the same initial weights and starts after a full garbage
collection. The differences between neighbouring rows are each part's cost, side effects
on the next training step included (what a timer around the part itself does not see).

    python bench/bench_frame_parts.py                     # moons, 6 repeats (~4 minutes)
    python bench/bench_frame_parts.py --workload sine --repeats 8
"""

import argparse
import os
import statistics
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench_recording as recording  # noqa: E402

VARIANTS = ("b", "no-record", "no-events", "no-write", "a")


def _fit(name, x, y, weights, callback):
    """The median seconds between batch ends of one 3-epoch fit (`bench_recording.run`)."""
    seconds = recording.run(name, x, y, weights, 3, callback)[2]
    if hasattr(callback, "close"):
        callback.close()
    return seconds


def measure(name, repeats):
    from tb_fitviz import FitVizCallback

    x, y = recording.sine_workload() if name == "sine" else recording.moons_workload()
    weights = recording.make_model(name).get_weights()
    logs = tempfile.mkdtemp(prefix="fitviz-bench-parts-")
    probe = FitVizCallback(os.path.join(logs, "probe"), x, y, every=1, images=False)
    points = recording.floor_points(probe)
    probe.close()
    runs = iter(range(10**6))

    patches = {"no-record": recording.without_record,
               "no-events": lambda made: recording.with_writer_patch(
                   made, recording.no_event_output),
               "no-write": lambda made: recording.with_writer_patch(
                   made, recording.event_not_written)}

    def callback(variant):
        if variant == "b":
            return recording.forward_only_callback(points)
        made = FitVizCallback(os.path.join(logs, f"{variant}-{next(runs)}"), x, y, every=1,
                              images=False)
        return patches[variant](made) if variant in patches else made

    seconds = {variant: [] for variant in VARIANTS}
    _fit(name, x, y, weights, callback("a"))  # warm-up: tracing, first imports
    for _ in range(repeats):
        for variant in VARIANTS:
            seconds[variant].append(_fit(name, x, y, weights, callback(variant)))
    print(f"{name}: median time between batch ends, {repeats} interleaved repeats of 3 epochs")
    for variant in VARIANTS:
        ratios = sorted(a / b for a, b in zip(seconds[variant], seconds["b"]))
        print(f"  {variant:10s} {statistics.median(seconds[variant]) * 1e3:6.3f} ms   / (b) "
              f"within a repeat {statistics.median(ratios):.3f} "
              f"[{ratios[0]:.3f}-{ratios[-1]:.3f}]")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workload", choices=("sine", "moons"), default="moons")
    parser.add_argument("--repeats", type=int, default=6)
    args = parser.parse_args()
    measure(args.workload, args.repeats)


if __name__ == "__main__":
    main()
