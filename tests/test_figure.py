"""The Images-tab figure: drawn off-screen, artists reused, readable through the images plugin."""

import io
import json
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("matplotlib")
from matplotlib.colors import to_rgb  # noqa: E402
from PIL import Image  # noqa: E402

from tb_fitviz import FitVizWriter  # noqa: E402
from tb_fitviz.figure import CURVE_COLOR, FitFigure  # noqa: E402
from tb_fitviz.smoothing import moving_average  # noqa: E402

STEELBLUE = np.array([round(255 * c) for c in to_rgb(CURVE_COLOR)])


def line_data(n=400):
    x = np.linspace(0, 10, n)
    y = np.sin(x)
    return x, y


def colour_pixels(rgb, colour, tolerance=6):
    return int(np.sum(np.all(np.abs(rgb.astype(int) - colour) <= tolerance, axis=-1)))


def test_moving_average_is_exact_at_the_edges_and_nan_safe():
    np.testing.assert_allclose(moving_average([1.0, 2.0, 3.0, 4.0], 3), [1.5, 2, 3, 3.5])
    np.testing.assert_allclose(moving_average(np.full(7, 2.5), 5), np.full(7, 2.5))
    # Shorter than the window: each value is the mean of what exists around it.
    np.testing.assert_allclose(moving_average([0.0, 3.0], 9), [1.5, 1.5])
    values = np.array([1.0, np.nan, 1.0, 1.0, 1.0, 1.0, np.inf, 1.0])
    result = moving_average(values, 3)
    assert np.isnan(result[:3]).all()
    np.testing.assert_allclose(result[3:5], [1.0, 1.0])
    assert (result[5:] == np.inf).all()
    np.testing.assert_array_equal(moving_average(values, 1)[2:6], values[2:6])
    with pytest.raises(ValueError, match="window"):
        moving_average(values, 2)


def test_draw_updates_the_same_artists_and_shows_the_curve():
    x, y = line_data()
    figure = FitFigure(x, y, x, y, x[::5], y[::5] + 0.1, x_label="x", y_label="sin x",
                       title="a sine", smoothing=5)

    def artist_count():
        return sum(len(a.get_children()) for a in figure.figure.axes)

    blank = figure.rgb()
    assert blank.shape == (540, 960, 3) and blank.dtype == np.uint8
    before = artist_count()
    history = ([0, 5, 10], [0.5, 0.3, 0.1])
    for step in (5, 10, 15):
        prediction = np.sin(x) * step / 15
        figure.draw(step, prediction, (prediction - y) ** 2, epoch=step // 10,
                    sample_loss=history, batch_loss=history, epoch_ends=[10])
        assert artist_count() == before  # no new artists per frame
    drawn = figure.rgb()
    # The fitted curve (steelblue) appears; before the first draw it did not.
    assert colour_pixels(drawn, STEELBLUE) > 500
    assert colour_pixels(drawn, STEELBLUE) > 20 * max(colour_pixels(blank, STEELBLUE), 1)
    png = figure.png()
    assert png.startswith(b"\x89PNG")
    decoded = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    np.testing.assert_array_equal(decoded, drawn)


def test_nan_predictions_and_no_band_do_not_break_the_figure():
    x, y = line_data(100)
    for band in ("sqrt", "raw", None):
        figure = FitFigure(x, y, x, y, band=band)
        prediction = np.sin(x)
        prediction[10:30] = np.nan
        prediction[50] = np.inf
        loss = (prediction - y) ** 2
        figure.draw(1, prediction, loss, sample_loss=([1], [np.nan]), batch_loss=([1], [np.inf]))
        assert figure.rgb().shape == (540, 960, 3)
        figure.draw(2, np.full(100, np.nan), np.full(100, np.nan))
        assert figure.png().startswith(b"\x89PNG")


def test_figure_never_touches_pyplot_or_the_backend():
    script = (
        "import matplotlib, sys\n"
        "matplotlib.use('svg')\n"
        "import numpy as np\n"
        "from tb_fitviz.figure import FitFigure\n"
        "x = np.linspace(0, 1, 50)\n"
        "f = FitFigure(x, x, x, x)\n"
        "f.draw(1, x, x * 0)\n"
        "f.png()\n"
        "print(matplotlib.get_backend(), 'matplotlib.pyplot' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["svg", "False"]


def test_figure_reads_back_through_the_images_plugin(tmp_path):
    from tensorboard.backend import application
    from tensorboard.backend.event_processing import data_provider as provider_module
    from tensorboard.backend.event_processing import plugin_event_multiplexer, tag_types
    from tensorboard.plugins import base_plugin
    from tensorboard.plugins.image import images_plugin
    from werkzeug import test as werkzeug_test

    x, y = line_data(300)
    with FitVizWriter(str(tmp_path / "sine"), x, y, images="epoch") as writer:
        for step in range(0, 21):
            writer.record(step, np.sin(x) * step / 20, epoch=step // 10)
            if step in (10, 20):
                writer.record_epoch(step, step // 10 - 1, loss=0.1)

    multiplexer = plugin_event_multiplexer.EventMultiplexer(
        size_guidance={tag_types.TENSORS: 0})
    multiplexer.AddRunsFromDirectory(str(tmp_path))
    multiplexer.Reload()
    data_provider = provider_module.MultiplexerDataProvider(multiplexer, str(tmp_path))
    context = base_plugin.TBContext(logdir=str(tmp_path), data_provider=data_provider,
                                    sampling_hints={})
    app = application.TensorBoardWSGI([images_plugin.ImagesPlugin(context)],
                                      data_provider=data_provider)
    client = werkzeug_test.Client(app)

    tags = json.loads(client.get("/data/plugin/images/tags").get_data())
    assert "fitviz/figure" in tags["sine"]
    listing = json.loads(client.get(
        "/data/plugin/images/images?run=sine&tag=fitviz/figure").get_data())
    assert [entry["step"] for entry in listing] == [10, 20]
    response = client.get("/data/plugin/images/individualImage?" + listing[-1]["query"])
    assert response.status_code == 200
    image = np.asarray(Image.open(io.BytesIO(response.get_data())).convert("RGB"))
    assert image.shape == (540, 960, 3)
    assert colour_pixels(image, STEELBLUE) > 500
