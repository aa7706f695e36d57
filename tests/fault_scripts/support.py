"""Helpers shared by the fault suite (tests/test_faults_*.py)."""

import glob
import os
import struct
import subprocess
import sys
import urllib.parse

import numpy as np

from tb_fitviz.plugin import encoding

PYTHON = sys.executable
SCRIPTS = os.path.dirname(os.path.abspath(__file__))
PLUGIN = "/data/plugin/fitviz"
# What a Python traceback or a TensorBoard/werkzeug error looks like in a process' output.
ERROR_MARKERS = ("Traceback (most recent call last)", "Exception on /", " 500 -", "ERROR:")


def quote(run):
    """The run name as a client puts it into a query string."""
    return urllib.parse.quote(run, safe="")


def route_paths(run):
    """Every data route of the plugin for `run` (URL-encoded)."""
    q = quote(run)
    return [f"{PLUGIN}/static?run={q}", f"{PLUGIN}/frames?run={q}", f"{PLUGIN}/scalars?run={q}"]


def get_frames(url, run, **params):
    """(steps, info, values) from GET frames; asserts HTTP 200."""
    query = "&".join([f"run={quote(run)}"] + [f"{k}={v}" for k, v in params.items()])
    status, headers, body = url.get(f"{PLUGIN}/frames?{query}")
    assert status == 200, (status, body[:300])
    return encoding.decode_frames(body)


def runs_by_name(url):
    return {entry["run"]: entry for entry in url.get_json(f"{PLUGIN}/runs")}


def error_lines(text):
    """Lines of `text` that show an error (traceback, 500, ERROR)."""
    return [line for line in text.splitlines() if any(m in line for m in ERROR_MARKERS)]


def start_training(logdir, *args, env=None):
    """Starts tests/fault_scripts/train.py as a subprocess (stdout piped, stderr to a file)."""
    environment = dict(os.environ, PYTHONUNBUFFERED="1", TF_CPP_MIN_LOG_LEVEL="3",
                       CUDA_VISIBLE_DEVICES="")
    environment.update(env or {})
    stderr_path = os.path.join(os.path.dirname(os.fspath(logdir)),
                               os.path.basename(os.fspath(logdir)) + ".stderr")
    stderr = open(stderr_path, "wb")  # noqa: SIM115 (closed by the caller via finish())
    process = subprocess.Popen(
        [PYTHON, os.path.join(SCRIPTS, "train.py"), os.fspath(logdir), *map(str, args)],
        stdout=subprocess.PIPE, stderr=stderr, env=environment, start_new_session=True)
    process.stderr_path = stderr_path
    process.stderr_file = stderr
    return process


def stderr_text(process):
    if not process.stderr_file.closed:
        process.stderr_file.flush()
    with open(process.stderr_path, "rb") as handle:
        return handle.read().decode("utf-8", "replace")


def event_files(run_dir):
    return sorted(glob.glob(os.path.join(os.fspath(run_dir), "events.out.tfevents.*")))


def read_events(path):
    """The events of one file, tolerating a torn tail (TensorBoard's own loader)."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    return list(EventFileLoader(path).Load())


def tfrecords(data):
    """[(offset, data)] of each TFRecord in `data` (an event file's bytes), in order. Every
    CRC is checked with TensorBoard's pure-Python CRC32C (not the code FitViz frames with);
    a torn or corrupt record fails."""
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c

    records, offset = [], 0
    while offset < len(data):
        header = data[offset:offset + 8]
        assert len(header) == 8, f"a torn length at byte {offset}"
        (length,) = struct.unpack("<Q", header)
        assert data[offset + 8:offset + 12] == struct.pack("<I", masked_crc32c(header)), \
            f"the length's CRC at byte {offset}"
        body = data[offset + 12:offset + 12 + length]
        assert len(body) == length, f"a torn record at byte {offset}"
        assert data[offset + 12 + length:offset + 16 + length] == \
            struct.pack("<I", masked_crc32c(body)), f"the data's CRC at byte {offset}"
        records.append((offset, body))
        offset += 16 + length
    return records


def frame_steps_in_files(run_dir):
    """Steps of the fitviz/frame values in the run's event files, in file order."""
    steps = []
    for path in event_files(run_dir):
        for event in read_events(path):
            if any(v.tag.startswith("fitviz/frame/") for v in event.summary.value):
                steps.append(event.step)
    return steps


def write_run(log_dir, frames=20, points=50, seed=0, diverge_at=None):
    """A FitViz run written with FitVizWriter directly (no TensorFlow); its predictions."""
    from tb_fitviz import FitVizWriter

    rng = np.random.default_rng(seed)
    x = np.linspace(0, 1, points)
    y = 2 * x + rng.normal(0, 0.05, points)
    recorded = {}
    with FitVizWriter(os.fspath(log_dir), x, y, images=False) as writer:
        for step in range(frames):
            y_pred = (step / max(frames - 1, 1)) * 2 * writer.x_sample
            if diverge_at is not None and step >= diverge_at:
                y_pred = y_pred.copy()
                y_pred[::3] = np.nan
                y_pred[1::3] = np.inf
                y_pred[2::3] = -np.inf
            if step:
                writer.record_batch_loss(step, float(step))
            writer.record(step, y_pred, epoch=step // 10)
            recorded[step] = y_pred.astype(np.float32)
    return recorded
