"""The frame made by the compiled forward pass (`tb_fitviz.compiled_frame`, XLA by default)
against the frame `FitVizWriter.record` makes with NumPy from the same model at the same
steps, for every kind of run: two FitViz callbacks in one real Keras fit, one of each.
Also `jit_compile` (XLA, its fallback, the option's checks) and `record_channels`."""

import os
import subprocess
import sys

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from test_writer import read_run  # noqa: E402

from tb_fitviz import FitVizCallback, FitVizWriter  # noqa: E402
from tb_fitviz import summary_format as fmt  # noqa: E402

RNG = np.random.default_rng(0)
X2 = RNG.normal(size=(400, 2)).astype("float32")
BINARY = (X2[:, 0] * X2[:, 1] > 0).astype("int64")
THREE = np.digitize(X2[:, 0], [-0.5, 0.5]).astype("int64")
X1 = np.linspace(-3, 3, 300).astype("float32")
X5 = RNG.normal(size=(300, 5)).astype("float32")


def mlp(inputs, outputs, activation=None, regularizer=None):
    keras.utils.set_random_seed(4)
    return keras.Sequential([keras.Input((inputs,)),
                             keras.layers.Dense(16, "tanh", kernel_regularizer=regularizer),
                             keras.layers.Dense(outputs, activation)])


# name: (model, its loss, x, y, FitViz options, Keras validation data)
CASES = {
    "binary sigmoid, validation, penalty": (
        lambda: mlp(2, 1, "sigmoid", "l2"), "binary_crossentropy", X2, BINARY, {}, True),
    "binary logits": (
        lambda: mlp(2, 1), keras.losses.BinaryCrossentropy(from_logits=True), X2, BINARY, {},
        False),
    "binary, two logit units, one-hot": (
        lambda: mlp(2, 2), keras.losses.CategoricalCrossentropy(from_logits=True), X2,
        np.eye(2, dtype="float32")[BINARY], {}, False),
    "binary, the model's loss, validation, penalty": (
        lambda: mlp(2, 1, "sigmoid", "l2"), "binary_crossentropy", X2, BINARY,
        {"loss": "model"}, True),
    "two features without a grid, three classes logits": (
        lambda: mlp(2, 3), keras.losses.SparseCategoricalCrossentropy(from_logits=True), X2,
        THREE, {"grid": None}, False),
    "two classes one-hot softmax": (
        lambda: mlp(2, 2, "softmax"), "categorical_crossentropy", X2,
        np.eye(2, dtype="float32")[BINARY], {}, False),
    "three classes logits, validation": (
        lambda: mlp(2, 3), keras.losses.SparseCategoricalCrossentropy(from_logits=True), X2,
        THREE, {}, True),
    "three classes, the model's loss": (
        lambda: mlp(2, 3, "softmax"), "sparse_categorical_crossentropy", X2, THREE,
        {"loss": "model"}, False),
    "one feature, validation": (
        lambda: mlp(1, 1), "mse", X1, np.sin(X1), {}, True),
    "one feature, absolute": (
        lambda: mlp(1, 1), "mse", X1, np.sin(X1), {"loss": "absolute"}, False),
    "two outputs, validation": (
        lambda: mlp(1, 2), "mse", X1, np.column_stack([np.sin(X1), np.cos(X1)]), {}, True),
    "two outputs, the model's loss (no loss of each output)": (
        lambda: mlp(1, 2), "mse", X1, np.column_stack([np.sin(X1), np.cos(X1)]),
        {"loss": "model"}, False),
    "five features, three outputs": (
        lambda: mlp(5, 3), "mae", X5, X5[:, :3] * X5[:, 3:4], {}, False),
    "surface regression": (
        lambda: mlp(2, 1), "mse", X2, X2[:, 0] * X2[:, 1], {"grid": 20}, False),
}


def frame_series(tags):
    """{series: [(step, values)]} of a run's frames, grid frames and frame info."""
    series = {}
    for tag, values in tags.items():
        if tag in (fmt.TAG_FRAME, fmt.TAG_FRAME_INFO) or tag.startswith("fitviz/grid/"):
            key = "grid" if tag.startswith("fitviz/grid/") else tag
            series.setdefault(key, []).extend((step, array) for step, array, _ in values)
    return {key: sorted(values, key=lambda item: item[0]) for key, values in series.items()}


@pytest.mark.parametrize("name", list(CASES))
def test_the_pass_makes_the_frame_numpy_makes(name, tmp_path):
    make, loss, x, y, options, validation = CASES[name]
    model = make()
    model.compile(keras.optimizers.Adam(0.02), loss)
    validation_data = (x[:60], y[:60]) if validation else None
    compiled = FitVizCallback(str(tmp_path / "compiled"), x, y, every=1, images=False,
                              validation_data=validation_data, **options)
    by_numpy = FitVizCallback(str(tmp_path / "numpy"), x, y, every=1, images=False,
                              validation_data=validation_data, **options)
    by_numpy._compiles_frame = lambda *args: False
    model.fit(x, y, epochs=2, batch_size=50, verbose=0, callbacks=[compiled, by_numpy],
              validation_data=validation_data)
    compiled.close()
    by_numpy.close()
    assert compiled._forward.finished and compiled._forward.jit_compiled
    assert not by_numpy._forward.finished
    ours, theirs = (frame_series(read_run(str(tmp_path / run))) for run in ("compiled", "numpy"))
    assert ours.keys() == theirs.keys()
    assert ("grid" in ours) == (x.ndim == 2 and x.shape[1] == 2 and
                                 options.get("grid", "auto") is not None)
    for series, frames in ours.items():
        assert [s for s, _ in frames] == [s for s, _ in theirs[series]], series
        assert len(frames) >= 2 * (len(x) // 50)
        for (step, a), (_, b) in zip(frames, theirs[series]):
            assert a.shape == b.shape and a.dtype == b.dtype, (series, step)
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-12, equal_nan=True,
                                       err_msg=f"{series} at step {step}")
    info = np.stack([values for _, values in ours[fmt.TAG_FRAME_INFO]])
    assert np.isnan(info[:, 2]).all() != bool(validation)  # the validation loss, if any
    channels = compiled.writer.kind.sample_channels
    if "loss:0" in channels:
        # Several outputs: each one's loss, unless the loss is the model's own (these models
        # have one output of several units: one loss value a point, none per unit).
        frame = ours[fmt.TAG_FRAME][-1][1]
        assert np.isnan(frame[channels.index("loss:0"):]).all() == (
            options.get("loss") == "model")


class PyIdentity(keras.layers.Layer):
    """A layer XLA cannot compile (a Python function in the graph)."""

    def call(self, x):
        return tf.reshape(tf.numpy_function(lambda a: a, [x], tf.float32), tf.shape(x))


def fit_one_feature(model, log_dir, **options):
    """(the callback, its last frame's predictions, model.predict on its sample) of one
    epoch of `model` on y = sin(x) with a frame after every batch."""
    model.compile("adam", "mse")
    y = np.sin(X1)
    callback = FitVizCallback(log_dir, X1, y, every=1, images=False, **options)
    model.fit(X1, y, epochs=1, batch_size=100, verbose=0, callbacks=[callback])
    callback.close()
    frames = read_run(log_dir)[fmt.TAG_FRAME]
    expected = model.predict(callback.writer.x_sample, verbose=0)[:, 0]
    return callback, frames[-1][1][0], expected


def test_a_model_xla_cannot_compile_falls_back_to_the_graph_or_is_refused(tmp_path):
    keras.utils.set_random_seed(2)
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(8, "tanh"), PyIdentity(),
                              keras.layers.Dense(1)])
    with pytest.warns(UserWarning, match=r"jit_compile='auto': XLA cannot compile .*PyFunc"
                                         r".*graph instead"):
        auto, recorded, expected = fit_one_feature(model, str(tmp_path / "auto"))
    assert not auto._forward.jit_compiled and auto._forward.finished
    np.testing.assert_allclose(recorded, expected, rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="jit_compile: XLA cannot compile"):
        fit_one_feature(model, str(tmp_path / "strict"), jit_compile=True)


def test_jit_compile_false_uses_the_graph_and_auto_xla(tmp_path):
    for option, compiled in (("auto", True), (False, False)):
        callback, recorded, expected = fit_one_feature(mlp(1, 1), str(tmp_path / str(option)),
                                                       jit_compile=option)
        assert callback._forward.jit_compiled == compiled and callback._forward.finished
        # XLA's tanh is its own approximation: a few ulps from the graph's.
        np.testing.assert_allclose(recorded, expected, rtol=1e-5 if compiled else 1e-6,
                                   atol=1e-6 if compiled else 1e-7)


@pytest.mark.parametrize("value", ["yes", 1, None, "xla"])
def test_a_bad_jit_compile_is_refused_at_construction(value, tmp_path):
    with pytest.raises(ValueError, match=r"jit_compile: expected 'auto', True or False"):
        FitVizCallback(str(tmp_path), X1, np.sin(X1), jit_compile=value)


def test_record_channels_stores_what_record_stores_and_checks_its_arrays(tmp_path):
    x = RNG.normal(size=(200, 2))
    labels = (x[:, 0] > 0).astype(int)
    writers = [FitVizWriter(str(tmp_path / name), x, labels, grid=6, sample=40, images=False)
               for name in ("record", "channels")]
    for step in range(3):
        p = 1 / (1 + np.exp(-(step + 1) * writers[0].x_sample[:, 0]))
        grid = 1 / (1 + np.exp(-(step + 1) * writers[0].x_grid[:, 0]))
        writers[0].record(step, p, y_pred_grid=grid)
        kind = writers[1].kind
        loss = writers[1].point_loss(p)
        values = np.stack([p, loss]).astype(np.float32)
        assert kind.sample_channels == ("prob:1", "loss")
        writers[1].record_channels(step, values, grid=grid[None, :].astype(np.float32))
    channels = writers[1]
    with pytest.raises(ValueError, match=r"values: expected a C-contiguous float32 array of "
                                         r"shape \[2, 40\]"):
        channels.record_channels(5, np.zeros((2, 40)), grid=np.zeros((1, 36), np.float32))
    with pytest.raises(ValueError, match=r"grid: expected .* shape \[1, 36\]"):
        channels.record_channels(5, np.zeros((2, 40), np.float32))
    with pytest.raises(ValueError, match=r"validation_loss: this run has no validation"):
        channels.record_channels(5, np.zeros((2, 40), np.float32),
                                 grid=np.zeros((1, 36), np.float32), validation_loss=0.5)
    with pytest.raises(ValueError, match=r"values: expected .*got float32 \[40, 2\]"):
        channels.record_channels(5, np.zeros((2, 40), np.float32).T,
                                 grid=np.zeros((1, 36), np.float32))
    for writer in writers:
        writer.close()
    a, b = (frame_series(read_run(str(tmp_path / name))) for name in ("record", "channels"))
    assert a.keys() == b.keys() == {fmt.TAG_FRAME, fmt.TAG_FRAME_INFO, "grid"}
    for series in a:
        assert len(a[series]) == len(b[series]) == 3, series
        for (sa, va), (sb, vb) in zip(a[series], b[series]):
            assert sa == sb
            np.testing.assert_allclose(va, vb, rtol=1e-6, equal_nan=True)


def test_jit_compile_true_is_refused_at_construction_without_xla(tmp_path):
    """Keras on a backend without XLA here (NumPy; PyTorch alike): True is refused when the
    callback is made, naming the argument."""
    script = ("import numpy as np\n"
              "from tb_fitviz import FitVizCallback\n"
              "try:\n"
              f"    FitVizCallback({str(tmp_path)!r}, np.arange(10.), np.arange(10.),"
              " jit_compile=True)\n"
              "except ValueError as error:\n"
              "    print('refused:', error)\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=300, env={**os.environ, "KERAS_BACKEND": "numpy"})
    assert ("refused: jit_compile: True needs Keras on TensorFlow or JAX; this Keras "
            "computes with numpy") in result.stdout, result.stderr[-2000:]
