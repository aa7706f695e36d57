"""The README's recording examples run as printed, and write the runs the README says.

Every ```python block of the README that imports FitViz and writes into `logs/...` (a whole
program, not a fragment) is run, unchanged, in
a fresh directory (one subprocess for all, so TensorFlow is imported once); the runs
are then read back with the plugin's reader.
"""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tb_fitviz.plugin import reading

README = Path(__file__).resolve().parents[1] / "README.md"


def examples():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    # Whole programs (they import FitViz themselves), not fragments of a larger loop.
    return [b for b in blocks if re.search(r"""["']logs/[\w-]+["']""", b)
            and "from tb_fitviz import" in b]


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    root = tmp_path_factory.mktemp("readme")
    blocks = examples()
    script = "\n".join(
        f"exec(compile({block!r}, 'README example {i + 1}', 'exec'), {{'__name__': '__main__'}})"
        for i, block in enumerate(blocks))
    result = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return root / "logs", blocks


def test_every_example_writes_its_run(written):
    logs, blocks = written
    names = {re.search(r"""["']logs/([\w-]+)["']""", b).group(1) for b in blocks}
    assert {"numpy-gd", "circle", "two-heads"} <= names
    runs = {r["run"]: r for r in reading.reader_for_logdir(str(logs)).runs()}
    assert set(runs) == names
    assert all("error" not in run and run["frame_count"] > 1 for run in runs.values())


def test_examples_record_the_kinds_the_readme_describes(written):
    logs, _ = written
    reader = reading.reader_for_logdir(str(logs))
    runs = {r["run"]: r for r in reader.runs()}
    circle = runs["circle"]
    assert circle["task"] == "classification" and circle["input_width"] == 2
    assert circle["views"][0] == "surface" and circle["grid_size"] == 100
    heads = runs["two-heads"]["settings"]
    assert heads["output_names"] == ["price", "demand"] and heads["input_width"] == 3
    assert heads["views"][0] == "pred_true"
    gd = runs["numpy-gd"]
    assert gd["views"][0] == "curve" and gd["task"] == "regression"
    # The gradient descent learns: the sample's loss falls from the first frame to the last.
    frames = reader.all_frames("numpy-gd")
    loss = gd["channels"]["sample"].index("loss")
    assert np.mean(frames.values[-1][loss]) < 0.2 * np.mean(frames.values[0][loss])
    # Its four epoch ends (recorded without their losses) are marked, its frames carry
    # their epochs.
    assert gd["epoch_ends"] == [50, 100, 150, 200]
    assert gd["frame_epochs"][-1] == 3 and gd["frame_epochs"][0] == 0
    # The circle's surface: P(class 1) high at the centre, low at the corners.
    grid = reader.all_frames("circle", series="grid").values[-1][0]
    size = circle["grid_size"]
    surface = np.asarray(grid).reshape(size, size)
    assert surface[size // 2, size // 2] > 0.7
    assert max(surface[0, 0], surface[0, -1], surface[-1, 0], surface[-1, -1]) < 0.3
