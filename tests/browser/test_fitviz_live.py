"""Live updates of the FitViz tab: a Keras fit continues while the page is open.

TensorBoard runs with a 1-second reload interval; the test trains more epochs with the
same real FitVizCallback, then clicks TensorBoard's own reload button, which reaches the
tab's iframe as experimental.DataReloaded.
"""

import numpy as np
import pytest
from conftest import (
    STEELBLUE,
    colour_hits,
    curve_match_fraction,
    data_to_pixels,
    get_json,
    keras_run,
    piecewise_sine,
    predict,
)
from tb_process import tensorboard_server

from tb_fitviz import FitVizWriter

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LIVE = "live-fit"
# A run name that is also HTML: it must show as text and never run.
HTML_NAME = '<img src=x onerror="window.__pwned=1">'
ONLY_LIVE = f"JSON.stringify(window.__fitviz.shown()) === '[\"{LIVE}\"]'"


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("fitviz_live")
    x, y = piecewise_sine(900, seed=3)
    model, callback = keras_run(logdir / LIVE, x, y, learning_rate=0.02, epochs=1, seed=4,
                                keep_open=True)
    with FitVizWriter(logdir / HTML_NAME, x, y, sample=50, scatter=100, title="<b>bold?</b>") as w:
        for step in range(3):
            prediction = np.full(50, 0.1 * step)
            if step == 1:
                prediction[20:30] = np.nan  # a diverged stretch: drawn as a gap
                prediction[30] = np.inf
            w.record(step, prediction, epoch=0)
    state = {"logdir": logdir, "model": model, "callback": callback, "x": x, "y": y,
             "html_x_sample": w.x_sample}
    yield state
    callback.close()


@pytest.fixture(scope="module")
def server(live):
    with tensorboard_server(live["logdir"], "--reload_interval=1", "--reload_task=auto") as url:
        wait_for_frames(url, LIVE, 1)
        yield url


def run_info(url, name):
    for run in get_json(url, "/data/plugin/fitviz/runs"):
        if run["run"] == name:
            return run
    return None


def wait_for_frames(url, name, at_least, timeout=60):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = run_info(url, name)
        if info and info["frame_count"] >= at_least:
            return info
        time.sleep(0.25)
    raise AssertionError(f"tensorboard did not pick up {at_least} frames of {name}")


def train_more(live, epochs=1):
    live["model"].fit(live["x"], live["y"], epochs=epochs, batch_size=100, verbose=0,
                      callbacks=[live["callback"]])


def click_tensorboard_reload(page):
    page.page.locator("app-header-reload button").click()


def test_reload_shows_frames_written_after_the_page_opened(server, open_page, live):
    page = open_page(server)
    page.frame.locator(f".fv-run-list input[value='{HTML_NAME}']").click()
    page.wait_until(ONLY_LIVE)
    page.frame.get_by_label("follow latest").check()
    page.js("window.__fitviz.setSetting('band', 'off')")
    page.wait_ready()
    before = run_info(server, LIVE)
    first_last_step = before["steps"][-1]
    assert page.step() == first_last_step
    requests_before = len(page.js("window.__fitviz.stats().requests")[LIVE])
    page.screenshot("live_before_reload")

    train_more(live)
    # Every frame of the extra epoch, the last one included: TensorBoard picks them up over
    # several reloads, and a listing taken halfway ends at a step the model has left behind.
    after = wait_for_frames(server, LIVE, live["callback"].writer.frames_recorded)
    assert after["frame_count"] >= before["frame_count"] + 5
    new_last_step = after["steps"][-1]
    assert new_last_step > first_last_step
    click_tensorboard_reload(page)
    page.wait_until(f"window.__fitviz.step() === {new_last_step}", timeout=30,
                    what="the tab to follow the new frames")
    page.wait_ready()
    page.screenshot("live_after_reload")

    # The curve is the model's now (after the extra epoch)...
    (panel,) = page.panels()
    xs = live["callback"].writer.x_sample
    assert curve_match_fraction(page, panel, xs, predict(live["model"], xs), STEELBLUE) >= 0.9
    # ...and only frames after the ones the page had were fetched.
    requests = page.js("window.__fitviz.stats().requests")[LIVE][requests_before:]
    assert requests, "no frames were fetched after the reload"
    assert all(start > first_last_step for start, _ in requests), requests


def test_slider_keeps_its_place_across_reloads(server, open_page, live):
    page = open_page(server)
    page.frame.locator(f".fv-run-list input[value='{HTML_NAME}']").click()
    page.wait_until(ONLY_LIVE)
    assert not page.frame.get_by_label("follow latest").is_checked()
    page.js("window.__fitviz.seek(5)")
    page.wait_ready()
    step = page.step()
    length = len(page.js("window.__fitviz.timeline()"))
    before = run_info(server, LIVE)
    train_more(live)
    wait_for_frames(server, LIVE, before["frame_count"] + 5)
    click_tensorboard_reload(page)
    page.wait_until(f"window.__fitviz.timeline().length > {length}", timeout=30,
                    what="the new frames to reach the tab")
    page.wait_ready()
    assert page.step() == step
    assert page.js("window.__fitviz.position()") == 5
    assert page.frame.locator("input.fv-slider").input_value() == "5"
    page.screenshot("live_slider_kept")


def test_html_in_names_is_shown_as_text(server, open_page, live):
    page = open_page(server)
    names = page.frame.locator(".fv-run-name").all_text_contents()
    assert HTML_NAME in names
    assert page.js("document.querySelectorAll('img').length") == 0
    assert page.js("window.__pwned === undefined")
    # Shown side by side, its panel title is drawn as text on the canvas.
    assert any(p["title"].startswith(HTML_NAME) for p in page.panels())
    page.screenshot("html_run_name")

    # Its step 1 has NaN and inf predictions: the curve has a gap there, and is drawn elsewhere.
    page.js("window.__fitviz.setSetting('band', 'off')")
    page.js("window.__fitviz.seek(window.__fitviz.timeline().indexOf(1))")
    page.wait_ready()
    panel = next(p for p in page.panels() if p["runs"] == [HTML_NAME])
    assert panel["frameSteps"] == [1]
    xs = live["html_x_sample"]
    px, py = data_to_pixels(panel, xs, np.full(len(xs), 0.1))
    hits = colour_hits(page.pixel_patches([(float(px[i]), float(py[i])) for i in range(50)]),
                       STEELBLUE)
    assert all(hits[2:18]), hits
    assert not any(hits[22:29]), hits
    page.screenshot("nan_gap")
