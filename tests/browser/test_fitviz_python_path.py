"""The FitViz tab on TensorBoard's Python data path (`--load_fast=false`), over a run written
by the framework-neutral FitVizWriter with predictions known in advance."""

import numpy as np
import pytest
from conftest import STEELBLUE, curve_match_fraction
from tb_process import tensorboard_server

from tb_fitviz import FitVizWriter

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def known_prediction(x, step):
    return np.sin(x) * step / 20.0


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("fitviz_python_path")
    x = np.linspace(0, 12, 800)
    y = np.sin(x) + np.random.default_rng(5).normal(0, 0.2, x.shape)
    with FitVizWriter(logdir / "numpy-run", x, y, sample=400, scatter=400) as writer:
        for step in range(0, 21):
            writer.record_batch_loss(step, 1.0 / (step + 1))
            writer.record(step, known_prediction(writer.x_sample, step), epoch=step // 10)
        x_sample = writer.x_sample
    with tensorboard_server(logdir, "--load_fast=false") as url:
        url.x_sample = x_sample
        yield url


def test_every_frame_and_the_curve_on_the_python_path(server, open_page):
    page = open_page(server)
    # All 21 frames are there (TensorBoard's default would keep 10 on this path).
    assert page.js("window.__fitviz.timeline()") == list(range(21))
    page.js("window.__fitviz.setSetting('band', 'off')")
    for step in (20, 7):
        page.js(f"window.__fitviz.seek({step})")
        page.wait_ready()
        (panel,) = page.panels()
        assert panel["frameSteps"] == [step]
        xs = server.x_sample
        assert curve_match_fraction(page, panel, xs, known_prediction(xs, step), STEELBLUE) >= 0.9
        wrong = known_prediction(xs, 20 - step)
        assert curve_match_fraction(page, panel, xs, wrong, STEELBLUE) < 0.5
    page.screenshot("python_path")
