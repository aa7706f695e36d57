"""The FitViz plugin in a real `tensorboard` process, on both data paths:
`--load_fast=true` (the Rust data server) and `--load_fast=false` (Python)."""

import http.client
import json
import time
import urllib.parse
from pathlib import Path

import numpy as np
import pytest
from tb_process import tensorboard_server
from test_plugin_routes import ALPHA_STEPS, write_alpha, write_small

from tb_fitviz import FitVizWriter
from tb_fitviz.plugin.encoding import decode_frames

PREFIX = "/data/plugin/fitviz/"
CHECKOUT_FRONTEND = Path(__file__).resolve().parent.parent / "frontend"


def wait_for_runs(url, run, frame_count, timeout=90):
    """GET runs until `run` shows `frame_count` frames (the Rust server loads in the background)."""
    deadline = time.monotonic() + timeout
    while True:
        runs = {r["run"]: r for r in url.get_json(PREFIX + "runs")}
        if run in runs and runs[run]["frame_count"] >= frame_count:
            return runs
        if time.monotonic() > deadline:
            raise AssertionError(f"{run} never reached {frame_count} frames: {runs.get(run)}")
        time.sleep(0.3)


def raw_get(url, path):
    """GET `path` exactly as given (no client-side normalisation of `..`)."""
    parsed = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
    try:
        connection.putrequest("GET", path, skip_accept_encoding=True)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("fitviz_server")
    expected = write_alpha(str(root))
    write_small(str(root), "beta")
    write_long(str(root))
    return root, expected


LONG_BATCHES = 20_000
LONG_FRAMES = sorted({0} | {int(v) for v in np.geomspace(1, LONG_BATCHES, 150)})


def write_long(root):
    """20,000 batches, frames log-spaced: every batch loss must reach the plugin."""
    x = np.linspace(0, 1, 50)
    with FitVizWriter(str(Path(root) / "long"), x, x, sample=10, scatter=10,
                      images=False) as writer:
        writer.record(0, writer.x_sample)
        for batch in range(1, LONG_BATCHES + 1):
            writer.record_batch_loss(batch, 1.0 / batch)
            if batch in LONG_FRAMES:
                writer.record(batch, writer.x_sample * 0.5)


@pytest.fixture(scope="module", params=["true", "false"], ids=["load_fast", "python"])
def server(request, logdir):
    with tensorboard_server(logdir[0], f"--load_fast={request.param}") as url:
        wait_for_runs(url, "alpha", len(ALPHA_STEPS))
        yield url


def test_plugins_listing_shows_fitviz_enabled(server):
    listing = server.get_json("/data/plugins_listing")["fitviz"]
    assert listing["enabled"] is True
    assert listing["tab_name"] == "FitViz"
    assert listing["loading_mechanism"]["module_path"] == PREFIX + "index.js"


def test_runs_lists_every_one_of_more_than_100_frames(server):
    runs = server.get_json(PREFIX + "runs")
    assert [r["run"] for r in runs] == ["alpha", "beta", "long"]
    assert runs[0]["steps"] == ALPHA_STEPS and len(ALPHA_STEPS) > 100
    assert runs[0]["frame_count"] == len(ALPHA_STEPS)
    assert runs[0]["epoch_ends"] == [49, 99, 200]


def test_frames_returns_every_frame_byte_for_byte(server, logdir):
    _, expected = logdir
    status, headers, body = server.get(PREFIX + "frames?run=alpha")
    assert status == 200
    assert headers["Content-Type"] == "application/octet-stream"
    assert headers["X-Content-Type-Options"] == "nosniff"
    steps, info, values = decode_frames(body)
    assert steps.tolist() == ALPHA_STEPS
    # Bytes equal: the float32 block is exactly the written predictions and losses.
    written = np.stack([np.stack(expected["predictions"]), np.stack(expected["losses"])], axis=1)
    assert values.tobytes() == written.astype("<f4").tobytes()
    np.testing.assert_allclose(info, np.array(expected["info"]), rtol=1e-12, equal_nan=True)


def test_scalars_hold_every_batch_loss(server, logdir):
    _, expected = logdir
    scalars = server.get_json(PREFIX + "scalars?run=alpha")
    assert scalars["batch_loss"]["steps"] == expected["batch_steps"]
    np.testing.assert_allclose(scalars["batch_loss"]["values"], expected["batch_losses"])
    assert scalars["epoch_val_loss"]["steps"] == [49, 99, 200]


def test_every_batch_loss_of_a_20000_batch_run(server):
    wait_for_runs(server, "long", len(LONG_FRAMES))
    batch_loss = server.get_json(PREFIX + "scalars?run=long")["batch_loss"]
    assert batch_loss["steps"] == list(range(1, LONG_BATCHES + 1))
    np.testing.assert_allclose(batch_loss["values"], 1.0 / np.arange(1, LONG_BATCHES + 1))
    steps, _, _ = decode_frames(server.get(PREFIX + "frames?run=long")[2])
    assert steps.tolist() == LONG_FRAMES


def test_static_and_errors(server):
    static = server.get_json(PREFIX + "static?run=beta")
    assert len(static["sample"]["features"][0]) == 10 and static["validation"] is None
    status, headers, body = server.get(PREFIX + "frames?run=alpha&stride=zero")
    assert status == 400 and b"stride" in body
    assert headers["Content-Type"].startswith("text/plain")
    status, _, body = server.get(PREFIX + "static?run=missing")
    assert status == 404 and b"missing" in body


def test_the_frontend_entry_module_is_served(server):
    status, headers, body = server.get(PREFIX + "index.js")
    shipped = CHECKOUT_FRONTEND / "index.js"
    if shipped.is_file():
        assert status == 200 and body == shipped.read_bytes()
        assert headers["Content-Type"].startswith("text/javascript")
    else:
        assert status == 404  # nothing to serve yet: a clean 404, not a 500


@pytest.mark.parametrize(
    "path",
    [PREFIX + "../../../etc/passwd", PREFIX + "%2e%2e/%2e%2e/%2e%2e/etc/passwd",
     PREFIX + "..%2f..%2f..%2fetc%2fpasswd", PREFIX + "../../../setup.py",
     PREFIX + "..%2F..%2F..%2Fsetup.py", PREFIX + "/etc/passwd", PREFIX + "index.js/../../x"],
)
def test_path_traversal_gives_404(server, path):
    status, body = raw_get(server, path)
    assert status == 404, (path, body[:200])
    assert b"root:" not in body and b"setup(" not in body


def test_no_security_warning_and_json_gzipped(server):
    for path in ("runs", "static?run=alpha", "frames?run=alpha&limit=3", "scalars?run=alpha",
                 "frames?run=alpha&start=-1", "index.js", "nothing.css"):
        for headers in ({}, {"Accept-Encoding": "gzip"}):
            status, response_headers, _ = server.get(PREFIX + path, headers=headers)
            assert status in (200, 400, 404)
            assert response_headers["X-Content-Type-Options"] == "nosniff"
    status, headers, _ = server.get(PREFIX + "runs", headers={"Accept-Encoding": "gzip"})
    assert headers.get("Content-Encoding") == "gzip"
    output = server.output()
    assert "In 3.0, this warning will become an error" not in output, output[-3000:]
    assert "Traceback" not in output, output[-3000:]


@pytest.mark.parametrize("load_fast", ["true", "false"])
def test_a_user_sampling_cap_is_respected(logdir, load_fast):
    with tensorboard_server(logdir[0], f"--load_fast={load_fast}",
                            "--samples_per_plugin=fitviz=20") as url:
        deadline = time.monotonic() + 60
        while True:  # the Rust server loads in the background: wait for the last frame
            runs = {r["run"]: r for r in url.get_json(PREFIX + "runs")}
            if "alpha" in runs and runs["alpha"]["steps"][-1:] == [ALPHA_STEPS[-1]]:
                break
            assert time.monotonic() < deadline, runs
            time.sleep(0.3)
        alpha = runs["alpha"]
        assert 2 <= alpha["frame_count"] <= 20
        steps, _, _ = decode_frames(url.get(PREFIX + "frames?run=alpha")[2])
        assert set(steps.tolist()) <= set(ALPHA_STEPS) and len(steps) <= 20


def test_frames_written_while_tensorboard_runs_are_served(tmp_path):
    x = np.linspace(-1, 1, 50)
    writer = FitVizWriter(str(tmp_path / "live"), x, x ** 2, sample=20, scatter=20, images=False)
    for step in range(3):
        writer.record(step, writer.x_sample * step)
    writer.flush()
    try:
        with tensorboard_server(tmp_path, "--load_fast=true", "--reload_task=auto",
                                "--reload_interval=1") as url:
            wait_for_runs(url, "live", 3)
            steps, _, _ = decode_frames(url.get(PREFIX + "frames?run=live")[2])
            assert steps.tolist() == [0, 1, 2]
            for step in range(3, 150):
                writer.record(step, writer.x_sample * step)
            writer.flush()
            runs = wait_for_runs(url, "live", 150)
            assert runs["live"]["steps"] == list(range(150))
            steps, _, values = decode_frames(url.get(PREFIX + "frames?run=live")[2])
            assert steps.tolist() == list(range(150))
            np.testing.assert_array_equal(values[149, 0],
                                          (writer.x_sample * 149).astype(np.float32))
            body = json.loads(url.get(PREFIX + "scalars?run=live")[2])
            assert body["sample_loss"]["steps"] == list(range(150))
    finally:
        writer.close()
