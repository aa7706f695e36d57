"""The demo as `make demo` runs it (quick): real Keras fits, then a real TensorBoard."""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from tb_fitviz.plugin.reading import reader_for_logdir

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "demo" / "run_demo.py"
# --quick: 400 linear points in batches of 50, 1,500 sine training points in
# batches of 128 (12 batches, the last short), 400 half-moon points in batches of 32
# (13 batches), 600 two-output points in batches of 64 (10 batches), 3 epochs each.
LAST_STEPS = {
    "linear/sgd-lr0.002": 24,
    "linear/sgd-lr0.01": 24,
    "linear/sgd-lr0.025": 24,
    "sine/adagrad-lr0.01": 36,
    "moons/adam-lr0.03": 39,
    "moons/adam-lr0.003": 39,
    "multi/three-features-two-outputs": 30,
}


def _environment():
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1")


@pytest.fixture(scope="module")
def demo_logdir(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("demo") / "logs"
    result = subprocess.run(
        [sys.executable, str(DEMO), "--quick", "--no-serve", "--logdir", str(logdir)],
        capture_output=True, text=True, timeout=900, env=_environment(),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return logdir, result.stdout


def test_demo_trains_every_run_with_frames(demo_logdir):
    logdir, output = demo_logdir
    assert f"trained {len(LAST_STEPS)} runs in" in output
    for run in LAST_STEPS:
        assert f"{run}" in output and "epoch   3/3" in output  # the progress bars
    reader = reader_for_logdir(str(logdir))
    runs = {entry["run"]: entry for entry in reader.runs()}
    assert sorted(runs) == sorted(LAST_STEPS)
    for run, last_step in LAST_STEPS.items():
        entry = runs[run]
        assert "error" not in entry, entry
        assert entry["steps"][0] == 0 and entry["steps"][-1] == last_step
        assert entry["frame_count"] >= 10
        assert len(entry["epoch_ends"]) == 3
        frames = reader.frames(run)
        assert np.isfinite(frames.values).all()
        # Training lowered the loss on the sample between the first and the last frame.
        assert frames.info[-1, 1] < frames.info[0, 1], run
    static = reader.static("sine/adagrad-lr0.01")
    assert static["validation"] is not None and static["validation"].shape[1] > 100


def test_demo_has_a_surface_classifier_and_a_two_output_regression(demo_logdir):
    logdir, _ = demo_logdir
    reader = reader_for_logdir(str(logdir))
    runs = {entry["run"]: entry for entry in reader.runs()}
    for name in ("moons/adam-lr0.03", "moons/adam-lr0.003"):
        entry = runs[name]
        assert entry["task"] == "classification" and entry["input_width"] == 2
        assert entry["views"][0] == "surface" and entry["grid_size"] == 100
        settings = entry["settings"]
        assert settings["class_names"] == ["upper moon", "lower moon"]
        # The grid frames are recorded with the sample frames, probabilities in [0, 1].
        grids = reader.frames(name, series="grid")
        assert list(grids.steps) == entry["steps"]
        assert grids.values.shape[1:] == (1, 100 * 100)
        assert ((grids.values >= 0) & (grids.values <= 1)).all()
    # The two moons runs fit the same points: one sample, two learning rates.
    statics = [reader.static(name)["sample"] for name in ("moons/adam-lr0.03",
                                                          "moons/adam-lr0.003")]
    assert np.array_equal(*statics)
    entry = runs["multi/three-features-two-outputs"]
    assert entry["task"] == "regression" and entry["input_width"] == 3
    assert entry["views"][0] == "pred_true"
    assert entry["settings"]["output_names"] == ["wave", "product"]
    assert entry["settings"]["feature_names"] == ["x1", "x2", "x3"]


def test_linear_runs_differ_only_in_the_learning_rate(demo_logdir):
    logdir, _ = demo_logdir
    reader = reader_for_logdir(str(logdir))
    names = [name for name in LAST_STEPS if name.startswith("linear/")]
    statics = [reader.static(name) for name in names]
    for other in statics[1:]:
        # Same data, same sample ...
        assert np.array_equal(other["sample"], statics[0]["sample"])
    # ... and different fits.
    finals = [reader.frames(name).values[-1, 0] for name in names]
    assert not np.allclose(finals[0], finals[1]) and not np.allclose(finals[0], finals[2])


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "kill"])
def test_demo_serves_its_runs_and_stops_tensorboard_with_it(demo_logdir, stop_signal):
    logdir, _ = demo_logdir
    process = subprocess.Popen(
        [sys.executable, str(DEMO), "--no-train", "--logdir", str(logdir),
         "--host", "127.0.0.1", "--port", str(_free_port())],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=_environment(),
        start_new_session=True,
    )
    lines, ready = [], threading.Event()

    def drain():
        for raw in iter(process.stdout.readline, b""):
            lines.append(raw.decode("utf-8", "replace"))
            if "open http://" in lines[-1]:
                ready.set()
        ready.set()

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        ready.wait(300)
        line = next((line for line in lines if "open http://" in line), None)
        assert line, "".join(lines)
        url = line.split("open ", 1)[1].split()[0]
        assert url.endswith("/#fitviz")
        base = url[: -len("#fitviz")]
        # TensorBoard answers before its first load of the logdir is done: wait for the runs.
        deadline = time.monotonic() + 180
        while True:
            with urllib.request.urlopen(base + "data/plugin/fitviz/runs", timeout=60) as answer:
                names = sorted(run["run"] for run in json.loads(answer.read()))
            if names == sorted(LAST_STEPS) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert names == sorted(LAST_STEPS)
        process.send_signal(stop_signal)
        assert process.wait(timeout=60) == 0
        assert "stopping TensorBoard" in "".join(lines)
        # TensorBoard went with the demo: nothing answers on its port any more.
        with pytest.raises(OSError):
            urllib.request.urlopen(base, timeout=10)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        else:
            # TensorBoard's own children (the data server) go with the group.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        reader.join(timeout=10)
        process.stdout.close()


def test_demo_refuses_a_folder_it_did_not_make(tmp_path):
    (tmp_path / "precious.txt").write_text("keep me")
    result = subprocess.run(
        [sys.executable, str(DEMO), "--quick", "--no-serve", "--logdir", str(tmp_path)],
        capture_output=True, text=True, timeout=300, env=_environment(),
    )
    assert result.returncode == 2
    assert "--logdir" in result.stderr and "not empty" in result.stderr
    assert (tmp_path / "precious.txt").read_text() == "keep me"
