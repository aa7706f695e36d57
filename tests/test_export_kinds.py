"""`tb-fitviz export` and `tb-fitviz runs` for every kind of run, over real Keras fits.

A GIF and an MP4 of a surface run are decoded (Pillow, imageio-ffmpeg): one frame per
recorded step, and the surface's colour at a grid point is the diverging scale's colour
of the probability stored there. `--view` picks a view and names the run's views when
wrong; `--theme dark` draws on the dark theme; a .png is the range's last frame.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("keras")

from PIL import Image  # noqa: E402

from tb_fitviz import defaults  # noqa: E402
from tb_fitviz import export as ex  # noqa: E402
from tb_fitviz.figure import figure_for_run  # noqa: E402
from tb_fitviz.kind import RunKind  # noqa: E402
from tb_fitviz.plugin.reading import reader_for_logdir  # noqa: E402

SIZE = (480, 270)
LIGHT = defaults.theme("light")


def rgb_of(text):
    text = text.lstrip("#")
    return np.array([int(text[i:i + 2], 16) for i in (0, 2, 4)], dtype=np.float64)


def diverging(p, theme=LIGHT):
    colours = np.array([rgb_of(s) for s in theme["diverging"]])
    return np.array([np.interp(p, [0, 0.5, 1], colours[:, k]) for k in range(3)])


@pytest.fixture(scope="module")
def reader(kind_fits):
    return reader_for_logdir(str(kind_fits[0]))


@pytest.fixture(scope="module")
def moons(reader):
    """(listing, kind, grid frames, pixel places of uncovered grid points at SIZE)."""
    listing = next(entry for entry in reader.runs() if entry["run"] == "moons")
    static = reader.static("moons")
    kind = RunKind.from_settings(static["settings"])
    grids = reader.all_frames("moons", series="grid")
    figure = figure_for_run(static["settings"], static, size=SIZE, title="moons")
    figure.rgb()
    axes = figure.view.main_axes
    xs, ys = kind.grid.axes()
    points = axes.transData.transform(static["sample"][:2].T)
    box = axes.get_window_extent()
    places = []
    for i in range(2, kind.grid.size - 2, 3):
        for j in range(2, kind.grid.size - 2, 3):
            px, py = axes.transData.transform((xs[j], ys[i]))
            if box.x0 + 6 < px < box.x1 - 6 and box.y0 + 6 < py < box.y1 - 6 and np.min(
                    np.hypot(points[:, 0] - px, points[:, 1] - py)) > 7:
                places.append((i * kind.grid.size + j, figure.pixel(axes, xs[j], ys[i])))
    assert len(places) >= 8
    return listing, kind, grids, places


def check_surface(frame, grid_values, places, tolerance):
    misses = []
    for index, (row, column) in places:
        expected = diverging(float(grid_values[0, index]))
        got = frame[row, column].astype(np.float64)
        if np.abs(got - expected).max() > tolerance:
            misses.append((index, got, expected))
    # H.264 and a 256-colour palette blur a few pixels; nearly all must match.
    assert len(misses) <= len(places) // 10, misses[:3]


def test_gif_of_a_surface_run(reader, moons, tmp_path):
    listing, kind, grids, places = moons
    output = tmp_path / "moons.gif"
    result = ex.export(reader=reader, logdir=None, run="moons", output=output, size=SIZE,
                       fps=10, progress=False, jobs=1)
    assert result.steps == listing["steps"]
    image = Image.open(output)
    assert image.n_frames == listing["frame_count"] == len(grids.steps)
    assert image.size == SIZE
    frames = []
    for index in range(image.n_frames):
        image.seek(index)
        frames.append(np.asarray(image.convert("RGB")))
    # The surface changes as the model learns: first and last frames differ over the image.
    assert (np.abs(frames[0].astype(int) - frames[-1].astype(int)).sum(axis=-1) > 30).sum() > 5000
    check_surface(frames[-1], grids.values[-1], places, tolerance=14)
    check_surface(frames[0], grids.values[0], places, tolerance=14)


def test_mp4_of_a_surface_run(reader, moons, tmp_path):
    import imageio_ffmpeg

    listing, kind, grids, places = moons
    output = tmp_path / "moons.mp4"
    ex.export(reader=reader, logdir=None, run="moons", output=output, size=SIZE, fps=10,
              progress=False, jobs=1)
    reading = imageio_ffmpeg.read_frames(str(output))
    meta = next(reading)
    frames = [np.frombuffer(data, np.uint8).reshape(SIZE[1], SIZE[0], 3) for data in reading]
    assert tuple(meta["size"]) == SIZE
    assert len(frames) == listing["frame_count"]
    check_surface(frames[-1], grids.values[-1], places, tolerance=24)


def test_png_views_and_theme(reader, kind_fits, moons, tmp_path):
    listing, kind, grids, places = moons
    output = tmp_path / "moons.png"
    result = ex.export(reader=reader, logdir=None, run="moons", output=output, size=SIZE,
                       progress=False, stop=listing["steps"][-1])
    assert result.frames == 1 and result.steps == [listing["steps"][-2]]
    picture = np.asarray(Image.open(output).convert("RGB"))
    assert picture.shape == (SIZE[1], SIZE[0], 3)
    index = listing["steps"].index(result.steps[0])
    check_surface(picture, grids.values[index], places, tolerance=6)
    # Dark: the theme's background and the same scale's dark stops.
    ex.export(reader=reader, logdir=None, run="moons", output=output, size=SIZE,
              progress=False, theme="dark")
    picture = np.asarray(Image.open(output).convert("RGB"))
    dark = defaults.theme("dark")
    assert tuple(picture[1, 1]) == tuple(rgb_of(dark["background"]).astype(int))
    # Another view of the same run, and the loss map (export only).
    for view in ("true_class", "loss_map"):
        ex.export(reader=reader, logdir=None, run="moons", output=tmp_path / f"{view}.png",
                  size=SIZE, progress=False, view=view)
        assert Image.open(tmp_path / f"{view}.png").size == SIZE
    with pytest.raises(ex.ExportError) as caught:
        ex.export(reader=reader, logdir=None, run="heads", output=output, size=SIZE,
                  progress=False, view="surface")
    assert caught.value.argument == "--view"
    assert "run 'heads' has no view 'surface'; its views: pred_true, loss_map" in str(
        caught.value)
    with pytest.raises(ex.ExportError, match="--theme"):
        ex.export(reader=reader, logdir=None, run="moons", output=output, theme="blue")


def _cli(*arguments, cwd):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([sys.executable, "-m", "tb_fitviz.cli", *arguments], cwd=cwd,
                          capture_output=True, text=True, timeout=600, env=env)


def test_command_line_lists_kinds_and_views_and_names_a_bad_view(kind_fits, tmp_path):
    logdir = str(kind_fits[0])
    result = _cli("runs", logdir, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: line for line in result.stdout.splitlines()}
    assert "classification, 2 features, 2 classes" in lines["moons"]
    assert "views: surface,true_class,loss_map" in lines["moons"]
    assert "regression, 1 feature, 2 outputs" in lines["waves"]
    assert "views: curve,pred_true,loss_map" in lines["waves"]
    assert "regression, 3 features, 2 outputs" in lines["heads"]
    assert lines["blobs4"].split()[1:3] == ["11", "frames"]
    result = _cli("export", logdir, "--run", "blobs4", "-o", "x.gif", "--view", "curve",
                  cwd=tmp_path)
    assert result.returncode == 2
    assert "--view: run 'blobs4' has no view 'curve'; its views: true_class, loss_map" in (
        result.stderr)
    result = _cli("export", logdir, "--run", "waves", "-o", "waves.png", "--view", "pred_true",
                  "--theme", "dark", "--size", "400x300", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("wrote waves.png (step 30, 400x300")
    assert Image.open(tmp_path / "waves.png").size == (400, 300)
