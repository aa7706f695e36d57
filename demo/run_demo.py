"""The FitViz demo: trains small Keras models with FitVizCallback, then serves TensorBoard.

Runs (all under one log directory, default demo_logs/):

    linear/sgd-lr0.01    the article's example: a straight line whose noise grows with x,
                         fitted by one Dense(1) unit with SGD
    linear/sgd-lr0.002   the same with a 5 times smaller learning rate (slow: the
                         intercept lags far behind the slope)
    linear/sgd-lr0.025   the same with a 2.5 times larger one (near the edge of
                         stability: the line swings before it settles)
    sine/adagrad-lr0.01  the notebook's example: a piecewise sine (0, sin x, 0) on
                         10,000 points with Gaussian noise, 3 x Dense(200, relu) -> Dense(1),
                         Adagrad 0.01, batch 128 (50 epochs; the notebook ran 75), with
                         the held-out 25% shown as validation points

    moons/adam-lr0.03    two features, two classes: two interleaved half-moons (2,000
                         points), 2 x Dense(16, tanh) -> Dense(1, sigmoid), Adam 0.03, 20
                         epochs; drawn as a surface of P(class 1) over both features
    moons/adam-lr0.003   the same with a 10 times smaller learning rate (the boundary
                         stays nearly straight for a long time)
    multi/three-features-two-outputs
                         a regression with three features and two outputs ("wave" and
                         "product"), 2 x Dense(32, relu) -> Dense(2), Adam 0.01, 20
                         epochs; drawn as predicted against true values, per output

The data are made here (no downloads) with fixed seeds. The three linear runs
differ in the learning rate only: select them together in the FitViz tab; so do
the two moons runs.

Usage:
    python demo/run_demo.py [--logdir demo_logs] [--quick] [--no-serve | --no-train] [--port 6006]
"""

import argparse
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

# Before TensorFlow is imported: its C++ start-up messages are noise here.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parent.parent


# -- data --------------------------------------------------------------------


def linear_data(rng, count):
    """y = 1 + 0.5 x with noise whose spread grows with x (heteroscedastic), x in [0, 10]."""
    import numpy as np

    x = rng.uniform(0.0, 10.0, count)
    noise = rng.normal(0.0, 1.0, count) * (0.1 + 0.3 * x)
    return x.astype(np.float32), (1.0 + 0.5 * x + noise).astype(np.float32)


def piecewise_sine_data(rng, count):
    """The notebook's target: 0 below pi, sin(x) up to 3 pi, 0 after; x in [0, 12], noise 0.5."""
    import numpy as np

    x = np.linspace(0.0, 12.0, count)
    clean = np.where((x >= math.pi) & (x < 3 * math.pi), np.sin(x), 0.0)
    y = clean + rng.normal(0.0, 0.5, count)
    order = rng.permutation(count)
    train, test = order[: count * 3 // 4], order[count * 3 // 4:]
    as32 = np.float32
    return (x[train].astype(as32), y[train].astype(as32)), (x[test].astype(as32),
                                                            y[test].astype(as32))


def half_moons(rng, count, noise=0.15):
    """Two interleaved half-moons (class 0 above, class 1 below), shuffled."""
    import numpy as np

    half = count // 2
    angle = rng.uniform(0.0, math.pi, count)
    upper = np.arange(count) < half
    x = np.where(upper, np.cos(angle), 1.0 - np.cos(angle))
    y = np.where(upper, np.sin(angle), 0.5 - np.sin(angle))
    points = np.column_stack([x, y]) + rng.normal(0.0, noise, (count, 2))
    labels = (~upper).astype(np.int64)
    order = rng.permutation(count)
    return points[order].astype(np.float32), labels[order]


def two_output_data(rng, count):
    """Three features in [-2, 2]; outputs "wave" = sin(2 x1) + 0.5 x2 and "product" = x2 x3,
    each with noise 0.1."""
    import numpy as np

    x = rng.uniform(-2.0, 2.0, (count, 3))
    wave = np.sin(2 * x[:, 0]) + 0.5 * x[:, 1]
    product = x[:, 1] * x[:, 2]
    y = np.column_stack([wave, product]) + rng.normal(0.0, 0.1, (count, 2))
    return x.astype(np.float32), y.astype(np.float32)


# -- models ------------------------------------------------------------------


def linear_model(keras, learning_rate):
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate), loss="mse")
    return model


def sine_model(keras):
    model = keras.Sequential(
        [keras.Input((1,))]
        + [keras.layers.Dense(200, activation="relu") for _ in range(3)]
        + [keras.layers.Dense(1)]
    )
    model.compile(optimizer=keras.optimizers.Adagrad(0.01), loss="mse")
    return model


def moons_model(keras, learning_rate):
    model = keras.Sequential([
        keras.Input((2,)),
        keras.layers.Dense(16, activation="tanh"),
        keras.layers.Dense(16, activation="tanh"),
        keras.layers.Dense(1, activation="sigmoid"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="binary_crossentropy")
    return model


def two_output_model(keras):
    model = keras.Sequential([
        keras.Input((3,)),
        keras.layers.Dense(32, activation="relu"),
        keras.layers.Dense(32, activation="relu"),
        keras.layers.Dense(2),
    ])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    return model


# -- progress ----------------------------------------------------------------


def progress_callback(keras, label, epochs, stream=sys.stdout):
    """A one-line progress bar per run: epochs done, the epoch's loss, time so far."""

    class Progress(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.began = time.perf_counter()
            self.loss = math.nan
            self.done = 0
            self.terminal = stream.isatty()
            self.draw(final=False)

        def on_epoch_end(self, epoch, logs=None):
            self.done = epoch + 1
            self.loss = float((logs or {}).get("loss", math.nan))
            self.draw(final=False)

        def on_train_end(self, logs=None):
            self.draw(final=True)

        def draw(self, final):
            width = 24
            filled = width * self.done // epochs
            line = (f"  {label:<32} [{'#' * filled}{'-' * (width - filled)}] "
                    f"epoch {self.done:>3}/{epochs}  loss {self.loss:9.4f}  "
                    f"{time.perf_counter() - self.began:5.1f} s")
            if self.terminal:
                stream.write("\r" + line + ("\n" if final else ""))
            elif final:
                stream.write(line + "\n")
            stream.flush()

    return Progress()


# -- training ----------------------------------------------------------------


def train_all(logdir, quick=False):
    """Trains every demo run into `logdir`; returns {run name: seconds}."""
    import keras
    import numpy as np

    from tb_fitviz import FitVizCallback, schedules

    timings = {}
    linear_epochs = 3 if quick else 20
    # The notebook trained 75 epochs; 50 show the same story and keep the demo
    # within 3 minutes on 2 cores.
    sine_epochs = 3 if quick else 50
    points = 400 if quick else 2000
    # Frames dense early (where the curve moves most), sparse late; no time cap,
    # so that every run gets its frames however busy the machine is.
    frames = 60 if quick else 300

    for learning_rate in (0.01, 0.002, 0.025):
        keras.utils.set_random_seed(1)
        x, y = linear_data(np.random.default_rng(1), points)
        run = f"linear/sgd-lr{learning_rate:g}"
        model = linear_model(keras, learning_rate)
        began = time.perf_counter()
        model.fit(
            x, y, epochs=linear_epochs, batch_size=50, verbose=0,
            callbacks=[
                FitVizCallback(os.path.join(logdir, run), x, y, x_label="x", y_label="y",
                               every=schedules.LogSpaced(budget=frames),
                               title=f"Linear, noise grows with x: SGD, lr {learning_rate:g}"),
                progress_callback(keras, run, linear_epochs),
            ],
        )
        timings[run] = time.perf_counter() - began

    keras.utils.set_random_seed(2)
    (x, y), (x_test, y_test) = piecewise_sine_data(np.random.default_rng(2),
                                                   2000 if quick else 10000)
    run = "sine/adagrad-lr0.01"
    model = sine_model(keras)
    began = time.perf_counter()
    model.fit(
        x, y, epochs=sine_epochs, batch_size=128, verbose=0,
        validation_data=(x_test, y_test),
        callbacks=[
            FitVizCallback(os.path.join(logdir, run), x, y, validation_data=(x_test, y_test),
                           x_label="x", y_label="y", every=schedules.LogSpaced(budget=frames),
                           title="Piecewise sine: 3 x Dense(200, relu), Adagrad 0.01"),
            progress_callback(keras, run, sine_epochs),
        ],
    )
    timings[run] = time.perf_counter() - began

    moons_epochs = 3 if quick else 20
    x, labels = half_moons(np.random.default_rng(3), 400 if quick else 2000)
    for learning_rate in (0.03, 0.003):
        keras.utils.set_random_seed(3)
        run = f"moons/adam-lr{learning_rate:g}"
        model = moons_model(keras, learning_rate)
        began = time.perf_counter()
        model.fit(
            x, labels, epochs=moons_epochs, batch_size=32, verbose=0,
            callbacks=[
                FitVizCallback(os.path.join(logdir, run), x, labels,
                               class_names=["upper moon", "lower moon"],
                               every=schedules.LogSpaced(budget=frames),
                               title=f"Two half-moons: 2 x Dense(16, tanh), "
                                     f"Adam {learning_rate:g}"),
                progress_callback(keras, run, moons_epochs),
            ],
        )
        timings[run] = time.perf_counter() - began

    multi_epochs = 3 if quick else 20
    keras.utils.set_random_seed(4)
    x, y = two_output_data(np.random.default_rng(4), 600 if quick else 3000)
    run = "multi/three-features-two-outputs"
    model = two_output_model(keras)
    began = time.perf_counter()
    model.fit(
        x, y, epochs=multi_epochs, batch_size=64, verbose=0,
        callbacks=[
            FitVizCallback(os.path.join(logdir, run), x, y, feature_names=["x1", "x2", "x3"],
                           output_names=["wave", "product"],
                           every=schedules.LogSpaced(budget=frames),
                           title="Three features, two outputs: 2 x Dense(32, relu), Adam 0.01"),
            progress_callback(keras, run, multi_epochs),
        ],
    )
    timings[run] = time.perf_counter() - began
    return timings


# -- serving -----------------------------------------------------------------


def first_free_port(host, first, tries=50):
    """The first port from `first` on that nobody listens on (0 if none)."""
    for port in range(first, first + tries):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError:
                continue
            return port
    return 0


def _stop(signum, frame):
    raise KeyboardInterrupt


def serve(logdir, host, port):
    """Runs TensorBoard on `logdir` until Ctrl-C; prints the URL once it answers."""
    free = first_free_port(host, port)
    if free == 0:
        sys.exit(f"error: --port: no free port from {port} to {port + 49}")
    if free != port:
        print(f"port {port} is taken; using {free}")
    command = [
        sys.executable, "-m", "tensorboard.main", "--logdir", str(logdir),
        "--host", host, "--port", str(free),
        # Keep every figure of the Images tab too (one per epoch), not only 10.
        "--samples_per_plugin", "images=200",
    ]
    server = subprocess.Popen(command)
    url = f"http://{host}:{free}/"
    # Ctrl-C, and a plain kill or a closed terminal too, stop TensorBoard with the demo
    # (set explicitly: a parent that ignores SIGINT would otherwise pass that on).
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), _stop)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if server.poll() is not None:
                sys.exit(f"error: tensorboard exited with status {server.returncode}")
            try:
                with urllib.request.urlopen(url + "data/plugins_listing", timeout=2):
                    break
            except OSError:
                time.sleep(0.3)
        print(f"\nTensorBoard is serving the demo: open {url}#fitviz   (Ctrl-C stops it)\n",
              flush=True)
        server.wait()
    except KeyboardInterrupt:
        print("\nstopping TensorBoard")
    finally:
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--logdir", default=str(ROOT / "demo_logs"),
                        help="where the runs go (default: demo_logs/ in the checkout); "
                        "its old content is replaced")
    parser.add_argument("--quick", action="store_true",
                        help="a few epochs on less data: a smoke test, not a demo")
    parser.add_argument("--no-serve", action="store_true",
                        help="train only; do not start TensorBoard")
    parser.add_argument("--no-train", action="store_true",
                        help="serve the runs an earlier demo wrote, without training again")
    parser.add_argument("--host", default="localhost",
                        help="TensorBoard's host (default localhost)")
    parser.add_argument("--port", type=int, default=6006,
                        help="TensorBoard's port, or the first free one after it (default 6006)")
    args = parser.parse_args(argv)
    if not 1 <= args.port <= 65535:
        parser.error(f"--port: expected 1 to 65535, got {args.port}")

    logdir = Path(args.logdir).resolve()
    if args.no_train:
        if args.no_serve:
            parser.error("--no-train and --no-serve: nothing left to do")
        if not (logdir / ".fitviz-demo").exists():
            parser.error(f"--no-train: no demo runs in {str(logdir)!r}; run the demo once first")
        serve(logdir, args.host, args.port)
        return 0
    if logdir.exists():
        # Old runs of the demo would mix with the new ones (steps restart at 0).
        if not (logdir / ".fitviz-demo").exists() and any(logdir.iterdir()):
            parser.error(f"--logdir: {str(logdir)!r} is not empty and was not made by the "
                         "demo; give an empty or new folder")
        shutil.rmtree(logdir)
    logdir.mkdir(parents=True)
    (logdir / ".fitviz-demo").write_text("made by demo/run_demo.py; replaced on every run\n")

    began = time.perf_counter()
    print(f"training the FitViz demo into {logdir}" + (" (quick)" if args.quick else ""))
    timings = train_all(str(logdir), quick=args.quick)
    total = time.perf_counter() - began
    print(f"trained {len(timings)} runs in {total:.0f} s "
          f"(fits: {sum(timings.values()):.0f} s, the rest is start-up)")
    if args.no_serve:
        print(f"to look at them: tensorboard --logdir {logdir}")
        return 0
    serve(logdir, args.host, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
