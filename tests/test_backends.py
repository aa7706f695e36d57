"""FitVizCallback on Keras 3's JAX and PyTorch backends, over real fits.

Keras fixes its backend once per process and the rest of the suite runs on
TensorFlow, so the fits run in a subprocess (`tests/backend_scripts/fits.py`,
with KERAS_BACKEND set): a 1-D regression with L2 penalties, a two-feature
binary classifier (half-moons, with a surface) and a 3-class classifier with
the model's own loss per point, each recorded after every batch. This process
reads the runs back with the plugin's reader and compares them with what the
subprocess computed with Keras itself: `model.predict` on the same points after
training, Keras' own running loss at every batch, the penalty from the weights.

JAX runs in `make test`. The torch cases are marked `torch`, deselected by
default (pyproject.toml) and run by `make test-torch`; they skip when torch is
not installed.
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tb_fitviz.forward import Forward
from tb_fitviz.kind import RunKind
from tb_fitviz.plugin import reading

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "tests" / "backend_scripts" / "fits.py"
RUNS = ("sine", "moons", "blobs")
BACKENDS = [
    pytest.param("jax", id="jax"),
    pytest.param("torch", id="torch", marks=pytest.mark.torch),
]


@pytest.fixture(scope="module", params=BACKENDS)
def backend_fits(request, tmp_path_factory):
    """Runs the three fits on one backend in a subprocess; (backend, info, results, reader)."""
    backend = request.param
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed here (pip install {backend}); "
                    f"these cases need Keras 3 on its {backend} backend")
    out = tmp_path_factory.mktemp(f"fits-{backend}")
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT),
                                                       os.environ.get("PYTHONPATH")]))}
    env.pop("TF_USE_LEGACY_KERAS", None)
    result = subprocess.run([sys.executable, str(SCRIPT), str(out)], env=env, cwd=str(ROOT),
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"the {backend} fits failed:\n{result.stderr[-4000:]}"
    info = json.loads((out / "results.json").read_text())
    results = dict(np.load(out / "results.npz"))
    return backend, info, results, reading.reader_for_logdir(str(out / "logs"))


def test_fits_ran_on_the_backend_without_tensorflow(backend_fits):
    backend, info, _, reader = backend_fits
    assert info["backend"] == backend
    # FitViz on JAX or PyTorch needs no TensorFlow in the training process.
    assert "tensorflow" not in info["modules"] and backend in info["modules"]
    runs = {r["run"]: r for r in reader.runs()}
    assert set(runs) == set(RUNS) and all("error" not in r for r in runs.values())
    assert runs["moons"]["views"][0] == "surface" and runs["blobs"]["task"] == "classification"
    for name in RUNS:
        assert info["runs"][name]["frames_skipped"] == 0
        assert runs[name]["settings"]["framework"] == "keras"


def test_a_frame_after_every_batch(backend_fits):
    _, _, results, reader = backend_fits
    for name in RUNS:
        batches = len(results[f"{name}/running_loss"])
        assert reader.all_frames(name).steps.tolist() == list(range(batches + 1)), name
        assert reader.scalars(name)["batch_loss"][0].tolist() == list(range(1, batches + 1))


def test_last_frame_is_what_model_predict_gives(backend_fits):
    _, _, results, reader = backend_fits
    for name in RUNS:
        static = reader.static(name)
        width = static["settings"]["input_width"]
        x_sample = np.asarray(results[f"{name}/x_sample"], dtype=np.float64)
        np.testing.assert_allclose(static["sample"][:width].T.reshape(x_sample.shape), x_sample,
                                   rtol=1e-6)
        values = reader.all_frames(name).values[-1]
        predicted = results[f"{name}/predict_sample"]
        outputs = predicted.shape[1]
        np.testing.assert_allclose(values[:outputs].T, predicted, rtol=1e-5, atol=1e-6,
                                   err_msg=name)
    # The moons' surface: the model on every grid point.
    grid = reader.all_frames("moons", series="grid")
    assert grid.steps.tolist() == reader.all_frames("moons").steps.tolist()
    np.testing.assert_allclose(grid.values[-1][0], results["moons/predict_grid"][:, 0],
                               rtol=1e-5, atol=1e-6)
    # The frames move as the model trains (not the first model, replayed).
    first, last = reader.all_frames("sine").values[[1, -1], 0]
    assert np.max(np.abs(last - first)) > 1e-3


def test_probabilities_and_the_models_own_loss(backend_fits):
    _, _, results, reader = backend_fits
    moons = reader.all_frames("moons").values[-1]
    assert np.all((moons[0] >= 0) & (moons[0] <= 1))
    static = reader.static("blobs")
    labels = static["sample"][4].astype(int)
    values = reader.all_frames("blobs").values[-1]
    assert static["settings"]["loss"] == "model"
    probabilities = values[:3].T
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    kind = RunKind.from_settings(static["settings"])
    np.testing.assert_allclose(kind.class_probabilities(values).sum(axis=1), 1.0, rtol=1e-5)
    # loss="model": Keras' sparse categorical cross-entropy, point by point.
    true = np.clip(results["blobs/predict_sample"][np.arange(len(labels)), labels],
                   1e-7, 1 - 1e-7)
    np.testing.assert_allclose(values[3], -np.log(true), rtol=1e-4, atol=1e-5)


def test_batch_losses_are_keras_own(backend_fits):
    """Keras logs the running mean over the epoch, weighted by batch size; the stored
    batch losses must give back every one of those means, the short last batch of
    each epoch included, and each epoch's loss."""
    _, _, results, reader = backend_fits
    for name in RUNS:
        steps, losses = reader.scalars(name)["batch_loss"]
        sizes = results[f"{name}/batch_sizes"]
        per_epoch = int(results[f"{name}/steps_per_epoch"])
        running = []
        for start in range(0, len(losses), per_epoch):
            batch, size = losses[start:start + per_epoch], sizes[start:start + per_epoch]
            running.extend(np.cumsum(batch * size) / np.cumsum(size))
        np.testing.assert_allclose(running, results[f"{name}/running_loss"], rtol=1e-5,
                                   err_msg=name)
        epoch_steps, epoch_losses = reader.scalars(name)["epoch_loss"]
        np.testing.assert_allclose(epoch_losses, results[f"{name}/epoch_loss"], rtol=1e-6)
    # The short last batches (300 = 4 x 64 + 44, 500 = 7 x 64 + 52) are there.
    assert results["sine/batch_sizes"].tolist()[:5] == [64, 64, 64, 64, 44]


def test_regularization_is_the_penalty_of_the_weights(backend_fits):
    _, _, results, reader = backend_fits
    steps, penalties = reader.scalars("sine")["regularization_loss"]
    assert len(penalties) == len(reader.all_frames("sine"))
    assert penalties[-1] == pytest.approx(float(results["sine/l2_penalty"]), rel=1e-5)
    assert len(reader.scalars("moons")["regularization_loss"][1]) == 0  # none: not recorded


def test_forward_refuses_bad_input():
    keras = pytest.importorskip("keras")
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    points = np.zeros((4, 2))
    with pytest.raises(ValueError, match=r"^loss: expected None or 'model'"):
        Forward(model, points, loss="squared")
    with pytest.raises(ValueError, match=r"^flavour: "):
        Forward(model, points, flavour="jax")
    with pytest.raises(ValueError, match=r"^x: expected points of shape \(n, d\)"):
        Forward(model, np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match=r"^model: expects 2 features, x has 3"):
        Forward(model, np.zeros((4, 3)))
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match=r"^targets: loss='model' needs"):
        Forward(model, points, loss="model")
    with pytest.raises(ValueError, match=r"^targets: array 0 has 3 rows, x has 4"):
        Forward(model, points, loss="model", targets=[np.zeros((3, 1))])
    outputs, regularization, point_loss = Forward(
        model, points, loss="model", targets=[np.ones((4, 1))])()
    assert outputs.shape == (4, 1) and regularization is None
    np.testing.assert_allclose(point_loss[:, 0], (outputs[:, 0] - 1) ** 2, rtol=1e-6)


def test_bad_models_are_refused_when_fit_starts(backend_fits):
    """On the backend, before any step: a clear error that names the argument."""
    _, info, _, _ = backend_fits
    assert info["errors"]["width"] == "model: gives 3 values per point; y has 1 output(s)"
    assert info["errors"]["inputs"].startswith("model: has 2 inputs; FitViz feeds one input")
