"""Keras usages that must not lose or repeat frames.

Real Keras 3 fits of a tiny model, in process: two FitViz callbacks in one
fit, `fit` twice with one callback, `validation_split`, a generator or a
tf.data dataset as training input, and x, y in every accepted form. Each run
is checked in its event files (steps strictly increasing, nothing repeated)
and through the plugin's reader (what the tab shows), and the last frame is
compared to `model.predict` on the sample.
"""

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fault_scripts import support  # noqa: E402

keras = pytest.importorskip("keras")

POINTS = 96
BATCH = 16
BATCHES = POINTS // BATCH  # 6 per epoch


def _data(dtype="float32"):
    x = np.linspace(-1.0, 1.0, POINTS).astype(dtype)
    y = (0.5 * x + np.sin(3 * x)).astype(dtype)
    return x, y


def _model(seed=0):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(8, activation="tanh"),
                              keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    return model


def _callback(log_dir, x, y, **kwargs):
    from tb_fitviz import FitVizCallback

    kwargs.setdefault("every", 1)
    kwargs.setdefault("images", False)
    return FitVizCallback(os.fspath(log_dir), x, y, sample=32, **kwargs)


def _all_steps(run_dir, tag):
    """Steps of every value of `tag` across the run's event files, in write order."""
    steps = []
    for path in sorted(support.event_files(run_dir), key=os.path.getmtime):
        for event in support.read_events(path):
            if any(v.tag == tag or v.tag.startswith(tag + "/") for v in event.summary.value):
                steps.append(event.step)
    return steps


def _served(logdir, run):
    from tb_fitviz.plugin.reading import reader_for_logdir

    reader = reader_for_logdir(logdir)
    return reader, reader.frames(run)


def _assert_last_frame_is_the_model(model, callback, frames):
    expected = model.predict(callback.writer.x_sample.reshape(-1, 1).astype("float32"),
                             verbose=0)[:, 0]
    np.testing.assert_allclose(frames.values[-1, 0], expected, rtol=1e-5, atol=1e-5)


def test_two_callbacks_in_one_fit(tmp_path):
    x, y = _data()
    model = _model()
    first, second = _callback(tmp_path / "one", x, y), _callback(tmp_path / "two", x, y)
    model.fit(x, y, epochs=2, batch_size=BATCH, verbose=0, callbacks=[first, second])
    first.close()
    second.close()
    everything = list(range(2 * BATCHES + 1))
    for run in ("one", "two"):
        assert _all_steps(tmp_path / run, "fitviz/frame") == everything
        assert _all_steps(tmp_path / run, "fitviz/batch_loss") == everything[1:]
    reader, one = _served(tmp_path, "one")
    two = reader.frames("two")
    np.testing.assert_array_equal(one.values, two.values)
    _assert_last_frame_is_the_model(model, first, one)


def test_fit_twice_with_one_callback_continues_the_steps(tmp_path):
    x, y = _data()
    model = _model()
    callback = _callback(tmp_path / "run", x, y)
    model.fit(x, y, epochs=2, batch_size=BATCH, verbose=0, callbacks=[callback])
    model.fit(x, y, epochs=1, batch_size=BATCH, verbose=0, callbacks=[callback])
    callback.close()
    total = 3 * BATCHES
    frames = _all_steps(tmp_path / "run", "fitviz/frame")
    assert frames == list(range(total + 1)), "steps continue, never repeat"
    batch_losses = _all_steps(tmp_path / "run", "fitviz/batch_loss")
    assert batch_losses == list(range(1, total + 1))
    epochs = _all_steps(tmp_path / "run", "fitviz/epoch_loss")
    assert epochs == [BATCHES, 2 * BATCHES, 3 * BATCHES]
    reader, served = _served(tmp_path, "run")
    assert served.steps.tolist() == list(range(total + 1))
    assert served.info[:, 0].tolist() == [0] * (BATCHES + 1) + [1] * BATCHES + [2] * BATCHES
    assert reader.runs()[0]["epoch_ends"] == epochs
    _assert_last_frame_is_the_model(model, callback, served)


def test_fit_twice_after_close_continues_in_a_new_file(tmp_path):
    x, y = _data()
    model = _model()
    callback = _callback(tmp_path / "run", x, y)
    model.fit(x, y, epochs=1, batch_size=BATCH, verbose=0, callbacks=[callback])
    callback.close()
    model.fit(x, y, epochs=1, batch_size=BATCH, verbose=0, callbacks=[callback])
    callback.close()
    assert len(support.event_files(tmp_path / "run")) == 2
    assert _all_steps(tmp_path / "run", "fitviz/frame") == list(range(2 * BATCHES + 1))
    _, served = _served(tmp_path, "run")
    assert served.steps.tolist() == list(range(2 * BATCHES + 1))


def test_validation_split(tmp_path):
    x, y = _data()
    model = _model()
    callback = _callback(tmp_path / "run", x, y)
    history = model.fit(x, y, epochs=2, batch_size=BATCH, validation_split=0.25, verbose=0,
                        callbacks=[callback])
    callback.close()
    per_epoch = int(np.ceil(POINTS * 0.75 / BATCH))  # 72 points: 5 batches, the last short
    assert _all_steps(tmp_path / "run", "fitviz/frame") == list(range(2 * per_epoch + 1))
    reader, served = _served(tmp_path, "run")
    epoch_val = reader.scalars("run")["epoch_val_loss"]
    np.testing.assert_allclose(epoch_val[1], history.history["val_loss"], rtol=1e-5)
    _assert_last_frame_is_the_model(model, callback, served)


def _generator(x, y, forever=True):
    while True:
        for start in range(0, len(x), BATCH):
            yield x[start:start + BATCH, None], y[start:start + BATCH, None]
        if not forever:
            return


@pytest.mark.parametrize("source", ["generator", "finite-generator", "tf.data"])
def test_generator_or_dataset_input_with_x_y_given_to_the_callback(tmp_path, source):
    x, y = _data()
    model = _model()
    callback = _callback(tmp_path / "run", x, y)
    if source == "generator":
        model.fit(_generator(x, y), steps_per_epoch=BATCHES, epochs=2, verbose=0,
                  callbacks=[callback])
        total = 2 * BATCHES
    elif source == "finite-generator":  # steps unknown to Keras and to the schedule
        model.fit(_generator(x, y, forever=False), epochs=1, verbose=0, callbacks=[callback])
        total = BATCHES
    else:
        import tensorflow as tf

        dataset = tf.data.Dataset.from_tensor_slices((x[:, None], y[:, None])).batch(BATCH)
        model.fit(dataset, epochs=2, verbose=0, callbacks=[callback])
        total = 2 * BATCHES
    callback.close()
    assert _all_steps(tmp_path / "run", "fitviz/frame") == list(range(total + 1))
    _, served = _served(tmp_path, "run")
    _assert_last_frame_is_the_model(model, callback, served)


def _forms():
    x, y = _data()
    pandas = pytest.importorskip("pandas")
    return {
        "1d": (x, y),
        "column": (x[:, None], y[:, None]),
        "lists": (x.tolist(), y.tolist()),
        "float64": (x.astype("float64"), y.astype("float64")),
        "series": (pandas.Series(x, index=np.arange(POINTS) * 7 + 3),
                   pandas.Series(y, index=np.arange(POINTS) * 7 + 3)),
        "mixed": (x[:, None].astype("float64"), y.tolist()),
    }


def test_x_y_in_every_accepted_form_give_the_same_run(tmp_path):
    x, y = _data()
    forms = _forms()
    for name, (fx, fy) in forms.items():
        model = _model()
        callback = _callback(tmp_path / name, fx, fy)
        model.fit(x, y, epochs=1, batch_size=BATCH, verbose=0, shuffle=False,
                  callbacks=[callback])
        callback.close()
    from tb_fitviz.plugin.reading import reader_for_logdir

    reader = reader_for_logdir(tmp_path)
    assert [r["run"] for r in reader.runs()] == sorted(forms)
    reference = reader.static("1d")
    reference_frames = reader.frames("1d")
    np.testing.assert_allclose(reference["sample"][0], np.linspace(-1, 1, POINTS)[
        np.round(np.linspace(0, POINTS - 1, 32)).astype(int)], atol=1e-6)
    for name in forms:
        static = reader.static(name)
        for key in ("sample", "scatter"):
            np.testing.assert_allclose(static[key], reference[key], atol=1e-6, err_msg=name)
        frames = reader.frames(name)
        assert frames.steps.tolist() == list(range(BATCHES + 1)), name
        np.testing.assert_allclose(frames.values, reference_frames.values, rtol=1e-5,
                                   atol=1e-6, err_msg=name)


def test_images_false_writes_no_figure(tmp_path):
    x, y = _data()
    model = _model()
    callback = _callback(tmp_path / "run", x, y, images=False)
    model.fit(x, y, epochs=1, batch_size=BATCH, verbose=0, callbacks=[callback])
    callback.close()
    assert _all_steps(tmp_path / "run", "fitviz/frame")
    assert _all_steps(tmp_path / "run", "fitviz/figure") == []


class _Boom(Exception):
    pass


def test_exception_mid_fit_keeps_the_frames_and_the_next_fit_continues(tmp_path):
    x, y = _data()
    model = _model()
    callback = _callback(tmp_path / "run", x, y)

    class Crash(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 3:
                raise _Boom("user code failed at batch 3")

    with pytest.raises(_Boom):
        model.fit(x, y, epochs=2, batch_size=BATCH, verbose=0, callbacks=[callback, Crash()])
    # Recorded before the crash, on disk already (no close, no flush by us).
    assert _all_steps(tmp_path / "run", "fitviz/frame") == [0, 1, 2, 3, 4]
    model.fit(x, y, epochs=1, batch_size=BATCH, verbose=0, callbacks=[callback])
    callback.close()
    steps = _all_steps(tmp_path / "run", "fitviz/frame")
    assert steps == list(range(4 + BATCHES + 1)), "the next fit continues after the crash"
    _, served = _served(tmp_path, "run")
    _assert_last_frame_is_the_model(model, callback, served)


def test_legacy_tf_keras_fits_in_a_row_continue_the_steps(tmp_path):
    """tf_keras (Keras 2): validation_split, close, a tf.data and a generator fit in a row."""
    tf_keras = pytest.importorskip("tf_keras")
    import pandas
    import tensorflow as tf

    from tb_fitviz import FitVizCallback

    x, y = _data()
    tf_keras.utils.set_random_seed(0)
    model = tf_keras.Sequential([tf_keras.layers.Dense(8, activation="tanh", input_shape=(1,)),
                                 tf_keras.layers.Dense(1)])
    model.compile(tf_keras.optimizers.SGD(0.05), "mse")
    callback = FitVizCallback(os.fspath(tmp_path / "run"), pandas.Series(x), y.tolist(),
                              every=1, images=False, sample=32)
    model.fit(x, y, epochs=2, batch_size=BATCH, validation_split=0.25, verbose=0,
              callbacks=[callback])
    callback.close()
    dataset = tf.data.Dataset.from_tensor_slices((x[:, None], y[:, None])).batch(BATCH)
    model.fit(dataset, epochs=1, verbose=0, callbacks=[callback])
    model.fit(_generator(x, y, forever=False), epochs=1, verbose=0, callbacks=[callback])
    callback.close()
    total = 2 * 5 + BATCHES + BATCHES  # validation_split leaves 72 points: 5 batches
    assert _all_steps(tmp_path / "run", "fitviz/frame") == list(range(total + 1))
    assert _all_steps(tmp_path / "run", "fitviz/batch_loss") == list(range(1, total + 1))
    _, served = _served(tmp_path, "run")
    expected = model.predict(callback.writer.x_sample.reshape(-1, 1), verbose=0)[:, 0]
    np.testing.assert_allclose(served.values[-1, 0], expected, rtol=1e-5, atol=1e-5)
