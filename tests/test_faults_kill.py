"""Training killed with SIGKILL mid-run: TensorBoard serves every frame recorded before the kill.

Flush policy checked here: `FitVizWriter.record` hands each frame to the
operating system before it returns (the training script prints `RECORDED n`
right after), so a frame whose `record` returned is on disk even if the
process is killed the next instant; only a frame whose write began after the
last print may be torn, and TensorBoard skips a torn last record.
"""

import os
import signal
import sys
import time

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fault_scripts import support  # noqa: E402
from tb_process import tensorboard_server  # noqa: E402

RUN = "killed"


@pytest.fixture(scope="module")
def killed_run(tmp_path_factory):
    """Trains in a subprocess (every batch recorded), SIGKILLs it mid-run.

    Returns (logdir, printed steps, steps seen on disk while it was running).
    """
    logdir = tmp_path_factory.mktemp("kill")
    run_dir = logdir / RUN
    process = support.start_training(run_dir, "--epochs", 200, "--points", 256,
                                     "--batch", 16, "--sleep", 0.02, "--every", 1)
    printed = []
    on_disk_while_running = None
    try:
        deadline = time.monotonic() + 120
        while len(printed) < 40 and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            text = line.decode().strip()
            if text.startswith("RECORDED "):
                printed.append(int(text.split()[1]))
            if len(printed) == 20 and on_disk_while_running is None:
                # The process is still training: what the OS has now, before any exit or kill.
                on_disk_while_running = (printed[-1], support.frame_steps_in_files(run_dir))
        assert len(printed) >= 40, "training did not record 40 frames:\n" + support.stderr_text(
            process)
        assert process.poll() is None, "training finished before the kill"
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        # Lines printed between our last read and the kill are still in the pipe.
        for line in process.stdout.read().decode().splitlines():
            if line.startswith("RECORDED "):
                printed.append(int(line.split()[1]))
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        process.stdout.close()
        process.stderr_file.close()
    assert process.returncode == -signal.SIGKILL
    return logdir, printed, on_disk_while_running


def test_each_frame_is_on_disk_when_record_returns(killed_run):
    _, _, (last_printed, steps_on_disk) = killed_run
    # Every frame whose record() returned is readable by another process right away.
    assert set(range(last_printed + 1)) <= set(steps_on_disk)


def test_event_file_holds_every_printed_frame(killed_run):
    logdir, printed, _ = killed_run
    assert printed == list(range(len(printed))), "every=1: one frame per batch, from step 0"
    on_disk = support.frame_steps_in_files(logdir / RUN)
    assert on_disk[: len(printed)] == printed
    # At most the frame being written when the kill came is extra.
    assert on_disk in (printed, printed + [printed[-1] + 1])


@pytest.mark.parametrize("load_fast", ["true", "false"])
def test_tensorboard_serves_every_frame_recorded_before_the_kill(killed_run, load_fast):
    logdir, printed, _ = killed_run
    with tensorboard_server(logdir, f"--load_fast={load_fast}") as url:
        runs = support.runs_by_name(url)
        assert list(runs) == [RUN]
        steps = runs[RUN]["steps"]
        assert steps[: len(printed)] == printed
        assert steps in (printed, printed + [printed[-1] + 1])
        assert runs[RUN]["frame_count"] == len(steps)
        served_steps, info, values = support.get_frames(url, RUN)
        assert served_steps.tolist() == [float(s) for s in steps]
        assert values.shape == (len(steps), 2, 64)
        assert np.isfinite(values).all()
        # Per-point loss stored with each frame is the squared error of its prediction.
        static = url.get_json(f"{support.PLUGIN}/static?run={RUN}")
        y = np.asarray(static["sample"]["targets"][0], dtype=np.float32)
        np.testing.assert_allclose(values[:, 1], (values[:, 0] - y) ** 2, rtol=1e-4, atol=1e-6)
        scalars = url.get_json(f"{support.PLUGIN}/scalars?run={RUN}")
        # Batch losses are flushed with the next frame: every batch up to the last frame.
        assert scalars["batch_loss"]["steps"][: printed[-1]] == list(range(1, printed[-1] + 1))
        assert support.error_lines(url.output()) == []
