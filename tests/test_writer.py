"""FitVizWriter, framework-neutral: a plain NumPy loop writes a run that TensorBoard reads.

Runs in this process (TensorFlow may or may not be imported: then the C++
record writer is used) and again, through test_writer_without_tensorflow.py,
in a process where `import tensorflow` fails (the pure-Python record writer).
"""

import glob
import io
import math
import os

import numpy as np
import pytest
from tensorboard.backend.event_processing import event_file_loader
from tensorboard.util import tensor_util

from tb_fitviz import FitVizWriter, schedules
from tb_fitviz import summary_format as fmt


def read_run(log_dir):
    """tag -> list of (step, ndarray, metadata-or-None), read with TensorBoard's loader."""
    tags = {}
    for path in sorted(glob.glob(os.path.join(log_dir, "events.out.tfevents.*"))):
        for event in event_file_loader.EventFileLoader(path).Load():
            for value in event.summary.value:
                metadata = value.metadata if value.HasField("metadata") else None
                # Block tags (fitviz/frame/<first step>, fitviz/frame_info/<first step>)
                # read as one fitviz/frame and one fitviz/frame_info.
                tag = fmt.TAG_FRAME if fmt.is_frame_tag(value.tag) else value.tag
                if fmt.block_start(fmt.TAG_FRAME_INFO_BLOCK_PREFIX, tag) is not None:
                    tag = fmt.TAG_FRAME_INFO
                tags.setdefault(tag, []).append(
                    (event.step, tensor_util.make_ndarray(value.tensor), metadata))
    return tags


def steps(tags, tag):
    return [step for step, _, _ in tags.get(tag, [])]


def gradient_descent_run(log_dir, **options):
    """The README's plain-NumPy example: a line fitted by gradient descent."""
    rng = np.random.default_rng(0)
    x = np.linspace(0, 1, 500)
    y = 3 * x + 1 + rng.normal(0, 0.1, x.size)
    w = b = 0.0
    expected = {"frames": {}, "batch": []}
    with FitVizWriter(log_dir, x, y, **options) as writer:
        writer.record(0, w * writer.x_sample + b)
        expected["frames"][0] = w * writer.x_sample + b
        for step in range(1, 61):
            error = w * x + b - y
            expected["batch"].append(float(np.mean(error ** 2)))
            writer.record_batch_loss(step, expected["batch"][-1])
            w -= 0.5 * 2 * np.mean(error * x)
            b -= 0.5 * 2 * np.mean(error)
            if writer.due(step) or step == 60:  # the last step always
                writer.record(step, w * writer.x_sample + b, epoch=(step - 1) // 20)
                expected["frames"][step] = w * writer.x_sample + b
            if step % 20 == 0:
                writer.record_epoch(step, step // 20 - 1, loss=expected["batch"][-1])
        expected["x_sample"], expected["y_sample"] = writer.x_sample, writer.y_sample
    return expected


def test_numpy_loop_writes_every_summary_tensorboard_reads(tmp_path):
    log_dir = str(tmp_path / "numpy-gd")
    expected = gradient_descent_run(log_dir, every=5, sample=200, images=False)
    tags = read_run(log_dir)

    sample = tags[fmt.TAG_SAMPLE]
    assert steps(tags, fmt.TAG_SAMPLE) == [0]
    settings = fmt.decode_content(sample[0][2].plugin_data.content)
    assert settings["sample_size"] == 200 and settings["loss"] == "squared"
    assert settings["framework"] == "numpy" and settings["schedule"] == "every 5"
    assert sample[0][2].data_class == fmt.summary_pb2.DATA_CLASS_TENSOR
    np.testing.assert_allclose(sample[0][1][0], expected["x_sample"].astype(np.float32))
    assert np.all(np.diff(sample[0][1][0]) > 0)

    frame_steps = steps(tags, fmt.TAG_FRAME)
    assert frame_steps == [0, 1] + list(range(5, 61, 5))
    for step, frame, _ in tags[fmt.TAG_FRAME]:
        assert frame.dtype == np.float32 and frame.shape == (2, 200)
        np.testing.assert_allclose(frame[0], expected["frames"][step], rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(
            frame[1], (expected["frames"][step] - expected["y_sample"]) ** 2, rtol=1e-5,
            atol=1e-6)
    info = {step: value for step, value, _ in tags[fmt.TAG_FRAME_INFO]}
    last = expected["frames"][60]
    assert info[60][0] == 2  # epoch
    assert info[60][1] == pytest.approx(np.mean((last - expected["y_sample"]) ** 2), rel=1e-6)
    assert math.isnan(info[60][2]) and math.isnan(info[60][3])

    # Every batch loss, as scalars and as chunks.
    assert steps(tags, fmt.SCALAR_BATCH_LOSS) == list(range(1, 61))
    np.testing.assert_allclose([v for _, v, _ in tags[fmt.SCALAR_BATCH_LOSS]],
                               expected["batch"], rtol=1e-6)
    chunks = np.concatenate([v for _, v, _ in tags[fmt.TAG_BATCH_LOSSES]], axis=1)
    np.testing.assert_array_equal(chunks[0], np.arange(1, 61))
    np.testing.assert_allclose(chunks[1], expected["batch"])
    assert steps(tags, fmt.SCALAR_EPOCH_LOSS) == [20, 40, 60]
    scalar_meta = tags[fmt.SCALAR_SAMPLE_LOSS][0][2]
    assert scalar_meta.plugin_data.plugin_name == "scalars"
    assert scalar_meta.data_class == fmt.summary_pb2.DATA_CLASS_SCALAR


def test_images_per_epoch_and_last_frame(tmp_path):
    pytest.importorskip("matplotlib")
    from PIL import Image

    log_dir = str(tmp_path / "images")
    gradient_descent_run(log_dir, every=7, sample=100)
    tags = read_run(log_dir)
    # record_epoch at 20, 40, 60 draws the last frame then (14, 35, 60).
    assert steps(tags, fmt.TAG_FIGURE) == [14, 35, 60]
    step, blob, metadata = tags[fmt.TAG_FIGURE][-1]
    assert metadata is None or metadata.plugin_data.plugin_name == "images"
    width, height = int(blob[0]), int(blob[1])
    image = Image.open(io.BytesIO(blob[2]))
    assert image.size == (width, height) == (960, 540)


def test_images_every_n_frames(tmp_path):
    log_dir = str(tmp_path / "n")
    x = np.linspace(-1, 1, 50)
    with FitVizWriter(log_dir, x, x ** 2, images=3, background_images=False) as writer:
        for step in range(10):
            writer.record(step, x * step / 10)
    # Every 3rd recorded frame (steps 2, 5, 8), then the last at close.
    assert steps(read_run(log_dir), fmt.TAG_FIGURE) == [2, 5, 8, 9]


@pytest.mark.parametrize("loss, expected", [
    ("squared", lambda y, p: (p - y) ** 2),
    ("absolute", lambda y, p: np.abs(p - y)),
    (lambda y, p: np.log1p((p - y) ** 2), lambda y, p: np.log1p((p - y) ** 2)),
])
def test_per_point_loss_kinds(tmp_path, loss, expected):
    x = np.linspace(0, 2, 64)
    y = np.sin(x)
    validation = (x[::2] + 0.01, np.cos(x[::2]))
    with FitVizWriter(str(tmp_path / "run"), x, y, loss=loss, validation_data=validation,
                      images=False) as writer:
        prediction = 0.5 * writer.x_sample
        writer.record(3, prediction, y_pred_validation=0.5 * writer.x_validation,
                      regularization_loss=0.25)
    tags = read_run(str(tmp_path / "run"))
    frame = tags[fmt.TAG_FRAME][0][1]
    np.testing.assert_allclose(frame[1], expected(y, prediction).astype(np.float32), rtol=1e-6)
    info = tags[fmt.TAG_FRAME_INFO][0][1]
    vx, vy = validation
    assert info[2] == pytest.approx(np.mean(expected(vy, 0.5 * vx)), rel=1e-9)
    assert info[3] == 0.25
    assert steps(tags, fmt.SCALAR_VALIDATION_LOSS) == [3]
    assert steps(tags, fmt.SCALAR_REGULARIZATION_LOSS) == [3]
    assert steps(tags, fmt.TAG_VALIDATION) == [0]


def test_non_finite_predictions_are_recorded(tmp_path):
    x = np.linspace(0, 1, 30)
    with FitVizWriter(str(tmp_path / "nan"), x, x, images=False) as writer:
        prediction = writer.x_sample.copy()
        prediction[::2] = np.nan
        prediction[1] = np.inf
        writer.record(1, prediction)
        writer.record_batch_loss(2, math.nan)
        writer.record(2, np.full(30, np.nan))
    tags = read_run(str(tmp_path / "nan"))
    first = tags[fmt.TAG_FRAME][0][1]
    assert np.isnan(first[0][::2]).all() and first[0][1] == np.inf
    assert math.isnan(tags[fmt.TAG_FRAME_INFO][1][1][1])
    assert math.isnan(tags[fmt.SCALAR_BATCH_LOSS][0][1])


def test_steps_must_increase_and_closed_writer_refuses(tmp_path):
    x = np.linspace(0, 1, 10)
    writer = FitVizWriter(str(tmp_path / "r"), x, x, images=False)
    writer.record(5, x)
    with pytest.raises(ValueError, match="step"):
        writer.record(5, x)
    with pytest.raises(ValueError, match="y_pred"):
        writer.record(6, x[:5])
    writer.close()
    writer.close()
    with pytest.raises(RuntimeError):
        writer.record(7, x)
    with pytest.raises(RuntimeError, match="record_epoch"):
        writer.record_epoch(7, 0, loss=0.1)
    writer.reopen()
    writer.record(7, x)
    writer.close()
    files = glob.glob(str(tmp_path / "r" / "events.out.tfevents.*"))
    assert len(files) == 2  # reopened in a new file of the same run
    assert steps(read_run(str(tmp_path / "r")), fmt.TAG_FRAME) == [5, 7]


def test_every_frame_is_on_disk_before_close(tmp_path):
    """Flush policy: a frame is in the file as soon as `record` returns."""
    x = np.linspace(0, 1, 20)
    writer = FitVizWriter(str(tmp_path / "live"), x, x, images=False)
    for step in range(4):
        writer.record_batch_loss(step + 1, 0.5)
        writer.record(step, x * step)
        assert steps(read_run(str(tmp_path / "live")), fmt.TAG_FRAME) == list(range(step + 1))
    writer.close()


def test_due_follows_the_schedule():
    x = np.linspace(0, 1, 10)
    writer_kwargs = dict(images=False)
    import tempfile

    with tempfile.TemporaryDirectory() as log_dir:
        writer = FitVizWriter(log_dir, x, x, every=schedules.LogSpaced(5, total_steps=100),
                              **writer_kwargs)
        assert [s for s in range(0, 200) if writer.due(s)] == [0, 1, 3, 10, 32, 100, 317][:6]
        writer.close()


def test_on_change_through_the_writer_records_only_when_predictions_move(tmp_path):
    x = np.linspace(0, 1, 10)
    with FitVizWriter(str(tmp_path / "r"), x, x, images=False,
                      every=schedules.OnChange(0.1, relative=False)) as writer:
        still = np.zeros(10)
        writer.record(0, still)
        assert [writer.due(s, predictions=still) for s in range(2, 6)] == [False] * 4
        moved = still + 0.5
        assert writer.due(6, predictions=moved)
        writer.record(6, moved)
        assert not writer.due(7, predictions=moved)
