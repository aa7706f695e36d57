"""Out-of-range parameters of GET frames: a 400 naming the parameter, or documented
clipping (http_api.md), never a 500 and never an unbounded answer."""

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fault_scripts import support  # noqa: E402
from tb_process import tensorboard_server  # noqa: E402

from tb_fitviz.plugin import encoding  # noqa: E402

STEPS = list(range(0, 100, 2))  # 50 frames at even steps
BIG_POINTS = 65536  # 32 MiB of values hold 64 frames of this size
BIG_FRAMES = 70


@pytest.fixture(scope="module")
def range_logdir(tmp_path_factory):
    import tensorflow  # noqa: F401  (the writer then frames records with TF's fast CRC32C)

    from tb_fitviz import FitVizWriter

    logdir = tmp_path_factory.mktemp("ranges")
    x = np.linspace(0, 1, 40)
    with FitVizWriter(os.fspath(logdir / "even"), x, x, images=False) as writer:
        for step in STEPS:
            writer.record(step, np.full(40, step, dtype=np.float64))
    x = np.linspace(0, 1, BIG_POINTS)
    with FitVizWriter(os.fspath(logdir / "big"), x, x, sample=BIG_POINTS, scatter=10,
                      images=False) as writer:
        for step in range(BIG_FRAMES):
            writer.record(step, np.full(BIG_POINTS, step, dtype=np.float64))
    return logdir


@pytest.fixture(scope="module", params=["true", "false"])
def server(request, range_logdir):
    with tensorboard_server(range_logdir, f"--load_fast={request.param}") as url:
        yield url


def _steps(server, query, run="even"):
    status, headers, body = server.get(f"{support.PLUGIN}/frames?run={run}&{query}")
    assert status == 200, (query, status, body[:300])
    steps, _, values = encoding.decode_frames(body)
    # Each frame's predictions carry its step: the right frames, not just the right count.
    assert (values[:, 0] == steps[:, None]).all()
    return steps.astype(int).tolist()


@pytest.mark.parametrize("query, expected", [
    ("", STEPS),
    ("start=0&stop=100&stride=1", STEPS),
    ("start=10&stop=20", [10, 12, 14, 16, 18]),
    ("start=11&stop=19", [12, 14, 16, 18]),
    ("stride=3", STEPS[::3]),
    ("start=10&stride=4", STEPS[5::4]),
    ("stop=1000000", STEPS),  # stop beyond the end
    ("stop=" + "9" * 30, STEPS),  # beyond int64
    ("start=" + "9" * 30, []),
    ("start=98", [98]),
    ("start=99", []),
    ("start=50&stop=10", []),  # start > stop
    ("start=10&stop=10", []),
    ("stride=" + "9" * 30, [0]),
    ("stride=49", [0, 98]),
    ("limit=3", [0, 2, 4]),
    ("limit=" + "9" * 30, STEPS),
    ("start=&stop=&stride=", STEPS),  # empty means default
])
def test_ranges_select_or_clip(server, query, expected):
    assert _steps(server, query) == expected


@pytest.mark.parametrize("query", [
    "stride=0", "stride=-1", "stride=-100", "start=-1", "stop=-1", "limit=0", "limit=-5",
    "start=abc", "stop=1e3", "stride=1.5", "start=0x10", "stride=%20", "start=1%2C2",
    "stop=NaN", "stride=inf", "start=" + "9" * 31, "stride=%EF%BC%91",  # fullwidth digit
])
def test_bad_parameters_are_400_naming_the_parameter(server, query):
    status, headers, body = server.get(f"{support.PLUGIN}/frames?run=even&{query}")
    assert status == 400, (query, status, body[:300])
    name = query.split("=")[0]
    assert name.encode() in body, body


@pytest.mark.parametrize("route", ["static", "frames", "scalars"])
@pytest.mark.parametrize("run_query, status", [("", 400), ("run=", 400), ("run=nope", 404),
                                               ("run=even&run=big", 200)])
def test_missing_or_unknown_run(server, route, run_query, status):
    got, _, body = server.get(f"{support.PLUGIN}/{route}?{run_query}")
    assert got == status, (route, run_query, got, body[:300])


def test_answers_are_bounded_to_32_mib_of_values(server):
    # Default and maximum limit: 64 frames of 65,536 points; the client asks again.
    first = _steps(server, "", run="big")
    assert first == list(range(64))
    assert _steps(server, "limit=" + "9" * 20, run="big") == first
    assert _steps(server, "start=64", run="big") == list(range(64, BIG_FRAMES))
    assert _steps(server, "stride=2", run="big") == list(range(0, BIG_FRAMES, 2))
    assert support.error_lines(server.output()) == []
