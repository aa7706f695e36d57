"""Bad input: a clear ValueError/TypeError naming the argument, at construction.

Checked for FitVizWriter (no TensorFlow needed) and for FitVizCallback, before
any training; nothing is written for a refused construction.
"""

import os

import numpy as np
import pytest

from tb_fitviz import FitVizWriter, schedules

X = np.linspace(0, 1, 50)
Y = 2 * X


def cases(tmp_path):
    """(keyword arguments, exception type, text the message must contain)."""
    bad = np.array(X)
    bad_nan = bad.copy()
    bad_nan[3] = np.nan
    bad_inf = bad.copy()
    bad_inf[7] = np.inf
    not_a_dir = tmp_path / "a-file"
    not_a_dir.write_text("x")
    return [
        (dict(x=X, y=Y[:40]), ValueError, "same number of points"),
        (dict(x=[], y=[]), ValueError, "x: is empty"),
        (dict(x=np.array(["a", "b", "c"]), y=[1, 2, 3]), TypeError, "x: expected numeric"),
        (dict(x=X, y=[object()] * 50), TypeError, "y: expected numeric"),
        (dict(x=X, y=X.astype(complex)), TypeError, "y: expected real numbers"),
        (dict(x=bad_nan, y=Y), ValueError, "x: has 1 NaN or infinite value(s), first at index 3"),
        (dict(x=X, y=bad_inf), ValueError, "y: has 1 NaN or infinite"),
        (dict(x=np.ones((5, 5, 2)), y=Y[:5]), ValueError, "x: expected shape (n,), (n, 1) or "
                                                          "(n, d)"),
        (dict(x=np.ones((50, 0)), y=Y), ValueError, "x: has zero features"),
        (dict(x=X, y=np.ones((50, 0))), ValueError, "y: has zero columns"),
        (dict(y=np.arange(50) % 3, class_names=["a", "b"]), ValueError,
         "y: label 2 is outside the 2 classes"),
        (dict(y=np.eye(3)[np.arange(50) % 3] * 0.5, task="classification"), ValueError,
         "y: one-hot rows must sum to 1"),
        (dict(y=np.arange(50) % 3, task="classification", class_names="abc"), ValueError,
         "class_names: expected a list"),
        (dict(y=np.arange(50) % 2 - 1, task="classification"), ValueError,
         "y: class labels must be >= 0"),
        (dict(y=Y, task="classification"), ValueError, "y: class labels must be whole numbers"),
        (dict(task="ordinal"), ValueError, "task: expected 'auto', 'regression' or "
                                           "'classification'"),
        (dict(x=np.ones((50, 2)), grid=1), ValueError, "grid: expected 2 to 1000 points"),
        (dict(x=np.ones((50, 2)), grid=1001), ValueError, "grid: expected 2 to 1000 points"),
        (dict(x=np.ones((50, 2)), grid=2.5), TypeError, "grid: expected an int"),
        (dict(x=np.ones((50, 3)), feature_names=["a", "b"]), ValueError,
         "feature_names: expected 3 names, got 2"),
        (dict(y=np.ones((50, 2)), output_names=["a"]), ValueError,
         "output_names: expected 2 names, got 1"),
        (dict(y=np.arange(50) % 3, class_names=["a", "b", "c", "d"], feature_names=[1]),
         TypeError, "feature_names: expected strings"),
        (dict(loss="squared", y=np.arange(50) % 3), ValueError,
         "loss: 'squared' is a regression loss"),
        (dict(loss="cross_entropy"), ValueError, "loss: 'cross_entropy' needs class labels"),
        (dict(sample=1), ValueError, "sample: expected at least 2"),
        (dict(sample=0.01), ValueError, "sample: gives 1 point(s) of 50"),
        (dict(sample=1.5), ValueError, "sample: a fraction must be in (0, 1]"),
        (dict(sample="all"), TypeError, "sample: expected an int count"),
        (dict(scatter=True), TypeError, "scatter: expected an int count"),
        (dict(every=0), ValueError, "every: expected a positive int"),
        (dict(every=2.5), TypeError, "every: expected a positive int"),
        (dict(every="often"), TypeError, "every: expected an int"),
        (dict(every=[1, 0, 2]), TypeError, "every: a sequence must hold booleans"),
        (dict(every=object()), TypeError, "every: expected an int"),
        (dict(loss="mse"), ValueError, "loss: expected 'auto', 'squared'"),
        (dict(loss=3), ValueError, "loss: expected"),
        (dict(images="always"), ValueError, "images: expected 'epoch'"),
        (dict(images=0), ValueError, "images: expected"),
        (dict(images=True), ValueError, "images: expected"),
        (dict(smoothing=4), ValueError, "smoothing: expected a positive odd int"),
        (dict(validation_data=X), TypeError, "validation_data: expected a tuple"),
        (dict(validation_data=(X, Y[:3])), ValueError, "validation_data[0] and "
                                                      "validation_data[1]"),
        (dict(x_label=3), TypeError, "x_label: expected a string"),
        (dict(log_dir=str(not_a_dir)), ValueError, "log_dir:"),
        (dict(log_dir=str(not_a_dir / "sub")), ValueError, "log_dir: cannot create"),
        (dict(log_dir=None), TypeError, "log_dir: expected a path"),
    ]


def construct(kind, tmp_path, **overrides):
    kwargs = dict(log_dir=str(tmp_path / "run"), x=X, y=Y)
    kwargs.update(overrides)
    if kind == "writer":
        return FitVizWriter(kwargs.pop("log_dir"), kwargs.pop("x"), kwargs.pop("y"), **kwargs)
    from tb_fitviz import FitVizCallback

    return FitVizCallback(kwargs.pop("log_dir"), kwargs.pop("x"), kwargs.pop("y"), **kwargs)


@pytest.mark.parametrize("kind", ["writer", "callback"])
def test_every_bad_input_is_refused_at_construction(tmp_path, kind):
    if kind == "callback":
        pytest.importorskip("keras")
    for overrides, error, text in cases(tmp_path):
        with pytest.raises(error) as caught:
            construct(kind, tmp_path, **overrides)
        assert text in str(caught.value), (overrides, str(caught.value))
    # Nothing written by the refused constructions.
    run = tmp_path / "run"
    assert not run.exists() or not os.listdir(run)


def test_callback_only_options_are_checked(tmp_path):
    pytest.importorskip("keras")
    with pytest.raises(ValueError, match="max_overhead"):
        construct("callback", tmp_path, max_overhead=-1)
    with pytest.raises(ValueError, match="max_overhead"):
        construct("callback", tmp_path, max_overhead="fast")


def test_schedule_arguments_are_checked():
    with pytest.raises(ValueError, match="budget"):
        schedules.LogSpaced(budget=1)
    with pytest.raises(TypeError, match="budget"):
        schedules.LogSpaced(budget=2.5)
    with pytest.raises(ValueError, match="tolerance"):
        schedules.OnChange(tolerance=0)
    with pytest.raises(TypeError, match="tolerance"):
        schedules.OnChange(tolerance="small")
    with pytest.raises(TypeError, match="every: expected a callable"):
        schedules.FromCallable(3)


def test_model_loss_needs_one_output_and_a_loss(tmp_path):
    keras = pytest.importorskip("keras")
    from tb_fitviz import FitVizCallback

    x = np.linspace(0, 1, 64).astype("float32").reshape(-1, 1)
    two_outputs = keras.Sequential([keras.Input((1,)), keras.layers.Dense(2)])
    two_outputs.compile("sgd", "mse")
    callback = FitVizCallback(str(tmp_path / "two"), x, x, images=False)
    with pytest.raises(ValueError, match="model: gives 2 values per point"):
        two_outputs.fit(x, np.hstack([x, x]), epochs=1, verbose=0, callbacks=[callback])
