"""A log directory reused by a second training (a script run twice with the same log_dir).

Very common: the second run's event file lands beside the first one's in the
same run directory, its steps starting again at 0. Whatever TensorBoard keeps,
the tab must stay consistent: `runs` lists ascending, unique steps, `frames`
serves exactly those steps, every frame has the run's sample size, and no
route answers 500.
"""

import os
import sys
import time

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fault_scripts import support  # noqa: E402
from tb_process import tensorboard_server  # noqa: E402


def _train(run_dir, sample, frames, offset):
    from tb_fitviz import FitVizWriter

    x = np.linspace(0, 1, 100)
    with FitVizWriter(os.fspath(run_dir), x, x, sample=sample, images=False) as writer:
        for step in range(frames):
            if step:
                writer.record_batch_loss(step, 1.0)
            writer.record(step, np.full(sample, offset + step, dtype=np.float64))


@pytest.fixture(scope="module")
def rerun_logdir(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("rerun")
    _train(logdir / "same-sample", 50, 10, 0)
    _train(logdir / "other-sample", 50, 10, 0)
    time.sleep(1.1)  # event file names carry the second: the rerun's file sorts after
    _train(logdir / "same-sample", 50, 6, 1000)
    _train(logdir / "other-sample", 40, 6, 1000)
    return logdir


@pytest.fixture(scope="module", params=["true", "false"])
def server(request, rerun_logdir):
    with tensorboard_server(rerun_logdir, f"--load_fast={request.param}") as url:
        url.load_fast = request.param
        yield url


@pytest.mark.parametrize("run", ["same-sample", "other-sample"])
def test_rerun_is_served_consistently(server, run):
    for path in support.route_paths(run):
        status, _, body = server.get(path)
        assert status in (200, 404), (path, status, body[:300])
    entry = support.runs_by_name(server)[run]
    steps = entry["steps"]
    assert steps == sorted(set(steps)), f"steps not ascending and unique: {steps}"
    served, _, values = support.get_frames(server, run)
    if server.load_fast == "false" and run == "other-sample":
        # The Python loader keeps some frames of the first training (another sample
        # size): those are left out of frames, not of the cheap index behind runs.
        assert set(served.astype(int).tolist()) <= set(steps)
        assert served.tolist() == sorted(set(served.tolist()))
    else:
        assert served.astype(int).tolist() == steps
    static = server.get_json(f"{support.PLUGIN}/static?run={run}")
    assert values.shape[2] == len(static["sample"]["features"][0])
    # The frames of the last training are served (each frame holds offset + step).
    if len(steps) > 1:
        assert (values[1:, 0] == 1000 + served[1:, None]).all()
    assert support.error_lines(server.output()) == []


def test_rerun_with_another_sample_lists_the_new_sample_size(server):
    entry = support.runs_by_name(server)["other-sample"]
    static = server.get_json(f"{support.PLUGIN}/static?run=other-sample")
    assert entry["sample_size"] == len(static["sample"]["features"][0]) == 40
