"""`tb-fitviz export`, end to end on logdirs written by the real writer and the real callback.

Checks what a user gets: the file's frame count, size and timing, the curve's
colour where the model's predictions are, the MP4 decoding with the right frame
count, and clear errors (exit status 2, the argument named) for bad requests.
"""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from matplotlib.colors import to_rgb
from PIL import Image

from tb_fitviz import FitVizWriter
from tb_fitviz import export as ex
from tb_fitviz.figure import CURVE_COLOR
from tb_fitviz.plugin.reading import reader_for_logdir

ROOT = Path(__file__).resolve().parent.parent
SIZE = (320, 200)
STEELBLUE = np.array([70, 130, 180])
STEPS = [0, 1, 2, 3, 5, 8, 12, 17, 23, 30, 38, 47, 57, 68, 80]


def _slope(step):
    return 2.0 * (1 - np.exp(-step / 20))


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    """Runs written by FitVizWriter: a line whose slope grows toward 2, and a run without frames."""
    root = tmp_path_factory.mktemp("logs")
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, 400)
    y = 2 * x + rng.normal(0, 0.2, 400)
    with FitVizWriter(root / "line", x, y, sample=100, title="a line") as writer:
        for step in STEPS:
            for batch in range(max(step - 1, 0) + 1, step + 1):
                writer.record_batch_loss(batch, 1.0 / (1 + batch))
            writer.record(step, _slope(step) * writer.x_sample, epoch=step // 40)
            if step in (38, 80):
                writer.record_epoch(step, step // 40, loss=0.5)
    empty = FitVizWriter(root / "no-frames", x, y)
    empty.record_epoch(0, 0)  # the run's static data, and no frame
    empty.close()
    return root


@pytest.fixture(scope="module")
def reader(logdir):
    return reader_for_logdir(str(logdir))


def _gif_frames(path):
    image = Image.open(path)
    frames, durations = [], []
    for index in range(image.n_frames):
        image.seek(index)
        frames.append(np.asarray(image.convert("RGB")))
        durations.append(image.info.get("duration"))
    return frames, durations


def _near(rgb, colour, tolerance=40):
    return np.abs(rgb.astype(int) - colour).sum(axis=-1) <= tolerance


def _curve_pixels(logdir, run, step, size, xs):
    """Pixel (row, column) where the exported figure draws the curve at `xs` for `step`."""
    from tb_fitviz.figure import FitFigure

    reader = reader_for_logdir(str(logdir))
    static = reader.static(run)
    figure = FitFigure(static["sample"][0], static["sample"][1], static["scatter"][0],
                       static["scatter"][1], title=static["settings"].get("title") or run,
                       size=size, smoothing=ex.DEFAULT_SMOOTHING)
    figure.rgb()  # lays the figure out
    points = figure.main_axes.transData.transform(np.column_stack([xs, _slope(step) * xs]))
    return [(size[1] - int(round(py)), int(round(px))) for px, py in points]


def test_gif_has_one_frame_per_step_at_the_size_and_speed_asked(logdir, reader, tmp_path):
    output = tmp_path / "line.gif"
    result = ex.export(logdir, "line", output, size=SIZE, fps=25, progress=False, reader=reader)
    assert result.steps == STEPS
    assert result.frames == len(STEPS)
    frames, durations = _gif_frames(output)
    assert len(frames) == len(STEPS)
    assert all(frame.shape == (SIZE[1], SIZE[0], 3) for frame in frames)
    assert durations == [40] * len(STEPS)
    assert Image.open(output).info.get("loop") == 0  # loops forever
    # The curve is drawn in steelblue, and it moves: the first and last frames differ.
    assert tuple(round(c * 255) for c in to_rgb(CURVE_COLOR)) == tuple(STEELBLUE)
    for frame in (frames[0], frames[-1]):
        assert _near(frame, STEELBLUE).sum() > 50
    assert (frames[0] != frames[-1]).any()
    # Nothing left beside the output: the temporary file is gone.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["line.gif"]


def test_gif_curve_is_where_the_model_predicts(logdir, reader, tmp_path):
    output = tmp_path / "line.gif"
    ex.export(logdir, "line", output, size=(480, 300), progress=False, reader=reader)
    frames, _ = _gif_frames(output)
    xs = np.array([-0.6, -0.3, 0.3, 0.6])
    for index in (0, len(STEPS) - 1):
        step = STEPS[index]
        for row, column in _curve_pixels(logdir, "line", step, (480, 300), xs):
            patch = frames[index][max(row - 2, 0):row + 3, max(column - 2, 0):column + 3]
            assert _near(patch, STEELBLUE, tolerance=60).any(), (step, row, column)
    # At the last step the line has slope ~2: at x = 0.6 it is far above where it
    # was at step 0 (a flat line at 0), so that pixel was not steelblue then.
    (row, column), = _curve_pixels(logdir, "line", STEPS[-1], (480, 300), np.array([0.8]))
    (row0, _), = _curve_pixels(logdir, "line", 0, (480, 300), np.array([0.8]))
    assert row0 - row > 30


def test_mp4_decodes_with_the_right_frame_count(logdir, reader, tmp_path):
    import imageio_ffmpeg

    output = tmp_path / "line.mp4"
    result = ex.export(logdir, "line", output, size=SIZE, fps=10, progress=False, reader=reader)
    reading = imageio_ffmpeg.read_frames(str(output))
    meta = next(reading)
    frames = [np.frombuffer(data, np.uint8).reshape(SIZE[1], SIZE[0], 3) for data in reading]
    assert tuple(meta["size"]) == SIZE
    assert meta["fps"] == pytest.approx(10)
    assert len(frames) == result.frames == len(STEPS)
    # The video shows the curve too (H.264 blurs colours a little).
    assert _near(frames[-1], STEELBLUE, tolerance=60).sum() > 50


def test_range_and_stride_choose_the_frames(logdir, reader, tmp_path):
    output = tmp_path / "part.gif"
    result = ex.export(logdir, "line", output, start=3, stop=57, stride=2, size=SIZE,
                       progress=False, reader=reader)
    expected = [s for s in STEPS if 3 <= s < 57][::2]
    assert result.steps == expected == [3, 8, 17, 30, 47]
    assert len(_gif_frames(output)[0]) == len(expected)


def test_drawing_processes_give_the_same_frames_in_order(logdir, reader, tmp_path):
    one = ex.export(logdir, "line", tmp_path / "one.gif", size=SIZE, jobs=1, progress=False,
                    reader=reader)
    two = ex.export(logdir, "line", tmp_path / "two.gif", size=SIZE, jobs=2, progress=False,
                    reader=reader)
    assert (one.jobs, two.jobs) == (1, 2)
    frames_one, _ = _gif_frames(tmp_path / "one.gif")
    frames_two, _ = _gif_frames(tmp_path / "two.gif")
    assert len(frames_one) == len(frames_two) == len(STEPS)
    for index, (a, b) in enumerate(zip(frames_one, frames_two)):
        assert np.array_equal(a, b), f"frame {index} differs"


def test_progress_bar_counts_every_frame(logdir, reader, tmp_path, capsys):
    import io

    stream = io.StringIO()
    ex.export(logdir, "line", tmp_path / "p.gif", size=SIZE, stride=3, reader=reader,
              stream=stream)
    lines = stream.getvalue().splitlines()
    assert lines[-1].startswith("p.gif [")
    assert "5/5 frames" in lines[-1]


@pytest.mark.parametrize(
    "arguments, argument, words",
    [
        ({"run": "nope"}, "--run", ["'nope'", "'line'", "'no-frames'"]),
        ({"run": "no-frames"}, "--run", ["no recorded frames"]),
        ({"output": "fit.webm"}, "-o/--output", [".webm", ".gif, .mp4 or .png"]),
        ({"output": "fit"}, "-o/--output", ["(none)"]),
        ({"start": 81}, "--start/--stop", ["steps 0 to 80"]),
        ({"start": 10, "stop": 10}, "--stop", ["after --start"]),
        ({"start": -1}, "--start", [">= 0"]),
        ({"stride": 0}, "--stride", [">= 1"]),
        ({"fps": 0}, "--fps", ["positive"]),
        ({"fps": 60}, "--fps", ["at most 50", ".mp4"]),
        ({"output": "fit.mp4", "size": (321, 200)}, "--size", ["even"]),
        ({"size": (50, 200)}, "--width", [">= 100"]),
        ({"smoothing": 4}, "--smoothing", ["odd"]),
        ({"jobs": 0}, "--jobs", [">= 1"]),
    ],
)
def test_bad_requests_name_the_argument(logdir, reader, tmp_path, arguments, argument, words):
    options = {"run": "line", "output": "fit.gif", "size": SIZE}
    options.update(arguments)
    run, output = options.pop("run"), tmp_path / options.pop("output")
    with pytest.raises(ex.ExportError) as caught:
        ex.export(logdir, run, output, progress=False, reader=reader, **options)
    assert caught.value.argument == argument
    message = str(caught.value)
    assert message.startswith(argument + ": ")
    for word in words:
        assert word in message
    assert list(tmp_path.iterdir()) == []


def _cli(*arguments, cwd):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([sys.executable, "-m", "tb_fitviz.cli", *arguments], cwd=cwd,
                          capture_output=True, text=True, timeout=600, env=env)


def test_command_line_writes_and_reports(logdir, tmp_path):
    result = _cli("export", str(logdir), "--run", "line", "-o", "out.gif", "--size", "200x120",
                  "--stride", "5", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("wrote out.gif (3 frames, steps 0 to 38, 200x120")
    assert "3/3 frames" in result.stderr  # the progress bar
    image = Image.open(tmp_path / "out.gif")
    assert (image.n_frames, image.size) == (3, (200, 120))
    # TensorBoard's reader ran without importing TensorFlow (a local logdir).
    assert "cuda" not in result.stderr.lower()


def test_command_line_errors_exit_2_naming_the_argument(logdir, tmp_path):
    result = _cli("export", str(logdir), "--run", "missing", "-o", "x.gif", cwd=tmp_path)
    assert result.returncode == 2
    assert "--run: no FitViz run 'missing'" in result.stderr
    assert "runs there: 'line', 'no-frames'" in result.stderr
    result = _cli("export", str(tmp_path / "nowhere"), "--run", "x", "-o", "x.gif", cwd=tmp_path)
    assert result.returncode == 2 and "LOGDIR:" in result.stderr
    result = _cli("export", str(logdir), "--run", "line", "-o", "x.gif", "--size", "3",
                  cwd=tmp_path)
    assert result.returncode == 2 and "--size: expected WIDTHxHEIGHT" in result.stderr
    result = _cli("export", str(logdir), "--run", "line", "-o", "x.gif", "--size", "200x200",
                  "--width", "300", cwd=tmp_path)
    assert result.returncode == 2 and "--size: give either" in result.stderr
    result = _cli("export", str(logdir), "--run", "line", "-o", "x.gif", "--size", "10x10",
                  cwd=tmp_path)
    assert result.returncode == 2
    assert "--size: expected a width and height of 100 to 8192 pixels" in result.stderr
    result = _cli("export", str(logdir), "-o", "x.gif", cwd=tmp_path)
    assert result.returncode == 2 and "--run" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_killed_export_leaves_nothing(logdir, tmp_path):
    """SIGTERM (a kill, a scheduler's stop) unwinds as Ctrl-C does: the half-written file is
    removed, and the exit status says so."""
    long_run = tmp_path / "logs"  # 400 frames: the export runs for a while
    x = np.linspace(-1, 1, 200)
    with FitVizWriter(long_run / "long", x, 2 * x, images=False) as writer:
        for step in range(400):
            writer.record(step, _slope(step) * writer.x_sample)
    work = tmp_path / "work"
    work.mkdir()
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    process = subprocess.Popen(
        [sys.executable, "-m", "tb_fitviz.cli", "export", str(long_run), "--run", "long", "-o",
         "out.gif", "--size", "1600x900", "--jobs", "1"], cwd=work, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not list(work.glob(".out.*.partial.gif")):
            assert process.poll() is None and time.monotonic() < deadline, "no partial file"
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 143, stderr
    assert "terminated; nothing written" in stderr
    assert sorted(p.name for p in work.iterdir()) == []


def test_runs_command_lists_runs_and_frames(logdir, tmp_path):
    result = _cli("runs", str(logdir), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["line", str(len(STEPS)), "frames"]
    assert lines[0].endswith(f"steps 0 to {STEPS[-1]}")
    assert lines[1].startswith("no-frames") and lines[1].endswith("no frames yet")


@pytest.fixture(scope="module")
def keras_logdir(tmp_path_factory):
    """A real Keras fit recorded by FitVizCallback: (logdir, sample x, final predictions)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    from tb_fitviz import FitVizCallback

    root = tmp_path_factory.mktemp("keras")
    keras.utils.set_random_seed(3)
    rng = np.random.default_rng(3)
    x = rng.uniform(-2, 2, 512).astype("float32")
    y = (np.abs(x) + rng.normal(0, 0.1, 512)).astype("float32")
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    callback = FitVizCallback(str(root / "keras-run"), x, y, sample=200, every=2, images=False)
    model.fit(x, y, epochs=3, batch_size=64, verbose=0, callbacks=[callback])
    sample_x = callback.writer.x_sample
    final = np.asarray(model(sample_x.reshape(-1, 1).astype("float32"))).reshape(-1)
    return root, sample_x, final


def test_export_of_a_keras_run_draws_the_trained_model(keras_logdir, tmp_path):
    root, sample_x, final = keras_logdir
    reader = reader_for_logdir(str(root))
    (listing,) = reader.runs()
    output = tmp_path / "keras.gif"
    result = ex.export(root, "keras-run", output, size=(480, 300), smoothing=1, progress=False,
                       reader=reader)
    assert result.steps == listing["steps"] and result.steps[-1] == 24  # 8 batches x 3 epochs
    frames, _ = _gif_frames(output)
    assert len(frames) == listing["frame_count"]
    # Where the trained model's own predictions are, the last frame shows the curve.
    from tb_fitviz.figure import FitFigure

    static = reader.static("keras-run")
    figure = FitFigure(static["sample"][0], static["sample"][1], static["scatter"][0],
                       static["scatter"][1], title="keras-run", size=(480, 300))
    figure.rgb()
    chosen = np.linspace(10, len(sample_x) - 10, 6).astype(int)
    points = figure.main_axes.transData.transform(
        np.column_stack([sample_x[chosen], final[chosen]]))
    for px, py in points:
        row, column = 300 - int(round(py)), int(round(px))
        patch = frames[-1][max(row - 2, 0):row + 3, max(column - 2, 0):column + 3]
        assert _near(patch, STEELBLUE, tolerance=60).any(), (row, column)


def test_export_reads_only_its_run(logdir, tmp_path):
    """A big or broken run next to the one exported is never read: a sibling directory
    whose event file is garbage changes nothing, and a nested run name works."""
    root = tmp_path / "logs"
    shutil.copytree(logdir / "line", root / "group" / "line")
    shutil.copytree(logdir / "line", root / "other")
    (root / "broken").mkdir()
    (root / "broken" / "events.out.tfevents.1.garbage").write_bytes(os.urandom(1 << 20))
    only = reader_for_logdir(str(root), run="group/line")
    assert [r["run"] for r in only.runs()] == ["group/line"]
    output = tmp_path / "line.gif"
    ex.export(root, "group/line", output, size=(320, 180))
    assert len(_gif_frames(output)[0]) == len(STEPS)
    # A run that is not there: every run is listed in the error.
    with pytest.raises(ex.ExportError, match="runs there: 'group/line', 'other'"):
        ex.export(root, "group/nothing", tmp_path / "x.gif")
