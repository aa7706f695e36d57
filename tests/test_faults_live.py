"""Training and TensorBoard at the same time: frames appear while training runs, no errors.

Two tensorboard subprocesses (`--load_fast=true` and `false`) with
`--reload_interval=1` are started over an empty logdir, then one training
subprocess (slowed to ~0.1 s per batch) writes into it; each server's `runs`
listing is polled until its frame count has grown several times while the
training process is still alive.
"""

import contextlib
import os
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fault_scripts import support  # noqa: E402
from tb_process import tensorboard_server  # noqa: E402

RUN = "live"
EPOCHS = 8  # 16 batches each, >= 0.1 s per batch


@pytest.fixture(scope="module")
def live_session(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("live")
    observations = {"true": [], "false": []}
    process = None
    with contextlib.ExitStack() as stack:
        try:
            # TensorBoard first (over an empty logdir), as a user watching a training would.
            servers = {
                fast: stack.enter_context(tensorboard_server(
                    logdir, f"--load_fast={fast}", "--reload_interval=1",
                    "--reload_task=auto"))
                for fast in observations
            }
            process = support.start_training(logdir / RUN, "--epochs", EPOCHS, "--points", 256,
                                             "--batch", 16, "--sleep", 0.1, "--every", 1,
                                             "--images", "epoch")
            deadline = time.monotonic() + 240
            while process.poll() is None and time.monotonic() < deadline:
                for fast, url in servers.items():
                    runs = support.runs_by_name(url)
                    count = runs[RUN]["frame_count"] if RUN in runs else 0
                    observations[fast].append((count, process.poll() is None))
                time.sleep(0.5)
            process.wait(timeout=120)
            training_stdout = process.stdout.read().decode()
            # After training: within a few reloads, everything is served.
            recorded = training_stdout.count("RECORDED ")
            deadline = time.monotonic() + 90
            for url in servers.values():
                while time.monotonic() < deadline:
                    runs = support.runs_by_name(url)
                    if RUN in runs and runs[RUN]["frame_count"] >= recorded:
                        break
                    time.sleep(0.5)
            final = {fast: support.runs_by_name(url)[RUN] for fast, url in servers.items()}
            frames = {fast: support.get_frames(url, RUN)[0] for fast, url in servers.items()}
            outputs = {fast: url.output() for fast, url in servers.items()}
        finally:
            if process is not None:
                if process.poll() is None:
                    process.kill()
                    process.wait(timeout=30)
                process.stdout.close()
                process.stderr_file.close()
    return {
        "observations": observations,
        "final": final,
        "frames": frames,
        "server_output": outputs,
        "training_stdout": training_stdout,
        "training_stderr": support.stderr_text(process),
        "returncode": process.returncode,
    }


def test_training_finished_without_error(live_session):
    assert live_session["returncode"] == 0, live_session["training_stderr"][-3000:]
    assert "DONE" in live_session["training_stdout"]
    assert support.error_lines(live_session["training_stderr"]) == []


@pytest.mark.parametrize("load_fast", ["true", "false"])
def test_frames_appear_while_training_runs(live_session, load_fast):
    while_running = [count for count, running in live_session["observations"][load_fast]
                     if running]
    distinct = sorted(set(while_running))
    # The count grew at least three times while training was still going.
    assert len([c for c in distinct if c > 0]) >= 3, while_running
    assert while_running == sorted(while_running), "the frame count never goes back"


@pytest.mark.parametrize("load_fast", ["true", "false"])
def test_every_frame_served_after_training_and_no_server_error(live_session, load_fast):
    printed = [int(line.split()[1]) for line in live_session["training_stdout"].splitlines()
               if line.startswith("RECORDED ")]
    final = live_session["final"][load_fast]
    assert final["steps"] == printed
    assert live_session["frames"][load_fast].tolist() == [float(s) for s in printed]
    assert len(final["epoch_ends"]) == EPOCHS
    assert support.error_lines(live_session["server_output"][load_fast]) == []
