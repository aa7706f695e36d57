"""Recording after every batch against its floor, interleaved inside one fit.

`bench_recording.py` compares whole fits, one variant after another. On this
shared 2-core machine the speed of the machine drifts between fits (the floor's
median batch ranged from 3.5 to 6.8 ms between runs of one afternoon), which is
as large as the effects measured. Here the variants take turns inside one fit,
in blocks of `--block` batches in a shuffled order, so that drift hits them
alike; the first interval of each block is left out (it carries the previous
variant's after-effects), and each variant's figure is its median time between
batch ends.

Variants (the same workloads as `bench_recording.py`):

  b  the floor: a compiled forward pass on the same points after every batch
     (a tf.function, as Keras runs a model on a CPU)
  x  the same floor compiled by XLA (jit_compile=True): FitViz compiles its own
     pass with XLA by default, so this is the like-for-like floor
  f  FitViz's own compiled forward pass after every batch, alone (the frame's
     losses and layout included: they are computed in the pass)
  n  FitVizCallback(every=1, images=False) with `FitVizWriter.record` and
     `record_channels` no-ops: the callback's forward pass and its bookkeeping,
     no frame
  a  FitVizCallback(every=1, images=False): a frame after every batch

With `--parts`, more variants of (a):

  e  `EventOutput.frame` a no-op: the frame's arrays made, no event
  w  the frame's event built and serialized, not framed or written
  o  the frame made with NumPy from the pass's outputs (`FitVizWriter.record`),
     not in the pass
  g  jit_compile=False: FitViz's pass in TensorFlow's graph, not XLA
  p  every frame's event built by protobuf: steady frames not written from their
     template (`tb_fitviz.summaries._FrameTemplate`)

One fit per process, several processes: the relative speed of two compiled
functions also differs from process to process (memory placement), so the
spread between processes is part of the measurement.

    python bench/bench_interleaved.py                      # both, 4 processes, 15 epochs
    python bench/bench_interleaved.py --workload moons --processes 6
    python bench/bench_interleaved.py --workload moons --parts
    python bench/bench_interleaved.py --workload moons --variants a,p
"""

import argparse
import gc
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_recording as recording  # noqa: E402

VARIANTS = ("b", "x", "f", "n", "a")
PARTS = ("e", "w", "o", "g", "p")
LABELS = {
    "x": "the floor compiled by XLA",
    "f": "FitViz's forward pass alone",
    "n": "callback without frames (record a no-op)",
    "a": "a frame after every batch (target <= 1.10)",
    "e": "(a) without the event output",
    "w": "(a) with the event serialized, not written",
    "o": "(a) with the frame made by NumPy, not the pass",
    "g": "(a) with jit_compile=False (no XLA)",
    "p": "(a) with every event built by protobuf (no template)",
}


def fit_interleaved(name, epochs, block, seed, variants=VARIANTS):
    """{variant: median seconds between batch ends} of one fit with the variants in turn."""
    import keras

    from tb_fitviz import FitVizCallback

    x, y = recording.sine_workload() if name == "sine" else recording.moons_workload()
    weights = recording.make_model(name).get_weights()
    logs = tempfile.mkdtemp(prefix="fitviz-bench-interleaved-")

    def fitviz(tag, **options):
        return FitVizCallback(os.path.join(logs, tag), x, y, every=1, images=False, **options)

    probe = fitviz("probe")
    points = recording.floor_points(probe)
    probe.close()

    class ForwardAlone(keras.callbacks.Callback):
        """FitViz's forward pass after every batch, nothing else."""

        def __init__(self):
            super().__init__()
            self.inner = fitviz("f")

        def set_model(self, model):
            super().set_model(model)
            self.inner.set_model(model)

        def on_train_begin(self, logs=None):
            self.inner.on_train_begin(logs)

        def on_train_batch_end(self, batch, logs=None):
            self.inner._forward()

    makers = {"b": lambda: recording.forward_only_callback(points),
              "x": lambda: recording.forward_only_callback(points, jit_compile=True),
              "f": ForwardAlone,
              "n": lambda: recording.without_record(fitviz("n")), "a": lambda: fitviz("a"),
              "e": lambda: recording.with_writer_patch(fitviz("e"), recording.no_event_output),
              "w": lambda: recording.with_writer_patch(fitviz("w"), recording.event_not_written),
              "o": lambda: recording.frame_by_numpy(fitviz("o")),
              "g": lambda: fitviz("g", jit_compile=False),
              "p": lambda: recording.with_writer_patch(fitviz("p"), recording.without_templates)}

    class Turns(keras.callbacks.Callback):
        """Hands each batch end to one variant, in shuffled blocks; keeps the times."""

        def __init__(self):
            super().__init__()
            self.variants = {v: makers[v]() for v in variants}
            self.random = random.Random(seed)
            self.ends = []  # (variant, index in its block, time)
            self.order = []
            self.count = 0
            self.current = None

        def set_model(self, model):
            super().set_model(model)
            for callback in self.variants.values():
                callback.set_model(model)

        def set_params(self, params):
            super().set_params(params)
            for callback in self.variants.values():
                callback.set_params(params)

        def on_train_begin(self, logs=None):
            for callback in self.variants.values():
                callback.on_train_begin(logs)

        def on_epoch_begin(self, epoch, logs=None):
            for callback in self.variants.values():
                callback.on_epoch_begin(epoch, logs)

        def on_epoch_end(self, epoch, logs=None):
            for callback in self.variants.values():
                callback.on_epoch_end(epoch, logs)

        def on_train_end(self, logs=None):
            for callback in self.variants.values():
                callback.on_train_end(logs)

        def on_train_batch_end(self, batch, logs=None):
            if self.count % block == 0:
                if not self.order:
                    self.order = self.random.sample(variants, len(variants))
                self.current = self.order.pop()
            self.variants[self.current].on_train_batch_end(batch, logs)
            self.ends.append((self.current, self.count % block, time.perf_counter()))
            self.count += 1

    recording.run(name, x, y, weights, 1, None)  # warm-up: tracing, first imports
    turns = Turns()
    model = recording.make_model(name, weights)
    gc.collect()
    model.fit(x, y, epochs=epochs, batch_size=128, verbose=0, callbacks=[turns], shuffle=True)
    for callback in turns.variants.values():
        if hasattr(callback, "close"):
            callback.close()
    intervals = {v: [] for v in variants}
    for (before, _, start), (variant, index, end) in zip(turns.ends, turns.ends[1:]):
        if variant == before and index >= 1:
            intervals[variant].append(end - start)
    return {v: statistics.median(t) for v, t in intervals.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workload", choices=("sine", "moons", "both"), default="both")
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--block", type=int, default=4)
    parser.add_argument("--parts", action="store_true",
                        help="add variants e, w, o, g and p: (a) with parts of its frame off "
                             "or made another way")
    parser.add_argument("--variants", default=None,
                        help="only these variants beside the floors b and x, e.g. a,p")
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    variants = VARIANTS + PARTS if args.parts else VARIANTS
    if args.variants:
        chosen = tuple(args.variants.split(","))
        unknown = [v for v in chosen if v not in LABELS]
        if unknown:
            parser.error(f"--variants: unknown {unknown}; known: {', '.join(LABELS)}")
        variants = ("b", "x") + tuple(v for v in chosen if v not in ("b", "x"))
    if args.child is not None:
        medians = fit_interleaved(args.workload, args.epochs, args.block, args.child, variants)
        print(" ".join(f"{v}={medians[v]!r}" for v in variants))
        return
    workloads = ("sine", "moons") if args.workload == "both" else (args.workload,)
    for name in workloads:
        ratios = {v: [] for v in variants}
        to_xla = {v: [] for v in variants}  # against the floor compiled by XLA
        floors = []
        for process in range(args.processes):
            output = subprocess.run(
                [sys.executable, os.path.abspath(__file__), "--workload", name, "--epochs",
                 str(args.epochs), "--block", str(args.block), "--child", str(process)]
                + (["--parts"] if args.parts else [])
                + (["--variants", args.variants] if args.variants else []),
                check=True, capture_output=True, text=True).stdout.split()
            medians = {k: float(v) for k, v in (item.split("=") for item in output)}
            floors.append(medians["b"])
            for v in variants:
                ratios[v].append(medians[v] / medians["b"])
                to_xla[v].append(medians[v] / medians["x"])
            print(f"  {name} process {process + 1}: floor {medians['b'] * 1e3:.3f} ms; "
                  + ", ".join(f"{v} {ratios[v][-1]:.3f}" for v in variants[1:]),
                  file=sys.stderr, flush=True)
        print(f"\n{name}: {recording.DESCRIPTIONS[name]}")
        print(f"{args.processes} processes x {args.epochs} epochs, variants in turn in blocks "
              f"of {args.block} batches; the floor's median batch {min(floors) * 1e3:.2f} to "
              f"{max(floors) * 1e3:.2f} ms")
        for v in variants[1:]:
            values = sorted(ratios[v])
            print(f"  {LABELS[v]:45s} / floor: median {statistics.median(values):.3f} "
                  f"[{values[0]:.3f}-{values[-1]:.3f}]  " + " ".join(f"{r:.3f}" for r in ratios[v]))
        print("  against the floor compiled by XLA (FitViz's pass is XLA-compiled by default):")
        for v in [v for v in variants if v not in ("b", "x")]:
            values = sorted(to_xla[v])
            print(f"  {LABELS[v]:45s} / XLA floor: median {statistics.median(values):.3f} "
                  f"[{values[0]:.3f}-{values[-1]:.3f}]  " + " ".join(f"{r:.3f}" for r in to_xla[v]))


if __name__ == "__main__":
    main()
