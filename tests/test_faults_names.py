"""Strange run names: listed by `runs` exactly, readable through every route when URL-encoded.

The browser side (names shown as text, never as HTML) is the frontend's; this
module also checks that frontend/ never puts data into innerHTML.
"""

import os
import re
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fault_scripts import support  # noqa: E402
from tb_process import tensorboard_server  # noqa: E402

NAMES = [
    "with space",
    "ünïcödé λ 日本語 🙂",
    "quo\"te's `back`",
    "<script>alert(1)</script>",
    "a&b=c?d#e%20f+g;h",
    "nested/sub run",
    "-leading dash",
    "new\nline\ttab",
    "%2F looks encoded %41",
    "x" * 200,
]


@pytest.fixture(scope="module")
def named_logdir(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("names")
    written = {}
    for index, name in enumerate(NAMES):
        # A different frame count per run tells the runs apart in every answer.
        written[name] = support.write_run(logdir / name, frames=5 + index, seed=index)
    return logdir, written


@pytest.fixture(scope="module", params=["true", "false"])
def server(request, named_logdir):
    logdir, _ = named_logdir
    with tensorboard_server(logdir, f"--load_fast={request.param}") as url:
        yield url


def test_runs_lists_every_name_exactly(server):
    runs = server.get_json(f"{support.PLUGIN}/runs")
    assert [entry["run"] for entry in runs] == sorted(NAMES)
    for entry in runs:
        assert entry["frame_count"] == 5 + NAMES.index(entry["run"])


@pytest.mark.parametrize("name", NAMES)
def test_every_route_reads_the_run_by_its_encoded_name(server, named_logdir, name):
    _, written = named_logdir
    static = server.get_json(f"{support.PLUGIN}/static?run={support.quote(name)}")
    assert static["run"] == name
    steps, _, values = support.get_frames(server, name)
    assert steps.tolist() == list(range(5 + NAMES.index(name)))
    np.testing.assert_array_equal(values[:, 0], np.stack(list(written[name].values())))
    scalars = server.get_json(f"{support.PLUGIN}/scalars?run={support.quote(name)}")
    assert scalars["sample_loss"]["steps"] == steps.astype(int).tolist()
    # A name that differs by one character is a 404, not somebody else's run.
    status, _, _ = server.get(f"{support.PLUGIN}/static?run={support.quote(name + 'x')}")
    assert status == 404


def test_answers_are_json_not_html(server):
    status, headers, body = server.get(
        f"{support.PLUGIN}/static?run={support.quote('<script>alert(1)</script>')}")
    assert status == 200
    assert headers["Content-Type"].startswith("application/json")
    assert headers.get("X-Content-Type-Options") == "nosniff"
    status, headers, body = server.get(
        f"{support.PLUGIN}/static?run={support.quote('<script>nope</script>')}")
    assert status == 404
    assert headers["Content-Type"].startswith("text/plain")


def test_frontend_never_writes_html_from_data():
    frontend = Path(__file__).resolve().parent.parent / "frontend"
    sources = {path.name: path.read_text() for path in frontend.glob("*.js")}
    if "index.js" not in sources:
        pytest.skip("frontend/index.js not written yet")
    for name, text in sources.items():
        assert not re.search(r"\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write",
                             text), f"{name} writes HTML; names must be set as text"
