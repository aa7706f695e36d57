"""Recording cost on Keras 3's JAX (or PyTorch) backend: ratios measured in one process.

Keras fixes its backend per process, so this script starts itself again with
KERAS_BACKEND set and runs every variant there, interleaved (plain, s, a, b,
c, plain, ...), on fresh models with the same initial weights. Workload: the
notebook's piecewise sine (7,500 training points, 3 x Dense(200, relu) ->
Dense(1), MSE, Adagrad 0.01, batch 128: 59 batches an epoch).

  plain  fit with no callback (Keras may then run batch hooks asynchronously)
  (s)    a batch-end hook that does nothing: what any callback that is not
         `async_safe` costs (Keras then calls batch hooks synchronously)
  (a)    FitVizCallback(every=1, sample=1000, images=False): a frame after every batch
  (b)    the floor under (a): the same 1,000 points through a compiled forward
         pass after every batch, results fetched to the host, nothing else
         (JAX: jax.jit over model.stateless_call with the trainer's current
         state; PyTorch: the model under torch.no_grad on a tensor made once)
  (c)    FitVizCallback with default settings

Times run from the end of the first epoch to the end of fit (compilation left
out), per batch; medians over the repeats; wall time and process CPU time.

    python bench/bench_backends.py                    # JAX, 6 epochs, 3 repeats
    python bench/bench_backends.py --quick            # 3 epochs, 2 repeats
    python bench/bench_backends.py --backend torch    # needs torch installed
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import bench_recording
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
LABELS = {
    "s": "(s) no-op batch hook (synchronous hooks)",
    "a": "(a) every batch, sample=1000, no images",
    "b": "(b) floor: compiled forward pass only",
    "c": "(c) default settings",
}


def make_model(weights=None):
    """The recording bench's sine model (`bench_recording.make_model`)."""
    return bench_recording.make_model("sine", weights)


def timer_callback():
    """Wall and CPU seconds from the end of the first epoch to the end of fit. No batch
    hook: a plain fit keeps Keras' asynchronous batch-end dispatch."""
    import keras

    class Timer(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                self.first = time.perf_counter()
                self.first_cpu = time.process_time()

        def on_train_end(self, logs=None):
            self.seconds = time.perf_counter() - self.first
            self.cpu_seconds = time.process_time() - self.first_cpu

    return Timer()


def floor_callback(x_sample, backend):
    """A compiled forward pass over the sample after every batch, and nothing else."""
    import keras

    class Floor(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            model = self.model
            if backend == "jax":
                import jax

                self.x = jax.device_put(x_sample)

                def forward(trainable, non_trainable, x):
                    return model.stateless_call(trainable, non_trainable, x,
                                                training=False)[0]

                self.function = jax.jit(forward)
            else:
                self.x = keras.ops.convert_to_tensor(x_sample)

        def on_train_batch_end(self, batch, logs=None):
            model = self.model
            if backend == "jax":
                state = model._jax_state  # the trainer's current state (variables are empty)
                out = self.function(list(state["trainable_variables"]),
                                    list(state["non_trainable_variables"]), self.x)
                np.asarray(out)
            else:
                import torch

                with torch.no_grad():
                    keras.ops.convert_to_numpy(model(self.x, training=False))

    return Floor()


def noop_callback():
    import keras

    class Noop(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            pass

    return Noop()


def run(x, y, weights, epochs, callback):
    model = make_model(weights)
    timer = timer_callback()
    callbacks = ([callback] if callback is not None else []) + [timer]
    model.fit(x, y, epochs=epochs, batch_size=128, verbose=0, callbacks=callbacks, shuffle=True)
    batches = (epochs - 1) * -(-len(x) // 128)
    return timer.seconds / batches, timer.cpu_seconds / batches


def measure(epochs, repeats, backend):
    """Runs in the KERAS_BACKEND process: {name: ([wall per batch], [cpu per batch])}."""
    import keras

    from tb_fitviz import FitVizCallback

    assert keras.backend.backend() == backend, keras.backend.backend()
    x, y = bench_recording.sine_workload()
    weights = make_model().get_weights()
    order = np.argsort(x.ravel())
    x_sample = x.ravel()[order][np.linspace(0, len(x) - 1, 1000).round().astype(int)]
    x_sample = x_sample.reshape(-1, 1)
    times = {}
    frames = []
    with tempfile.TemporaryDirectory() as logs:
        counter = iter(range(10_000))

        def fitviz(**options):
            return FitVizCallback(os.path.join(logs, f"run{next(counter)}"), x, y, **options)

        variants = {
            "plain": lambda: None,
            "s": noop_callback,
            "a": lambda: fitviz(every=1, sample=1000, images=False),
            "b": lambda: floor_callback(x_sample, backend),
            "c": lambda: fitviz(),
        }
        run(x, y, weights, 2, None)  # warm-up
        for repeat in range(repeats):
            for name, make in variants.items():
                callback = make()
                seconds, cpu = run(x, y, weights, epochs, callback)
                wall_list, cpu_list = times.setdefault(name, ([], []))
                wall_list.append(seconds)
                cpu_list.append(cpu)
                if name == "c":
                    frames.append(callback.writer.frames_recorded)
                print(f"  repeat {repeat + 1} {name:6s} {seconds * 1e3:7.2f} ms/batch",
                      file=sys.stderr, flush=True)
    return {"times": times, "c_frames": frames, "keras": keras.__version__}


def report(result, epochs, repeats, backend):
    times = result["times"]
    plain = statistics.median(times["plain"][0])
    plain_cpu = statistics.median(times["plain"][1])
    print(f"Keras {result['keras']} on {backend} (CPU): piecewise sine, 7,500 training points, "
          f"3 x Dense(200) -> Dense(1), Adagrad 0.01, batch 128; {epochs} epochs per run "
          f"(the first left out), {repeats} interleaved repeats, medians")
    print(f"{'':42s}{'wall time':>22s}   {'process CPU time':>24s}")
    print(f"{'plain fit':42s}{plain * 1e3:7.2f} ms/batch   1.00x   "
          f"{plain_cpu * 1e3:7.2f} ms/batch   1.00x")
    ratios, cpu_ratios = {}, {}
    for name, label in LABELS.items():
        wall = statistics.median(times[name][0])
        cpu = statistics.median(times[name][1])
        ratios[name], cpu_ratios[name] = wall / plain, cpu / plain_cpu
        print(f"{label:42s}{wall * 1e3:7.2f} ms/batch  {ratios[name]:5.2f}x   "
              f"{cpu * 1e3:7.2f} ms/batch  {cpu_ratios[name]:5.2f}x")
    print(f"(a) / (b) = {ratios['a'] / ratios['b']:.3f} wall, "
          f"{cpu_ratios['a'] / cpu_ratios['b']:.3f} CPU  (recording after every batch "
          f"against its own floor)")
    print(f"(c) = {ratios['c']:.3f}x plain wall, {cpu_ratios['c']:.3f}x CPU; frames recorded "
          f"by (c): {result['c_frames']}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", default="jax", choices=["jax", "torch"])
    parser.add_argument("--quick", action="store_true", help="3 epochs, 2 repeats")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--worker", metavar="OUT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    epochs = args.epochs or (3 if args.quick else 6)
    repeats = args.repeats or (2 if args.quick else 3)
    if epochs < 2:
        parser.error("--epochs: at least 2 (the first epoch is left out)")
    if args.worker:
        with open(args.worker, "w") as file:
            json.dump(measure(epochs, repeats, args.backend), file)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "result.json")
        root = os.path.dirname(HERE)
        env = {**os.environ, "KERAS_BACKEND": args.backend, "TF_CPP_MIN_LOG_LEVEL": "2",
               "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
        command = [sys.executable, os.path.abspath(__file__), "--backend", args.backend,
                   "--epochs", str(epochs), "--repeats", str(repeats), "--worker", out]
        subprocess.run(command, env=env, check=True)
        with open(out) as file:
            result = json.load(file)
    report(result, epochs, repeats, args.backend)
    return 0


if __name__ == "__main__":
    sys.exit(main())
