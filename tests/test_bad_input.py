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
         "y: label 2 is outside the 2 classes of class_names (labels 0..1)"),
        (dict(y=np.arange(50) * 100_000, task="classification"), ValueError,
         "y: labels up to 4900000 mean 4900001 classes; FitViz records at most 1000"),
        (dict(y=np.arange(50) * 100, class_names=list("abc")), ValueError,
         "y: label 4900 is outside the 3 classes of class_names"),
        (dict(y=np.eye(1001)[np.arange(50)], task="classification"), ValueError,
         "y: 1001 classes; FitViz records at most 1000"),
        (dict(y=np.arange(50) % 3, validation_data=(X[:5], np.arange(5)),
              class_names=list("abc")),
         ValueError, "validation_data[1]: label 4 is outside the 3 classes of class_names"),
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
        (dict(x=np.ones((50, 3)), feature_names=["a", "b", "a"]), ValueError,
         "feature_names: expected distinct names; 'a' appears 2 times"),
        (dict(y=np.ones((50, 2)), output_names=["a", ""]), ValueError,
         "output_names: expected non-empty names"),
        (dict(y=np.arange(50) % 3, class_names=["a", "b", "b"]), ValueError,
         "class_names: expected distinct names; 'b' appears 2 times"),
        (dict(y=np.arange(50) % 3, class_names=["a", "b", "c", "d"], feature_names=[1]),
         TypeError, "feature_names: expected strings"),
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
        (dict(loss=3), TypeError, "loss: expected a name"),
        (dict(task="regression", class_names=["a", "b"]), ValueError,
         "class_names: given for a regression"),
        (dict(y=[[1.0, 0.0], [0.0]] * 25), TypeError,
         "y: expected numbers in rows of equal length"),
        (dict(y=[1.0, [0.0, 1.0]] * 25), TypeError,
         "y: expected numbers in rows of equal length"),
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


def writer_only_cases():
    """Refused by the writer, which decides the task from y alone; the callback decides
    from the model's compiled loss when `fit` starts (`test_callback_decides_from_the_
    models_loss`), so it checks such y as values at construction."""
    return [
        (dict(loss="squared", y=np.arange(50) % 3), ValueError,
         "loss: 'squared' is a regression loss"),
        (dict(y=np.arange(50) * 100_000), ValueError,
         "FitViz records at most 1000 (for values, pass task='regression')"),
        (dict(y=np.arange(50) % 4, validation_data=(X[:5], np.arange(5))), ValueError,
         "validation_data[1]: label 4 is outside the 4 classes of y (labels 0..3)"),
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
    for overrides, error, text in cases(tmp_path) + (
            writer_only_cases() if kind == "writer" else []):
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


def test_writer_reads_negative_integers_as_values(tmp_path):
    writer = FitVizWriter(str(tmp_path / "run"), X, np.arange(50) - 25, images=False)
    assert writer.kind.task == "regression"
    writer.close()


def test_duplicate_column_names_are_named_as_such(tmp_path):
    pandas = pytest.importorskip("pandas")
    frame = pandas.DataFrame(np.ones((50, 2)), columns=["a", "a"])
    with pytest.raises(ValueError, match=r"x \(its column names\): expected distinct names"):
        FitVizWriter(str(tmp_path / "run"), frame, Y, images=False)


def test_callback_decides_from_the_models_loss(tmp_path):
    """Integer y that fails as class labels is checked as values at construction; the
    model's compiled loss then decides, and a classifier's checks refuse it before the
    first batch."""
    keras = pytest.importorskip("keras")
    from tb_fitviz import FitVizCallback
    from tb_fitviz.plugin import reading

    x = np.linspace(-1, 1, 64).astype("float32").reshape(-1, 1)

    def model(units, loss, activation=None):
        made = keras.Sequential([keras.Input((1,)), keras.layers.Dense(units, activation)])
        made.compile("sgd", loss)
        return made

    def fit(name, y, made, **options):
        callback = FitVizCallback(str(tmp_path / name), x, y, images=False, **options)
        made.fit(x, y, epochs=1, batch_size=32, verbose=0, callbacks=[callback])
        callback.close()
        (run,) = reading.reader_for_logdir(str(tmp_path / name)).runs()
        return run["settings"]

    # Values that look like labels: below 0, or with a regression loss option.
    counts = np.arange(64) % 11 - 5
    assert fit("negative", counts, model(1, "mse"))["task"] == "regression"
    settings = fit("squared", np.arange(64) % 11, model(1, "mse"), loss="squared")
    assert settings["task"] == "regression" and settings["loss"] == "squared"
    # Validation labels beyond y's, inside the model's five classes.
    labels = np.arange(64) % 4
    settings = fit("wider", labels, model(5, "sparse_categorical_crossentropy", "softmax"),
                   validation_data=(x[:5], np.arange(5)))
    assert settings["task"] == "classification" and settings["class_names"] == [
        "0", "1", "2", "3", "4"]
    # The same y refused by a classifier, when fit starts, with the classifier's message.
    classifier = model(11, "sparse_categorical_crossentropy", "softmax")
    callback = FitVizCallback(str(tmp_path / "refused"), x, counts, images=False)
    with pytest.raises(ValueError, match="y: class labels must be >= 0, got -5"):
        classifier.fit(x, counts + 5, epochs=1, verbose=0, callbacks=[callback])
    # Class names say classification whatever the loss is called (a custom one here).
    def focal(y_true, y_pred):
        return keras.losses.sparse_categorical_crossentropy(y_true, y_pred) ** 2

    settings = fit("named", labels, model(4, focal, "softmax"), class_names=list("abcd"))
    assert settings["task"] == "classification" and settings["class_names"] == list("abcd")
    # Wrong as labels and as values: the labels' error, the one that says what is wrong.
    with pytest.raises(ValueError, match="one-hot width is outside the 4 classes of y"):
        FitVizCallback(str(tmp_path / "both"), x, labels, validation_data=(x[:5], np.eye(5)))
    wide = model(1001, "sparse_categorical_crossentropy", "softmax")
    callback = FitVizCallback(str(tmp_path / "wide"), x, labels, images=False)
    with pytest.raises(ValueError, match="model: gives 1001 values per point; FitViz records a "
                                         "classifier of at most 1000 classes"):
        wide.fit(x, labels, epochs=1, verbose=0, callbacks=[callback])
    huge = model(1, "sparse_categorical_crossentropy")
    callback = FitVizCallback(str(tmp_path / "huge"), x, np.arange(64) * 100_000,
                              images=False)
    with pytest.raises(ValueError, match="y: label 6300000 is outside the 2 classes of the "
                                         "model's output"):
        huge.fit(x, np.arange(64) % 1, epochs=1, verbose=0, callbacks=[callback])


def test_class_names_make_auto_a_classification(tmp_path):
    """0.0/1.0 labels read as values by themselves; with class names they are classes."""
    labels = (X > 0.5).astype(float)
    writer = FitVizWriter(str(tmp_path / "run"), X, labels, class_names=["low", "high"],
                          images=False)
    assert writer.kind.task == "classification" and writer.kind.class_names == ("low", "high")
    writer.close()


def test_a_non_numeric_column_is_named(tmp_path):
    pandas = pytest.importorskip("pandas")
    frame = pandas.DataFrame({"size": X, "colour": ["red"] * 50})
    with pytest.raises(TypeError, match="x: column 'colour' is not numeric"):
        FitVizWriter(str(tmp_path / "run"), frame, Y, images=False)
    # pandas' own dtypes are numbers: a category of numbers, nullable Int64 (a missing
    # value is then refused as one), boolean.
    frame = pandas.DataFrame({"size": pandas.Categorical(np.arange(50) % 4),
                              "count": pandas.array(np.arange(50), dtype="Int64"),
                              "flag": pandas.array(np.arange(50) % 2 == 0, dtype="boolean")})
    writer = FitVizWriter(str(tmp_path / "ok"), frame, Y, images=False)
    assert writer.kind.feature_names == ("size", "count", "flag")
    writer.close()
    frame.loc[3, "count"] = pandas.NA
    with pytest.raises(ValueError, match="x: has 1 NaN or infinite value"):
        FitVizWriter(str(tmp_path / "missing"), frame, Y, images=False)
