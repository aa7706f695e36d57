"""The tab's views over real Keras fits of every kind, in a real TensorBoard and Chromium.

Checked in pixels: a surface pixel has the colour of the model's output at that grid point, the
loss map's row of a hard point is hotter than an easy one's, panels of unrelated runs have their
own y range while runs of the same data share it, the dark theme's colours, and a click on the
loss map goes to that step. Screenshots go to test-artifacts/browser/.
"""

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: tb_process, test_kinds
from conftest import keras_run, piecewise_sine  # noqa: E402
from tb_process import tensorboard_server  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DEFAULTS = json.loads(
    (Path(__file__).resolve().parents[2] / "frontend" / "defaults.json").read_text())


def hex_rgb(text):
    text = text.lstrip("#")
    return np.array([int(text[i:i + 2], 16) for i in (0, 2, 4)], dtype=float)


def ramp_at(stops, t):
    """The colour of a ramp through evenly spaced stops at t (as colors.js computes it)."""
    colors = [hex_rgb(s) for s in stops]
    position = min(max(t, 0.0), 1.0) * (len(colors) - 1)
    k = min(len(colors) - 2, int(np.floor(position)))
    return colors[k] + (colors[k + 1] - colors[k]) * (position - k)


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    """A two-feature classifier (half-moons), a one-feature regression over the notebook's data
    (twice: the same data), and one over other data with another range."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    from kind_fits import half_moons

    from tb_fitviz import FitVizCallback

    root = tmp_path_factory.mktemp("fitviz_views")
    keras.utils.set_random_seed(4)
    x, labels = half_moons(800)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(24, activation="relu"),
                              keras.layers.Dense(24, activation="relu"),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile(keras.optimizers.Adam(0.03), "binary_crossentropy")
    callback = FitVizCallback(str(root / "moons"), x, labels, sample=300, grid=60, every=3,
                              images=False)
    model.fit(x, labels, epochs=4, batch_size=50, verbose=0, callbacks=[callback])
    callback.close()
    xs, ys = piecewise_sine(600)
    keras_run(root / "sine-a", xs, ys, learning_rate=0.03, epochs=4, seed=1)
    keras_run(root / "sine-b", xs, ys, learning_rate=0.01, epochs=1, seed=2)
    keras_run(root / "wide", xs, 40 * xs + 5, learning_rate=0.03, epochs=1, seed=3)
    from tb_fitviz.plugin.reading import reader_for_logdir

    return {"root": root, "reader": reader_for_logdir(str(root)), "model": model}


@pytest.fixture(scope="module")
def server(logdir):
    with tensorboard_server(logdir["root"]) as url:
        yield url


def canvas_pixels(page, points):
    return [patch[0] for patch in page.pixel_patches(points, radius=0)]


def test_surface_pixels_have_the_models_colour_at_the_grid(server, open_page, logdir):
    page = open_page(server, hash="fitviz&p.fitviz.runs=moons")
    page.screenshot("views-surface")
    [panel] = page.panels()
    assert panel["view"] == "surface"
    grid = logdir["reader"].all_frames("moons", "grid")
    p1 = grid.values[-1, 0]
    assert panel["gridSteps"] == [int(grid.steps[-1])]
    settings = logdir["reader"].static("moons")["settings"]["grid"]
    size = settings["size"]
    xs = np.linspace(*settings["x_range"], size)
    ys = np.linspace(*settings["y_range"], size)
    plot = panel["detail"]["plot"]
    (x0, x1), (y0, y1) = panel["detail"]["xDomain"], panel["detail"]["yDomain"]
    sample = logdir["reader"].static("moons")["sample"]
    sample_px = plot["x"] + (sample[0] - x0) / (x1 - x0) * plot["w"]
    sample_py = plot["y"] + plot["h"] - (sample[1] - y0) / (y1 - y0) * plot["h"]
    stops = DEFAULTS["themes"]["light"]["diverging"]
    chosen, expected = [], []
    values = p1.reshape(size, size)  # row i: feature 2's i-th value
    rng = np.random.default_rng(0)
    for _ in range(4000):
        i, j = rng.integers(2, size - 2, 2)
        # Away from the decision boundary (bilinear smoothing blends neighbours) and from points.
        block = values[i - 1:i + 2, j - 1:j + 2]
        if block.max() - block.min() > 0.05:
            continue
        px = plot["x"] + (xs[j] - x0) / (x1 - x0) * plot["w"]
        py = plot["y"] + plot["h"] - (ys[i] - y0) / (y1 - y0) * plot["h"]
        if np.min(np.hypot(sample_px - px, sample_py - py)) < 7:
            continue
        chosen.append((float(px), float(py)))
        expected.append(ramp_at(stops, float(values[i, j])))
        if len(chosen) == 40:
            break
    assert len(chosen) >= 20
    got = np.array(canvas_pixels(page, chosen), dtype=float)
    errors = np.linalg.norm(got - np.array(expected), axis=1)
    assert np.median(errors) < 12 and np.mean(errors < 25) > 0.9, errors
    # Both classes' colours appear: the model has learned two regions.
    assert {float(v) > 0.5 for v in values.reshape(-1)} == {True, False}


def test_loss_map_hard_point_hotter_than_easy_and_click_seeks(server, open_page, logdir):
    page = open_page(server, hash="fitviz&p.fitviz.runs=moons&p.fitviz.view=loss_map")
    page.screenshot("views-loss-map")
    [panel] = page.panels()
    assert panel["view"] == "loss_map"
    detail = panel["detail"]
    frames = logdir["reader"].all_frames("moons")
    loss = frames.values[:, 1, :]  # [frames, points]
    rows, columns = detail["rows"], detail["columns"]
    points = loss.shape[1]
    assert columns == min(len(frames), round(detail["plot"]["w"]))
    # The map's rows are groups of points; compare the hardest and easiest row over the late half.
    starts = np.floor(np.arange(rows) * points / rows).astype(int)
    edges = list(starts) + [points]
    late = len(frames) // 2
    row_loss = [loss[late:, edges[r]:edges[r + 1]].max() for r in range(rows)]
    hard, easy = int(np.argmax(row_loss)), int(np.argmin(row_loss))
    plot = detail["plot"]
    late_column = int(np.searchsorted(detail["steps"], frames.steps[late]))

    def luminance(row):
        y = plot["y"] + (row + 0.5) * plot["h"] / rows
        xs = [plot["x"] + (c + 0.5) * plot["w"] / columns
              for c in range(late_column, columns - 1, 3)]
        pixels = np.array(canvas_pixels(page, [(x, y) for x in xs]), dtype=float)
        return float(np.mean(pixels @ [0.299, 0.587, 0.114]))

    # The light heat scale runs from white (no loss) to dark red: hotter is darker.
    assert luminance(hard) < luminance(easy) - 40, (row_loss[hard], row_loss[easy])
    # A click on a column goes to that column's step.
    column = columns // 3
    x = plot["x"] + (column + 0.5) * plot["w"] / columns
    box = page.page.frame_locator("iframe").locator("canvas.fv-canvas").bounding_box()
    page.page.mouse.click(box["x"] + x, box["y"] + plot["y"] + plot["h"] / 2)
    page.wait_until(f"window.__fitviz.step() === {int(detail['steps'][column])}", 10, "the seek")


def test_unrelated_runs_have_their_own_axes(server, open_page):
    page = open_page(server, hash="fitviz&p.fitviz.runs=sine-a,sine-b,wide")
    page.screenshot("views-own-axes")
    panels = {p["title"]: p for p in page.panels()}
    a, b, wide = panels["sine-a"], panels["sine-b"], panels["wide"]
    # The same data: the same axes, so that the runs compare at a glance.
    assert a["main"]["yDomain"] == b["main"]["yDomain"]
    assert a["charts"]["batch"]["yDomain"] == b["charts"]["batch"]["yDomain"]
    # Other data: their own range (the sine is not squashed flat by the line's range).
    assert a["main"]["yDomain"][1] - a["main"]["yDomain"][0] < 5
    assert wide["main"]["yDomain"][1] > 400
    assert wide["charts"]["batch"]["yDomain"] != a["charts"]["batch"]["yDomain"]


def test_overlaid_curves_beside_a_surface_of_their_own(server, open_page):
    """Overlaid: one-output curves over the same data share one panel, with a legend; a
    curve of other data and a surface keep their own panels, and the first panel says so."""
    page = open_page(server, hash="fitviz&p.fitviz.runs=sine-a,sine-b,moons,wide"
                                  "&p.fitviz.mode=overlay")
    page.screenshot("views-overlay-partial")
    panels = page.panels()
    # The two fits of the same data in one panel; the line (other data) and the surface
    # (another view) each in their own.
    assert [(p["title"], p["view"], p["runs"]) for p in panels] == [
        ("2 runs overlaid", "curve", ["sine-a", "sine-b"]), ("moons", "surface", ["moons"]),
        ("wide", "curve", ["wide"])]
    assert panels[0]["note"] == "other data or views side by side"
    assert panels[0]["main"]["yDomain"] != panels[2]["main"]["yDomain"]
    assert all(step is not None for p in panels for step in p["frameSteps"])
    # No two one-output curves of the same data: nothing to overlay, and the panel says why.
    page = open_page(server, hash="fitviz&p.fitviz.runs=sine-a,moons,wide&p.fitviz.mode=overlay")
    panels = page.panels()
    assert [p["runs"] for p in panels] == [["moons"], ["sine-a"], ["wide"]]  # by name
    assert panels[0]["note"] == "overlaid: one-output curves of the same data only"


def test_loss_charts_ignore_outliers_by_default_with_a_toggle(server, open_page, logdir):
    page = open_page(server, hash="fitviz&p.fitviz.runs=sine-a")
    robust = page.panels()[0]["charts"]["batch"]["yDomain"]
    _, batch = logdir["reader"].scalars("sine-a")["batch_loss"]
    # The first batches' losses are the outliers: the default scale leaves them out ...
    assert robust[1] < batch.max()
    page.js("window.__fitviz.setSetting('ignoreOutliers', false)")
    page.wait_until("window.__fitviz.ready() && !window.__fitviz.state.ignoreOutliers")
    full = page.panels()[0]["charts"]["batch"]["yDomain"]
    # ... and the toggle brings every loss into view.
    assert full[1] >= batch.max() > robust[1]


def test_dark_theme_follows_tensorboard_live(server, open_page):
    page = open_page(server + "/?darkMode=true", hash="fitviz&p.fitviz.runs=moons,sine-a")
    page.screenshot("views-dark")
    dark = DEFAULTS["themes"]["dark"]
    assert page.js("window.__fitviz.theme()") == "dark"
    panel = page.panels()[1]
    corner = (panel["main"]["x"] - 30, panel["main"]["y"] + 3)  # background left of the plot
    pixel = np.array(canvas_pixels(page, [corner])[0])
    assert np.linalg.norm(pixel - hex_rgb(dark["background"])) < 4
    body = page.js("getComputedStyle(document.body).backgroundColor")
    assert body == "rgb({}, {}, {})".format(*hex_rgb(dark["background"]).astype(int))
    # TensorBoard's own switch (the class on its body) turns the tab light at once.
    page.page.evaluate("document.body.classList.remove('dark-mode')")
    page.wait_until("window.__fitviz.theme() === 'light' && window.__fitviz.ready()", 10)
    page.page.wait_for_timeout(200)
    light = DEFAULTS["themes"]["light"]
    pixel = np.array(canvas_pixels(page, [corner])[0])
    assert np.linalg.norm(pixel - hex_rgb(light["background"])) < 4
    page.screenshot("views-light-again")


def test_a_view_chosen_in_the_menu_is_loaded_then_drawn(server, open_page):
    """Views other than the curve load on demand: a surface run's first frame does not fetch the
    loss map's module; choosing the view in the menu fetches it and draws the map."""
    page = open_page(server, hash="fitviz&p.fitviz.runs=moons")
    modules = ("performance.getEntriesByType('resource')"
               ".filter((e) => e.name.endsWith('/views/lossmap.js')).length")
    assert page.panels()[0]["view"] == "surface"
    assert page.js(modules) == 0
    page.frame.locator("select[aria-label=View]").select_option("loss_map")
    page.wait_until("window.__fitviz.ready() && window.__fitviz.panels()[0].view === 'loss_map'",
                    what="the loss map drawn after its module loaded")
    assert page.js(modules) == 1
    detail = page.panels()[0]["detail"]
    assert detail["columns"] > 0 and detail["rows"] > 0
    assert not page.errors, page.errors
