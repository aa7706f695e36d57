"""Real Keras fits with FitVizCallback on the backend of this process (KERAS_BACKEND).

Run by tests/test_backends.py in a subprocess (Keras fixes its backend per
process; the rest of the suite runs TensorFlow):

    KERAS_BACKEND=jax python tests/backend_scripts/fits.py OUT_DIR

Writes the runs into OUT_DIR/logs and, for the test to compare with, OUT_DIR/results.npz
(the callback's points, `model.predict` on them after training, Keras' own logged
running loss at every batch with the batch sizes, the L2 penalty computed from
the weights) and OUT_DIR/results.json (what the process saw: backend, modules).
"""

import json
import os
import sys
import time

import numpy as np

started = time.perf_counter()
import keras  # noqa: E402

from tb_fitviz import FitVizCallback  # noqa: E402

# The half-moons of the demo and of the other tests (tests/kind_fits.py: stdlib and NumPy only).
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from kind_fits import half_moons  # noqa: E402

OUT = sys.argv[1]
LOGS = os.path.join(OUT, "logs")
L2 = 1e-3
results = {}
info = {"import_seconds": time.perf_counter() - started, "backend": keras.backend.backend(),
        "keras": keras.__version__, "runs": {}}


def dense(units, seed, **options):
    """A Dense layer with seeded Glorot-uniform initial weights drawn by NumPy (Keras'
    own random initializers cost a JAX compilation per shape, about 1 s each here)."""
    def initializer(shape, dtype=None):
        limit = np.sqrt(6 / (shape[0] + shape[1]))
        return np.random.default_rng(seed).uniform(-limit, limit, shape).astype("float32")

    return keras.layers.Dense(units, kernel_initializer=initializer, **options)


def fit(name, model, x, y, batch_size, epochs, **options):
    """Fits with FitVizCallback and a logger of Keras' own running loss; saves what the
    test compares with."""
    running, sizes = [], []

    def log(batch, logs):
        running.append(float(logs["loss"]))
        sizes.append(min(batch_size, len(x) - batch * batch_size))

    fit_started = time.perf_counter()
    callback = FitVizCallback(os.path.join(LOGS, name), x, y, every=1, images=False, **options)
    logger = keras.callbacks.LambdaCallback(on_train_batch_end=log)
    history = model.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=0,
                        shuffle=True, callbacks=[callback, logger])
    callback.close()
    writer = callback.writer
    results[f"{name}/x_sample"] = writer.x_sample
    # One batch of all the points: one compilation per point count.
    results[f"{name}/predict_sample"] = model.predict(
        np.asarray(writer.x_sample, dtype="float32"), batch_size=len(writer.x_sample), verbose=0)
    if writer.x_grid is not None:
        results[f"{name}/x_grid"] = writer.x_grid
        results[f"{name}/predict_grid"] = model.predict(
            np.asarray(writer.x_grid, dtype="float32"), batch_size=len(writer.x_grid), verbose=0)
    results[f"{name}/running_loss"] = np.array(running)
    results[f"{name}/batch_sizes"] = np.array(sizes)
    results[f"{name}/steps_per_epoch"] = np.array(-(-len(x) // batch_size))
    results[f"{name}/epoch_loss"] = np.array(history.history["loss"])
    kernels = [w for w in model.trainable_weights if "kernel" in w.path]
    results[f"{name}/l2_penalty"] = np.array(
        L2 * sum(float(np.sum(np.square(keras.ops.convert_to_numpy(w)))) for w in kernels))
    info["runs"][name] = {"seconds": time.perf_counter() - fit_started,
                          "frames_skipped": callback.frames_skipped,
                          "framework": writer.settings["framework"]}


np.random.seed(4)  # not keras.utils.set_random_seed: it imports TensorFlow to seed it

# A 1-D regression with an L2 penalty on every kernel (the stored regularization
# loss must be that penalty) and validation points.
rng = np.random.default_rng(0)
x = np.sort(rng.uniform(-2, 2, 300)).astype("float32")
y = (np.sin(2 * x) + 0.1 * rng.normal(size=300)).astype("float32")
regularizer = keras.regularizers.L2(L2)
model = keras.Sequential([
    keras.Input((1,)),
    dense(16, 1, activation="tanh", kernel_regularizer=regularizer),
    dense(1, 2, kernel_regularizer=regularizer)])
model.compile(keras.optimizers.Adam(0.02), "mse")
x_val = np.linspace(-2, 2, 50).astype("float32")
fit("sine", model, x, y, batch_size=64, epochs=2, sample=120,
    validation_data=(x_val, np.sin(2 * x_val)))

# A two-feature binary classifier (half-moons): one sigmoid unit, a 20 x 20 surface.
x, labels = half_moons(500)
model = keras.Sequential([keras.Input((2,)), dense(16, 3, activation="tanh"),
                          dense(1, 4, activation="sigmoid")])
model.compile(keras.optimizers.Adam(0.05), "binary_crossentropy")
fit("moons", model, x, labels, batch_size=64, epochs=2, sample=150, grid=20)

# A 3-class classifier over four features, softmax, with the model's own loss per point.
centres = np.array([[0, 0, 0, 0], [2, 1, 0, -1], [-1, 2, 1, 0]], dtype=np.float64)
labels = rng.choice(3, size=450, p=[0.5, 0.3, 0.2])
x = (centres[labels] + rng.normal(0, 0.7, (450, 4))).astype("float32")
model = keras.Sequential([keras.Input((4,)), dense(12, 5, activation="relu"),
                          dense(3, 6, activation="softmax")])
model.compile(keras.optimizers.Adam(0.02), "sparse_categorical_crossentropy")
fit("blobs", model, x, labels, batch_size=50, epochs=2, sample=90, loss="model")

# Bad input on this backend: refused when fit starts, with the argument named.
info["errors"] = {}
x1 = np.linspace(0, 1, 64).astype("float32")
model = keras.Sequential([keras.Input((1,)), dense(3, 7)])  # 3 outputs; the callback's y has 1
model.compile("sgd", "mse")
try:
    model.fit(x1, np.column_stack([x1, x1, x1]), epochs=1, verbose=0, callbacks=[
        FitVizCallback(os.path.join(OUT, "bad", "width"), x1, x1, images=False)])
except ValueError as error:
    info["errors"]["width"] = str(error)
first, second = keras.Input((1,)), keras.Input((1,))
model = keras.Model([first, second], keras.layers.Add()([first, second]))
model.compile("sgd", "mse")
try:
    model.fit([x1, x1], x1, epochs=1, verbose=0, callbacks=[
        FitVizCallback(os.path.join(OUT, "bad", "inputs"), x1, x1, images=False)])
except ValueError as error:
    info["errors"]["inputs"] = str(error)

info["modules"] = sorted(m for m in ("tensorflow", "jax", "torch") if m in sys.modules)
info["seconds"] = time.perf_counter() - started
np.savez(os.path.join(OUT, "results.npz"), **results)
with open(os.path.join(OUT, "results.json"), "w") as file:
    json.dump(info, file, indent=1)
