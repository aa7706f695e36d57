"""The FitViz tab in a real TensorBoard, in headless Chromium, over two real Keras fits.

One tensorboard subprocess for the module; each test opens its own browser context
(fresh localStorage). Screenshots: test-artifacts/browser/.
"""

import io
import urllib.request

import numpy as np
import pytest
from conftest import (
    ARTIFACTS,
    ORANGE,
    STEELBLUE,
    curve_match_fraction,
    data_to_pixels,
    decode_frames,
    get_json,
    keras_run,
    piecewise_sine,
    predict,
)
from tb_process import tensorboard_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

FAST, SLOW = "adam-fast", "adam-slow"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two Keras runs: one learns the curve quickly, one barely moves from its start."""
    logdir = tmp_path_factory.mktemp("fitviz_tab")
    x, y = piecewise_sine()
    fast_model, fast_cb = keras_run(logdir / FAST, x, y, learning_rate=0.03, epochs=3, seed=1)
    slow_model, slow_cb = keras_run(logdir / SLOW, x, y, learning_rate=0.0003, epochs=2, seed=2)
    return {
        "logdir": logdir,
        FAST: {"model": fast_model, "x_sample": fast_cb.writer.x_sample},
        SLOW: {"model": slow_model, "x_sample": slow_cb.writer.x_sample},
    }


@pytest.fixture(scope="module")
def server(runs):
    with tensorboard_server(runs["logdir"]) as url:
        yield url


def _wait_shown(page, names):
    deadline_js = (
        "(names) => { const s = window.__fitviz.shown(); "
        "return s.length === names.length && names.every((n) => s.includes(n)) "
        "&& window.__fitviz.ready(); }"
    )
    for _ in range(600):
        if page.frame.evaluate(deadline_js, sorted(names)):
            return
        page.page.wait_for_timeout(50)
    raise AssertionError(f"runs shown: {page.js('window.__fitviz.shown()')}, wanted {names}")


def frames_of(server, run):
    with urllib.request.urlopen(f"{server}/data/plugin/fitviz/frames?run={run}", timeout=60) as r:
        return decode_frames(r.read())


def test_tab_appears_with_both_runs(server, open_page):
    page = open_page(server)
    tab = page.page.get_by_text("FitViz", exact=False).first
    assert tab.is_visible()
    names = page.frame.locator(".fv-run-name").all_text_contents()
    assert names == [FAST, SLOW]
    # Both runs shown side by side at their last step by default.
    panels = page.panels()
    assert [p["runs"] for p in panels] == [[FAST], [SLOW]]
    assert page.step() == page.js("window.__fitviz.timeline().at(-1)")
    page.screenshot("tab_opened")


def test_curve_is_drawn_where_the_model_predicts(server, open_page, runs):
    page = open_page(server)
    _wait_shown(page, [FAST, SLOW])
    page.frame.locator(f".fv-run-list input[value='{SLOW}']").click()
    _wait_shown(page, [FAST])
    page.js("window.__fitviz.setSetting('band', 'off')")  # the band's blue must not help
    page.wait_ready()
    (panel,) = page.panels()
    # The last frame is the trained model: its own predictions on the sample.
    model, xs = runs[FAST]["model"], runs[FAST]["x_sample"]
    ys = predict(model, xs)
    assert panel["frameSteps"][0] == page.step()
    on_curve = curve_match_fraction(page, panel, xs, ys, STEELBLUE)
    # The same points moved up by a fifth of the plot: not where the curve is.
    span = panel["main"]["yDomain"][1] - panel["main"]["yDomain"][0]
    off_curve = curve_match_fraction(page, panel, xs, ys + span / 5, STEELBLUE)
    page.screenshot("curve_last_step")
    assert on_curve >= 0.9, f"steelblue at only {on_curve:.0%} of the model's predictions"
    assert off_curve <= 0.15, f"steelblue at {off_curve:.0%} of points off the curve"

    # An early step: the curve is the early model's, read back from the server independently.
    steps, _, values = frames_of(server, FAST)
    page.js(f"window.__fitviz.seek(window.__fitviz.timeline().indexOf({int(steps[3])}))")
    page.wait_ready()
    assert page.step() == steps[3]
    early = curve_match_fraction(page, page.panels()[0], xs, values[3, 0], STEELBLUE)
    page.screenshot("curve_early_step")
    assert early >= 0.9
    assert curve_match_fraction(page, page.panels()[0], xs, ys, STEELBLUE) < 0.5


def test_band_and_scatter_are_drawn(server, open_page):
    page = open_page(server)
    _wait_shown(page, [FAST, SLOW])
    panel = page.panels()[1]  # the slow run: a wide band around a poor fit
    static = get_json(server, f"/data/plugin/fitviz/static?run={SLOW}")
    scatter = static["scatter"]
    px, py = data_to_pixels(panel, scatter["features"][0], scatter["targets"][0])
    patches = page.pixel_patches([(float(a), float(b)) for a, b in zip(px[::15], py[::15])], 0)
    # Grey scatter dots (possibly under the band): neither white nor missing.
    greyish = [p[0] for p in patches if abs(p[0][0] - p[0][1]) < 40 and p[0][0] < 235]
    assert len(greyish) >= 0.5 * len(patches)


def test_play_advances_and_pauses(server, open_page):
    page = open_page(server)
    page.frame.locator("button[aria-label='First step (Home)']").click()
    page.wait_until("window.__fitviz.position() === 0")
    page.wait_ready()
    before = page.js("document.querySelector('canvas.fv-canvas').toDataURL()")
    page.frame.locator("button[aria-label='Play (space)']").click()
    page.page.wait_for_timeout(700)
    assert page.js("window.__fitviz.playing()")
    page.frame.locator("button[aria-label='Pause (space)']").click()
    position = page.js("window.__fitviz.position()")
    assert position >= 5, f"playback advanced only {position} steps in 0.7 s at 30 fps"
    assert not page.js("window.__fitviz.playing()")
    page.wait_ready()
    assert page.js("window.__fitviz.position()") == position  # paused stays put
    after = page.js("document.querySelector('canvas.fv-canvas').toDataURL()")
    assert after != before
    assert page.frame.locator(".fv-step").text_content().startswith(f"step {page.step():g}")
    page.screenshot("after_play")


def test_slider_and_keyboard_seek(server, open_page):
    page = open_page(server)
    timeline = page.js("window.__fitviz.timeline()")
    slider = page.frame.locator("input.fv-slider")
    box = slider.bounding_box()
    # A click a quarter of the way along the slider.
    page.page.mouse.click(box["x"] + box["width"] * 0.25, box["y"] + box["height"] / 2)
    page.wait_ready()
    position = page.js("window.__fitviz.position()")
    assert abs(position - 0.25 * (len(timeline) - 1)) <= 0.05 * len(timeline)
    assert page.step() == timeline[position]
    page.screenshot("slider_quarter")

    page.frame.locator("canvas.fv-canvas").click(position={"x": 5, "y": 5})
    page.page.keyboard.press("ArrowRight")
    assert page.js("window.__fitviz.position()") == position + 1
    page.page.keyboard.press("Shift+ArrowLeft")
    assert page.js("window.__fitviz.position()") == position - 9
    page.page.keyboard.press("Home")
    assert page.js("window.__fitviz.position()") == 0
    page.page.keyboard.press("End")
    assert page.js("window.__fitviz.position()") == len(timeline) - 1
    page.page.keyboard.press("Home")
    page.page.keyboard.press(" ")
    assert page.js("window.__fitviz.playing()")
    page.page.keyboard.press(" ")
    assert not page.js("window.__fitviz.playing()")
    page.wait_ready()
    page.screenshot("keyboard_seek")


def test_clicking_a_loss_chart_seeks_there(server, open_page):
    page = open_page(server)
    panel = page.panels()[0]
    chart = panel["charts"]["batch"]
    canvas = page.frame.locator("canvas.fv-canvas")
    # A click in the middle of the batch-loss chart's x range.
    canvas.click(position={"x": chart["x"] + chart["w"] / 2, "y": chart["y"] + chart["h"] / 2})
    page.wait_ready()
    lo, hi = chart["xDomain"]
    assert abs(page.step() - (lo + hi) / 2) <= 0.03 * (hi - lo) + 1
    page.screenshot("chart_click")


def test_two_runs_side_by_side_share_axes_and_slider(server, open_page, runs):
    page = open_page(server)
    _wait_shown(page, [FAST, SLOW])
    page.js("window.__fitviz.setSetting('band', 'off')")
    page.wait_ready()
    fast_panel, slow_panel = page.panels()
    assert fast_panel["main"]["yDomain"] == slow_panel["main"]["yDomain"]
    assert fast_panel["main"]["xDomain"] == slow_panel["main"]["xDomain"]
    fast_box, slow_box = fast_panel["main"], slow_panel["main"]
    assert fast_box["x"] < slow_box["x"] or fast_box["y"] < slow_box["y"]
    # Different numbers of steps: the shared timeline holds both; each run shows its frame.
    assert page.frame.locator("input.fv-slider").count() == 1
    for panel, name in ((fast_panel, FAST), (slow_panel, SLOW)):
        steps, _, values = frames_of(server, name)
        step = page.step()
        index = int(np.searchsorted(steps, step, side="right") - 1)
        assert panel["frameSteps"][0] == steps[index]
        xs = runs[name]["x_sample"]
        assert curve_match_fraction(page, panel, xs, values[index, 0], STEELBLUE) >= 0.9
    page.screenshot("side_by_side")


def test_two_runs_overlaid_in_their_colours(server, open_page, runs):
    page = open_page(server)
    _wait_shown(page, [FAST, SLOW])
    page.frame.get_by_label("Overlaid").check()
    page.js("window.__fitviz.setSetting('band', 'off')")
    page.wait_until("window.__fitviz.panels().length === 1")
    page.wait_ready()
    (panel,) = page.panels()
    assert panel["runs"] == [FAST, SLOW]
    fast = predict(runs[FAST]["model"], runs[FAST]["x_sample"])
    slow = predict(runs[SLOW]["model"], runs[SLOW]["x_sample"])
    span = panel["main"]["yDomain"][1] - panel["main"]["yDomain"][0]
    apart = np.abs(fast - slow) > span * 0.04  # where the two curves do not cross
    xs = runs[FAST]["x_sample"]
    assert apart.sum() > 50
    fast_hits = curve_match_fraction(page, panel, xs[apart], fast[apart], STEELBLUE, every=4)
    slow_hits = curve_match_fraction(page, panel, xs[apart], slow[apart], ORANGE, every=4)
    page.screenshot("overlaid")
    assert fast_hits >= 0.85, fast_hits
    assert slow_hits >= 0.85, slow_hits
    # The legend names both runs (drawn as text on the canvas), the run list shows their colours.
    swatches = page.frame.locator(".fv-swatch").evaluate_all(
        "(els) => els.map((e) => getComputedStyle(e).backgroundColor)")
    assert swatches == ["rgb(70, 130, 180)", "rgb(255, 127, 14)"]


def test_png_export_gives_an_image_of_the_view(server, open_page):
    from PIL import Image

    page = open_page(server)
    with page.page.expect_download() as info:
        page.frame.locator("button", has_text="PNG").click()
    download = info.value
    assert download.suggested_filename.endswith(".png")
    assert f"step{page.step():g}" in download.suggested_filename
    with open(download.path(), "rb") as file:
        data = file.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    image = Image.open(io.BytesIO(data)).convert("RGB")
    width, height = page.js("[document.querySelector('canvas.fv-canvas').width, "
                            "document.querySelector('canvas.fv-canvas').height]")
    assert image.size == (width, height)
    pixels = np.asarray(image).reshape(-1, 3).astype(int)
    steelblue = (np.abs(pixels - np.array(STEELBLUE)).sum(axis=1) < 30).sum()
    assert steelblue > 500, "the exported image holds no curve"
    image.save(str(ARTIFACTS / "export.png"))


def test_view_survives_a_page_reload(server, open_page):
    page = open_page(server)
    page.frame.get_by_label("Overlaid").check()
    page.js("window.__fitviz.seek(7)")
    page.wait_ready()
    step = page.step()
    page.page.wait_for_timeout(400)  # the state is saved shortly after a change
    page.page.reload()
    page.frame = page.wait_for_frame()
    page.wait_ready()
    assert page.step() == step
    assert page.js("window.__fitviz.state.mode") == "overlay"
    assert page.frame.get_by_label("Overlaid").is_checked()
    page.screenshot("after_page_reload")


def test_run_filter_is_a_regex(server, open_page):
    page = open_page(server)
    page.frame.locator(".fv-filter").fill("slow$")
    page.wait_until("window.__fitviz.shown().length === 1")
    assert page.js("window.__fitviz.shown()") == [SLOW]
    visible = page.frame.locator(".fv-run-list li:not([hidden]) .fv-run-name")
    assert visible.all_text_contents() == [SLOW]
    page.frame.locator(".fv-filter").fill("(")
    assert "Invalid regex" in page.frame.locator(".fv-filter-error").text_content()
    page.wait_until("window.__fitviz.shown().length === 2")


def test_webm_export_records_the_animation_with_progress(server, open_page):
    page = open_page(server)
    page.js("window.__fitviz.setSetting('speed', 60)")
    page.js("window.__fitviz.seek(0)")
    page.wait_ready()
    with page.page.expect_download(timeout=60_000) as info:
        page.frame.locator("button", has_text="WebM").click()
        # Progress is shown while recording.
        page.wait_until("!document.querySelector('.fv-progress').hidden", timeout=10)
        page.wait_until("document.querySelector('.fv-progress').value > 5", timeout=20)
        page.screenshot("webm_recording")
    download = info.value
    assert download.suggested_filename.endswith(".webm")
    with open(download.path(), "rb") as file:
        data = file.read()
    assert data[:4] == b"\x1a\x45\xdf\xa3", "not a WebM (EBML) file"
    assert b"webm" in data[:64]
    assert len(data) > 2000
    assert "Saved" in page.frame.locator(".fv-export-status").text_content()
    assert page.frame.locator(".fv-progress").is_hidden()


def test_webm_of_the_last_two_frames_holds_a_picture(server, open_page, tmp_path):
    """Started one frame before the end, the WebM still holds frames (its last one held),
    not a header alone."""
    import imageio_ffmpeg

    page = open_page(server)
    page.js("window.__fitviz.setSetting('speed', 30)")
    page.js("window.__fitviz.seek(window.__fitviz.timeline().length - 2)")
    page.wait_ready()
    with page.page.expect_download(timeout=60_000) as info:
        page.frame.locator("button", has_text="WebM").click()
    path = tmp_path / "end.webm"
    info.value.save_as(path)
    # Decoded by the ffmpeg binary the imageio-ffmpeg wheel carries.
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    frames = list(reader)
    assert meta["size"][0] > 100 and len(frames) >= 2, (meta, len(frames))


def test_tensorboard_url_fields_choose_the_view(server, open_page):
    page = open_page(server, hash=f"fitviz&p.fitviz.runs={SLOW}&p.fitviz.mode=overlay"
                                  "&p.fitviz.step=10&p.fitviz.smoothing=5")
    assert page.js("window.__fitviz.shown()") == [SLOW]
    assert page.step() == 10
    state = page.js("window.__fitviz.state")
    assert state["mode"] == "overlay"
    assert state["smoothing"] == 5
    page.screenshot("url_fields")
