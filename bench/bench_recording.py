"""How much does recording cost? Ratios to a plain `fit`, measured in one run.

Two workloads, each against a plain fit and against its own floor:

  sine   the original notebook's: a piecewise sine on 10,000 points (7,500 for
         training), 3 x Dense(200, relu) -> Dense(1), MSE, Adagrad (lr 0.01),
         batch size 128 (59 batches an epoch); a 1,000-point sample.
  moons  a two-feature classifier: two interleaved half-moons, 10,000 points,
         3 x Dense(64, relu) -> Dense(1, sigmoid), binary cross-entropy, Adam
         (lr 0.01), batch size 128 (79 batches an epoch); a 1,000-point sample
         plus the 100 x 100 surface grid (11,000 points a frame).

Variants, each on a fresh model with the same initial weights:

  plain  fit with no callback
  (a)    FitVizCallback(every=1, images=False): a frame after every batch
  (a+i)  the same with the default images="epoch" (a figure per epoch)
  (a+t)  (a+i) with the figures drawn in a thread of the training process, as
         before tb_fitviz.figure_process (the GIL cost, for reference)
  (b)    the floor under (a): a compiled forward pass on the same points (sample,
         and grid for moons) after every batch, nothing else (a tf.function, as
         Keras runs a model on a CPU)
  (b')   the same floor compiled by XLA: FitViz compiles its own pass with XLA by
         default (jit_compile="auto"), so (a) / (b') is the like-for-like ratio
  (c)    FitVizCallback with default settings
  (d)    sine only: the original approach, model.predict on the 1,000 sample
         points and a Matplotlib redraw (new artists, Agg canvas) after every
         batch; run on one epoch only and scaled per batch (it is ~50x slower)

Repeats are interleaved (plain, a, a+i, b, c, plain again, d, plain, ...) so
that noise on a shared machine hits all variants alike; the medians are
reported, and for the targets also the ratio within each repeat (a variant over
the plain fit, or (a) over (b), of the same repeat): its median and range, and
the ratio of the fastest run of each (other processes only ever add time). The
plain fit run twice a repeat (A/A) shows how far two identical runs differ
here. Each time runs from the end of the first batch to the end of `fit`
(on_train_end of every callback included), so one-time costs (tracing the
train step and the forward pass, writing the static data) are left out and the
ratios are per batch of steady training. Wall time is what the user waits for;
process CPU time (all threads, child processes not included) is less sensitive
to other processes on the machine. Every run starts after a full garbage
collection (the heap holds ~430,000 objects; a full collection costs ~0.25 s
and would otherwise fall in whichever run crosses its threshold). (a) and (b)
do the same work at every batch, so for them the median time between batch
ends is also shown: it leaves out pauses that are not theirs.

    python bench/bench_recording.py                      # both, 10 epochs, 3 repeats
    python bench/bench_recording.py --quick              # 3 epochs, 2 repeats
    python bench/bench_recording.py --workload moons     # one workload
"""

import argparse
import gc
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402


def sine_workload(seed=0):
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 12, 10_000)
    f = np.where((x >= np.pi) & (x < 3 * np.pi), np.sin(x), 0.0)
    y = f + rng.normal(0, 0.5, x.size)
    index = rng.permutation(x.size)[:7_500]
    return x[index].astype("float32").reshape(-1, 1), y[index].astype("float32").reshape(-1, 1)


def moons_workload(seed=0, n=10_000, noise=0.1):
    """Two interleaved half-moons, labels 0 and 1: the demo's data (`demo/run_demo.py`)."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                    "demo"))
    import run_demo

    x, labels = run_demo.half_moons(np.random.default_rng(seed), n, noise)
    return x, labels.astype("float32")


def make_model(name, weights=None):
    import keras

    if name == "sine":
        model = keras.Sequential([keras.Input((1,))] + [
            keras.layers.Dense(200, activation="relu") for _ in range(3)] + [
            keras.layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.Adagrad(0.01), loss="mse")
    else:
        model = keras.Sequential([keras.Input((2,))] + [
            keras.layers.Dense(64, activation="relu") for _ in range(3)] + [
            keras.layers.Dense(1, activation="sigmoid")])
        model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy")
    if weights is not None:
        model.set_weights(weights)
    return model


def timer_callback():
    import keras

    class Timer(keras.callbacks.Callback):
        """Seconds from the end of the first batch to the end of fit, and batch count."""

        def on_train_begin(self, logs=None):
            self.first = None
            self.batches = 0
            self.ends = []

        def on_train_batch_end(self, batch, logs=None):
            self.batches += 1
            self.ends.append(time.perf_counter())
            if self.first is None:
                self.first = self.ends[-1]
                self.first_cpu = time.process_time()

        def on_train_end(self, logs=None):
            self.seconds = time.perf_counter() - self.first
            # CPU time of this process (all threads): less sensitive to other processes.
            self.cpu_seconds = time.process_time() - self.first_cpu

    return Timer()


def forward_only_callback(points, jit_compile=False):
    """A compiled forward pass on `points` (float32 [n, d]) after every batch; with
    `jit_compile`, compiled by XLA."""
    import keras
    import tensorflow as tf

    class ForwardOnly(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            x = tf.constant(points, tf.float32)
            model = self.model
            self.forward = tf.function(lambda: model(x, training=False),
                                       jit_compile=jit_compile).get_concrete_function()

        def on_train_batch_end(self, batch, logs=None):
            self.forward()

    return ForwardOnly()


def floor_points(callback):
    """The floor's points, float32 [n, d]: the callback's own sample, and the surface grid of
    a two-feature run, so that the floor and (a) predict on the same points."""
    writer = callback.writer
    points = writer.x_sample.reshape(len(writer.x_sample), -1)
    if writer.x_grid is not None:
        points = np.concatenate([points, writer.x_grid])
    return points.astype("float32")


def without_record(callback):
    """`callback` with `FitVizWriter.record` and `record_channels` no-ops: its forward pass
    and bookkeeping, no frame."""
    def no_record(writer):
        writer.record = writer.record_channels = lambda *args, **kwargs: None

    return with_writer_patch(callback, no_record)


def frame_by_numpy(callback):
    """`callback` with its frame made by `FitVizWriter.record` from the pass's outputs
    (NumPy), not by the pass itself (`tb_fitviz.compiled_frame`)."""
    callback._compiles_frame = lambda *args: False
    return callback


def with_writer_patch(callback, patch):
    """`callback` with `patch(writer)` applied once the model is known: that may make a
    new writer (the task settled), so a patch made earlier can be lost."""
    prepare = callback._prepare

    def prepared(model):
        prepare(model)
        patch(callback.writer)

    callback._prepare = prepared
    return callback


def no_event_output(writer):
    """A `with_writer_patch` patch: `EventOutput.frame` a no-op (the losses and the frame's
    arrays made, no event)."""
    writer._events.frame = lambda *args, **kwargs: None


def event_not_written(writer):
    """A `with_writer_patch` patch: events built and serialized, not framed or written."""
    output = writer._events
    open_file = output._file

    def serialized_only():
        events = open_file()
        events.write = lambda event: event.SerializeToString()
        events.write_serialized = lambda parts: None  # a steady frame's, already serialized
        events.flush = lambda: None
        return events

    output._file = serialized_only


def without_templates(writer):
    """A `with_writer_patch` patch: every frame's event built by protobuf, none written from
    the steady frames' template (`tb_fitviz.summaries._FrameTemplate`)."""
    writer._events.templates = False


def original_callback(x_sample, x, y):
    """model.predict + a Matplotlib redraw per batch, as the 2018 module did (Agg, no window)."""
    import keras
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    class Original(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.figure = Figure(figsize=(9.6, 5.4), dpi=100)
            FigureCanvasAgg(self.figure)
            grid = self.figure.add_gridspec(2, 3)
            self.main = self.figure.add_subplot(grid[:, :2])
            self.total = self.figure.add_subplot(grid[0, 2])
            self.batch = self.figure.add_subplot(grid[1, 2])
            self.main.scatter(x[::4], y[::4], s=4, color="0.6")
            self.losses, self.batch_losses = [], []

        def on_train_batch_end(self, batch, logs=None):
            y_sample = np.interp(x_sample.ravel(), x.ravel()[np.argsort(x.ravel())],
                                 y.ravel()[np.argsort(x.ravel())])
            y_pred = self.model.predict(x_sample, verbose=0).ravel()
            loss = (y_sample - y_pred) ** 2
            self.losses.append(loss.mean())
            self.batch_losses.append(logs["loss"])
            # The original added artists each update; redraw the whole canvas.
            self.main.plot(x_sample.ravel(), y_pred, color="steelblue")
            self.main.fill_between(x_sample.ravel(), y_pred - loss, y_pred + loss,
                                   color="steelblue", alpha=0.3)
            self.total.plot(self.losses, color="steelblue")
            self.batch.plot(self.batch_losses, color="0.3")
            self.figure.canvas.draw()
            for axes in (self.main, self.total, self.batch):
                for artist in list(axes.lines) + list(axes.collections)[1:]:
                    artist.remove()

    return Original()


def run(name, x, y, weights, epochs, callback):
    """(wall seconds, CPU seconds, median seconds between batch ends) per steady batch."""
    model = make_model(name, weights)
    timer = timer_callback()
    callbacks = ([callback] if callback is not None else []) + [timer]
    # Every run starts from a collected heap: this process tracks ~430,000 objects
    # (TensorFlow's, Keras', the models of earlier runs), and a full collection, which
    # costs ~0.25 s here, would otherwise land in whichever run crosses its threshold.
    gc.collect()
    model.fit(x, y, epochs=epochs, batch_size=128, verbose=0, callbacks=callbacks,
              shuffle=True)
    # Per steady batch: the first batch (tracing) is outside the timed window.
    batches = max(timer.batches - 1, 1)
    median = statistics.median(b - a for a, b in zip(timer.ends, timer.ends[1:])) \
        if len(timer.ends) > 1 else timer.seconds
    return timer.seconds / batches, timer.cpu_seconds / batches, median


LABELS = {
    "a": "(a) every batch, no images",
    "a+i": "    (a) with images='epoch'",
    "a+t": "    (a+i), figures in a thread",
    "b": "(b) compiled forward pass only",
    "bx": "(b') the same, compiled by XLA",
    "c": "(c) default settings",
    "d": "(d) original: predict + redraw (1 epoch)",
    "aa": "plain fit again (A/A: the noise)",
}
DESCRIPTIONS = {
    "sine": "piecewise sine, 7,500 training points, 3 x Dense(200) -> Dense(1), Adagrad 0.01, "
            "batch 128 (59 batches an epoch); sample 1,000",
    "moons": "two half-moons, 10,000 training points, 3 x Dense(64) -> Dense(1, sigmoid), "
             "Adam 0.01, batch 128 (79 batches an epoch); sample 1,000 + 100 x 100 grid",
}


def in_thread(callback):
    """The callback with its figures drawn in a thread of this process (no child)."""
    callback.writer._images._use_process = False  # a benchmark's look behind the API
    return callback


def bench_workload(name, epochs, repeats, skip_original, logs):
    import keras

    from tb_fitviz import FitVizCallback

    x, y = sine_workload() if name == "sine" else moons_workload()
    weights = make_model(name).get_weights()
    keras.utils.set_random_seed(1)
    counter = iter(range(10_000))

    def fitviz(**options):
        return FitVizCallback(os.path.join(logs, f"{name}{next(counter)}"), x, y, **options)

    # The floor's points: the writer's own sample (and grid), so (a) and (b) predict alike.
    probe = fitviz(every=1, images=False)
    points = floor_points(probe)
    probe.close()
    variants = {
        "plain": lambda: None,
        "a": lambda: fitviz(every=1, images=False),
        "a+i": lambda: fitviz(every=1),
        "a+t": lambda: in_thread(fitviz(every=1)),
        "b": lambda: forward_only_callback(points),
        "bx": lambda: forward_only_callback(points, jit_compile=True),
        "c": lambda: fitviz(),
        "aa": lambda: None,
    }
    if name == "sine" and not skip_original:
        variants["d"] = lambda: original_callback(points, x, y)
    times = {v: [] for v in variants}
    cpu_times = {v: [] for v in variants}
    batch_medians = {v: [] for v in variants}
    frames = []
    run(name, x, y, weights, 1, None)  # warm-up
    for repeat in range(repeats):
        for variant, make in variants.items():
            callback = make()
            n_epochs = 1 if variant == "d" else epochs
            seconds, cpu_seconds, batch_median = run(name, x, y, weights, n_epochs, callback)
            if hasattr(callback, "close"):
                # Outside the timed window: figures still being drawn in the background
                # (the last one, at train end) must not run into the next variant's time.
                callback.close()
            times[variant].append(seconds)
            cpu_times[variant].append(cpu_seconds)
            batch_medians[variant].append(batch_median)
            if variant == "c":
                frames.append(callback.writer.frames_recorded)
            print(f"  {name} repeat {repeat + 1} {variant:6s} {seconds * 1e3:7.2f} ms/batch",
                  file=sys.stderr, flush=True)
    return times, cpu_times, batch_medians, frames, len(points)


def report(name, epochs, repeats, times, cpu_times, batch_medians, frames, point_count):
    batches = epochs * (59 if name == "sine" else 79)
    print(f"\n{name}: {DESCRIPTIONS[name]}; {epochs} epochs ({batches} batches) per run, "
          f"{repeats} interleaved repeats, medians of ms per steady batch; the floor predicts "
          f"on {point_count:,} points")
    print(f"{'':40s}{'wall time':>22s}   {'process CPU time':>24s}")
    plain = statistics.median(times["plain"])
    plain_cpu = statistics.median(cpu_times["plain"])
    print(f"{'plain fit':40s}{plain * 1e3:7.2f} ms/batch   1.00x   "
          f"{plain_cpu * 1e3:7.2f} ms/batch   1.00x")
    ratios, cpu_ratios = {}, {}
    for variant, label in LABELS.items():
        if variant not in times:
            continue
        median = statistics.median(times[variant])
        median_cpu = statistics.median(cpu_times[variant])
        ratios[variant] = median / plain
        cpu_ratios[variant] = median_cpu / plain_cpu
        print(f"{label:40s}{median * 1e3:7.2f} ms/batch  {ratios[variant]:5.2f}x   "
              f"{median_cpu * 1e3:7.2f} ms/batch  {cpu_ratios[variant]:5.2f}x")
    print(f"{name}: (a) / (b) = {ratios['a'] / ratios['b']:.3f} wall, "
          f"{cpu_ratios['a'] / cpu_ratios['b']:.3f} CPU  (target <= 1.10); "
          f"within a repeat: wall {paired(times, 'a', 'b')}, CPU {paired(cpu_times, 'a', 'b')}")
    # (a) and (b) do the same work at every batch: the median time between batch ends
    # leaves out pauses that are not theirs (another process, a collection).
    print(f"{name}: (a) / (b), median batch: {paired(batch_medians, 'a', 'b')}")
    # FitViz compiles its own pass with XLA (jit_compile="auto"): (b') is the like-for-like
    # floor.
    print(f"{name}: (a) / (b') = {ratios['a'] / ratios['bx']:.3f} wall, "
          f"{cpu_ratios['a'] / cpu_ratios['bx']:.3f} CPU; within a repeat: wall "
          f"{paired(times, 'a', 'bx')}; median batch: {paired(batch_medians, 'a', 'bx')}")
    print(f"{name}: (a+i) / (a) = {ratios['a+i'] / ratios['a']:.3f} wall, "
          f"{cpu_ratios['a+i'] / cpu_ratios['a']:.3f} CPU  (what a figure an epoch costs)")
    print(f"{name}: (a+t) / (a) = {ratios['a+t'] / ratios['a']:.3f} wall, "
          f"{cpu_ratios['a+t'] / cpu_ratios['a']:.3f} CPU  (the same figures in a thread)")
    print(f"{name}: (c) = {ratios['c']:.3f}x plain wall, {cpu_ratios['c']:.3f}x CPU  "
          f"(target <= 1.10); within a repeat: wall {paired(times, 'c', 'plain')}, CPU "
          f"{paired(cpu_times, 'c', 'plain')}; frames recorded by (c): {frames}")
    print(f"{name}: A/A, plain again / plain: wall {paired(times, 'aa', 'plain')}, CPU "
          f"{paired(cpu_times, 'aa', 'plain')}  (how much two identical runs differ)")


def paired(times, variant, base):
    """'median [min - max]' of variant / base within each repeat, and the ratio of the
    fastest runs of each (other processes only ever add time)."""
    ratios = sorted(v / b for v, b in zip(times[variant], times[base]))
    fastest = min(times[variant]) / min(times[base])
    return (f"{statistics.median(ratios):.3f} [{ratios[0]:.2f}-{ratios[-1]:.2f}], "
            f"fastest runs {fastest:.3f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 epochs, 2 repeats")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--workload", choices=("sine", "moons", "both"), default="both")
    parser.add_argument("--skip-original", action="store_true", help="do not run (d)")
    args = parser.parse_args(argv)
    epochs = args.epochs or (3 if args.quick else 10)
    repeats = args.repeats or (2 if args.quick else 3)
    names = ("sine", "moons") if args.workload == "both" else (args.workload,)
    results = {}
    with tempfile.TemporaryDirectory() as logs:
        for name in names:
            results[name] = bench_workload(name, epochs, repeats, args.skip_original, logs)
    for name in names:
        report(name, epochs, repeats, *results[name])
    return 0


if __name__ == "__main__":
    sys.exit(main())
