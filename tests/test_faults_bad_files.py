"""Bad files in the logdir: every FitViz run is still served, and no route answers 500.

The logdir holds two good FitViz runs; a FitViz run whose event file is cut in
the middle of a record; one with a flipped byte inside a frame record in the
middle of the file (CRC mismatch); one whose record length field in the middle
is garbage (a huge length); a directory with random bytes named like an event
file; an empty event file; a good run with a random-bytes file beside its event
file; and a foreign run written by the stock `keras.callbacks.TensorBoard`.
Checked with a real tensorboard, `--load_fast=true` and `false`.
"""

import os
import struct
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fault_scripts import support  # noqa: E402
from tb_process import tensorboard_server  # noqa: E402

FRAMES = 30
GOOD = ("good-a", "good-b", "good-with-junk-beside")
DAMAGED = ("truncated", "corrupt-data", "corrupt-length")


def _frame_record_offsets(path):
    """(offset, length) of the records holding a fitviz/frame, in file order."""
    from tensorboard.compat.proto import event_pb2

    return [(offset, len(body)) for offset, body in support.tfrecords(Path(path).read_bytes())
            if any(v.tag.startswith("fitviz/frame/")
                   for v in event_pb2.Event.FromString(body).summary.value)]


def _foreign_run(log_dir):
    import keras

    keras.utils.set_random_seed(1)
    x = np.linspace(-1, 1, 64, dtype="float32")[:, None]
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    model.fit(x, 2 * x, validation_split=0.25, epochs=2, batch_size=16, verbose=0,
              callbacks=[keras.callbacks.TensorBoard(log_dir=os.fspath(log_dir),
                                                     histogram_freq=1)])


@pytest.fixture(scope="module")
def bad_logdir(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("bad")
    written = {}
    for index, name in enumerate(GOOD + DAMAGED):
        written[name] = support.write_run(logdir / name, frames=FRAMES, seed=index)

    # Cut in the middle of the 20th frame's record.
    path = support.event_files(logdir / "truncated")[0]
    offset, length = _frame_record_offsets(path)[20]
    os.truncate(path, offset + 12 + length // 2)

    # A flipped byte inside the data of the 15th frame record (the CRC no longer matches).
    path = support.event_files(logdir / "corrupt-data")[0]
    offset, length = _frame_record_offsets(path)[15]
    with open(path, "r+b") as handle:
        handle.seek(offset + 12 + length // 2)
        byte = handle.read(1)
        handle.seek(-1, os.SEEK_CUR)
        handle.write(bytes([byte[0] ^ 0xFF]))

    # The length field of the 15th frame record says 2**62 bytes.
    path = support.event_files(logdir / "corrupt-length")[0]
    offset, _ = _frame_record_offsets(path)[15]
    with open(path, "r+b") as handle:
        handle.seek(offset)
        handle.write(struct.pack("<Q", 2**62))

    rng = np.random.default_rng(7)
    (logdir / "random").mkdir()
    (logdir / "random" / "events.out.tfevents.1700000000.host.1.0").write_bytes(
        rng.bytes(20000))
    (logdir / "empty").mkdir()
    (logdir / "empty" / "events.out.tfevents.1700000000.host.2.0").write_bytes(b"")
    (logdir / "good-with-junk-beside" / "events.out.tfevents.1700000000.host.3.0"
     ).write_bytes(rng.bytes(5000))

    _foreign_run(logdir / "foreign")
    return logdir, written


@pytest.fixture(scope="module", params=["true", "false"])
def server(request, bad_logdir):
    logdir, _ = bad_logdir
    with tensorboard_server(logdir, f"--load_fast={request.param}") as url:
        url.load_fast = request.param
        yield url


def _expected_values(written):
    return np.stack([written[s] for s in sorted(written)])


def test_good_runs_are_served_completely(server, bad_logdir):
    _, written = bad_logdir
    runs = support.runs_by_name(server)
    for name in GOOD:
        assert runs[name]["steps"] == list(range(FRAMES)), name
        assert "error" not in runs[name]
        steps, _, values = support.get_frames(server, name)
        assert steps.tolist() == list(range(FRAMES))
        np.testing.assert_array_equal(values[:, 0], _expected_values(written[name]))


def test_damaged_runs_serve_the_frames_before_the_damage(server, bad_logdir):
    _, written = bad_logdir
    runs = support.runs_by_name(server)
    first_lost = {"truncated": 20, "corrupt-data": 15, "corrupt-length": 15}
    for name in DAMAGED:
        assert name in runs, f"{name} not listed: {sorted(runs)}"
        assert "error" not in runs[name], runs[name]
        steps, _, values = support.get_frames(server, name)
        steps = steps.astype(int).tolist()
        lost = first_lost[name]
        assert runs[name]["steps"] == steps
        # Every frame before the damaged record is served, and nothing that was not written.
        assert steps[:lost] == list(range(lost)), name
        assert set(steps) <= set(range(FRAMES))
        if name == "corrupt-data" and server.load_fast == "true":
            # The Rust data server does not reject a record whose data CRC is wrong
            # (TensorFlow's Python reader stops there): it reads on, the bad frame included.
            assert steps == list(range(FRAMES))
        else:
            assert steps == list(range(lost)), name
        for i, step in enumerate(steps):
            if name == "corrupt-data" and step == lost:
                continue  # its bytes were flipped on disk
            np.testing.assert_array_equal(values[i, 0], written[name][step])


def test_foreign_and_empty_runs_are_not_fitviz_runs(server):
    runs = support.runs_by_name(server)
    assert set(runs) == set(GOOD + DAMAGED), sorted(runs)


def test_no_route_answers_500_for_any_run_name(server, bad_logdir):
    logdir, _ = bad_logdir
    names = sorted({os.path.relpath(d, logdir) for d, _, files in os.walk(logdir)
                    if any(f.startswith("events.out.tfevents") for f in files)})
    assert "foreign/train" in names and "random" in names
    for name in names + ["no-such-run", "foreign", "."]:
        for path in support.route_paths(name):
            status, _, body = server.get(path)
            assert status in (200, 404), (path, status, body[:300])
            if name not in GOOD + DAMAGED:
                assert status == 404, (path, status, body[:300])
    status, _, _ = server.get(f"{support.PLUGIN}/runs")
    assert status == 200
    assert support.error_lines(server.output()) == []


def test_plugin_listed_as_active(server):
    listing = server.get_json("/data/plugins_listing")
    assert listing["fitviz"]["enabled"] is True
