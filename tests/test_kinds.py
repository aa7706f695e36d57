"""Every kind of run (issue: several features, several outputs, classifiers), over real Keras fits.

Each stored number is compared with a hand computation: grid coordinates and the
model's outputs on them, class probabilities (rows sum to 1), the true-class
probability, confusion counts, per-output errors, the sample's coverage. The
fits are made once per module and read back through TensorBoard's own loading
code (`reader_for_logdir`) and through the plugin's HTTP routes.
"""

import json
import os

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from kind_fits import half_moons  # noqa: E402

from tb_fitviz import FitVizCallback, FitVizWriter  # noqa: E402
from tb_fitviz import summary_format as fmt  # noqa: E402
from tb_fitviz.kind import RunKind  # noqa: E402
from tb_fitviz.plugin import reading  # noqa: E402
from tb_fitviz.plugin.encoding import decode_frames  # noqa: E402

EVERY = 4


def three_blobs(n, seed=1):
    """Three classes over four features (shares 50/30/20 %)."""
    rng = np.random.default_rng(seed)
    labels = rng.choice(3, size=n, p=[0.5, 0.3, 0.2])
    centres = np.array([[0, 0, 0, 0], [2, 1, 0, -1], [-1, 2, 1, 0]], dtype=np.float64)
    return (centres[labels] + rng.normal(0, 0.7, (n, 4))).astype("float32"), labels


@pytest.fixture(scope="module")
def fits(tmp_path_factory):
    """Real Keras fits of every kind into one log directory; {name: (model, callback)}."""
    root = tmp_path_factory.mktemp("kinds")
    keras.utils.set_random_seed(3)
    runs = {}

    # A binary classifier over two features, one sigmoid unit: a surface.
    x, labels = half_moons(600)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(16, activation="tanh"),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile(keras.optimizers.Adam(0.05), "binary_crossentropy")
    callback = FitVizCallback(str(root / "moons"), x, labels, sample=200, grid=20,
                              every=EVERY, images=False,
                              validation_data=half_moons(100, seed=9))
    model.fit(x, labels, epochs=2, batch_size=64, verbose=0, callbacks=[callback])
    runs["moons"] = (model, callback, x, labels)

    # Three classes over four features, softmax, a DataFrame and one-hot labels.
    pandas = pytest.importorskip("pandas")
    x, labels = three_blobs(500)
    frame = pandas.DataFrame(x, columns=["sepal", "petal", "stem", "leaf"])
    one_hot = np.eye(3, dtype="float32")[labels]
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(12, activation="relu"),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile(keras.optimizers.Adam(0.02), "categorical_crossentropy")
    callback = FitVizCallback(str(root / "blobs"), frame, one_hot, sample=100, every=EVERY,
                              class_names=["setosa", "versicolor", "virginica"], images=False)
    model.fit(frame, one_hot, epochs=2, batch_size=50, verbose=0, callbacks=[callback])
    runs["blobs"] = (model, callback, x, labels)

    # Logits: sparse labels, from_logits=True.
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    model.compile(keras.optimizers.Adam(0.02),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    callback = FitVizCallback(str(root / "logits"), x, labels, sample=60, every=EVERY,
                              images=False)
    model.fit(x, labels, epochs=1, batch_size=50, verbose=0, callbacks=[callback])
    runs["logits"] = (model, callback, x, labels)

    # A regression with three features and two named outputs (two heads).
    rng = np.random.default_rng(5)
    xr = rng.uniform(-1, 1, (400, 3)).astype("float32")
    y1 = (xr[:, 0] + 0.5 * xr[:, 1]).astype("float32")
    y2 = (np.sin(2 * xr[:, 2]) - xr[:, 0]).astype("float32")
    inputs = keras.Input((3,))
    hidden = keras.layers.Dense(16, activation="tanh")(inputs)
    model = keras.Model(inputs, [keras.layers.Dense(1, name="price")(hidden),
                                 keras.layers.Dense(1, name="demand")(hidden)])
    model.compile(keras.optimizers.Adam(0.02), ["mse", "mse"])
    callback = FitVizCallback(str(root / "heads"), xr, [y1, y2], sample=80, every=EVERY,
                              images=False)
    model.fit(xr, [y1, y2], epochs=2, batch_size=40, verbose=0, callbacks=[callback])
    runs["heads"] = (model, callback, xr, np.column_stack([y1, y2]))

    # A regression over two features: a surface of the predicted value.
    xs = rng.uniform(-2, 3, (300, 2)).astype("float32")
    ys = (xs[:, 0] * xs[:, 1]).astype("float32")
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(16, activation="tanh"),
                              keras.layers.Dense(1)])
    model.compile(keras.optimizers.Adam(0.02), "mse")
    callback = FitVizCallback(str(root / "plane"), xs, ys, sample=50, grid=8, every=EVERY,
                              images=False)
    model.fit(xs, ys, epochs=1, batch_size=30, verbose=0, callbacks=[callback])
    runs["plane"] = (model, callback, xs, ys)
    for _, callback, _, _ in runs.values():
        callback.close()
    return root, runs


@pytest.fixture(scope="module")
def reader(fits):
    return reading.reader_for_logdir(str(fits[0]))


def last_frame(reader, run, series="sample"):
    frames = reader.all_frames(run, series=series)
    return frames.steps[-1], frames.values[-1]


def predict(model, x):
    outputs = model(np.asarray(x, dtype="float32"), training=False)
    if isinstance(outputs, (list, tuple)):
        outputs = np.concatenate([np.asarray(o) for o in outputs], axis=1)
    return np.asarray(outputs, dtype=np.float64)


def test_runs_declare_their_kind(reader):
    runs = {r["run"]: r for r in reader.runs()}
    assert set(runs) == {"moons", "blobs", "logits", "heads", "plane"}
    assert all("error" not in r for r in runs.values())
    moons = runs["moons"]
    assert moons["task"] == "classification" and moons["input_width"] == 2
    assert moons["views"] == ["surface", "true_class", "loss_map"]
    assert moons["channels"] == {"sample": ["prob:1", "loss"], "grid": ["prob:1"]}
    assert moons["grid_size"] == 20
    assert moons["settings"]["class_names"] == ["0", "1"]
    assert moons["settings"]["view"]["band"] == "none"
    blobs = runs["blobs"]["settings"]
    assert blobs["feature_names"] == ["sepal", "petal", "stem", "leaf"]
    assert blobs["class_names"] == ["setosa", "versicolor", "virginica"]
    assert blobs["views"] == ["true_class", "loss_map"] and blobs["target_form"] == "one_hot"
    heads = runs["heads"]["settings"]
    assert heads["task"] == "regression" and heads["output_names"] == ["price", "demand"]
    assert heads["channels"]["sample"] == ["pred:0", "pred:1", "loss", "loss:0", "loss:1"]
    assert heads["views"] == ["pred_true", "loss_map"] and heads["view"]["band"] == "sqrt"
    plane = runs["plane"]["settings"]
    assert plane["views"] == ["surface", "pred_true", "loss_map"]
    assert plane["channels"]["grid"] == ["pred:0"]


def test_grid_coordinates_and_the_model_on_them(fits, reader):
    for name in ("moons", "plane"):
        model, callback, x, _ = fits[1][name]
        settings = reader.static(name)["settings"]
        grid = settings["grid"]
        size = grid["size"]
        # The data's range with 5% of it on each side, `size` points a side.
        for column, key in ((0, "x_range"), (1, "y_range")):
            lo, hi = float(x[:, column].min()), float(x[:, column].max())
            span = hi - lo
            assert grid[key] == pytest.approx([lo - 0.05 * span, hi + 0.05 * span], rel=1e-6)
        xs = np.linspace(*grid["x_range"], size)
        ys = np.linspace(*grid["y_range"], size)
        points = np.array([[xs[j], ys[i]] for i in range(size) for j in range(size)])
        np.testing.assert_allclose(callback.writer.x_grid, points, rtol=1e-12)
        step, values = last_frame(reader, name, "grid")
        assert values.shape == (1, size * size)
        np.testing.assert_allclose(values[0], predict(model, points)[:, 0], rtol=1e-4, atol=1e-5)
        # The grid series holds a frame at every step of the sample series.
        assert reader.all_frames(name, "grid").steps.tolist() == \
            reader.all_frames(name).steps.tolist()


def test_binary_probabilities_loss_true_class_and_confusion(fits, reader):
    model, callback, x, labels = fits[1]["moons"]
    static = reader.static("moons")
    sample_x, sample_labels = static["sample"][:2].T, static["sample"][2]
    step, values = last_frame(reader, "moons")
    p1 = predict(model, sample_x)[:, 0]
    np.testing.assert_allclose(values[0], p1, rtol=1e-4, atol=1e-6)
    clipped = np.clip(p1, 1e-7, 1 - 1e-7)
    hand_loss = -np.where(sample_labels == 1, np.log(clipped), np.log(1 - clipped))
    np.testing.assert_allclose(values[1], hand_loss, rtol=1e-3, atol=1e-5)
    kind = RunKind.from_settings(static["settings"])
    probabilities = kind.class_probabilities(values)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-6)
    true = kind.true_class_probability(values, sample_labels)
    np.testing.assert_allclose(true, np.where(sample_labels == 1, p1, 1 - p1), atol=1e-5)
    counts = kind.confusion(values, sample_labels)
    predicted = (p1 > 0.5).astype(int)
    hand = np.array([[np.sum((sample_labels == t) & (predicted == p)) for p in (0, 1)]
                     for t in (0, 1)])
    np.testing.assert_array_equal(counts, hand)
    assert counts.sum() == len(sample_labels)


def test_softmax_rows_sum_to_one_and_losses_are_the_models(fits, reader):
    model, callback, x, labels = fits[1]["blobs"]
    static = reader.static("blobs")
    sample_x, sample_labels = static["sample"][:4].T, static["sample"][4].astype(int)
    step, values = last_frame(reader, "blobs")
    assert values.shape == (4, 100)  # prob:0..2, loss
    probabilities = predict(model, sample_x)
    np.testing.assert_allclose(values[:3].T, probabilities, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(values[:3].sum(axis=0), 1.0, rtol=1e-5)
    true = np.clip(probabilities[np.arange(100), sample_labels], 1e-7, 1 - 1e-7)
    np.testing.assert_allclose(values[3], -np.log(true), rtol=1e-3, atol=1e-5)
    kind = RunKind.from_settings(static["settings"])
    counts = kind.confusion(values, sample_labels)
    predicted = np.argmax(probabilities, axis=1)
    for t in range(3):
        for p in range(3):
            assert counts[t, p] == np.sum((sample_labels == t) & (predicted == p))


def test_logits_are_recorded_as_probabilities(fits, reader):
    model, callback, x, labels = fits[1]["logits"]
    static = reader.static("logits")
    sample_x = static["sample"][:4].T
    _, values = last_frame(reader, "logits")
    logits = predict(model, sample_x)
    softmax = np.exp(logits - logits.max(axis=1, keepdims=True))
    softmax /= softmax.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(values[:3].T, softmax, rtol=1e-4, atol=1e-6)


def test_several_outputs_each_error_is_recoverable(fits, reader):
    model, callback, x, targets = fits[1]["heads"]
    static = reader.static("heads")
    sample_x, sample_y = static["sample"][:3].T, static["sample"][3:].T
    _, values = last_frame(reader, "heads")
    predictions = predict(model, sample_x)
    np.testing.assert_allclose(values[:2].T, predictions, rtol=1e-4, atol=1e-5)
    errors = (predictions - sample_y) ** 2
    np.testing.assert_allclose(values[3:5].T, errors, rtol=1e-3, atol=1e-6)
    np.testing.assert_allclose(values[2], errors.mean(axis=1), rtol=1e-3, atol=1e-6)


def test_samples_cover_the_data(fits, reader):
    # Stratified by class: each class gets its share of the sample (within one point).
    for name, size in (("moons", 200), ("blobs", 100)):
        _, _, x, labels = fits[1][name]
        sample_labels = reader.static(name)["sample"][-1].astype(int)
        assert len(sample_labels) == size
        for c in np.unique(labels):
            share = np.mean(labels == c) * size
            assert abs(np.sum(sample_labels == c) - share) <= 1, (name, c)
        # Grouped by class, in the data's order within a class.
        assert np.all(np.diff(sample_labels) >= 0)
    # Regression with several features: evenly over sorted y (the first output).
    _, _, x, targets = fits[1]["heads"]
    sample_y = reader.static("heads")["sample"][3]
    order = np.sort(targets[:, 0])
    expected = order[np.unique(np.round(np.linspace(0, len(order) - 1, 80)).astype(int))]
    np.testing.assert_allclose(sample_y, expected, rtol=1e-6)
    assert reader.static("heads")["settings"]["sample_order"] == "y"


def test_validation_points_carry_all_features(fits, reader):
    static = reader.static("moons")
    assert static["validation"].shape == (3, 100)
    assert static["scatter"].shape[0] == 3
    validation_loss = reader.scalars("moons")["validation_loss"][1]
    assert len(validation_loss) and np.all(np.isfinite(validation_loss))


def test_routes_serve_every_kind(fits):
    from test_plugin_routes import get, get_json, make_app

    client, _ = make_app(fits[0])
    config = get_json(client, "config")
    assert config["frame_info_fields"] == list(fmt.FRAME_INFO_FIELDS)
    assert config["defaults"]["view"]["band"]["cross_entropy"] == "none"
    runs = {r["run"]: r for r in get_json(client, "runs")}
    assert runs["moons"]["views"][0] == "surface"
    static = get_json(client, "static?run=moons")
    assert len(static["sample"]["features"]) == 2 and len(static["sample"]["targets"]) == 1
    assert set(static["sample"]) == {"features", "targets"}  # each list once
    status, headers, body = get(client, "frames?run=moons&series=grid&start=0&stop=1")
    assert status == 200
    steps, info, values = decode_frames(body)
    assert steps.tolist() == [0] and values.shape == (1, 1, 400)
    status, _, body = get(client, "frames?run=heads&series=grid")
    assert status == 404 and b"no grid" in body
    status, _, body = get(client, "frames?run=moons&series=weird")
    assert status == 400 and b"series" in body


def test_loss_map_is_the_max_or_mean_of_its_cells(fits, reader):
    frames = reader.all_frames("blobs")
    # The map reads the run's loss chunks: the frames' loss channel in float16.
    loss = frames.values[:, 3, :].astype(np.float16).astype(np.float64)
    count = len(frames)
    width, height = 7, 9
    for reduce, function in (("max", np.max), ("mean", np.mean)):
        cells = reader.loss_map("blobs", width, height, reduce)
        assert cells.values.shape == (width, 1, height)
        columns = np.floor(np.arange(width) * count / width).astype(int)
        rows = np.floor(np.arange(height) * 100 / height).astype(int)
        col_edges = list(columns) + [count]
        row_edges = list(rows) + [100]
        for i in range(width):
            for j in range(height):
                block = loss[col_edges[i]:col_edges[i + 1], row_edges[j]:row_edges[j + 1]]
                assert cells.values[i, 0, j] == pytest.approx(function(block), rel=1e-5)
        np.testing.assert_array_equal(cells.steps, frames.steps[columns])
    # Fewer frames than columns: one column per frame.
    small = reader.loss_map("blobs", 10_000, 3, "max")
    assert len(small) == count


def test_writer_takes_every_shape(tmp_path):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(300, 2))
    labels = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0).astype(int)  # 3 classes
    writer = FitVizWriter(str(tmp_path / "w"), x.tolist(), labels, grid=5, images=False)
    assert writer.kind.class_count == 3 and writer.x_grid.shape == (25, 2)
    probabilities = np.full((len(writer.x_sample), 3), 1 / 3)
    with pytest.raises(ValueError, match="y_pred_grid: required"):
        writer.record(0, probabilities)
    with pytest.raises(ValueError, match=r"y_pred: expected the 3 class probabilities"):
        writer.record(0, probabilities[:, :2], y_pred_grid=np.full((25, 3), 1 / 3))
    writer.record(0, probabilities, y_pred_grid=np.full((25, 3), 1 / 3))
    writer.close()
    assert writer.settings["loss"] == "cross_entropy"
    reader = reading.reader_for_logdir(str(tmp_path))
    _, values = last_frame(reader, "w")
    np.testing.assert_allclose(values[3], -np.log(1 / 3), rtol=1e-6)
    # Two classes as two columns keep P(class 1) only.
    w2 = FitVizWriter(str(tmp_path / "w2"), x, labels > 0, images=False, grid=None)
    assert w2.kind.binary and w2.kind.grid is None
    both = np.column_stack([np.full(len(w2.x_sample), 0.25), np.full(len(w2.x_sample), 0.75)])
    w2.record(0, both)
    w2.close()
    _, values = last_frame(reading.reader_for_logdir(str(tmp_path)), "w2")
    np.testing.assert_allclose(values[0], 0.75)


class count_reads(list):  # noqa: N801 - used like a function
    """(tag, points) of every tensor read through `reader`'s data provider from now on."""

    def __init__(self, reader):
        super().__init__()
        self._provider = reader._provider
        self._original = original = self._provider.read_tensors

        def counting(ctx, **kwargs):
            result = original(ctx, **kwargs)
            for tags in result.values():
                self.extend((tag, len(points)) for tag, points in tags.items())
            return result

        self._provider.read_tensors = counting

    def stop(self):
        self._provider.read_tensors = self._original


def test_frame_index_is_read_in_chunks(tmp_path):
    """A 300-frame run lists with three frame_index chunks, not 300 frame_info tensors."""
    x = np.linspace(0, 1, 50)
    with FitVizWriter(str(tmp_path / "long"), x, 2 * x, sample=20, images=False) as writer:
        for step in range(300):
            writer.record(step, writer.x_sample * step / 300)
    reader = reading.reader_for_logdir(str(tmp_path))
    read_points = count_reads(reader)
    runs = reader.runs()
    assert runs[0]["frame_count"] == 300 and runs[0]["steps"] == list(range(300))
    info_points = sum(n for tag, n in read_points if tag.startswith(fmt.TAG_FRAME_INFO))
    chunk_points = sum(n for tag, n in read_points if tag == fmt.TAG_FRAME_INDEX)
    assert info_points == 0 and chunk_points == 3


def test_an_unfinished_block_is_read_from_its_frames(tmp_path):
    """Before close (or after a kill) the newest block has no chunk yet: its per-frame
    frame_info tensors are read, the completed blocks come from their chunks."""
    x = np.linspace(0, 1, 50)
    writer = FitVizWriter(str(tmp_path / "open"), x, 2 * x, sample=20, images=False)
    for step in range(140):
        writer.record(step, writer.x_sample * step / 140, epoch=step // 70)
    writer.flush()
    runs = reading.reader_for_logdir(str(tmp_path)).runs()
    assert runs[0]["steps"] == list(range(140))
    assert runs[0]["frame_epochs"] == [s // 70 for s in range(140)]
    writer.close()


def test_loss_map_reads_one_chunk_per_block_and_the_open_block_from_its_frames(tmp_path):
    """300 frames: two completed blocks come from two loss chunks, the open third block
    (no chunk before close) from its 44 frames; the map equals the frames' own losses
    (float16 in the chunks), NaN and losses too big for float16 included."""
    x = np.linspace(0, 1, 50)
    writer = FitVizWriter(str(tmp_path / "open"), x, 2 * x, sample=20, images=False)
    rng = np.random.default_rng(0)
    for step in range(300):
        prediction = writer.x_sample * step / 300 + rng.normal(0, 0.1, 20)
        if step == 10:
            prediction[3] = np.nan
        if step == 20:
            prediction[4] = 1e4  # squared error 1e8: above float16's range
        writer.record(step, prediction)
    writer.flush()
    reader = reading.reader_for_logdir(str(tmp_path))
    read_points = count_reads(reader)
    cells = reader.loss_map("open", 300, 20, "max")
    frame_points = sum(n for tag, n in read_points if fmt.is_frame_tag(tag))
    chunk_points = sum(n for tag, n in read_points if tag == fmt.TAG_LOSS_CHUNK)
    assert chunk_points == 2 and frame_points == 300 - 256
    read_points.stop()
    loss = reader.all_frames("open").values[:, 1, :].astype(np.float64)
    expected = loss.copy()
    expected[:256] = np.minimum(loss[:256], fmt.LOSS_CHUNK_MAX).astype(np.float16)
    got = cells.values[:, 0, :]
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_allclose(got[~np.isnan(got)], expected[~np.isnan(expected)], rtol=1e-6)
    assert got[10, 3] != got[10, 3] and got[20, 4] == fmt.LOSS_CHUNK_MAX
    writer.close()
    # After close the third block has its chunk too: the map reads no frame at all.
    reader = reading.reader_for_logdir(str(tmp_path))
    read_points = count_reads(reader)
    again = reader.loss_map("open", 300, 20, "max")
    assert sum(n for tag, n in read_points if fmt.is_frame_tag(tag)) == 0
    third = slice(256, 300)
    np.testing.assert_allclose(again.values[third, 0], loss[third].astype(np.float16),
                               rtol=1e-6)


def test_loss_chunk_float16_is_numpys_cast_bit_for_bit():
    """The loss chunk's own float32 -> float16 conversion (NumPy's cast is ~40x slower a
    value in float16's subnormal range) gives NumPy's bits: a spread of every float32
    below 2**-14 (where float16 is subnormal), both signs, the edges, and normal values."""
    from tb_fitviz.summaries import to_float16

    edge = 0x38800000  # 2**-14 as float32 bits
    patterns = np.concatenate([np.arange(0, edge + 1, 997, dtype=np.uint32),
                               np.arange(edge - 5000, edge + 5000, dtype=np.uint32),
                               np.arange(0, 5000, dtype=np.uint32)])
    small = patterns.view(np.float32)
    special = np.array([np.nan, np.inf, -np.inf, fmt.LOSS_CHUNK_MAX, 1e-3, 0.5, 3.0],
                       np.float32)
    values = np.concatenate([small, -small, special, np.random.default_rng(0).random(1000,
                                                                                  np.float32) ** 8])
    got = to_float16(values, np.empty(len(values), np.float16))
    np.testing.assert_array_equal(got.view(np.uint16), values.astype(np.float16).view(np.uint16))
    # Rounding ties to even: 1.5 and 2.5 quanta of 2**-24.
    assert to_float16(np.float32([1.5 * 2 ** -24, 2.5 * 2 ** -24]), np.empty(2, np.float16)
                      ).view(np.uint16).tolist() == [2, 2]


def write_version_1_run(root, name="legacy"):
    """A run as tb_fitviz 0.1 wrote it: schema 1, [2, N] points, one frame_info tag."""
    from tensorboard.compat.proto import event_pb2, summary_pb2

    from tb_fitviz.event_file import EventFile

    os.makedirs(os.path.join(root, name))
    events = EventFile(os.path.join(root, name))
    x = np.linspace(0, 1, 30)
    y = 2 * x
    settings = {"loss": "absolute", "schedule": "every 1", "sample_size": 30,
                "scatter_size": 30, "validation_size": 0, "x_label": "size", "y_label": "price",
                "title": None, "framework": "numpy"}
    content = json.dumps({"version": 1, **settings}).encode()

    def metadata():
        meta = fmt.plugin_metadata()
        meta.plugin_data.content = content
        return meta

    def value(tag, array, meta=True):
        return summary_pb2.Summary.Value(tag=tag, metadata=metadata() if meta else None,
                                         tensor=fmt.array_tensor(array))

    points = np.stack([x, y]).astype(np.float32)
    events.write(event_pb2.Event(step=0, wall_time=1.0, summary=summary_pb2.Summary(
        value=[value(fmt.TAG_SAMPLE, points), value(fmt.TAG_SCATTER, points)])))
    for step in range(5):
        prediction = x * step / 2
        frame = np.stack([prediction, np.abs(prediction - y)]).astype(np.float32)
        info = np.array([0, np.mean(np.abs(prediction - y)), np.nan, np.nan])
        scalar = summary_pb2.Summary.Value(tag=fmt.SCALAR_SAMPLE_LOSS,
                                           metadata=fmt.scalar_metadata(),
                                           tensor=fmt.scalar_tensor(info[1]))
        events.write(event_pb2.Event(step=step, wall_time=2.0 + step, summary=summary_pb2.Summary(
            value=[value(fmt.frame_block_tag(0), frame, step == 0),
                   value(fmt.TAG_FRAME_INFO, info, step == 0), scalar])))
    events.close()
    return x, y


def test_version_1_runs_stay_readable(tmp_path):
    x, y = write_version_1_run(str(tmp_path))
    reader = reading.reader_for_logdir(str(tmp_path))
    run = reader.runs()[0]
    assert run["steps"] == [0, 1, 2, 3, 4] and "error" not in run
    assert run["task"] == "regression" and run["views"] == ["curve", "pred_true", "loss_map"]
    settings = run["settings"]
    assert settings["version"] == 1 and settings["feature_names"] == ["size"]
    assert settings["output_names"] == ["price"] and settings["channels"]["sample"] == \
        ["pred:0", "loss"]
    # The band follows the recorded loss: absolute errors are drawn as they are.
    assert settings["view"]["band"] == "raw"
    frames = reader.all_frames("legacy")
    np.testing.assert_allclose(frames.values[3, 0], x * 1.5, rtol=1e-6)
    assert len(reader.loss_map("legacy", 2, 2)) == 2


def test_two_features_without_a_grid_have_no_surface_view(tmp_path):
    x, labels = half_moons(200)
    with FitVizWriter(str(tmp_path / "nogrid"), x, labels, grid=None, images=False) as writer:
        assert writer.x_grid is None
        writer.record(1, np.full(len(writer.x_sample), 0.5))
    (run,) = reading.reader_for_logdir(str(tmp_path)).runs()
    assert run["views"] == ["true_class", "loss_map"] and not run["grid_size"]
