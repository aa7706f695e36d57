"""FitVizCallback in a real two-worker MultiWorkerMirroredStrategy fit (tf_keras).

Two processes on free localhost ports, each with TF_CONFIG and FitVizCallback on
the same log_dir, as a user would start them (`tests/backend_scripts/multiworker.py`).
Before the fix the chief alone read Keras' loss tracker (a sync-on-read variable:
the read is an all-reduce) and the other worker's next gradient all-reduce was
matched against it: CollectiveReduceV2 aborted. The model has a
BatchNormalization layer, whose moving statistics are read the same way by the
forward pass unless it runs in a replica context.
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tf_keras")

from tb_fitviz.plugin import reading  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "tests" / "backend_scripts" / "multiworker.py"
SIZE, BATCH, EPOCHS = 500, 64, 2


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("localhost", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


@pytest.fixture(scope="module")
def cluster_fit(tmp_path_factory):
    """Both workers' outputs ({index: dict}) and the shared log dir."""
    root = tmp_path_factory.mktemp("multiworker")
    log_dir = root / "logs" / "cluster-run"
    cluster = {"worker": [f"localhost:{port}" for port in free_ports(2)]}
    processes = []
    for index in range(2):
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "TF_USE_LEGACY_KERAS": "1",
               "TF_CONFIG": json.dumps({"cluster": cluster,
                                        "task": {"type": "worker", "index": index}}),
               "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT),
                                                           os.environ.get("PYTHONPATH")]))}
        processes.append(subprocess.Popen(
            [sys.executable, str(SCRIPT), str(log_dir), str(root / f"worker{index}.json")],
            env=env, cwd=str(ROOT), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True))
    outputs = [""] * len(processes)
    try:
        for index, process in enumerate(processes):
            try:
                outputs[index] = process.communicate(timeout=240)[0]
            except subprocess.TimeoutExpired:  # e.g. one worker died, the other waits for it
                for other in processes:
                    other.kill()
                outputs[index] = process.communicate()[0] + "\n[killed after 240 s]"
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    for index, process in enumerate(processes):
        assert process.returncode == 0, f"worker {index} failed:\n{outputs[index][-4000:]}"
    workers = {i: json.loads((root / f"worker{i}.json").read_text()) for i in range(2)}
    return workers, log_dir


def test_both_workers_finish_the_same_fit(cluster_fit):
    workers, _ = cluster_fit
    assert workers[0]["history"]["loss"] == workers[1]["history"]["loss"]
    assert len(workers[0]["history"]["loss"]) == EPOCHS


def test_only_the_chief_writes_one_complete_run(cluster_fit):
    workers, log_dir = cluster_fit
    files = sorted(os.listdir(log_dir))
    # One event file, named after the chief's process (worker 0: the cluster has no chief).
    assert len(files) == 1, files
    assert f".{workers[0]['pid']}." in files[0] and f".{workers[1]['pid']}." not in files[0]
    assert sorted(os.listdir(log_dir.parent)) == [log_dir.name]
    reader = reading.reader_for_logdir(str(log_dir.parent))
    runs = reader.runs()
    assert [r["run"] for r in runs] == [log_dir.name] and "error" not in runs[0]
    batches = EPOCHS * workers[0]["steps_per_epoch"]
    frames = reader.all_frames(log_dir.name)
    assert frames.steps.tolist() == list(range(batches + 1))  # every batch, strictly increasing
    assert np.all(np.isfinite(frames.values))
    steps, losses = reader.scalars(log_dir.name)["batch_loss"]
    assert steps.tolist() == list(range(1, batches + 1))
    assert reader.scalars(log_dir.name)["epoch_loss"][0].tolist() == [8.0, 16.0]


def test_batch_losses_are_the_global_ones(cluster_fit):
    """Each batch's loss over both workers' halves of it, exact: their size-weighted
    mean over an epoch is Keras' epoch loss (the short last batch included)."""
    workers, log_dir = cluster_fit
    reader = reading.reader_for_logdir(str(log_dir.parent))
    _, losses = reader.scalars(log_dir.name)["batch_loss"]
    per_epoch = workers[0]["steps_per_epoch"]
    sizes = np.array([min(BATCH, SIZE - b * BATCH) for b in range(per_epoch)])
    assert sizes[-1] == 52
    for epoch, expected in enumerate(workers[0]["history"]["loss"]):
        batch = losses[epoch * per_epoch:(epoch + 1) * per_epoch]
        assert np.all(batch > 0)
        assert np.sum(batch * sizes) / np.sum(sizes) == pytest.approx(expected, rel=1e-5)


def test_last_frame_is_the_chiefs_model(cluster_fit):
    """The chief's forward pass runs in its replica context: the stored predictions are
    the chief's own model (its BatchNormalization statistics included), by hand."""
    workers, log_dir = cluster_fit
    chief = workers[0]
    w = dict(zip((n.split(":")[0] for n in chief["names"]),
                 (np.asarray(v, dtype=np.float64) for v in chief["weights"])))
    x = np.asarray(chief["x_sample"], dtype=np.float64).reshape(-1, 1)
    hidden = np.tanh(x @ w["dense/kernel"] + w["dense/bias"])
    normed = ((hidden - w["batch_normalization/moving_mean"])
              / np.sqrt(w["batch_normalization/moving_variance"] + 1e-3)
              * w["batch_normalization/gamma"] + w["batch_normalization/beta"])
    predicted = normed @ w["dense_1/kernel"] + w["dense_1/bias"]
    reader = reading.reader_for_logdir(str(log_dir.parent))
    values = reader.all_frames(log_dir.name).values[-1]
    np.testing.assert_allclose(values[0], predicted[:, 0], rtol=1e-4, atol=1e-5)
