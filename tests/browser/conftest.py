"""Helpers for the FitViz tab's end-to-end tests: a real TensorBoard, a real headless Chromium.

The tests open TensorBoard itself (`URL/#fitviz`), so the tab, the plugin iframe and the
iframe message protocol are the real ones. Screenshots of each state go to
`test-artifacts/browser/` (gitignored): look at them.
"""

import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: tb_process

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
STEELBLUE = (70, 130, 180)
ORANGE = (255, 127, 14)  # the second run's colour when overlaid


@pytest.fixture(scope="module")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


class FitVizPage:
    """TensorBoard's page with the FitViz tab open, and the tab's iframe."""

    def __init__(self, browser, url, viewport=(1500, 950), hash="fitviz"):
        self.hash = hash
        self.context = browser.new_context(
            viewport={"width": viewport[0], "height": viewport[1]}, accept_downloads=True
        )
        self.page = self.context.new_page()
        self.url = url
        self.errors = []
        self.page.on("console", self._on_console)
        self.page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        self.frame = None

    def _on_console(self, message):
        if message.type == "error":
            self.errors.append(f"console error: {message.text} ({message.location})")

    def open(self, timeout=30):
        # A URL with a query (e.g. "?darkMode=true") keeps it before the hash.
        self.page.goto(self.url + ("#" if "?" in self.url else "/#") + self.hash)
        self.frame = self.wait_for_frame(timeout)
        self.wait_ready(timeout)
        return self

    def wait_for_frame(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for frame in self.page.frames:
                if "plugin_entry.html" in frame.url and "name=fitviz" in frame.url:
                    try:
                        if frame.evaluate("typeof window.__fitviz === 'object'"):
                            return frame
                    except Exception:  # noqa: BLE001 - the frame may still be navigating
                        pass
            self.page.wait_for_timeout(100)  # lets Playwright process its events
        raise AssertionError(f"the FitViz iframe did not load within {timeout} s: {self.errors}")

    def js(self, expression, arg=None):
        return self.frame.evaluate(expression, arg)

    def wait_ready(self, timeout=30):
        self.wait_until("window.__fitviz.ready()", timeout, "the view to be drawn")

    def wait_until(self, expression, timeout=30, what=None):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.js(expression):
                return
            self.page.wait_for_timeout(50)
        raise AssertionError(f"timed out waiting for {what or expression}; errors: {self.errors}")

    def step(self):
        return self.js("window.__fitviz.step()")

    def panels(self):
        return self.js("window.__fitviz.panels()")

    def screenshot(self, name):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"))

    def pixel_patches(self, points, radius=1):
        """RGB patches ((2r+1)^2 pixels) of the canvas around CSS-pixel points."""
        return self.js(
            """([points, radius]) => {
                const canvas = document.querySelector('canvas.fv-canvas');
                const ctx = canvas.getContext('2d');
                const dpr = window.__fitviz.dpr();
                return points.map(([x, y]) => {
                  const px = Math.round(x * dpr), py = Math.round(y * dpr);
                  const size = 2 * radius + 1;
                  const data = ctx.getImageData(px - radius, py - radius, size, size).data;
                  const out = [];
                  for (let i = 0; i < data.length; i += 4) {
                    out.push([data[i], data[i + 1], data[i + 2]]);
                  }
                  return out;
                });
            }""",
            [points, radius],
        )

    def close(self):
        self.context.close()


@pytest.fixture
def open_page(browser, request):
    """Opens pages; at the end of the test, fails on any console error they logged."""
    pages = []

    def opener(url, **kwargs):
        page = FitVizPage(browser, url, **kwargs)
        pages.append(page)
        return page.open()

    yield opener
    errors = [error for page in pages for error in page.errors]
    for page in pages:
        page.close()
    assert not errors, "console errors:\n" + "\n".join(errors)


def data_to_pixels(panel, xs, ys):
    """Maps data points to CSS pixels through a panel's linear scales (as the page reports them)."""
    main = panel["main"]
    (x0, x1), (y0, y1) = main["xDomain"], main["yDomain"]
    px = main["x"] + (np.asarray(xs, dtype=float) - x0) / (x1 - x0) * main["w"]
    py = main["y"] + main["h"] - (np.asarray(ys, dtype=float) - y0) / (y1 - y0) * main["h"]
    return px, py


def colour_hits(patches, colour, tolerance=45):
    """For each patch: does any of its pixels have about `colour`?"""
    target = np.asarray(colour, dtype=float)
    return [
        any(np.linalg.norm(np.asarray(pixel, dtype=float) - target) <= tolerance for pixel in patch)
        for patch in patches
    ]


def curve_points(panel, xs, ys, every=10, margin=6):
    """CSS-pixel points of the curve (xs, ys) that lie well inside the panel's plot."""
    px, py = data_to_pixels(panel, xs, ys)
    main = panel["main"]
    chosen = []
    for i in range(0, len(px), every):
        if not (math.isfinite(px[i]) and math.isfinite(py[i])):
            continue
        if (main["x"] + margin < px[i] < main["x"] + main["w"] - margin
                and main["y"] + margin < py[i] < main["y"] + main["h"] - margin):
            chosen.append((float(px[i]), float(py[i]), i))
    return chosen


def curve_match_fraction(page, panel, xs, ys, colour, every=10):
    points = curve_points(panel, xs, ys, every)
    assert len(points) >= 10, f"too few curve points inside the plot: {len(points)}"
    hits = colour_hits(page.pixel_patches([(x, y) for x, y, _ in points]), colour)
    return sum(hits) / len(hits)


def decode_frames(body):
    """Python decoding of GET frames (independent of the page's JavaScript)."""
    from tb_fitviz.plugin.encoding import decode_frames as decode

    return decode(body)


def get_json(url, path):
    import urllib.request

    with urllib.request.urlopen(url + path, timeout=30) as response:
        return json.loads(response.read())


def wait_for(predicate, timeout=60, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def piecewise_sine(n=1500, seed=0):
    """The seed notebook's data: 0, then sin(x) on [pi, 3 pi), then 0, with noise."""
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 12, n).astype(np.float32)
    f = np.where((x >= np.pi) & (x < 3 * np.pi), np.sin(x), 0.0)
    y = (f + rng.normal(0, 0.25, n)).astype(np.float32)
    return x, y


def keras_run(log_dir, x, y, *, learning_rate, epochs, seed, units=24, keep_open=False):
    """A real Keras fit recorded by the real FitVizCallback; returns (model, callback)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    from tb_fitviz import FitVizCallback

    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input((1,)),
        keras.layers.Dense(units, activation="tanh"),
        keras.layers.Dense(units, activation="tanh"),
        keras.layers.Dense(1),
    ])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="mse")
    callback = FitVizCallback(
        log_dir, x, y, sample=300, scatter=600, validation_data=(x[::9], y[::9]),
        validation_sample=100, every=1, images=False, x_label="x", y_label="y",
    )
    model.fit(x, y, epochs=epochs, batch_size=100, verbose=0, callbacks=[callback],
              validation_data=(x[::9], y[::9]))
    if not keep_open:
        callback.close()
    return model, callback


def predict(model, xs):
    return np.asarray(model(np.asarray(xs, dtype=np.float32).reshape(-1, 1))).reshape(-1)
