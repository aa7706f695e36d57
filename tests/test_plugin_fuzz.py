"""Property-based fuzzing of every FitViz route's parameters: 200 or 4xx, never 5xx."""

import os
import time
import urllib.parse

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tb_process import tensorboard_server
from test_plugin_routes import make_app, write_newer_schema, write_small

from tb_fitviz.plugin import fitviz_plugin
from tb_fitviz.plugin.encoding import decode_frames

PREFIX = "/data/plugin/fitviz/"
RUNS = ["beta", "group/gamma", "zz-newer"]

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    root = tmp_path_factory.mktemp("fitviz_fuzz")
    write_small(str(root), "beta", frames=12)
    write_small(str(root), os.path.join("group", "gamma"), frames=2)
    write_newer_schema(str(root))
    frontend = root / "frontend"
    frontend.mkdir()
    (frontend / "index.js").write_text("export function render() {}\n")
    (frontend / "secret.py").write_text("SECRET = 1\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fitviz_plugin, "frontend_dir", lambda: frontend)
        test_client, _ = make_app(root)
        yield test_client


numbers = st.one_of(
    st.integers(min_value=-(10**25), max_value=10**25).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", " 1", "1 ", "+1", "0x10", "1e3", "١٢", "１", "0" * 40, "9" * 31,
                     "-0", "None", "[]", "\x00", "%00"]),
    st.text(max_size=12),
)
runs = st.one_of(st.sampled_from(RUNS), st.text(max_size=30),
                 st.sampled_from(["", "..", "../beta", "beta/", "BETA", "beta\x00", "/beta"]))


def query(**params):
    return urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})


def check(response):
    status = response.status_code
    assert status == 200 or 400 <= status < 500, (status, response.get_data()[:300])
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    if status != 200:
        assert response.headers["Content-Type"].startswith("text/plain")
    return status


@FUZZ
@given(run=st.one_of(st.none(), runs), start=st.one_of(st.none(), numbers),
       stop=st.one_of(st.none(), numbers), stride=st.one_of(st.none(), numbers),
       limit=st.one_of(st.none(), numbers))
def test_frames_parameters(client, run, start, stop, stride, limit):
    response = client.get(PREFIX + "frames?" + query(run=run, start=start, stop=stop,
                                                      stride=stride, limit=limit))
    if check(response) == 200:
        steps, _, values = decode_frames(response.get_data())
        assert np.all(np.diff(steps) > 0)
        assert values.shape[1] == 2


@FUZZ
@given(route=st.sampled_from(["static", "scalars", "runs"]), run=st.one_of(st.none(), runs),
       extra=st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3))
def test_static_scalars_and_runs_parameters(client, route, run, extra):
    params = dict(extra)
    if run is not None:
        params["run"] = run
    check(client.get(PREFIX + route + "?" + urllib.parse.urlencode(params)))


path_parts = st.one_of(
    st.sampled_from(["..", ".", "%2e%2e", "%2E%2E", "..%2f", "%2f", "index.js", "frontend",
                     "etc", "passwd", "tb_fitviz", "setup.py", "%00", "~", "//", "\\..\\"]),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=10).map(
        lambda t: urllib.parse.quote(t, safe="")),
)


@FUZZ
@given(parts=st.lists(path_parts, min_size=1, max_size=6))
def test_static_file_paths(client, parts):
    path = "/".join(parts)
    response = client.get(PREFIX + path)
    status = check(response)
    if status == 200:
        # Only the whitelisted routes and files answer 200.
        assert response.headers["Content-Type"].split(";")[0] in (
            "text/javascript", "text/css", "application/json", "application/octet-stream")
        assert b"SECRET" not in response.get_data()


@pytest.fixture(scope="module")
def rust_server(tmp_path_factory):
    """The same kind of runs behind a real tensorboard with the Rust data server."""
    root = tmp_path_factory.mktemp("fitviz_fuzz_rust")
    write_small(str(root), "beta", frames=12)
    write_newer_schema(str(root))
    with tensorboard_server(root, "--load_fast=true") as url:
        for _ in range(300):  # the data server loads in the background
            if len(url.get_json(PREFIX + "runs")) == 2:
                break
            time.sleep(0.2)
        yield url


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(route=st.sampled_from(["frames", "static", "scalars"]), run=runs,
       start=st.one_of(st.none(), numbers), stride=st.one_of(st.none(), numbers))
def test_parameters_through_the_rust_data_server(rust_server, route, run, start, stride):
    status, headers, body = rust_server.get(
        PREFIX + route + "?" + query(run=run, start=start, stride=stride))
    assert status == 200 or 400 <= status < 500, (status, body[:300])
    assert headers["X-Content-Type-Options"] == "nosniff"
