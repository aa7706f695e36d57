"""A run that diverges to NaN/inf is stored and served as IEEE NaN/inf (JSON: null).

Two runs: a real Keras fit with a huge learning rate (predictions go to
±1e27, the losses overflow to inf, then everything is NaN), and a
FitVizWriter fed NaN, +inf and -inf predictions from step 10 on.
"""

import json
import os
import sys

import numpy as np
import pytest
from tensorboard.util import tensor_util

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fault_scripts import support  # noqa: E402
from tb_process import tensorboard_server  # noqa: E402

FRAMES = 20
DIVERGE_AT = 10


def _stored_frames(run_dir):
    """{step: float32 [2, N]} of the fitviz/frame tensors as stored on disk."""
    stored = {}
    for path in support.event_files(run_dir):
        for event in support.read_events(path):
            for value in event.summary.value:
                if value.tag.startswith("fitviz/frame/"):  # frame block tags
                    stored[event.step] = tensor_util.make_ndarray(value.tensor)
    return stored


@pytest.fixture(scope="module")
def diverged_logdir(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("diverge")
    written = support.write_run(logdir / "writer-nan", frames=FRAMES, diverge_at=DIVERGE_AT)
    process = support.start_training(logdir / "keras-lr1e6", "--epochs", 2, "--points", 128,
                                     "--batch", 8, "--lr", 1e6)
    try:
        out, _ = process.communicate(timeout=300)
    finally:
        process.stderr_file.close()
    assert process.returncode == 0, support.stderr_text(process)[-3000:]
    assert b"DONE" in out
    return logdir, written


@pytest.fixture(scope="module", params=["true", "false"])
def server(request, diverged_logdir):
    logdir, _ = diverged_logdir
    with tensorboard_server(logdir, f"--load_fast={request.param}") as url:
        yield url


def _strict_json(body):
    def refuse(token):
        raise AssertionError(f"non-standard JSON token {token}")
    return json.loads(body, parse_constant=refuse)


def test_keras_divergence_is_stored(diverged_logdir):
    logdir, _ = diverged_logdir
    stored = _stored_frames(logdir / "keras-lr1e6")
    assert sorted(stored) == list(range(33))  # every batch of 2 epochs x 16, and step 0
    values = np.stack([stored[s] for s in sorted(stored)])
    assert np.isfinite(values[0]).all()
    assert np.isnan(values[-1, 0]).all(), "the model ends diverged: NaN predictions"
    assert np.isposinf(values[:, 1]).any(), "an overflowing squared error is stored as +inf"


def test_writer_divergence_is_stored_bit_exact(diverged_logdir):
    logdir, written = diverged_logdir
    stored = _stored_frames(logdir / "writer-nan")
    for step in range(FRAMES):
        np.testing.assert_array_equal(stored[step][0], written[step])
    last = stored[FRAMES - 1][0]
    assert np.isnan(last[::3]).all() and np.isposinf(last[1::3]).all() \
        and np.isneginf(last[2::3]).all()


@pytest.mark.parametrize("run", ["keras-lr1e6", "writer-nan"])
def test_frames_serve_nan_and_inf_as_ieee(server, diverged_logdir, run):
    logdir, _ = diverged_logdir
    stored = _stored_frames(logdir / run)
    steps, info, values = support.get_frames(server, run)
    assert steps.astype(int).tolist() == sorted(stored)
    expected = np.stack([stored[s] for s in sorted(stored)])
    # Same bits: NaN where NaN, +inf and -inf kept with their signs.
    np.testing.assert_array_equal(values.view(np.uint32) & 0x7FC00000 == 0x7FC00000,
                                  np.isnan(expected))
    np.testing.assert_array_equal(np.where(np.isnan(values), 0, values),
                                  np.where(np.isnan(expected), 0, expected))
    assert not np.isfinite(info[:, 1]).all(), "the sample loss diverges too"


@pytest.mark.parametrize("run", ["keras-lr1e6", "writer-nan"])
def test_json_routes_give_null_for_non_finite_values(server, run):
    status, _, body = server.get(f"{support.PLUGIN}/scalars?run={run}")
    assert status == 200
    scalars = _strict_json(body)
    sample = scalars["sample_loss"]["values"]
    assert None in sample and sample[0] is not None
    status, _, body = server.get(f"{support.PLUGIN}/runs")
    assert status == 200
    runs = {entry["run"]: entry for entry in _strict_json(body)}
    assert runs[run]["frame_count"] == len(sample)
    status, _, body = server.get(f"{support.PLUGIN}/static?run={run}")
    assert status == 200
    _strict_json(body)
    assert support.error_lines(server.output()) == []
