"""Remote log dirs (issue 12): s3:// against a real S3 server on localhost (moto's).

The server starts once for the module (`tests/s3_server.py`: moto's standalone
server behind a proxy that can be cut, to play a store that goes away). The
writer, `tensorboard` (without TensorFlow, Python loader), `tb-fitviz runs` and
`tb-fitviz export` all talk to it through `S3_ENDPOINT` and boto3, with dummy
credentials. Upload bounds are lowered so that a short run makes several
segments.
"""

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from tb_fitviz import summary_format as fmt

pytest.importorskip("boto3")
pytest.importorskip("moto.server")

from fault_scripts import support  # noqa: E402  (tests/ is on sys.path)
from s3_server import S3Server  # noqa: E402
from tb_process import tensorboard_server  # noqa: E402
from tensorboard.compat.proto import event_pb2  # noqa: E402

from tb_fitviz import FitVizWriter, event_file, storage  # noqa: E402

BUCKET = "bucket"
FRAMES = 300
POINTS = 200


@pytest.fixture(scope="module")
def s3():
    """The server, its environment set in os.environ, and the bucket created."""
    with S3Server() as server, pytest.MonkeyPatch.context() as patch:
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL",
                     "AWS_ENDPOINT_URL_S3"):
            patch.delenv(name, raising=False)
        for name, value in server.environment().items():
            patch.setenv(name, value)
        server.client().create_bucket(Bucket=BUCKET)
        yield server


@pytest.fixture
def small_segments(monkeypatch):
    monkeypatch.setattr(event_file, "UPLOAD_EVERY_BYTES", 64 << 10)
    monkeypatch.setattr(event_file, "UPLOAD_EVERY_SECONDS", 0.5)


def _events(data):
    """The events of one event file's bytes (every CRC checked)."""
    return [event_pb2.Event.FromString(body) for _, body in support.tfrecords(data)]


def _bucket_events(server, prefix):
    """{object name: events} for the event files under `prefix`, in name order."""
    names = sorted(key for key in server.objects(BUCKET, prefix) if "tfevents" in key)
    return {name: _events(server.get(BUCKET, name)) for name in names}


def _frame_steps(events_by_object):
    return [event.step for events in events_by_object.values() for event in events
            for value in event.summary.value
            if value.tag.startswith(fmt.TAG_FRAME_INFO_BLOCK_PREFIX)]


def _no_url_folder(*places):
    for place in places:
        assert not (Path(place) / "s3:").exists(), f"a folder 's3:' in {place}"


@pytest.fixture(scope="module")
def written(s3, tmp_path_factory):
    """s3://bucket/logs/run written with FitVizWriter's public API, from a scratch cwd."""
    cwd = tmp_path_factory.mktemp("cwd")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(cwd)
        patch.setattr(event_file, "UPLOAD_EVERY_BYTES", 64 << 10)
        x = np.linspace(0, 1, 1000)
        y = 3 * x + 1
        with FitVizWriter("s3://bucket/logs/run", x, y, sample=POINTS, images=False) as writer:
            for step in range(FRAMES):
                if step:
                    writer.record_batch_loss(step, 1.0 / step)
                writer.record(step, 3 * step / FRAMES * writer.x_sample + 1)
                if step % 100 == 99:
                    writer.record_epoch(step, step // 100, loss=0.1)
            records = writer._events.event_file._records
        return {"cwd": cwd, "spool": records.spool, "store": records.store,
                "uploaded": list(records.uploaded)}


def test_writer_uploads_segments_to_the_bucket(s3, written):
    objects = s3.objects(BUCKET)
    keys = sorted(objects)
    assert keys and all(key.startswith("logs/run/events.out.tfevents.") for key in keys), keys
    assert len(keys) >= 3  # 64 KiB segments: several objects, no probe object left
    assert [key.rsplit("/", 1)[1] for key in keys] == written["uploaded"]  # sent in name order
    events = _bucket_events(s3, "logs/run/")
    for name, segment in events.items():
        assert segment[0].file_version == "brain.Event:2", name  # each a valid event file
    assert _frame_steps(events) == list(range(FRAMES))
    # Each byte went up once: the store received the run's own size (plus HTTP headers).
    assert written["store"].bytes_sent == sum(objects.values())
    assert not os.path.exists(written["spool"])
    _no_url_folder(written["cwd"], os.getcwd(), tempfile.gettempdir())


def _env_without_tensorflow(tmp_path, server=None):
    """Environment for a subprocess where `import tensorflow` fails (as where it is not
    installed), with the S3 server's variables."""
    blocker = tmp_path / "no_tensorflow"
    (blocker / "tensorflow").mkdir(parents=True)
    (blocker / "tensorflow" / "__init__.py").write_text(
        'raise ImportError("No module named \'tensorflow\' (blocked for this test)")\n')
    env = dict(server.environment()) if server else {}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(blocker), os.environ.get("PYTHONPATH")]))
    return env


def test_tensorboard_without_tensorflow_serves_every_frame(s3, written, tmp_path):
    env = _env_without_tensorflow(tmp_path, s3)
    with tensorboard_server("s3://bucket/logs", "--load_fast=false", env=env) as url:
        runs = url.get_json("/data/plugin/fitviz/runs")
        assert [run["run"] for run in runs] == ["run"], url.output()
        assert runs[0]["frame_count"] == FRAMES
        assert runs[0]["steps"] == list(range(FRAMES))
        status, _, body = url.get("/data/plugin/fitviz/frames?run=run&start=250")
        assert status == 200 and len(body) > 50 * POINTS * 8


def _cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "tb_fitviz.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_cli_runs_and_export_read_the_bucket(s3, written, tmp_path):
    from PIL import Image

    listing = _cli("runs", "s3://bucket/logs", cwd=tmp_path)
    assert listing.returncode == 0, listing.stderr[-2000:]
    assert listing.stdout.split()[:2] == ["run", str(FRAMES)]
    result = _cli("export", "s3://bucket/logs", "--run", "run", "-o", "out.gif", "--stride", "10",
                  "--size", "160x100", "-q", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert Image.open(tmp_path / "out.gif").n_frames == FRAMES // 10
    assert sorted(os.listdir(tmp_path)) == ["out.gif"]  # local output, no 's3:' folder
    missing = _cli("runs", "s3://no-such-bucket/logs", cwd=tmp_path)
    assert missing.returncode == 2
    assert "LOGDIR: bucket 'no-such-bucket' does not exist" in missing.stderr
    remote_output = _cli("export", "s3://bucket/logs", "--run", "run", "-o", "s3://bucket/x.gif",
                         cwd=tmp_path)
    assert remote_output.returncode == 2 and "expected a local file" in remote_output.stderr


def test_python_reader_switches_tensorboard_to_its_own_gfile(s3, written, tmp_path):
    """reader_for_logdir (and export()) in a fresh process where TensorFlow is installed:
    TensorBoard would read through tf.io.gfile, which has no s3://; storage.prepare_reading
    switches it to its own gfile (boto3) first."""
    code = ("from tb_fitviz.plugin.reading import reader_for_logdir\n"
            "print([r['frame_count'] for r in reader_for_logdir('s3://bucket/logs').runs()])\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == f"[{FRAMES}]"


def test_an_idle_writer_uploads_within_the_time_bound(s3, small_segments):
    x = np.linspace(0, 1, 50)
    writer = FitVizWriter("s3://bucket/idle/run", x, x, images=False)
    writer.record(0, writer.x_sample)
    assert not s3.objects(BUCKET, "idle/")  # 0.5 s not yet gone
    deadline = time.monotonic() + 5
    while not s3.objects(BUCKET, "idle/") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _frame_steps(_bucket_events(s3, "idle/")) == [0]  # sent with nothing more written
    writer.record(1, writer.x_sample)
    writer.close()
    assert _frame_steps(_bucket_events(s3, "idle/")) == [0, 1]


@contextlib.contextmanager
def _silent_endpoint():
    """A TCP port that accepts connections (the kernel's backlog) and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()


def _closed_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("case", ["missing bucket", "refused", "silent", "not a url",
                                  "no credentials", "no bucket name", "unknown scheme"])
def test_bad_remote_log_dir_fails_fast_at_construction(s3, case, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    url = "s3://bucket/bad/run"
    error, message = ValueError, None
    with contextlib.ExitStack() as stack:
        if case == "missing bucket":
            url = "s3://no-such-bucket/run"
            message = "log_dir: bucket 'no-such-bucket' does not exist"
        elif case == "refused":
            monkeypatch.setenv("S3_ENDPOINT", f"http://127.0.0.1:{_closed_port()}")
            message = "log_dir: cannot reach the S3 endpoint http://127.0.0.1:"
        elif case == "silent":
            monkeypatch.setattr(storage, "PROBE_READ_SECONDS", 2)
            monkeypatch.setenv("S3_ENDPOINT", stack.enter_context(_silent_endpoint()))
            message = "log_dir: cannot reach the S3 endpoint"
        elif case == "not a url":
            monkeypatch.setenv("S3_ENDPOINT", "localhost:9000")
            message = "log_dir: S3_ENDPOINT='localhost:9000' is not usable"
        elif case == "no credentials":
            monkeypatch.delenv("AWS_ACCESS_KEY_ID")
            monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
            error, message = PermissionError, "log_dir: no AWS credentials found for s3://bucket"
        elif case == "no bucket name":
            url, message = "s3:///run", "log_dir: 's3:///run' names no bucket"
        elif case == "unknown scheme":
            url, message = "nosuch://host/run", "log_dir: nothing here writes nosuch:// URLs"
        started = time.monotonic()
        with pytest.raises(error) as raised:
            FitVizWriter(url, np.arange(10.0), np.arange(10.0))
        seconds = time.monotonic() - started
    assert str(raised.value).startswith(message), str(raised.value)
    assert seconds < storage.PROBE_READ_SECONDS + 3, seconds
    _no_url_folder(tmp_path)
    assert os.listdir(tmp_path) == []


def test_store_going_away_mid_run_warns_once_and_loses_nothing(s3, small_segments):
    x = np.linspace(0, 1, 100)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        writer = FitVizWriter("s3://bucket/outage/run", x, x, images=False)
        step = 0

        def frames(seconds, until=None):
            nonlocal step
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline and not (until and until()):
                writer.record(step, writer.x_sample * step)  # the training loop goes on
                step += 1
                time.sleep(0.01)

        # Until the first segment is uploaded (due after 0.5 s; later under load).
        frames(15, until=lambda: s3.objects(BUCKET, "outage/"))
        assert s3.objects(BUCKET, "outage/")
        s3.down()
        try:
            frames(15, until=lambda: caught)  # until the failure is reported
            frames(2.0)  # more failed retries: no second warning
        finally:
            s3.up()
        frames(1.0)
        writer.close()
    upload_warnings = [w for w in caught if issubclass(w.category, storage.UploadWarning)]
    assert len(upload_warnings) == 1, [str(w.message) for w in caught]
    text = str(upload_warnings[0].message)
    assert "s3://bucket/outage/run" in text and "Error" in text, text
    assert _frame_steps(_bucket_events(s3, "outage/")) == list(range(step))


def test_memory_url_goes_through_fsspec(small_segments):
    fsspec = pytest.importorskip("fsspec")
    x = np.linspace(0, 1, 50)
    with FitVizWriter("memory://fitviz-test/run", x, x, images=False) as writer:
        for step in range(5):
            writer.record(step, writer.x_sample)
        assert not writer._events.event_file._records.store.uses_tensorflow  # TensorFlow has no memory://
    fs = fsspec.filesystem("memory")
    names = sorted(fs.ls("/fitviz-test/run", detail=False))
    events = {name: _events(fs.cat_file(name)) for name in names}
    assert _frame_steps(events) == list(range(5))


def test_keras_callback_writes_into_a_bucket(s3):
    tf = pytest.importorskip("tensorflow")
    from tb_fitviz import FitVizCallback

    keras = tf.keras
    x = np.linspace(-1, 1, 64).astype("float32")
    y = 2 * x + 0.5
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    callback = FitVizCallback("s3://bucket/keras/run", x, y, every=1, images=False)
    model.fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=[callback])
    callback.close()
    # The spool's records are framed with google-crc32c and os.writev, TensorFlow imported or not.
    assert not callback.writer._events.uses_tensorflow
    steps = _frame_steps(_bucket_events(s3, "keras/run/"))
    assert steps == list(range(9))  # the model before training, then 2 epochs x 4 batches


def test_tensorflow_schemes_go_through_tf_io_gfile(small_segments):
    """With TensorFlow imported, a scheme it knows (here its in-memory ram://) uses tf.io.gfile."""
    tf = pytest.importorskip("tensorflow")
    x = np.linspace(0, 1, 50)
    with FitVizWriter("ram://fitviz-test/run", x, x, images=False) as writer:
        for step in range(5):
            writer.record(step, writer.x_sample)
        assert writer._events.event_file._records.store.uses_tensorflow
    names = sorted(tf.io.gfile.listdir("ram://fitviz-test/run"))
    events = {name: _events(tf.io.gfile.GFile(f"ram://fitviz-test/run/{name}", "rb").read())
              for name in names}
    assert _frame_steps(events) == list(range(5))


@pytest.mark.parametrize("load_fast", ["true", "false"])
def test_both_tensorboard_loaders_read_every_segment(small_segments, tmp_path, load_fast):
    """The segment layout, on a disk both loaders read: fsspec's local:// URL is written like
    any object store (so as gs:// would be, which the Rust data server reads too)."""
    x = np.linspace(0, 1, 200)
    with FitVizWriter(f"local://{tmp_path}/logs/run", x, x, images=False) as writer:
        for step in range(120):
            if step:
                writer.record_batch_loss(step, 1.0 / step)
            writer.record(step, writer.x_sample * step)
    assert len(os.listdir(tmp_path / "logs" / "run")) >= 3
    env = _env_without_tensorflow(tmp_path)  # TensorBoard starts faster
    with tensorboard_server(tmp_path / "logs", f"--load_fast={load_fast}", env=env) as url:
        (run,) = url.get_json("/data/plugin/fitviz/runs")
        assert (run["run"], run["frame_count"]) == ("run", 120)
        assert url.get_json("/data/plugin/fitviz/scalars?run=run")["batch_loss"]["steps"] == list(
            range(1, 120))


def test_store_down_at_close_keeps_the_rest_in_the_spool(s3, small_segments, monkeypatch):
    monkeypatch.setattr(event_file, "CLOSE_ATTEMPTS", 1)
    x = np.linspace(0, 1, 50)
    writer = FitVizWriter("s3://bucket/down-at-close/run", x, x, images=False)
    writer.record(0, writer.x_sample)
    records = writer._events.event_file._records
    s3.down()
    try:
        for step in range(1, 4):
            writer.record(step, writer.x_sample)
        with pytest.warns(storage.UploadWarning, match="could not upload the last") as caught:
            writer.close()
    finally:
        s3.up()
    assert records.spool in str(caught[-1].message)
    kept = sorted(os.listdir(records.spool))
    assert kept
    for name in kept:  # as the message says: copy them into the run's directory
        s3.client().put_object(Bucket=BUCKET, Key=f"down-at-close/run/{name}",
                               Body=Path(records.spool, name).read_bytes())
    assert _frame_steps(_bucket_events(s3, "down-at-close/")) == [0, 1, 2, 3]
    shutil.rmtree(records.spool)


KILLED_WRITER = """
import sys, time
import numpy as np
from tb_fitviz import FitVizWriter, event_file
event_file.UPLOAD_EVERY_SECONDS = 0.3
x = np.linspace(0, 1, 50)
writer = FitVizWriter("s3://bucket/killed/run", x, x, images=False)
for step in range(100000):
    writer.record(step, writer.x_sample)
    if step == 0:
        print("spool", writer._events.event_file._records.spool, flush=True)
    print("recorded", step, flush=True)
    time.sleep(0.01)
"""


def test_kill_loses_only_what_was_not_uploaded_and_that_is_in_the_spool(s3, tmp_path):
    process = subprocess.Popen([sys.executable, "-c", KILLED_WRITER], cwd=tmp_path,
                               stdout=subprocess.PIPE, text=True)
    lines = []
    try:
        started = None
        for line in process.stdout:
            lines.append(line.split())
            started = started or time.monotonic()
            if time.monotonic() - started > 1.5:
                break
        process.kill()
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    spool = lines[0][1]
    recorded = [int(words[1]) for words in lines if words[0] == "recorded"]
    uploaded = _frame_steps(_bucket_events(s3, "killed/"))
    assert uploaded and uploaded == list(range(len(uploaded)))  # the uploaded prefix
    in_spool = _frame_steps({name: _events(Path(spool, name).read_bytes())
                             for name in sorted(os.listdir(spool))})
    # Nothing recorded is lost for good: the store has a prefix, the spool the rest (a segment
    # uploaded just before the kill may still be in the spool too).
    assert sorted(set(uploaded) | set(in_spool))[:len(recorded)] == recorded
    # What the store misses is at most the last UPLOAD_EVERY_SECONDS (0.3 s here) and the
    # upload in flight: well under the 1.5 s recorded (~100 frames).
    assert len(recorded) - len(uploaded) < len(recorded) / 2, (len(recorded), len(uploaded))
    shutil.rmtree(spool)


def test_file_url_is_a_local_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    x = np.linspace(0, 1, 20)
    with FitVizWriter(f"file://{tmp_path}/logs/run", x, x, images=False) as writer:
        writer.record(0, writer.x_sample)
    assert sorted(os.listdir(tmp_path)) == ["logs"]  # no folder "file:"
    (name,) = os.listdir(tmp_path / "logs" / "run")
    assert name.startswith("events.out.tfevents.") and name.endswith(".fitviz")
