"""Where a frame's time goes inside a fit: a timer around each step of the frame path.

Python inside a fit runs 2 to 4 times slower than the same code in a loop (the
caches are cold after TensorFlow's work), so the frame path is timed where it
runs: in `FitVizCallback(every=1, images=False)` on the workloads of
`bench_recording.py`. Each listed function gets a timer (about 1 us of its own
per call, included); nested timers overlap (`EventOutput.frame` holds
`EventFile.write` and `.flush`; `FitVizWriter.record_channels`, which the
callback calls with the frame its compiled pass made, holds `_write_frame` and
all but the forward pass; `record`, the NumPy path, runs when the pass cannot
make the frame). Figures: median microseconds per call, and per frame.

    python bench/profile_frame.py --workload moons
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_recording as recording  # noqa: E402

TIMED = {
    "tb_fitviz.writer": {"FitVizWriter": ("record", "record_channels", "_write_frame",
                                          "predictions", "_losses")},
    "tb_fitviz.summaries": {"EventOutput": ("frame", "_event", "_add_tensor", "_add_scalar",
                                            "_flush_batch_losses", "_note_loss", "_write",
                                            "_frame_from"),
                            "_FrameTemplate": ("fill", "parts")},
    "tb_fitviz.event_file": {"EventFile": ("write", "write_serialized", "flush")},
    "tb_fitviz.forward": {"Forward": ("__call__",)},
    "tb_fitviz.keras_callback": {"FitVizCallback": ("on_train_batch_end", "_record_frame")},
}


def _timed(function, key, seconds):
    def timed(*args, **kwargs):
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            seconds.setdefault(key, []).append(time.perf_counter() - started)

    return timed


def main(argv=None):
    import importlib

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workload", choices=("sine", "moons"), default="moons")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--fits", type=int, default=2)
    args = parser.parse_args(argv)

    from tb_fitviz import FitVizCallback

    seconds = {}
    for module_name, classes in TIMED.items():
        module = importlib.import_module(module_name)
        for class_name, methods in classes.items():
            owner = getattr(module, class_name)
            for method in methods:
                setattr(owner, method, _timed(getattr(owner, method),
                                              f"{class_name}.{method}", seconds))
    name = args.workload
    x, y = recording.sine_workload() if name == "sine" else recording.moons_workload()
    weights = recording.make_model(name).get_weights()
    recording.run(name, x, y, weights, 1, None)  # warm-up
    logs = tempfile.mkdtemp(prefix="fitviz-profile-")
    for fit in range(args.fits):
        callback = FitVizCallback(os.path.join(logs, str(fit)), x, y, every=1, images=False)
        recording.run(name, x, y, weights, args.epochs, callback)
        callback.close()
    frames = len(seconds["FitVizWriter._write_frame"])
    print(f"{name}: {args.fits} fits x {args.epochs} epochs, {frames} frames; inside the fit")
    print(f"  {'function':35s} {'us a call':>10s} {'calls a frame':>14s} {'us a frame':>11s}")
    rows = sorted(seconds.items(), key=lambda item: -statistics.median(item[1]) * len(item[1]))
    for key, values in rows:
        per_call = statistics.median(values) * 1e6
        calls = len(values) / frames
        print(f"  {key:35s} {per_call:10.1f} {calls:14.2f} {per_call * calls:11.1f}")


if __name__ == "__main__":
    main()
