"""How much does recording cost? Ratios to a plain `fit`, measured in one run.

The original notebook's workload: a piecewise sine on 10,000 points (7,500 for
training), 3 x Dense(200, relu) -> Dense(1), MSE, Adagrad (lr 0.01), batch
size 128 (59 batches an epoch). Variants, each on a fresh model with the same
initial weights:

  plain  fit with no callback
  (a)    FitVizCallback(every=1, sample=1000, images=False): a frame after every batch
  (a+i)  the same with the default images="epoch" (a figure per epoch), for reference
  (b)    the floor under (a): a compiled forward pass on the same 1,000 points
         after every batch, nothing else
  (c)    FitVizCallback with default settings
  (d)    the original approach: model.predict on the 1,000 sample points and a
         Matplotlib redraw (new artists, Agg canvas) after every batch; run on
         one epoch only and scaled per batch (it is ~50x slower)

Repeats are interleaved (plain, a, a+i, b, c, d, plain, ...) so that noise on
a shared machine hits all variants alike; the medians are reported. Each time
runs from the end of the first batch to the end of `fit` (on_train_end of
every callback included), so one-time costs (tracing the train step and the
forward pass, writing the static data) are left out and the ratios are per
batch of steady training.

    python bench/bench_recording.py            # 10 epochs (590 batches), 3 repeats
    python bench/bench_recording.py --quick    # 3 epochs, 2 repeats
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402


def workload(seed=0):
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 12, 10_000)
    f = np.where((x >= np.pi) & (x < 3 * np.pi), np.sin(x), 0.0)
    y = f + rng.normal(0, 0.5, x.size)
    index = rng.permutation(x.size)[:7_500]
    return x[index].astype("float32").reshape(-1, 1), y[index].astype("float32").reshape(-1, 1)


def make_model(weights=None):
    import keras

    model = keras.Sequential([
        keras.Input((1,)),
        keras.layers.Dense(200, activation="relu"),
        keras.layers.Dense(200, activation="relu"),
        keras.layers.Dense(200, activation="relu"),
        keras.layers.Dense(1),
    ])
    model.compile(optimizer=keras.optimizers.Adagrad(0.01), loss="mse")
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

        def on_train_batch_end(self, batch, logs=None):
            self.batches += 1
            if self.first is None:
                self.first = time.perf_counter()
                self.first_cpu = time.process_time()

        def on_train_end(self, logs=None):
            self.seconds = time.perf_counter() - self.first
            # CPU time of this process (all threads): less sensitive to other processes.
            self.cpu_seconds = time.process_time() - self.first_cpu

    return Timer()


def forward_only_callback(x_sample):
    import keras
    import tensorflow as tf

    class ForwardOnly(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            x = tf.constant(x_sample.reshape(-1, 1), tf.float32)
            model = self.model
            self.forward = tf.function(lambda: model(x, training=False)).get_concrete_function()

        def on_train_batch_end(self, batch, logs=None):
            self.forward()

    return ForwardOnly()


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


def run(name, x, y, weights, epochs, callback, steps=None):
    model = make_model(weights)
    timer = timer_callback()
    callbacks = ([callback] if callback is not None else []) + [timer]
    model.fit(x, y, epochs=epochs, batch_size=128, verbose=0, callbacks=callbacks,
              steps_per_epoch=steps, shuffle=True)
    # Per steady batch: the first batch (tracing) is outside the timed window.
    batches = max(timer.batches - 1, 1)
    return timer.seconds / batches, timer.cpu_seconds / batches


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 epochs, 2 repeats")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--skip-original", action="store_true", help="do not run (d)")
    args = parser.parse_args(argv)
    epochs = args.epochs or (3 if args.quick else 10)
    repeats = args.repeats or (2 if args.quick else 3)

    import keras

    from tb_fitviz import FitVizCallback

    x, y = workload()
    weights = make_model().get_weights()
    order = np.argsort(x.ravel())
    x_sample = x.ravel()[order][np.linspace(0, len(x) - 1, 1000).round().astype(int)]
    keras.utils.set_random_seed(1)

    with tempfile.TemporaryDirectory() as logs:
        counter = iter(range(10_000))

        def fitviz(**options):
            return FitVizCallback(os.path.join(logs, f"run{next(counter)}"), x, y, **options)

        variants = {
            "plain": lambda: None,
            "a": lambda: fitviz(every=1, sample=1000, images=False),
            "a+i": lambda: fitviz(every=1, sample=1000),
            "b": lambda: forward_only_callback(x_sample),
            "c": lambda: fitviz(),
        }
        if not args.skip_original:
            variants["d"] = lambda: original_callback(x_sample.reshape(-1, 1), x, y)
        times = {name: [] for name in variants}
        cpu_times = {name: [] for name in variants}
        extra = {"c_frames": [], "c_images": []}
        run("warm-up", x, y, weights, 1, None)
        for repeat in range(repeats):
            for name, make in variants.items():
                callback = make()
                n_epochs = 1 if name == "d" else epochs
                seconds, cpu_seconds = run(name, x, y, weights, n_epochs, callback)
                times[name].append(seconds)
                cpu_times[name].append(cpu_seconds)
                if name == "c":
                    extra["c_frames"].append(callback.writer.frames_recorded)
                    extra["c_images"].append(callback.writer._imaged_step is not None)
                print(f"  repeat {repeat + 1} {name:6s} {seconds * 1e3:7.2f} ms/batch",
                      file=sys.stderr, flush=True)

    plain = statistics.median(times["plain"])
    plain_cpu = statistics.median(cpu_times["plain"])
    print(f"workload: piecewise sine, 7,500 training points, 3 x Dense(200) -> Dense(1), "
          f"Adagrad 0.01, batch 128; {epochs} epochs ({epochs * 59} batches) per run, "
          f"{repeats} interleaved repeats, medians of ms per steady batch")
    print(f"{'':40s}{'wall time':>22s}   {'process CPU time':>24s}")
    print(f"{'plain fit':40s}{plain * 1e3:7.2f} ms/batch   1.00x   "
          f"{plain_cpu * 1e3:7.2f} ms/batch   1.00x")
    labels = {
        "a": "(a) every batch, sample=1000, no images",
        "a+i": "    (a) with images='epoch'",
        "b": "(b) compiled forward pass only",
        "c": "(c) default settings",
        "d": "(d) original: predict + redraw (1 epoch)",
    }
    ratios, cpu_ratios = {}, {}
    for name, label in labels.items():
        if name not in times:
            continue
        median = statistics.median(times[name])
        median_cpu = statistics.median(cpu_times[name])
        ratios[name] = median / plain
        cpu_ratios[name] = median_cpu / plain_cpu
        print(f"{label:40s}{median * 1e3:7.2f} ms/batch  {ratios[name]:5.2f}x   "
              f"{median_cpu * 1e3:7.2f} ms/batch  {cpu_ratios[name]:5.2f}x")
    print(f"(a) / (b) = {ratios['a'] / ratios['b']:.3f} wall, "
          f"{cpu_ratios['a'] / cpu_ratios['b']:.3f} CPU  (target <= 1.10)")
    print(f"(c) = {ratios['c']:.3f}x plain wall, {cpu_ratios['c']:.3f}x CPU  (target <= 1.10); "
          f"frames recorded by (c): {extra['c_frames']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
