"""Real Keras fits of every kind of run, made once per test session (`kind_fits` in conftest).

Small and quick (about a second each): what the figure and export tests draw.

    moons    two features, two classes (one sigmoid unit): a surface, P(class 1); images on
    blobs2   two features, three classes (softmax): a surface of decision regions
    plane    two features, a regression: a surface of the prediction
    waves    one feature, two outputs: two stacked curves
    bands    one feature, three classes: each class's probability over x
    heads    three features, two outputs: predicted vs. true
    blobs4   four features, three classes: the true-class probability and confusion
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "demo"))
import run_demo  # noqa: E402

GRID = 30


def half_moons(n, noise=0.1, seed=0):
    """Two interleaved half-moons, labels 0 and 1: the demo's data (`demo/run_demo.py`)."""
    return run_demo.half_moons(np.random.default_rng(seed), n, noise)


def blobs(n, width, seed=1):
    """Three classes around three centres in `width` features."""
    rng = np.random.default_rng(seed)
    labels = rng.choice(3, size=n, p=[0.45, 0.35, 0.2])
    centres = np.array([[0, 0, 0, 0], [2, 1, 0, -1], [-1, 2, 1, 0]], dtype=np.float64)[:, :width]
    return (centres[labels] + rng.normal(0, 0.6, (n, width))).astype("float32"), labels


def make_fits(root):
    """Trains every kind into `root`; {run: (model, callback)}."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    from tb_fitviz import FitVizCallback

    keras.utils.set_random_seed(4)
    rng = np.random.default_rng(4)
    fits = {}

    def fit(name, model, loss, x, y, epochs, batch, learning_rate=0.03, **options):
        model.compile(keras.optimizers.Adam(learning_rate), loss)
        callback = FitVizCallback(os.path.join(root, name), x, y, every=2, **options)
        model.fit(x, y, epochs=epochs, batch_size=batch, verbose=0, callbacks=[callback])
        callback.close()
        fits[name] = (model, callback)

    def mlp(width, outputs, activation=None, hidden=16):
        return keras.Sequential([keras.Input((width,)),
                                 keras.layers.Dense(hidden, activation="tanh"),
                                 keras.layers.Dense(outputs, activation=activation)])

    x, labels = half_moons(600)
    fit("moons", mlp(2, 1, "sigmoid"), "binary_crossentropy", x, labels, 3, 64, 0.05,
        sample=200, grid=GRID, images="epoch", title="moons")
    x, labels = blobs(450, 2)
    fit("blobs2", mlp(2, 3, "softmax"), "sparse_categorical_crossentropy", x, labels, 2, 50,
        sample=150, grid=24, images=False, class_names=["ant", "bee", "cat"])
    x = rng.uniform(-2, 3, (400, 2)).astype("float32")
    fit("plane", mlp(2, 1), "mse", x, (x[:, 0] * x[:, 1]).astype("float32"), 2, 40,
        sample=150, grid=20, images=False)
    x = rng.uniform(0, 6, 500).astype("float32")
    y = np.column_stack([np.sin(x), np.cos(x)]).astype("float32")
    fit("waves", mlp(1, 2), "mse", x, y, 3, 50, sample=200, images=False,
        output_names=["sin", "cos"])
    labels = np.digitize(x + rng.normal(0, 0.4, x.size), [2, 4]).astype(np.int64)
    fit("bands", mlp(1, 3, "softmax"), "sparse_categorical_crossentropy", x, labels, 3, 50,
        sample=200, images=False)
    x = rng.uniform(-1, 1, (400, 3)).astype("float32")
    y = np.column_stack([x[:, 0] + 0.5 * x[:, 1], np.sin(2 * x[:, 2]) - x[:, 0]])
    fit("heads", mlp(3, 2), "mse", x, y.astype("float32"), 3, 40, sample=120, images=False,
        output_names=["price", "demand"])
    x, labels = blobs(450, 4, seed=2)
    fit("blobs4", mlp(4, 3, "softmax"), "sparse_categorical_crossentropy", x, labels, 2, 50,
        sample=150, images=False, class_names=["setosa", "versicolor", "virginica"])
    return fits
