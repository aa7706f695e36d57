"""Images-tab figures drawn in a child process: the same pixels, no process left behind.

The writer draws its figures in `tb_fitviz.figure_process` (a child with its own
interpreter) so that Matplotlib never holds the training process's GIL; what the
benchmark (`bench/bench_recording.py`, "(a+i) / (a)") measures is the speed, what these
tests check is that the Images tab gets the same figure, that the child never
outlives the training process, and that figures still come when no child can run.
"""

import io
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from PIL import Image
from test_writer import read_run, steps

from tb_fitviz import FitVizWriter
from tb_fitviz import summary_format as fmt


def figure_processes(parent_pid=None):
    """PIDs of running `tb_fitviz.figure_process` children (of `parent_pid` if given)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                command = handle.read().split(b"\0")
            with open(f"/proc/{entry}/stat") as handle:
                stat = handle.read()
        except OSError:
            continue
        state, parent = stat.rsplit(")", 1)[1].split()[:2]
        if b"tb_fitviz.figure_process" in command and state != "Z" and (
                parent_pid is None or int(parent) == parent_pid):
            found.append(int(entry))
    return found


def record(writer, x, steps_to_record):
    for step in steps_to_record:
        writer.record(step, np.sin(x) * step / 10, epoch=0)


def test_child_draws_the_figure_the_writer_would_draw(tmp_path):
    x = np.linspace(0, 6, 300)
    log_dir = str(tmp_path / "child")
    with FitVizWriter(log_dir, x, np.sin(x), images=2) as writer:
        record(writer, x, range(1, 6))
        writer.wait_for_images()
        assert figure_processes(os.getpid()), "no figure process while the writer is open"
        # The same figure, drawn here in the test's own process.
        here = writer.figure()
        prediction = np.sin(writer.x_sample) * 0.5
        values = np.zeros((2, len(prediction)), np.float32)
        values[0] = prediction
        values[writer.kind.channel("loss")] = (prediction - writer.y_sample) ** 2
    children = figure_processes(os.getpid())
    assert len(children) <= 1, "one figure process per training process"
    tags = read_run(log_dir)
    assert steps(tags, fmt.TAG_FIGURE) == [2, 4, 5]
    step, blob, _ = tags[fmt.TAG_FIGURE][-1]
    stored = np.asarray(Image.open(io.BytesIO(blob[2])).convert("RGB"))
    here.draw(5, values, None, epoch=0, sample_loss=None, batch_loss=None, epoch_ends=[])
    # Loss histories differ (the child saw them), the fit panel does not: compare its pixels.
    drawn = np.asarray(Image.open(io.BytesIO(here.png())).convert("RGB"))
    assert stored.shape == drawn.shape == (540, 960, 3)
    left = slice(0, 540), slice(0, 560)
    assert np.mean(np.all(stored[left] == drawn[left], axis=-1)) > 0.98


@pytest.mark.skipif(not hasattr(os, "getpriority"), reason="Unix process priorities")
def test_figure_process_runs_at_the_lowest_cpu_priority(tmp_path):
    """Figures take only the CPU time that training leaves (nice 19, whatever ours is)."""
    from tb_fitviz.figure_process import NICENESS

    ours = os.getpriority(os.PRIO_PROCESS, 0)
    x = np.linspace(0, 1, 100)
    with FitVizWriter(str(tmp_path / "nice"), x, x, images=1) as writer:
        record(writer, x, range(1, 3))
        writer.wait_for_images()
        children = figure_processes(os.getpid())
        assert children
        assert NICENESS == 19
        for pid in children:
            assert os.getpriority(os.PRIO_PROCESS, pid) == 19
    assert os.getpriority(os.PRIO_PROCESS, 0) == ours, "the training process keeps its priority"


def test_every_writer_of_a_process_shares_one_figure_process(tmp_path):
    """A sweep of fits pays the child's imports once: one child, whatever the writers."""
    x = np.linspace(0, 1, 100)
    pids = set()
    for run in ("a", "b", "c"):
        with FitVizWriter(str(tmp_path / run), x, x, images=1) as writer:
            record(writer, x, range(1, 3))
            writer.wait_for_images()
            pids.update(figure_processes(os.getpid()))
        assert steps(read_run(str(tmp_path / run)), fmt.TAG_FIGURE) == [1, 2]
    assert len(pids) == 1


def test_a_writer_left_open_gets_its_last_figure_at_exit(tmp_path):
    """The figure process is closed at exit after the writers have drawn their last
    figures in it, not before (its exit handler used to run first: the last figure,
    for a short run the only one, was lost)."""
    script = textwrap.dedent(f"""
        import numpy as np
        from tb_fitviz import FitVizWriter
        x = np.linspace(0, 1, 200)
        writer = FitVizWriter({str(tmp_path / "run")!r}, x, x)
        writer.record(1, x, epoch=0)
        writer.record_epoch(1, 0, loss=0.5)  # a figure: starts the figure process
        writer.wait_for_images()
        writer.record(2, x / 2, epoch=1)
        writer.record(3, x / 3, epoch=1)
        # no close(): the exit closes the writer, which draws the last frame's figure
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert "could not draw" not in result.stderr, result.stderr
    assert steps(read_run(str(tmp_path / "run")), fmt.TAG_FIGURE) == [1, 3]


def test_figure_process_ends_when_training_is_killed(tmp_path):
    script = textwrap.dedent(f"""
        import sys, time
        import numpy as np
        from tb_fitviz import FitVizWriter
        x = np.linspace(0, 1, 200)
        writer = FitVizWriter({str(tmp_path / "run")!r}, x, x, images=1)
        writer.record(1, x, epoch=0)
        writer.wait_for_images()
        print("DRAWN", flush=True)
        time.sleep(120)
    """)
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                               start_new_session=False)
    try:
        assert process.stdout.readline().strip() == b"DRAWN"
        children = figure_processes(process.pid)
        assert len(children) == 1
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(
                pid in figure_processes() for pid in children):
            time.sleep(0.1)
        assert not any(pid in figure_processes() for pid in children), \
            "the figure process outlived the killed training process"
    finally:
        if process.poll() is None:
            process.kill()


def test_figures_are_drawn_in_a_thread_when_no_child_can_start(tmp_path, monkeypatch):
    from tb_fitviz import figure_process

    monkeypatch.setattr(figure_process._Child, "_shared", None)  # as in a fresh process
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-python-here"))
    x = np.linspace(0, 1, 100)
    log_dir = str(tmp_path / "thread")
    with pytest.warns(UserWarning, match="draws figures in a thread"), \
            FitVizWriter(log_dir, x, x, images=1) as writer:
        record(writer, x, range(1, 3))
    tags = read_run(log_dir)
    assert steps(tags, fmt.TAG_FIGURE) == [1, 2]
    width, height, png = tags[fmt.TAG_FIGURE][-1][1][:3]
    assert Image.open(io.BytesIO(png)).size == (int(width), int(height)) == (960, 540)


def test_a_figure_that_cannot_be_made_is_reported_once_and_not_retried():
    import functools
    import warnings

    from tb_fitviz.images import ImageOutput

    written = []
    output = ImageOutput(functools.partial(int, "not a figure"), lambda *a: written.append(a))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for step in (1, 2, 3):
            output.note_frame(step, 0, np.zeros((2, 5), np.float32), None, 0.5)
            output.draw_last()
            output.wait()
        assert len(figure_processes(os.getpid())) <= 1
        output.stop()
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1 and "could not draw a figure" in messages[0]
    assert "invalid literal" in messages[0]
    assert written == []
