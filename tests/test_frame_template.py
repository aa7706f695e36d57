"""Steady frames written from their block's template (`tb_fitviz.summaries._FrameTemplate`)
are, byte for byte, the events protobuf makes of them: every record of a run written with
templates is protobuf's own serialization of what it holds, and holds what the same run
written without templates (every event a protobuf message) holds, wall times aside."""

import glob
import math
import os

import numpy as np
import pytest
from fault_scripts import support  # tests/ is on sys.path
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tensorboard.compat.proto import event_pb2

from tb_fitviz import summaries
from tb_fitviz import summary_format as fmt

# Floats a frame can hold, the awkward ones often: beyond float32 (stored as infinities),
# NaN, infinities, -0.0, float32 subnormals and their float64 neighbours.
_SPECIAL = [math.nan, -math.nan, math.inf, -math.inf, -0.0, 0.0, 1e40, -1e40, 3.4028235e38,
            3.4028236e38, 1e-45, 1e-46, 1.1754942e-38, 5e-324, 10 ** 39, -(10 ** 39), 3]
_FLOATS = st.one_of(st.sampled_from(_SPECIAL), st.floats(allow_nan=True, allow_infinity=True))


def _records(log_dir):
    """The records of every event file in `log_dir`, files in the order they were opened."""
    def opened(path):  # events.out.tfevents.<time>.<host>.<pid>.<counter>.fitviz
        parts = path.split(".")
        return int(parts[3]), int(parts[-2])

    records = []
    for path in sorted(glob.glob(f"{log_dir}/events.out.tfevents.*"),
                       key=lambda path: opened(os.path.basename(path))):
        with open(path, "rb") as file:
            records += [body for _, body in support.tfrecords(file.read())]
    return records


def _without_wall_time(record):
    event = event_pb2.Event.FromString(record)
    event.wall_time = 0
    return event.SerializeToString()


class _Counted(summaries.EventOutput):
    """An EventOutput that counts the frames it writes from a template."""

    from_template = 0

    def _frame_from(self, *args):
        self.from_template += 1
        super()._frame_from(*args)


def _write(log_dir, operations, templates, channels=2, count=5, grid=16):
    output = _Counted(log_dir, {"channels": {"sample": ["prediction", "loss"][:channels]}},
                      {"sample": np.zeros((2, count), np.float32),
                       "scatter": np.zeros((2, count), np.float32)})
    output.templates = templates
    for operation, step, *args in operations:
        if operation == "frame":
            values, info, with_grid, scalars = args
            output.frame(step, values, info, with_grid, scalars)
        elif operation == "batch_loss":
            output.batch_loss(step, *args)
        elif operation == "epoch":
            output.epoch(step, *args)
        elif operation == "image":
            output.image(step, 4, 3, b"\x89PNG not really")
        elif operation == "reopen":
            output.close()
            output.reopen()
    output.close()
    return output


def _check_same(tmp_path, operations, **shape):
    with_templates, without = tmp_path / "templates", tmp_path / "protobuf"
    with_templates.mkdir()
    without.mkdir()
    written = _write(str(with_templates), operations, True, **shape)
    reference = _write(str(without), operations, False, **shape)
    assert reference.from_template == 0
    records = _records(with_templates)
    for record in records:  # protobuf's own serialization of what it holds
        assert event_pb2.Event.FromString(record).SerializeToString() == record
    assert [_without_wall_time(r) for r in records] == [
        _without_wall_time(r) for r in _records(without)]
    return written.from_template


def _run(rng, frames, every=1, channels=2, count=5, grid=16, scalars=1, gaps=(1,)):
    """A run's operations: batch losses, and a frame each `every` batches."""
    operations = []
    step = 0
    tags = [fmt.SCALAR_SAMPLE_LOSS, fmt.SCALAR_VALIDATION_LOSS,
            fmt.SCALAR_REGULARIZATION_LOSS][:scalars]
    for _ in range(frames):
        for _ in range(every):
            step += int(rng.choice(gaps))
            operations.append(("batch_loss", step, float(rng.normal())))
        values = rng.normal(size=(channels, count)).astype(np.float32)
        grid_values = None if grid is None else rng.normal(size=(1, grid)).astype(np.float32)
        operations.append(("frame", step, values, summaries.frame_info(0, rng.normal()),
                           grid_values, [(tag, float(rng.normal())) for tag in tags]))
    return operations


@pytest.mark.parametrize("grid", [None, 16])
def test_steady_frames_come_from_the_template_and_match_protobuf(tmp_path, grid):
    """Two blocks and more of frames, a batch loss at each frame's step: every frame but a
    block's first two (the first describes new tags, the second makes the template) and
    its last (it carries the block's index) is written from the template."""
    frames = 2 * fmt.FRAME_BLOCK_SIZE + 40
    operations = _run(np.random.default_rng(0), frames, grid=grid, scalars=3)
    from_template = _check_same(tmp_path, operations, grid=grid or 16)
    blocks = fmt.FRAME_BLOCK_SIZE if grid is None else fmt.GRID_BLOCK_SIZE
    # Per block of the smaller series: its first frame, the template's, and (for a
    # sample block) the last.
    starts = -(-frames // blocks)
    assert from_template == frames - 2 * starts - frames // fmt.FRAME_BLOCK_SIZE


def test_steps_of_every_varint_length_and_frames_without_batch_losses(tmp_path):
    """Steps whose varint is 1 to 6 bytes long in one block (the event's head changes
    length, the summary does not), and frames with no batch loss pending."""
    rng = np.random.default_rng(1)
    operations = []
    for i, step in enumerate([5, 100, 127, 128, 129, 16383, 16384, 2 ** 21, 2 ** 28, 2 ** 35,
                              2 ** 35 + 1, 2 ** 40]):
        if i < 8:
            operations.append(("batch_loss", step, 0.5 + i))
        operations.append(("frame", step, rng.normal(size=(2, 5)).astype(np.float32),
                           summaries.frame_info(1, 0.25), rng.normal(size=(1, 16)).astype(
                               np.float32), [(fmt.SCALAR_SAMPLE_LOSS, 0.25)]))
    # Frames 0 (describes) and 1 (makes the template) with a batch loss, 2 to 7 from it;
    # frame 8 makes the template of frames without one, 9 to 11 from it.
    assert _check_same(tmp_path, operations) == 6 + 3


def test_a_new_file_describes_its_tags_again(tmp_path):
    """After close and reopen (a new event file), the first frame carries its tags'
    metadata again: the template made in the old file (values without metadata) is not
    used there. Epoch ends and figures between frames leave the template as it is."""
    rng = np.random.default_rng(2)
    operations = _run(rng, 20)
    operations[24:24] = [("epoch", 8, 0.5, 0.25), ("image", 8)]
    later = [(operation, step + 100, *args) for operation, step, *args in _run(rng, 6)]
    operations += [("reopen", 0)] + later
    # Frames 2 to 19 of the first file (epoch and figure in between), 2 to 5 of the second.
    assert _check_same(tmp_path, operations) == 18 + 4
    events = [event_pb2.Event.FromString(r) for r in _records(tmp_path / "templates")]
    described = [e.step for e in events for v in e.summary.value
                 if v.HasField("metadata") and v.tag.startswith(fmt.TAG_FRAME_BLOCK_PREFIX)]
    assert described == [1, 101]


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_run_matches_protobuf(tmp_path_factory, data):
    """Runs of frames every 1 to 3 batches, with gaps between steps, 1 to 3 scalars that
    come and go, epochs, figures and reopened files, and any float in any number."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 32 - 1)))
    channels = data.draw(st.integers(1, 2))
    count = data.draw(st.integers(0, 7))
    grid = data.draw(st.sampled_from([None, 4]))
    operations = []
    step = 0
    for _ in range(data.draw(st.integers(1, 70))):
        choice = data.draw(st.sampled_from(["frame"] * 6 + ["batch", "epoch", "image", "reopen"]))
        step += data.draw(st.sampled_from([1, 1, 1, 2, 130, 20000]))
        if choice == "frame":
            for _ in range(data.draw(st.sampled_from([0, 1, 1, 1, 2]))):
                operations.append(("batch_loss", step, data.draw(_FLOATS)))
            values = rng.normal(size=(channels, count)).astype(np.float32)
            if count and data.draw(st.booleans()):
                with np.errstate(over="ignore"):
                    values.flat[0] = np.float32(data.draw(_FLOATS))
            grid_values = None if grid is None else rng.normal(size=(1, grid)).astype(
                np.float32)
            scalars = [(fmt.SCALAR_SAMPLE_LOSS, data.draw(_FLOATS))]
            if data.draw(st.booleans()):
                scalars.append((fmt.SCALAR_VALIDATION_LOSS, data.draw(_FLOATS)))
            info = summaries.frame_info(0, data.draw(_FLOATS), data.draw(_FLOATS))
            operations.append(("frame", step, values, info, grid_values, scalars))
        elif choice == "batch":
            operations.append(("batch_loss", step, data.draw(_FLOATS)))
        elif choice == "epoch":
            operations.append(("epoch", step, data.draw(_FLOATS), None))
        else:
            operations.append((choice, step))
    directory = tmp_path_factory.mktemp("run")
    _check_same(directory, operations, channels=channels, count=count, grid=grid or 4)
