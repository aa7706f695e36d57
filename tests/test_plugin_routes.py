"""The FitViz plugin's routes, in process: TensorBoard's WSGI app (its Python
ingestion path, flags fixed by FitVizLoader as at start-up) under werkzeug's
test client, over log directories written by the real FitVizWriter and
FitVizCallback. Values are checked against what was written."""

import json
import logging
import math
import os
import subprocess
import sys
import time

import numpy as np
import pytest
from tensorboard import program
from tensorboard.backend import application
from tensorboard.backend.event_processing import data_ingester
from tensorboard.compat.proto import event_pb2, summary_pb2
from werkzeug.test import Client

from tb_fitviz import FitVizWriter
from tb_fitviz import summary_format as fmt
from tb_fitviz.event_file import EventFile
from tb_fitviz.plugin import fitviz_plugin, reading
from tb_fitviz.plugin.encoding import decode_frames, encode_frames
from tb_fitviz.plugin.loader import FitVizLoader

PREFIX = "/data/plugin/fitviz/"
ALPHA_STEPS = list(range(120)) + [130, 150, 200]  # > 100 frames, then sparse


def alpha_prediction(step, x):
    prediction = np.sin(x) * (step / 200.0) + 0.1 * np.cos(3 * x + step)
    if step == 40:  # a diverging moment: non-finite values pass through
        prediction = prediction.copy()
        prediction[3], prediction[5], prediction[7] = np.nan, np.inf, -np.inf
    return prediction


def write_alpha(root):
    """A run of 123 frames with validation, regularization, epochs and every batch loss."""
    rng = np.random.default_rng(7)
    x = rng.uniform(-3, 3, 500)
    y = np.sin(x) + rng.normal(0, 0.1, 500)
    xv = rng.uniform(-3, 3, 80)
    yv = np.sin(xv)
    expected = {"steps": [], "predictions": [], "losses": [], "info": [],
                "batch_steps": [], "batch_losses": [], "epoch_ends": [], "epoch_loss": [],
                "epoch_val_loss": []}
    with FitVizWriter(os.path.join(root, "alpha"), x, y, sample=64, scatter=100,
                      validation_data=(xv, yv), validation_sample=40, x_label="x",
                      y_label="sin x", title="alpha", images=False) as writer:
        previous = 0
        for step in ALPHA_STEPS:
            for batch in range(previous + 1, step + 1):
                loss = 1.0 / batch
                writer.record_batch_loss(batch, loss)
                expected["batch_steps"].append(batch)
                expected["batch_losses"].append(loss)
            previous = max(previous, step)
            prediction = alpha_prediction(step, writer.x_sample)
            validation = np.sin(writer.x_validation) * 0.5
            epoch = step // 50
            writer.record(step, prediction, epoch=epoch, y_pred_validation=validation,
                          regularization_loss=0.01 * step)
            with np.errstate(all="ignore"):
                losses = writer.point_loss(prediction)
                info = [epoch, float(np.mean(losses)),
                        float(np.mean(writer.point_loss(validation, writer.y_validation))),
                        0.01 * step]
            expected["steps"].append(step)
            expected["predictions"].append(prediction.astype(np.float32))
            expected["losses"].append(losses.astype(np.float32))
            expected["info"].append(info)
            if step in (49, 99, 200):
                loss = math.nan if step == 99 else 0.5 / (step + 1)
                writer.record_epoch(step, epoch, loss=loss, val_loss=0.6 / (step + 1))
                expected["epoch_ends"].append(step)
                expected["epoch_loss"].append(loss)
                expected["epoch_val_loss"].append(0.6 / (step + 1))
        expected["settings"] = dict(writer.settings)
        expected["sample"] = (writer.x_sample, writer.y_sample)
        expected["validation"] = (writer.x_validation, writer.y_validation)
        expected["scatter"] = tuple(writer._scatter) if hasattr(writer, "_scatter") else None
    return expected


def write_small(root, name, frames=3):
    x = np.linspace(0, 1, 30)
    with FitVizWriter(os.path.join(root, name), x, 2 * x, sample=10, scatter=30,
                      images=False) as writer:
        for step in range(frames):
            writer.record(step * 10, writer.x_sample * step)
    return writer


def write_newer_schema(root):
    """A run written by a hypothetical future tb_fitviz (schema version 99)."""
    os.makedirs(os.path.join(root, "zz-newer"))
    events = EventFile(os.path.join(root, "zz-newer"))
    metadata = fmt.plugin_metadata()
    metadata.plugin_data.content = json.dumps({"version": 99}).encode()
    value = summary_pb2.Summary.Value(tag=fmt.TAG_SAMPLE, metadata=metadata,
                                      tensor=fmt.array_tensor(np.zeros((2, 4), np.float32)))
    frame = summary_pb2.Summary.Value(tag=fmt.TAG_FRAME, metadata=metadata,
                                      tensor=fmt.array_tensor(np.zeros((2, 4), np.float32)))
    events.write(event_pb2.Event(step=0, wall_time=1.0, summary=summary_pb2.Summary(value=[value])))
    events.write(event_pb2.Event(step=1, wall_time=2.0, summary=summary_pb2.Summary(value=[frame])))
    events.close()


def tensorboard_flags(logdir, *argv):
    """TensorBoard's parsed flags, fixed by every plugin loader (FitVizLoader included)."""
    tensorboard = program.TensorBoard()
    tensorboard.configure(argv=["", "--logdir", str(logdir), "--reload_task=blocking",
                                "--reload_interval=0", *argv])
    return tensorboard.flags


def make_app(logdir, *argv):
    """(werkzeug Client, ingester) over TensorBoard's Python ingestion of `logdir`."""
    flags = tensorboard_flags(logdir, "--load_fast=false", *argv)
    ingester = data_ingester.LocalDataIngester(flags)
    ingester.start()
    app = application.TensorBoardWSGIApp(
        flags, [FitVizLoader()], ingester.data_provider, None, ingester.deprecated_multiplexer
    )
    return Client(app), ingester


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("fitviz_routes")
    expected = write_alpha(str(root))
    write_small(str(root), "beta")
    write_small(str(root), os.path.join("group", "gamma"), frames=2)
    write_newer_schema(str(root))
    return root, expected


@pytest.fixture(scope="module")
def client(logdir):
    test_client, _ = make_app(logdir[0])
    return test_client


def get(client, path, **headers):
    response = client.get(PREFIX + path, headers=headers)
    return response.status_code, response.headers, response.get_data()


def get_json(client, path):
    status, headers, body = get(client, path)
    assert status == 200, body
    assert headers["Content-Type"] == "application/json"
    return json.loads(body)


# -- runs ------------------------------------------------------------------------


def test_runs_lists_every_frame_with_epochs_and_settings(client, logdir):
    _, expected = logdir
    runs = get_json(client, "runs")
    assert [r["run"] for r in runs] == ["alpha", "beta", "group/gamma", "zz-newer"]
    alpha = runs[0]
    assert alpha["steps"] == ALPHA_STEPS
    assert alpha["frame_count"] == len(ALPHA_STEPS) == 123
    assert alpha["frame_epochs"] == [s // 50 for s in ALPHA_STEPS]
    assert alpha["epoch_ends"] == [49, 99, 200]
    assert alpha["sample_size"] == 64
    for key, value in expected["settings"].items():
        assert alpha["settings"][key] == value
    assert alpha["settings"]["version"] == fmt.SCHEMA_VERSION
    assert "error" not in alpha
    assert runs[1]["steps"] == [0, 10, 20] and runs[1]["sample_size"] == 10
    assert runs[2]["steps"] == [0, 10]


def test_a_newer_schema_is_listed_with_an_error_and_hides_no_other_run(client):
    newer = get_json(client, "runs")[-1]
    assert newer["run"] == "zz-newer"
    assert "schema version 99" in newer["error"] and "upgrade tb_fitviz" in newer["error"]
    assert newer["steps"] == [] and newer["frame_count"] == 0
    for route in ("static", "frames", "scalars"):
        status, headers, body = get(client, f"{route}?run=zz-newer")
        assert status == 404 and b"schema version 99" in body
        assert headers["Content-Type"].startswith("text/plain")


# -- static ----------------------------------------------------------------------


def test_static_returns_the_point_sets(client, logdir):
    _, expected = logdir
    static = get_json(client, "static?run=alpha")
    assert static["run"] == "alpha"
    assert static["settings"]["title"] == "alpha"
    sample_x, sample_y = expected["sample"]
    sample, validation = static["sample"], static["validation"]
    np.testing.assert_array_equal(np.float32(sample["features"][0]), sample_x.astype(np.float32))
    np.testing.assert_array_equal(np.float32(sample["targets"][0]), sample_y.astype(np.float32))
    assert np.all(np.diff(static["sample"]["features"][0]) >= 0)
    assert len(static["scatter"]["features"][0]) == len(static["scatter"]["targets"][0]) == 100
    val_x, val_y = expected["validation"]
    np.testing.assert_array_equal(np.float32(validation["features"][0]), val_x.astype(np.float32))
    np.testing.assert_array_equal(np.float32(validation["targets"][0]), val_y.astype(np.float32))
    assert get_json(client, "static?run=beta")["validation"] is None


# -- frames ----------------------------------------------------------------------


def test_frames_returns_every_frame_as_written(client, logdir):
    _, expected = logdir
    status, headers, body = get(client, "frames?run=alpha")
    assert status == 200
    assert headers["Content-Type"] == "application/octet-stream"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert body[:4] == b"FVF1"
    steps, info, values = decode_frames(body)
    assert steps.tolist() == ALPHA_STEPS
    np.testing.assert_array_equal(values[:, 0], np.stack(expected["predictions"]))
    np.testing.assert_array_equal(values[:, 1], np.stack(expected["losses"]))
    np.testing.assert_allclose(info, np.array(expected["info"]), rtol=1e-12, equal_nan=True)
    # Non-finite predictions pass through as IEEE values.
    at_40 = values[ALPHA_STEPS.index(40), 0]
    assert np.isnan(at_40[3]) and at_40[5] == np.inf and at_40[7] == -np.inf
    # 4 bytes per value plus a small per-frame header.
    assert len(body) == 16 + 40 * len(ALPHA_STEPS) + 4 * values.size


@pytest.mark.parametrize(
    "query",
    ["start=10&stop=20", "start=100", "stride=7", "start=5&stop=131&stride=4", "stop=0",
     "start=201", "start=119&stop=151", "limit=5", "start=3&stride=10&limit=4", "stop=1"],
)
def test_frames_range_stride_and_limit(client, query):
    params = dict(part.split("=") for part in query.split("&"))
    start, stop = int(params.get("start", 0)), int(params.get("stop", 10**18))
    stride, limit = int(params.get("stride", 1)), int(params.get("limit", 10**9))
    wanted = [s for s in ALPHA_STEPS if start <= s < stop][::stride][:limit]
    status, _, body = get(client, f"frames?run=alpha&{query}")
    assert status == 200
    steps, info, values = decode_frames(body)
    assert steps.tolist() == wanted
    assert values.shape == (len(wanted), 2, 64)
    _, _, every = decode_frames(get(client, "frames?run=alpha")[2])
    np.testing.assert_array_equal(values, every[[ALPHA_STEPS.index(s) for s in wanted]])


def test_frames_are_paged_at_32_mib_of_values(client, logdir, monkeypatch):
    # 64 points per frame: 32 MiB would hold 65,536 frames; shrink the page to check paging.
    monkeypatch.setattr(reading, "MAX_FRAME_VALUE_BYTES", 10 * 4 * 2 * 64)
    collected = []
    start = 0
    while True:
        steps, _, _ = decode_frames(get(client, f"frames?run=alpha&start={start}&limit=1000")[2])
        assert len(steps) <= 10
        if not len(steps):
            break
        collected += steps.tolist()
        start = int(steps[-1]) + 1
    assert collected == ALPHA_STEPS


def test_frames_body_round_trips_through_the_encoder():
    steps = np.array([0.0, 5.0])
    info = np.arange(8, dtype=np.float64).reshape(2, 4)
    values = np.arange(12, dtype=np.float32).reshape(2, 2, 3)
    got = decode_frames(encode_frames(steps, info, values))
    for a, b in zip(got, (steps, info, values)):
        np.testing.assert_array_equal(a, b)
    # The float32 block is 8-byte aligned, viewable in place by a Float32Array.
    assert (16 + 40 * 2) % 8 == 0


# -- scalars ---------------------------------------------------------------------


def test_scalars_hold_every_batch_loss_and_per_frame_losses(client, logdir):
    _, expected = logdir
    scalars = get_json(client, "scalars?run=alpha")
    assert set(scalars) == set(reading.SCALAR_NAMES)
    assert scalars["batch_loss"]["steps"] == expected["batch_steps"]
    assert scalars["batch_loss"]["steps"][0] == 1 and scalars["batch_loss"]["steps"][-1] == 200
    np.testing.assert_allclose(scalars["batch_loss"]["values"], expected["batch_losses"])
    info = np.array(expected["info"])
    assert scalars["sample_loss"]["steps"] == ALPHA_STEPS
    sample_loss = scalars["sample_loss"]["values"]
    assert sample_loss[ALPHA_STEPS.index(40)] is None  # NaN frame -> JSON null
    finite = [i for i, s in enumerate(ALPHA_STEPS) if s != 40]
    np.testing.assert_allclose([sample_loss[i] for i in finite], info[finite, 1])
    np.testing.assert_allclose(scalars["validation_loss"]["values"], info[:, 2])
    np.testing.assert_allclose(scalars["regularization_loss"]["values"], info[:, 3])
    assert scalars["epoch_loss"]["steps"] == [49, 99, 200]
    assert scalars["epoch_loss"]["values"][1] is None  # NaN epoch loss
    np.testing.assert_allclose(scalars["epoch_loss"]["values"][2], 0.5 / 201, rtol=1e-6)
    np.testing.assert_allclose(scalars["epoch_val_loss"]["values"],
                               expected["epoch_val_loss"], rtol=1e-6)


def test_scalars_of_a_run_without_validation_or_regularization(client):
    scalars = get_json(client, "scalars?run=beta")
    assert scalars["validation_loss"] == {"steps": [], "values": []}
    assert scalars["regularization_loss"] == {"steps": [], "values": []}
    assert scalars["batch_loss"] == {"steps": [], "values": []}
    assert scalars["sample_loss"]["steps"] == [0, 10, 20]


# -- errors ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "status", "names"),
    [
        ("static", 400, "run"),
        ("frames", 400, "run"),
        ("scalars?run=", 400, "run"),
        ("static?run=nope", 404, "nope"),
        ("frames?run=nope", 404, "nope"),
        ("scalars?run=alph", 404, "alph"),
        ("frames?run=alpha&start=-1", 400, "start"),
        ("frames?run=alpha&start=1.5", 400, "start"),
        ("frames?run=alpha&stop=abc", 400, "stop"),
        ("frames?run=alpha&stride=0", 400, "stride"),
        ("frames?run=alpha&stride=-3", 400, "stride"),
        ("frames?run=alpha&limit=0", 400, "limit"),
        ("frames?run=alpha&limit=%EF%BC%91", 400, "limit"),  # a full-width digit
        ("frames?run=alpha&start=1e3", 400, "start"),
        ("nonexistent-route", 404, "nonexistent-route"),
    ],
)
def test_bad_parameters_give_a_plain_text_4xx_naming_them(client, path, status, names):
    got, headers, body = get(client, path)
    assert got == status
    assert headers["Content-Type"].startswith("text/plain")
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert names.encode() in body


def test_run_names_with_a_slash_are_url_encoded(client):
    steps, _, values = decode_frames(get(client, "frames?run=group%2Fgamma")[2])
    assert steps.tolist() == [0, 10]
    np.testing.assert_array_equal(values[1, 0], values[1, 0])


def test_no_response_makes_the_security_validator_warn(client, caplog):
    paths = ["runs", "static?run=alpha", "frames?run=alpha", "scalars?run=alpha",
             "frames?run=alpha&start=x", "static?run=unknown", "index.js", "../../etc/passwd"]
    with caplog.at_level(logging.INFO):
        for path in paths:
            for headers in ({}, {"Accept-Encoding": "gzip"}):
                status, response_headers, _ = get(client, path, **headers)
                assert status in (200, 400, 404)
                assert response_headers["X-Content-Type-Options"] == "nosniff"
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING
                and "path" not in r.getMessage()]
    assert not [w for w in warnings if "In 3.0" in w or "Content" in w], warnings


def test_json_is_gzipped_and_frames_are_not(client):
    status, headers, body = get(client, "runs", **{"Accept-Encoding": "gzip"})
    assert status == 200 and headers["Content-Encoding"] == "gzip"
    status, headers, body = get(client, "frames?run=alpha", **{"Accept-Encoding": "gzip"})
    assert status == 200 and "Content-Encoding" not in headers and body[:4] == b"FVF1"


# -- frontend files ---------------------------------------------------------------


@pytest.fixture()
def frontend(tmp_path, logdir, monkeypatch):
    folder = tmp_path / "frontend"
    (folder / "lib").mkdir(parents=True)
    (folder / "index.js").write_text("export function render() {}\n")
    (folder / "style.css").write_text("body { color: red; }\n")
    (folder / "lib" / "chart.js").write_text("export const chart = 1;\n")
    (folder / "notes.html").write_text("<script>alert(1)</script>")
    (folder / "secret.py").write_text("SECRET = 1\n")
    (tmp_path / "outside.js").write_text("export const outside = 1;\n")
    os.symlink(tmp_path / "outside.js", folder / "linked.js")
    monkeypatch.setattr(fitviz_plugin, "frontend_dir", lambda: folder)
    test_client, _ = make_app(logdir[0])
    return test_client, folder


def test_frontend_files_are_served_with_their_content_type(frontend):
    client, folder = frontend
    status, headers, body = get(client, "index.js")
    assert status == 200 and body == (folder / "index.js").read_bytes()
    assert headers["Content-Type"].startswith("text/javascript")
    status, headers, body = get(client, "style.css")
    assert status == 200 and headers["Content-Type"].startswith("text/css")
    assert get(client, "lib/chart.js")[2] == b"export const chart = 1;\n"
    # A file added while TensorBoard runs (frontend development) is found too.
    (folder / "late.js").write_text("export const late = 1;\n")
    assert get(client, "late.js")[0] == 200


@pytest.mark.parametrize(
    "path",
    ["notes.html", "secret.py", "linked.js", "../outside.js", "..%2Foutside.js",
     "%2e%2e/outside.js", "lib/../../outside.js", "lib/%2e%2e/%2e%2e/outside.js",
     "/etc/passwd", "%2Fetc%2Fpasswd", "....//outside.js", "lib", "lib/", "index.js%00.py",
     "INDEX.JS", "index.js/", "./index.js/../../outside.js"],
)
def test_path_traversal_and_unlisted_files_give_404(frontend, path):
    client, _ = frontend
    status, headers, body = get(client, path)
    assert status == 404, (path, body)
    assert b"outside" not in body.split(b"'")[0] and b"SECRET" not in body
    assert headers["Content-Type"].startswith("text/plain")


# -- loading ----------------------------------------------------------------------


def test_loader_keeps_every_frame_unless_the_user_set_a_value():
    assert tensorboard_flags("/tmp").samples_per_plugin["fitviz"] == 0
    flags = tensorboard_flags("/tmp", "--samples_per_plugin=fitviz=25,images=3")
    assert flags.samples_per_plugin == {"fitviz": 25, "images": 3}
    namespace = type("Flags", (), {"samples_per_plugin": "scalars=10"})()
    FitVizLoader().fix_flags(namespace)
    assert namespace.samples_per_plugin == {"scalars": 10, "fitviz": 0}


def test_a_user_cap_is_respected(logdir):
    capped, _ = make_app(logdir[0], "--samples_per_plugin=fitviz=20")
    runs = get_json(capped, "runs")
    assert runs[0]["frame_count"] <= 20
    assert runs[0]["steps"][-1] == ALPHA_STEPS[-1]  # reservoirs keep the last step
    steps, _, _ = decode_frames(get(capped, "frames?run=alpha")[2])
    assert set(steps.tolist()) <= set(ALPHA_STEPS) and len(steps) <= 20


def test_entry_point_module_imports_no_tensorflow_matplotlib_or_numpy():
    code = ("import sys, tb_fitviz.plugin.loader as m; m.FitVizLoader(); "
            "heavy = [n for n in ('tensorflow', 'matplotlib', 'numpy', 'keras') "
            "if n in sys.modules]; print(heavy); sys.exit(1 if heavy else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_plugin_is_listed_active_with_its_module(client):
    response = client.get("/data/plugins_listing")
    listing = json.loads(response.get_data())["fitviz"]
    assert listing["enabled"] is True
    assert listing["tab_name"] == "FitViz"
    assert listing["loading_mechanism"] == {"type": "IFRAME",
                                            "module_path": PREFIX + "index.js"}


def test_plugin_is_inactive_without_fitviz_data(tmp_path):
    (tmp_path / "empty").mkdir()
    empty_client, _ = make_app(tmp_path)
    listing = json.loads(empty_client.get("/data/plugins_listing").get_data())
    assert listing["fitviz"]["enabled"] is False
    assert get_json(empty_client, "runs") == []


# -- live updates -----------------------------------------------------------------


def test_a_run_that_gains_frames_is_re_read(tmp_path):
    x = np.linspace(0, 1, 20)
    writer = FitVizWriter(str(tmp_path / "live"), x, x, sample=8, scatter=8, images=False)
    for step in range(5):
        writer.record(step, writer.x_sample * step)
    writer.flush()
    live, ingester = make_app(tmp_path)
    assert decode_frames(get(live, "frames?run=live")[2])[0].tolist() == [0, 1, 2, 3, 4]
    for step in range(5, 9):
        writer.record(step, writer.x_sample * step)
    writer.close()
    ingester.deprecated_multiplexer.Reload()
    assert get_json(live, "runs")[0]["steps"] == list(range(9))
    steps, _, values = decode_frames(get(live, "frames?run=live")[2])
    assert steps.tolist() == list(range(9))
    np.testing.assert_array_equal(values[8, 0], (writer.x_sample * 8).astype(np.float32))


# -- the reader API used by the export command -------------------------------------


def test_reader_for_logdir_reads_what_was_written(logdir):
    root, expected = logdir
    reader = reading.reader_for_logdir(root)
    assert [r["run"] for r in reader.runs()][:2] == ["alpha", "beta"]
    frames = reader.frames("alpha", start=10, stop=20)
    assert frames.steps.tolist() == list(range(10, 20))
    np.testing.assert_array_equal(frames.values[:, 0], np.stack(expected["predictions"][10:20]))
    static = reader.static("alpha")
    np.testing.assert_array_equal(static["sample"][0], expected["sample"][0].astype(np.float32))
    steps, values = reader.scalars("alpha")["batch_loss"]
    assert steps.tolist() == expected["batch_steps"]
    from tensorboard import errors

    with pytest.raises(errors.NotFoundError, match="nope"):
        reader.frames("nope")
    with pytest.raises(errors.InvalidArgumentError, match="stride"):
        reader.frames("alpha", stride=0)
    with pytest.raises(errors.InvalidArgumentError, match="start"):
        reader.frames("alpha", start=True)


def test_epoch_ends_without_losses_are_served(tmp_path):
    """`record_epoch` without the epoch's losses (a plain training loop) still marks the
    epoch end: the tab draws its line, as for a Keras fit."""
    x = np.linspace(0, 1, 40)
    with FitVizWriter(str(tmp_path / "loop"), x, x, images=False) as writer:
        for step in range(1, 13):
            writer.record(step, x * step / 12, epoch=(step - 1) // 4)
            if step % 4 == 0:
                writer.record_epoch(step, step // 4 - 1)
        with pytest.raises(TypeError, match="epoch: expected an int"):
            writer.record_epoch(13, "one")
    app, _ = make_app(tmp_path)
    (run,) = get_json(app, "runs")
    assert run["epoch_ends"] == [4, 8, 12]
    scalars = get_json(app, "scalars?run=loop")
    assert scalars["epoch_loss"]["steps"] == []  # no loss was given: none is invented


# -- a real Keras fit ---------------------------------------------------------------


@pytest.mark.slow
def test_a_keras_fit_recorded_by_the_callback_is_served(tmp_path):
    keras = pytest.importorskip("keras")
    from tb_fitviz import FitVizCallback

    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, 256).astype(np.float32)
    y = (3 * x + 0.5 + rng.normal(0, 0.05, 256)).astype(np.float32)
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    callback = FitVizCallback(str(tmp_path / "keras-sgd"), x, y, sample=50, every=1,
                              images=False)
    model.fit(x, y, epochs=2, batch_size=32, verbose=0, callbacks=[callback])
    callback.close()
    app, _ = make_app(tmp_path)
    (run,) = get_json(app, "runs")
    assert run["run"] == "keras-sgd"
    assert run["steps"] == list(range(17))  # step 0 plus 2 epochs of 8 batches
    assert run["epoch_ends"] == [8, 16]
    assert run["settings"]["framework"] in ("keras", "tf_keras")
    steps, info, values = decode_frames(get(app, "frames?run=keras-sgd")[2])
    assert steps.tolist() == run["steps"]
    # The last frame is the trained model's prediction on the sample.
    static = get_json(app, "static?run=keras-sgd")
    sample_x = np.float32(static["sample"]["features"][0])
    final = model.predict(sample_x.reshape(-1, 1), verbose=0).reshape(-1)
    np.testing.assert_allclose(values[-1, 0], final, rtol=1e-5, atol=1e-6)
    sample_y = np.float32(static["sample"]["targets"][0])
    np.testing.assert_allclose(values[-1, 1], (final - sample_y) ** 2,
                               rtol=1e-4, atol=1e-6)
    scalars = get_json(app, "scalars?run=keras-sgd")
    assert scalars["batch_loss"]["steps"] == list(range(1, 17))
    assert scalars["epoch_loss"]["steps"] == [8, 16]


class _MessageTooBig(Exception):
    """What grpc raises when an answer exceeds the channel's message limit."""

    def code(self):
        return type("StatusCode", (), {"name": "RESOURCE_EXHAUSTED"})()


class _MessageCappedProvider:
    """A real data provider whose frame answers are limited like the Rust data
    server's gRPC messages (a boundary we cannot cheaply reach for real: 256 MiB)."""

    def __init__(self, inner, max_frames):
        self._inner = inner
        self._max_frames = max_frames

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def read_tensors(self, ctx=None, *, experiment_id, plugin_name, downsample,
                     run_tag_filter=None):
        frame_tags = [tag for tag in run_tag_filter.tags or () if fmt.is_frame_tag(tag)]
        if frame_tags and downsample > self._max_frames:
            raise _MessageTooBig()
        return self._inner.read_tensors(ctx, experiment_id=experiment_id,
                                        plugin_name=plugin_name, downsample=downsample,
                                        run_tag_filter=run_tag_filter)


def test_frames_too_big_for_one_answer_are_served_downsampled(logdir, monkeypatch, caplog):
    from tensorboard import context

    _, ingester = make_app(logdir[0])
    frame_bytes = 4 * 2 * 64 + reading._POINT_OVERHEAD_BYTES
    monkeypatch.setattr(reading, "_FITTING_MESSAGE_BYTES", 30 * frame_bytes)
    capped = _MessageCappedProvider(ingester.data_provider, max_frames=30)
    reader = reading.FitVizReader(capped, context.RequestContext(), "")
    with caplog.at_level(logging.WARNING):
        frames = reader.frames("alpha")
    assert len(frames) == 30
    assert frames.steps[-1] == ALPHA_STEPS[-1]  # the last frame is kept
    assert set(frames.steps.tolist()) <= set(ALPHA_STEPS)
    assert any("--load_fast=false" in r.getMessage() for r in caplog.records)


class _CountingProvider:
    """A real data provider that records the frame tags of each read made through it."""

    def __init__(self, inner):
        self._inner = inner
        self.frame_reads = []  # per read_tensors call: the frame tags it asked for

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def read_tensors(self, ctx=None, **kwargs):
        tags = [t for t in kwargs["run_tag_filter"].tags or () if fmt.is_frame_tag(t)]
        if tags:
            self.frame_reads.append(tags)
        return self._inner.read_tensors(ctx, **kwargs)


def _write_live(tmp_path, frames):
    x = np.linspace(0, 1, 20)
    writer = FitVizWriter(str(tmp_path / "live"), x, x, sample=8, scatter=8, images=False)
    for step in range(frames):
        writer.record(2 * step, writer.x_sample * step)
    writer.flush()
    return writer


def test_frames_of_several_blocks_read_back_exactly_and_ranges_read_only_their_blocks(tmp_path):
    from tensorboard import context

    block = fmt.FRAME_BLOCK_SIZE
    writer = _write_live(tmp_path, 2 * block + 44)  # steps 0, 2, 4, ...: three blocks
    writer.close()
    tags = [fmt.frame_block_tag(0), fmt.frame_block_tag(2 * block),
            fmt.frame_block_tag(4 * block)]
    _, ingester = make_app(tmp_path)
    assert sorted(t for t in ingester.deprecated_multiplexer.GetAccumulator("live")
                  .Tags()["tensors"] if fmt.is_frame_tag(t)) == tags
    counting = _CountingProvider(ingester.data_provider)
    reader = reading.FitVizReader(counting, context.RequestContext(), "")
    # A range inside the middle block reads that block only.
    frames = reader.frames("live", start=2 * block + 10, stop=2 * block + 20)
    assert frames.steps.tolist() == list(range(2 * block + 10, 2 * block + 20, 2))
    assert counting.frame_reads == [[tags[1]]]
    for i, step in enumerate(frames.steps.astype(int)):
        np.testing.assert_array_equal(frames.values[i, 0],
                                      (writer.x_sample * (step // 2)).astype(np.float32))
    # The first 100 frames: the first block only.
    assert reader.frames("live", limit=100).steps.tolist() == list(range(0, 200, 2))
    assert counting.frame_reads == [[tags[1]], [tags[0]]]
    # Every frame: the one block not read yet, in one call, and exact values.
    frames = reader.frames("live")
    assert counting.frame_reads[2:] == [[tags[2]]]
    assert frames.steps.tolist() == list(range(0, 2 * (2 * block + 44), 2))
    expected = np.stack([writer.x_sample * k for k in range(2 * block + 44)]).astype(np.float32)
    np.testing.assert_array_equal(frames.values[:, 0], expected)
    np.testing.assert_array_equal(frames.info[:, 1], [
        np.mean((writer.x_sample * k - writer.y_sample) ** 2) for k in range(2 * block + 44)])
    assert reader.frames("live", start=5, stride=50).steps.tolist() == [
        6, 106, 206, 306, 406, 506]
    assert len(counting.frame_reads) == 3  # decoded blocks are kept


def test_while_a_run_grows_only_its_newest_block_is_read_again(tmp_path):
    from tensorboard import context

    block = fmt.FRAME_BLOCK_SIZE
    writer = _write_live(tmp_path, block + 10)
    _, ingester = make_app(tmp_path)
    counting = _CountingProvider(ingester.data_provider)
    reader = reading.FitVizReader(counting, context.RequestContext(), "")
    assert reader.frames("live").steps.tolist() == list(range(0, 2 * (block + 10), 2))
    assert sorted(counting.frame_reads[0]) == [fmt.frame_block_tag(0),
                                              fmt.frame_block_tag(2 * block)]
    for step in range(block + 10, block + 15):
        writer.record(2 * step, writer.x_sample * step)
    writer.close()
    ingester.deprecated_multiplexer.Reload()
    # Answers within the finished first block come from the decoded blocks...
    assert reader.frames("live", limit=4).steps.tolist() == [0, 2, 4, 6]
    assert reader.frames("live", start=2, stop=20, stride=3).steps.tolist() == [2, 8, 14]
    assert len(counting.frame_reads) == 1
    # ...and one that reaches the new frames re-reads the newest block only.
    frames = reader.frames("live", start=2 * block)
    assert frames.steps.tolist() == list(range(2 * block, 2 * (block + 15), 2))
    np.testing.assert_array_equal(frames.values[-1, 0],
                                  (writer.x_sample * (block + 14)).astype(np.float32))
    assert counting.frame_reads[1:] == [[fmt.frame_block_tag(2 * block)]]
    assert reader.frames("live").steps.tolist() == list(range(0, 2 * (block + 15), 2))
    assert len(counting.frame_reads) == 2


def test_runs_written_before_blocks_are_still_served(tmp_path):
    """A run of the legacy layout: every frame in the one tag fitviz/frame."""
    x = np.linspace(0, 1, 6, dtype=np.float32)
    sample = np.stack([x, 2 * x])
    static = [_tensor(fmt.TAG_SAMPLE, sample, {"sample_size": 6}),
              _tensor(fmt.TAG_SCATTER, sample)]
    events = []
    for step in range(150):
        frame = np.stack([x * step, x + step]).astype(np.float32)
        values = [_tensor(fmt.TAG_FRAME, frame),
                  _tensor(fmt.TAG_FRAME_INFO, np.array([step // 50, step, np.nan, np.nan]))]
        events.append((step, (static if step == 0 else []) + values))
    _write_events(str(tmp_path / "legacy"), events)
    client, _ = make_app(tmp_path)
    (run,) = get_json(client, "runs")
    assert run["frame_count"] == 150 and run["steps"] == list(range(150))
    steps, info, values = decode_frames(get(client, "frames?run=legacy&start=120&stride=7")[2])
    assert steps.tolist() == list(range(120, 150, 7))
    assert info[:, 1].tolist() == steps.tolist()
    np.testing.assert_array_equal(values[:, 0], np.stack([x * s for s in steps]).astype(np.float32))
    np.testing.assert_array_equal(values[:, 1], np.stack([x + s for s in steps]).astype(np.float32))
    assert decode_frames(get(client, "frames?run=legacy&limit=100")[2])[0].tolist() == list(
        range(100))


def _write_events(run_dir, events):
    os.makedirs(run_dir)
    out = EventFile(run_dir)
    for step, values in events:
        out.write(event_pb2.Event(step=step, wall_time=1.0 + step,
                                  summary=summary_pb2.Summary(value=values)))
    out.close()


def _tensor(tag, array, settings=None):
    return summary_pb2.Summary.Value(tag=tag, metadata=fmt.plugin_metadata(settings),
                                     tensor=fmt.array_tensor(array))


def test_damaged_runs_give_reasons_and_leave_the_others_readable(tmp_path):
    sample = np.zeros((2, 4), np.float32)
    info = np.zeros(4)
    static = [_tensor(fmt.TAG_SAMPLE, sample, {"sample_size": 4}),
              _tensor(fmt.TAG_SCATTER, sample)]
    _write_events(str(tmp_path / "mixed-shapes"), [
        (0, static + [_tensor(fmt.TAG_FRAME, sample), _tensor(fmt.TAG_FRAME_INFO, info)]),
        (1, [_tensor(fmt.TAG_FRAME, np.zeros((3, 4), np.float32)),
             _tensor(fmt.TAG_FRAME_INFO, info)]),
    ])
    _write_events(str(tmp_path / "short-info"), [
        (0, static + [_tensor(fmt.TAG_FRAME, sample), _tensor(fmt.TAG_FRAME_INFO, info[:3])]),
    ])
    _write_events(str(tmp_path / "no-sample"), [
        (0, [_tensor(fmt.TAG_FRAME, sample), _tensor(fmt.TAG_FRAME_INFO, info)]),
    ])
    write_small(str(tmp_path), "sound")
    damaged, _ = make_app(tmp_path)
    runs = {r["run"]: r for r in get_json(damaged, "runs")}
    assert set(runs) == {"mixed-shapes", "short-info", "no-sample", "sound"}
    assert "fitviz/frame_info at step 0" in runs["short-info"]["error"]
    assert "fitviz/sample" in runs["no-sample"]["error"]
    assert "error" not in runs["sound"] and runs["sound"]["frame_count"] == 3
    status, _, body = get(damaged, "frames?run=mixed-shapes")
    assert status == 404 and b"fitviz/frame at step 1" in body and b"[3, 4]" in body
    status, _, body = get(damaged, "static?run=no-sample")
    assert status == 404 and b"fitviz/sample" in body
    assert decode_frames(get(damaged, "frames?run=sound")[2])[0].tolist() == [0, 10, 20]


def test_a_new_training_in_the_same_directory_is_not_served_from_old_frames(tmp_path):
    from tensorboard import context

    x = np.linspace(0, 1, 20)
    with FitVizWriter(str(tmp_path / "reused"), x, x, sample=8, scatter=8,
                      images=False) as first:
        for step in range(10):
            first.record(step, first.x_sample * step)
    _, ingester = make_app(tmp_path)
    reader = reading.FitVizReader(ingester.data_provider, context.RequestContext(), "")
    np.testing.assert_array_equal(reader.frames("reused", limit=4).values[3, 0],
                                  (first.x_sample * 3).astype(np.float32))
    time.sleep(1.1)  # event file names carry the second they were made in
    with FitVizWriter(str(tmp_path / "reused"), x, x, sample=8, scatter=8,
                      images=False) as second:
        for step in range(15):
            second.record(step, second.x_sample * -step)
    ingester.deprecated_multiplexer.Reload()
    frames = reader.frames("reused", limit=4)
    assert frames.steps.tolist() == [0, 1, 2, 3]
    np.testing.assert_array_equal(frames.values[3, 0], (second.x_sample * -3).astype(np.float32))
    assert reader.frames("reused").steps.tolist() == list(range(15))
