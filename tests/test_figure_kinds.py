"""The figure of every kind of run, over real Keras fits: pixels a user sees at known points.

Each figure is drawn from what TensorBoard reads back (the run's settings, its stored
points, its last frame) and checked where the stored numbers say something must be:
a surface pixel at a grid point has the colour the tab's scale gives the stored output
there (computed here from the theme's stops, not by the figure's code), a curve passes
through a stored prediction, a predicted-vs-true point sits at (true, predicted), a
true-class point at its class and probability, a confusion cell is shaded by its share.
"""

import io

import numpy as np
import pytest

pytest.importorskip("matplotlib")
pytest.importorskip("keras")

from tb_fitviz import defaults  # noqa: E402
from tb_fitviz.figure import RunFigure, choose_view, figure_for_run, jitter  # noqa: E402
from tb_fitviz.kind import RunKind  # noqa: E402
from tb_fitviz.plugin.reading import reader_for_logdir  # noqa: E402

LIGHT = defaults.theme("light")
DARK = defaults.theme("dark")


def rgb_of(text):
    text = text.lstrip("#")
    return np.array([int(text[i:i + 2], 16) for i in (0, 2, 4)], dtype=np.float64)


def scale_colour(stops, t):
    """The colour a ramp through evenly spaced `stops` gives t in [0, 1] (the tab's scale)."""
    colours = np.array([rgb_of(s) for s in stops])
    positions = np.linspace(0, 1, len(colours))
    return np.array([np.interp(np.clip(t, 0, 1), positions, colours[:, k]) for k in range(3)])


@pytest.fixture(scope="module")
def reader(kind_fits):
    return reader_for_logdir(str(kind_fits[0]))


def drawn(reader, run, view=None, theme="light", size=(960, 540)):
    """(figure, kind, static, last sample frame [C, N], last grid frame or None), drawn."""
    static = reader.static(run)
    settings = static["settings"]
    kind = RunKind.from_settings(settings)
    frames = reader.all_frames(run)
    grid = None
    if settings.get("grid"):
        grids = reader.all_frames(run, series="grid")
        assert list(grids.steps) == list(frames.steps)
        grid = grids.values[-1].astype(np.float64)
    values = frames.values[-1].astype(np.float64)
    figure = figure_for_run(settings, static, view=view, title=run, theme=theme, size=size)
    figure.draw(int(frames.steps[-1]), values, grid, epoch=1,
                sample_loss=(frames.steps, frames.info[:, 1]), batch_loss=None)
    return figure, kind, static, values, grid


def patch(image, row, column, reach=2):
    return image[max(row - reach, 0):row + reach + 1, max(column - reach, 0):column + reach + 1]


def near(pixels, colour, tolerance):
    """Whether any pixel is within `tolerance` (sum of channel differences) of `colour`."""
    return bool((np.abs(pixels.astype(np.float64) - colour).sum(axis=-1) <= tolerance).any())


def clear_grid_points(figure, kind, static, margin=9):
    """Grid indices (i row, j column) whose pixel is at least `margin` pixels from every
    sample point and from the axes' edges: there the surface shows uncovered."""
    axes = figure.view.main_axes
    figure.rgb()
    xs, ys = kind.grid.axes()
    sample = static["sample"]
    points = axes.transData.transform(np.column_stack([sample[0], sample[1]]))
    box = axes.get_window_extent()
    chosen = []
    for i in range(1, len(ys) - 1):
        for j in range(1, len(xs) - 1):
            px, py = axes.transData.transform((xs[j], ys[i]))
            if not (box.x0 + margin < px < box.x1 - margin and box.y0 + margin < py < box.y1
                    - margin):
                continue
            if np.min(np.hypot(points[:, 0] - px, points[:, 1] - py)) > margin:
                chosen.append((i, j))
    return chosen


def surface_checks(figure, kind, static, grid, expected_colour, tolerance=6):
    image = figure.rgb()
    xs, ys = kind.grid.axes()
    chosen = clear_grid_points(figure, kind, static)
    assert len(chosen) >= 10
    size = kind.grid.size
    for i, j in chosen[:: max(1, len(chosen) // 40)]:
        row, column = figure.pixel(figure.view.main_axes, xs[j], ys[i])
        expected = expected_colour(grid[:, i * size + j])
        got = image[row, column].astype(np.float64)
        assert np.abs(got - expected).max() <= tolerance, (i, j, got, expected)


def test_binary_surface_shows_p_class_1_on_the_diverging_scale(reader):
    figure, kind, static, values, grid = drawn(reader, "moons")
    assert figure.view_name == "surface" and kind.binary
    surface_checks(figure, kind, static, grid,
                   lambda p: scale_colour(LIGHT["diverging"], p[0]))
    # The model has learnt the moons: both ends of the scale are on the picture, and the
    # colour bar is labelled with the class whose probability it shows.
    image = figure.rgb()
    for colour in (LIGHT["diverging"][0], LIGHT["diverging"][2]):
        assert near(image, rgb_of(colour), 30)
    labels = [t.get_text() for t in figure.figure.findobj(lambda a: hasattr(a, "get_text"))]
    assert f"P({kind.class_names[1]})" in labels


@pytest.mark.parametrize("run", ["moons", "blobs2"])
def test_surface_shows_the_sample_points_in_their_class_colours(reader, run):
    """Over the surface, each sample point is a dot of its class's colour (the same as the
    tab's): at the centre of every point no other point covers, that colour."""
    figure, kind, static, values, grid = drawn(reader, run)
    image = figure.rgb()
    axes = figure.view.main_axes
    sample = static["sample"]
    points = axes.transData.transform(np.column_stack([sample[0], sample[1]]))
    box = axes.get_window_extent()
    checked = 0
    for index, (px, py) in enumerate(points):
        others = np.delete(points, index, axis=0)
        if np.min(np.hypot(others[:, 0] - px, others[:, 1] - py)) < 9 or not (
                box.x0 + 6 < px < box.x1 - 6 and box.y0 + 6 < py < box.y1 - 6):
            continue
        row, column = figure.pixel(axes, sample[0][index], sample[1][index])
        colour = rgb_of(LIGHT["classes"][int(sample[2][index])])
        assert near(patch(image, row, column, reach=1), colour, 12), (index, colour)
        checked += 1
    assert checked >= 5


def test_three_class_surface_shows_decision_regions_by_winning_probability(reader):
    figure, kind, static, values, grid = drawn(reader, "blobs2")
    assert kind.class_count == 3
    base = rgb_of(LIGHT["region_base"])

    def region(probabilities):
        best = int(np.argmax(probabilities))
        share = (probabilities[best] - 1 / 3) / (1 - 1 / 3)
        return base + (rgb_of(LIGHT["classes"][best]) - base) * share

    surface_checks(figure, kind, static, grid, region)
    # Wrongly classified sample points are ringed in the theme's "wrong" colour.
    probabilities = kind.class_probabilities(values)
    labels = static["sample"][2].astype(int)
    wrong = np.flatnonzero(np.argmax(probabilities, axis=1) != labels)
    assert len(figure.view.wrong.get_offsets()) == len(wrong)


def test_regression_surface_uses_the_sequential_scale_over_the_targets(reader):
    figure, kind, static, values, grid = drawn(reader, "plane")
    targets = np.concatenate([static["sample"][2], static["scatter"][2]])
    lo, hi = float(targets.min()), float(targets.max())
    surface_checks(figure, kind, static, grid,
                   lambda v: scale_colour(LIGHT["sequential"], (v[0] - lo) / (hi - lo)))


def test_curves_of_two_outputs_pass_through_the_stored_predictions(reader):
    figure, kind, static, values, _ = drawn(reader, "waves")
    assert figure.view_name == "curve" and len(figure.view.axes) == 2
    image = figure.rgb()
    curve = rgb_of(LIGHT["curve"])
    x = static["sample"][0]
    for j, axes in enumerate(figure.view.axes):
        assert axes.get_ylabel() == kind.output_names[j]
        for i in np.linspace(10, len(x) - 10, 8).astype(int):
            row, column = figure.pixel(axes, x[i], values[j, i])
            assert near(patch(image, row, column, 1), curve, 30), (j, i)
    # The two panels share x: a point of x is at the same column in both.
    columns = [figure.pixel(axes, x[50], 0)[1] for axes in figure.view.axes]
    assert columns[0] == columns[1]


def test_one_feature_classifier_draws_each_class_probability_in_its_colour(reader):
    figure, kind, static, values, _ = drawn(reader, "bands")
    image = figure.rgb()
    axes = figure.view.main_axes
    probabilities = kind.class_probabilities(values)
    x = static["sample"][0]
    for c in range(3):
        colour = rgb_of(LIGHT["classes"][c])
        hits = 0
        for i in np.linspace(5, len(x) - 5, 12).astype(int):
            row, column = figure.pixel(axes, x[i], probabilities[i, c])
            hits += near(patch(image, row, column, 1), colour, 30)
        assert hits >= 10, c  # (where two curves cross, the later one is on top)
    # The data are drawn in a row per class above P = 1.
    row, _ = figure.pixel(axes, 0, 1.0)
    assert near(image[:row - 2], rgb_of(LIGHT["classes"][2]), 60)


def test_predicted_against_true_points_sit_at_true_and_predicted(reader):
    figure, kind, static, values, _ = drawn(reader, "heads")
    assert figure.view_name == "pred_true"
    image = figure.rgb()
    blend = 0.7 * rgb_of(LIGHT["curve"]) + 0.3 * rgb_of(LIGHT["panel"])
    for j, axes in enumerate(figure.view.axes):
        assert axes.get_xlabel() == f"true {kind.output_names[j]}"
        true = static["sample"][3 + j]
        for i in range(0, len(true), 12):
            row, column = figure.pixel(axes, true[i], values[j, i])
            pixels = patch(image, row, column, 1)
            # One point (alpha 0.7 over the panel) or several on top of each other.
            assert near(pixels, blend, 40) or near(pixels, rgb_of(LIGHT["curve"]), 40), (j, i)


def test_true_class_points_and_confusion_cells(reader):
    figure, kind, static, values, _ = drawn(reader, "blobs4")
    assert figure.view_name == "true_class"
    image = figure.rgb()
    labels = static["sample"][4].astype(int)
    probability = kind.true_class_probability(values, labels)
    strip = figure.view.strip_axes
    for i in range(0, len(labels), 10):
        colour = 0.75 * rgb_of(LIGHT["classes"][labels[i]]) + 0.25 * rgb_of(LIGHT["panel"])
        row, column = figure.pixel(strip, labels[i] + 0.7 * jitter(i), probability[i])
        assert near(patch(image, row, column, 1), colour, 70), i
    counts = kind.confusion(values, labels)
    texts = [t.get_text() for t in figure.view.texts]
    assert texts == [str(int(n)) for n in counts.reshape(-1)]
    matrix = figure.view.matrix_axes
    base, ink = rgb_of(LIGHT["background"]), rgb_of(LIGHT["curve"])
    for t in range(3):
        for p in range(3):
            share = counts[t, p] / counts[t].sum()
            # A corner of the cell, away from its count.
            row, column = figure.pixel(matrix, p - 0.35, t - 0.35)
            assert np.abs(image[row, column] - (base + (ink - base) * share)).max() <= 2


def test_dark_theme_and_other_views(reader):
    figure, kind, static, values, grid = drawn(reader, "moons", theme="dark")
    image = figure.rgb()
    assert tuple(image[2, 2]) == tuple(rgb_of(DARK["background"]).astype(int))
    surface_checks(figure, kind, static, grid, lambda p: scale_colour(DARK["diverging"], p[0]))
    # The step is written in the theme's text colour, readable on its background.
    assert near(image[:60, :300], rgb_of(DARK["text"]), 20)
    for run, view in (("moons", "true_class"), ("plane", "pred_true"), ("waves", "pred_true"),
                      ("bands", "true_class")):
        other, *_ = drawn(reader, run, view=view, size=(640, 360))
        assert other.view_name == view and other.rgb().shape == (360, 640, 3)


CLASS_NAMES = {
    "iris": ["setosa", "versicolor", "virginica"],
    "two words": ["Iris setosa", "Iris versicolor", "Iris virginica"],
    "ten": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
            "truck"],
}


@pytest.mark.parametrize("size", [(960, 540), (640, 360)])
@pytest.mark.parametrize("which", sorted(CLASS_NAMES))
def test_long_class_names_are_all_shown_apart(tmp_path, size, which):
    """Class names too long for their columns neither run together nor leave the figure,
    under the strip and above the confusion matrix: every other one a line further out,
    shortened with an ellipsis when even that is not enough."""
    from tb_fitviz import FitVizWriter

    names = CLASS_NAMES[which]
    k = len(names)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(150, 4))
    labels = np.arange(150) % k
    with FitVizWriter(str(tmp_path / "iris"), x, labels, class_names=names,
                      images=False) as writer:
        writer.record(1, np.eye(k)[(labels + (np.arange(150) % 7 == 0)) % k] * 0.8 + 0.2 / k)
    run_reader = reader_for_logdir(str(tmp_path))
    figure, kind, static, values, grid = drawn(run_reader, "iris", size=size)
    assert figure.view_name == "true_class"
    figure.rgb()
    renderer = figure.canvas.get_renderer()
    whole = figure.figure.bbox
    for axes in (figure.view.strip_axes, figure.view.matrix_axes):
        ticks = [t for t in axes.xaxis.get_ticklabels() if t.get_text().strip()]
        shown = [t.get_text().strip().replace("\n", " ") for t in ticks]
        assert len(shown) == k
        for text, name in zip(shown, names):
            assert text == name or (text.endswith("…") and name.startswith(text[:-1])), text
        boxes = [t.get_window_extent(renderer) for t in ticks]
        rows = [t.get_text() != t.get_text().strip() for t in ticks]  # a line further out
        for c in range(len(ticks) - 1):
            # Side by side on one row: apart; on two rows: each box holds its blank line.
            if rows[c] == rows[c + 1]:
                assert boxes[c].x1 < boxes[c + 1].x0, (size, boxes[c], boxes[c + 1])
        for box in boxes:
            assert whole.x0 <= box.x0 and box.x1 <= whole.x1 and whole.y0 <= box.y0 \
                and box.y1 <= whole.y1, (size, box)


def test_views_are_chosen_with_clear_errors(reader):
    kind = RunKind.from_settings(reader.static("heads")["settings"])
    assert choose_view(kind) == "pred_true"
    with pytest.raises(ValueError, match=r"no view 'surface'; its views: pred_true, loss_map"):
        choose_view(kind, "surface")
    static = reader.static("heads")
    with pytest.raises(ValueError, match="loss map"):
        RunFigure(static["settings"], static, view="loss_map")


def test_images_tab_shows_the_surface_of_a_real_fit(kind_fits):
    """The moons fit wrote figures (images="epoch"): read them from its event file."""
    from PIL import Image
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    figures, plugins = [], set()
    for path in sorted((kind_fits[0] / "moons").glob("events.out.tfevents.*")):
        for event in EventFileLoader(str(path)).Load():
            for value in event.summary.value:
                if value.tag == "fitviz/figure":
                    # (the metadata goes with a tag's first value only)
                    plugins.add(value.metadata.plugin_data.plugin_name)
                    figures.append((event.step, value.tensor.string_val))
    assert "images" in plugins  # what TensorBoard's Images tab shows
    assert len(figures) >= 3  # one per epoch (3 epochs)
    step, (width, height, png) = figures[-1]
    assert step == 30  # the last frame's figure
    assert (int(width), int(height)) == (960, 540)
    picture = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    assert picture.shape == (540, 960, 3)
    # The surface's two ends of the diverging scale fill much of the picture.
    for colour in (LIGHT["diverging"][0], LIGHT["diverging"][2]):
        close = np.abs(picture.astype(np.float64) - rgb_of(colour)).sum(axis=-1) <= 40
        assert close.sum() > 5000, colour


def test_a_diverging_surface_shows_the_background_where_the_model_gave_nan(reader):
    figure, kind, static, values, grid = drawn(reader, "moons")
    broken = grid.copy()
    size = kind.grid.size
    broken[0].reshape(size, size)[:, : size // 2] = np.nan  # feature 1's lower half
    figure.draw(31, values, broken, epoch=1)
    image = figure.rgb()
    xs, ys = kind.grid.axes()
    chosen = clear_grid_points(figure, kind, static)
    left = [(i, j) for i, j in chosen if j < size // 2 - 1]
    right = [(i, j) for i, j in chosen if j > size // 2 + 1]
    assert left and right
    for i, j in left:
        row, column = figure.pixel(figure.view.main_axes, xs[j], ys[i])
        assert tuple(image[row, column]) == tuple(rgb_of(LIGHT["panel"]).astype(int))
    for i, j in right[:10]:
        row, column = figure.pixel(figure.view.main_axes, xs[j], ys[i])
        expected = scale_colour(LIGHT["diverging"], broken[0, i * size + j])
        assert np.abs(image[row, column] - expected).max() <= 6
