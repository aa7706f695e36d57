"""FitVizCallback on real small Keras fits, read back with TensorBoard's own loader.

Keras 3 runs in this process; tf_keras (legacy Keras 2) runs in child
processes, since the Keras flavour of `tf.keras` is chosen when TensorFlow is
imported.
"""

import json
import math
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tb_fitviz import summary_format as fmt

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from test_writer import read_run, steps  # noqa: E402

from tb_fitviz import FitVizCallback, schedules  # noqa: E402
from tb_fitviz.keras_callback import is_chief  # noqa: E402

N_POINTS, BATCH = 300, 32  # 10 batches an epoch, the last one short (12 points)


def data(seed=0):
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(-2, 2, N_POINTS)).astype("float32")
    y = (np.sin(2 * x) + rng.normal(0, 0.2, N_POINTS)).astype("float32")
    return x.reshape(-1, 1), y.reshape(-1, 1)


def small_model(learning_rate=0.02, loss="mse", regularizer=None, seed=1):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input((1,)),
        keras.layers.Dense(16, activation="tanh", kernel_regularizer=regularizer),
        keras.layers.Dense(1),
    ])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate), loss=loss)
    return model


class BatchLossByHand(keras.callbacks.Callback):
    """Before each batch, the loss of that batch with the current weights, in NumPy."""

    def __init__(self, x, y, batch_size):
        super().__init__()
        self.x, self.y, self.batch_size = x, y, batch_size
        self.losses = []

    def on_train_batch_begin(self, batch, logs=None):
        start = batch * self.batch_size
        xb, yb = self.x[start:start + self.batch_size], self.y[start:start + self.batch_size]
        prediction = self.model(xb, training=False).numpy()
        self.losses.append(float(np.mean((prediction.astype(np.float64) - yb) ** 2)))


def test_schedule_last_frame_and_batch_losses(tmp_path):
    x, y = data()
    model = small_model()
    log_dir = str(tmp_path / "sgd")
    callback = FitVizCallback(log_dir, x, y, every=4, images=False, sample=100)
    by_hand = BatchLossByHand(x, y, BATCH)
    model.fit(x, y, epochs=3, batch_size=BATCH, shuffle=False, verbose=0,
              callbacks=[by_hand, callback])
    tags = read_run(log_dir)

    # Step 0 before training, step 1 (the first batch), every 4th, and the last (30).
    assert steps(tags, fmt.TAG_FRAME) == [0, 1] + list(range(4, 30, 4)) + [30]
    assert isinstance(callback, keras.callbacks.Callback)
    settings = fmt.decode_content(tags[fmt.TAG_SAMPLE][0][2].plugin_data.content)
    assert settings["framework"] == "keras" and settings["schedule"] == "every 4"

    # The last frame is the trained model's predictions on the sample.
    sample_x = tags[fmt.TAG_SAMPLE][0][1][0]
    expected = model(sample_x.reshape(-1, 1), training=False).numpy()[:, 0]
    last = tags[fmt.TAG_FRAME][-1][1]
    np.testing.assert_allclose(last[0], expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(last[1], (expected - tags[fmt.TAG_SAMPLE][0][1][1]) ** 2,
                               rtol=1e-4, atol=1e-6)
    info = [value for _, value, _ in tags[fmt.TAG_FRAME_INFO]]
    assert [v[0] for v in info] == [0, 0] + [0, 0, 1, 1, 1, 2, 2] + [2]

    # Each batch's own loss (short last batches included), not Keras' running mean.
    assert steps(tags, fmt.SCALAR_BATCH_LOSS) == list(range(1, 31))
    recorded = [value for _, value, _ in tags[fmt.SCALAR_BATCH_LOSS]]
    np.testing.assert_allclose(recorded, by_hand.losses, rtol=2e-4)
    chunks = np.concatenate([v for _, v, _ in tags[fmt.TAG_BATCH_LOSSES]], axis=1)
    np.testing.assert_array_equal(chunks[0], np.arange(1, 31))
    np.testing.assert_allclose(chunks[1], by_hand.losses, rtol=2e-4)
    assert steps(tags, fmt.SCALAR_EPOCH_LOSS) == [10, 20, 30]


def test_fixed_weights_every_batch_loss_known(tmp_path):
    """Learning rate 0: the model never changes, so every batch loss is known in advance."""
    x, y = data(3)
    model = small_model(learning_rate=0.0)
    prediction = model(x, training=False).numpy().astype(np.float64)
    expected = [float(np.mean((prediction[i:i + 64] - y[i:i + 64]) ** 2))
                for i in range(0, N_POINTS, 64)]  # 4 x 64 + 44
    callback = FitVizCallback(str(tmp_path / "frozen"), x, y, every=schedules.EveryN(2),
                              images=False)
    model.fit(x, y, epochs=2, batch_size=64, shuffle=False, verbose=0, callbacks=[callback])
    tags = read_run(str(tmp_path / "frozen"))
    recorded = [value for _, value, _ in tags[fmt.SCALAR_BATCH_LOSS]]
    np.testing.assert_allclose(recorded, expected * 2, rtol=1e-4)
    assert steps(tags, fmt.TAG_FRAME) == [0, 1, 2, 4, 6, 8, 10]


@pytest.mark.parametrize("loss, model_loss, expected", [
    ("squared", "mse", lambda y, p: (p - y) ** 2),
    ("absolute", "mse", lambda y, p: np.abs(p - y)),
    ("model", "mae", lambda y, p: np.abs(p - y)),
    ("model", keras.losses.Huber(delta=0.3),
     lambda y, p: np.where(np.abs(p - y) <= 0.3, 0.5 * (p - y) ** 2,
                           0.3 * np.abs(p - y) - 0.5 * 0.3 ** 2)),
    (lambda y, p: (p - y) ** 4, "mse", lambda y, p: (p - y) ** 4),
])
def test_per_point_loss_kinds_and_validation(tmp_path, loss, model_loss, expected):
    x, y = data(4)
    xv, yv = data(5)
    model = small_model(loss=model_loss)
    log_dir = str(tmp_path / "loss")
    callback = FitVizCallback(log_dir, x, y, loss=loss, validation_data=(xv[::3], yv[::3]),
                              every=5, images=False)
    model.fit(x, y, epochs=1, batch_size=BATCH, verbose=0, callbacks=[callback])
    tags = read_run(log_dir)
    sample_x, sample_y = tags[fmt.TAG_SAMPLE][0][1].astype(np.float64)
    val_x, val_y = tags[fmt.TAG_VALIDATION][0][1].astype(np.float64)
    prediction = model(sample_x.reshape(-1, 1)).numpy()[:, 0].astype(np.float64)
    val_prediction = model(val_x.reshape(-1, 1)).numpy()[:, 0].astype(np.float64)
    last_step, frame, _ = tags[fmt.TAG_FRAME][-1]
    assert last_step == 10
    np.testing.assert_allclose(frame[1], expected(sample_y, prediction), rtol=1e-4, atol=1e-6)
    info = tags[fmt.TAG_FRAME_INFO][-1][1]
    assert info[1] == pytest.approx(np.mean(expected(sample_y, prediction)), rel=1e-4)
    assert info[2] == pytest.approx(np.mean(expected(val_y, val_prediction)), rel=1e-4)
    assert math.isnan(info[3])  # no regularization


def test_regularization_loss_and_two_fits_continue_the_run(tmp_path):
    x, y = data(6)
    model = small_model(regularizer=keras.regularizers.L2(0.01))
    log_dir = str(tmp_path / "l2")
    callback = FitVizCallback(log_dir, x, y, every=3, images=False)
    model.fit(x, y, epochs=1, batch_size=BATCH, verbose=0, callbacks=[callback])
    model.fit(x, y, epochs=1, batch_size=BATCH, verbose=0, callbacks=[callback])
    tags = read_run(log_dir)
    # One run: the second fit continues the global step; no step repeats.
    assert steps(tags, fmt.TAG_FRAME) == [0, 1, 3, 6, 9, 10, 11, 12, 15, 18, 20]
    assert steps(tags, fmt.SCALAR_BATCH_LOSS) == list(range(1, 21))
    assert steps(tags, fmt.TAG_SAMPLE) == [0]
    kernel = model.layers[0].kernel.numpy().astype(np.float64)
    info = tags[fmt.TAG_FRAME_INFO][-1][1]
    assert info[0] == 1  # the second fit's epoch is the run's second epoch
    assert info[3] == pytest.approx(0.01 * np.sum(kernel ** 2), rel=1e-4)
    assert steps(tags, fmt.SCALAR_REGULARIZATION_LOSS)[-1] == 20


def test_default_settings_record_a_log_spaced_subset_and_figures(tmp_path):
    x, y = data(7)
    model = small_model()
    log_dir = str(tmp_path / "default")
    callback = FitVizCallback(log_dir, x, y)
    model.fit(x, y, epochs=3, batch_size=BATCH, verbose=0, callbacks=[callback])
    callback.writer.wait_for_images()
    tags = read_run(log_dir)
    frame_steps = steps(tags, fmt.TAG_FRAME)
    assert frame_steps[:2] == [0, 1] and frame_steps[-1] == 30
    assert frame_steps == sorted(set(frame_steps))
    figures = steps(tags, fmt.TAG_FIGURE)
    assert figures and figures[-1] == 30 and set(figures) <= {10, 20, 30}
    settings = fmt.decode_content(tags[fmt.TAG_SAMPLE][0][2].plugin_data.content)
    assert settings["schedule"] == "log-spaced, budget 300, at most 5% overhead"


def test_on_change_records_only_when_predictions_moved(tmp_path):
    x, y = data(8)
    model = small_model(learning_rate=0.05)
    log_dir = str(tmp_path / "on-change")
    schedule = schedules.OnChange(tolerance=0.05)
    callback = FitVizCallback(log_dir, x, y, every=schedule, images=False)
    model.fit(x, y, epochs=3, batch_size=BATCH, verbose=0, callbacks=[callback])
    tags = read_run(log_dir)
    frames = {step: value[0] for step, value, _ in tags[fmt.TAG_FRAME]}
    recorded = sorted(frames)
    assert 3 < len(recorded) < 31
    threshold = 0.05 * np.ptp(tags[fmt.TAG_SAMPLE][0][1][1])
    for before, after in zip(recorded[1:-2], recorded[2:-1]):
        assert np.max(np.abs(frames[after] - frames[before])) > threshold


def test_nan_predictions_are_recorded_without_crash(tmp_path):
    x, y = data(9)
    model = small_model(learning_rate=0.0)
    kernel = model.layers[1].kernel
    kernel.assign(np.full(kernel.shape, np.nan, dtype="float32"))
    log_dir = str(tmp_path / "nan")
    callback = FitVizCallback(log_dir, x, y, every=1)
    model.fit(x, y, epochs=1, batch_size=BATCH, verbose=0, callbacks=[callback])
    callback.writer.wait_for_images()
    tags = read_run(log_dir)
    assert steps(tags, fmt.TAG_FRAME) == list(range(11))
    assert np.isnan(tags[fmt.TAG_FRAME][-1][1]).all()
    assert math.isnan(tags[fmt.TAG_FRAME_INFO][-1][1][1])
    assert steps(tags, fmt.TAG_FIGURE) == [10]


class Interrupt(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        if batch == 6:
            raise KeyboardInterrupt


def test_keyboard_interrupt_leaves_every_frame_readable(tmp_path):
    x, y = data(10)
    model = small_model()
    log_dir = str(tmp_path / "interrupted")
    callback = FitVizCallback(log_dir, x, y, every=1, images=False)
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, epochs=2, batch_size=BATCH, verbose=0, callbacks=[callback, Interrupt()])
    # Read while the callback (and its open event file) is still alive.
    tags = read_run(log_dir)
    assert steps(tags, fmt.TAG_FRAME) == list(range(8))


def test_only_the_chief_writes():
    class Resolver:
        def __init__(self, task_type, task_id, cluster):
            self.task_type, self.task_id, self._cluster = task_type, task_id, cluster

        def cluster_spec(self):
            return tf.train.ClusterSpec(self._cluster)

    class Model:
        def __init__(self, resolver):
            self.distribute_strategy = type("S", (), {"cluster_resolver": resolver})()

    workers = {"worker": ["a:1", "b:1"]}
    with_chief = {"chief": ["c:1"], "worker": ["a:1", "b:1"]}
    assert is_chief(Model(None))
    assert is_chief(Model(Resolver(None, None, {})))
    assert is_chief(Model(Resolver("worker", 0, workers)))
    assert not is_chief(Model(Resolver("worker", 1, workers)))
    assert is_chief(Model(Resolver("chief", 0, with_chief)))
    assert not is_chief(Model(Resolver("worker", 0, with_chief)))
    assert not is_chief(Model(Resolver("evaluator", 0, workers)))


def test_mirrored_strategy_single_machine_writes(tmp_path):
    x, y = data(11)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    with strategy.scope():
        model = small_model()
    callback = FitVizCallback(str(tmp_path / "mirrored"), x, y, every=5, images=False)
    model.fit(x, y, epochs=1, batch_size=BATCH, verbose=0, callbacks=[callback])
    assert steps(read_run(str(tmp_path / "mirrored")), fmt.TAG_FRAME) == [0, 1, 5, 10]


TF_KERAS_SCRIPT = textwrap.dedent("""
    import json, os, sys
    import numpy as np
    MODE = sys.argv[2]
    if MODE == "legacy-env":
        import tensorflow as tf
        keras = tf.keras
        from tb_fitviz import FitVizCallback
    else:  # tf_keras imported directly; Keras 3 imported too, and first
        import keras as keras3  # noqa: F401
        from tb_fitviz import FitVizCallback
        import tf_keras as keras
    x = np.sort(np.random.default_rng(0).uniform(-2, 2, 300)).astype("float32").reshape(-1, 1)
    y = np.sin(2 * x).astype("float32")
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.layers.Dense(16, activation="tanh", input_shape=(1,)),
                              keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse")
    prediction = model(x).numpy().astype(np.float64)
    expected = [float(np.mean((prediction[i:i + 32] - y[i:i + 32]) ** 2))
                for i in range(0, 300, 32)]
    callback = FitVizCallback(sys.argv[1], x, y, every=3, loss="model", images=False)
    model.fit(x, y, epochs=2, batch_size=32, shuffle=False, verbose=0, callbacks=[callback])
    sample_x = callback.writer.x_sample.astype("float32").reshape(-1, 1)
    print(json.dumps({
        "module": type(model).__module__,
        "callback_base": [c.__module__ for c in type(callback).__mro__],
        "is_keras_callback": isinstance(callback, keras.callbacks.Callback),
        "expected_batch_losses": expected * 2,
        "last_prediction": model(sample_x).numpy()[:, 0].tolist(),
    }))
""")


@pytest.mark.parametrize("mode", ["legacy-env", "import-tf_keras"])
def test_tf_keras(tmp_path, mode):
    pytest.importorskip("tf_keras")
    script = tmp_path / "fit_tf_keras.py"
    script.write_text(TF_KERAS_SCRIPT)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    if mode == "legacy-env":
        env["TF_USE_LEGACY_KERAS"] = "1"
    else:
        env.pop("TF_USE_LEGACY_KERAS", None)
    log_dir = tmp_path / "tf-keras"
    result = subprocess.run([sys.executable, str(script), str(log_dir), mode], env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["module"].startswith("tf_keras.")
    if mode == "legacy-env":
        # The flavour is guessed when the callback is made (TF_USE_LEGACY_KERAS says
        # tf_keras); with both Kerases imported the guess is Keras 3, and the callback
        # still records a tf_keras model exactly (it never changes its class).
        assert report["is_keras_callback"]
        assert any(m.startswith("tf_keras.") for m in report["callback_base"])

    tags = read_run(str(log_dir))
    assert steps(tags, fmt.TAG_FRAME) == [0, 1, 3, 6, 9, 12, 15, 18, 20]
    settings = fmt.decode_content(tags[fmt.TAG_SAMPLE][0][2].plugin_data.content)
    assert settings["framework"] == "tf_keras" and settings["loss"] == "model"
    recorded = [value for _, value, _ in tags[fmt.SCALAR_BATCH_LOSS]]
    np.testing.assert_allclose(recorded, report["expected_batch_losses"], rtol=1e-4)
    last = tags[fmt.TAG_FRAME][-1][1]
    np.testing.assert_allclose(last[0], report["last_prediction"], rtol=1e-5, atol=1e-6)
    sample_y = tags[fmt.TAG_SAMPLE][0][1][1]
    np.testing.assert_allclose(last[1], (last[0] - sample_y) ** 2, rtol=1e-4, atol=1e-6)


def test_steps_per_execution_counts_real_batches(tmp_path):
    """Keras calls back once per execution (3 batches); the last one holds a single batch."""
    x, y = data(12)
    model = small_model(learning_rate=0.0)
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse", steps_per_execution=3)
    prediction = model(x, training=False).numpy().astype(np.float64)
    own = [float(np.mean((prediction[i:i + BATCH] - y[i:i + BATCH]) ** 2))
           for i in range(0, N_POINTS, BATCH)]
    log_dir = str(tmp_path / "spe")
    callback = FitVizCallback(log_dir, x, y, every=1, images=False)
    model.fit(x, y, epochs=1, batch_size=BATCH, shuffle=False, verbose=0, callbacks=[callback])
    tags = read_run(log_dir)
    assert steps(tags, fmt.TAG_FRAME) == [0, 3, 6, 9, 10]
    assert steps(tags, fmt.SCALAR_BATCH_LOSS) == [3, 6, 9, 10]
    recorded = [value for _, value, _ in tags[fmt.SCALAR_BATCH_LOSS]]
    np.testing.assert_allclose(recorded, [np.mean(own[0:3]), np.mean(own[3:6]),
                                          np.mean(own[6:9]), own[9]], rtol=1e-4)
