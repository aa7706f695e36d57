"""The kind of a run: the one declaration that writer, plugin, tab, figure and export follow.

A run's kind says what was fitted (a regression or a classification), with how
many features, outputs or classes and their names, which views can draw it,
the grid of its surface, and the channels of each frame series. It is stored
in the run's settings (`to_settings`) and read back from them (`from_settings`,
which also reads version-1 runs: one feature, one output, regression).

Views, by the run's input width d:

| view         | d        | what it draws                                              |
|--------------|----------|------------------------------------------------------------|
| `curve`      | 1        | the prediction of each output (or the probability of each   |
|              |          | class) over x, with the data                               |
| `surface`    | 2        | the model's output on a regular grid over both features    |
| `pred_true`  | any      | regression: predicted against true y, per output            |
| `true_class` | any      | classification: the probability given to the true class    |
|              |          | per point, by class, and the confusion matrix              |
| `loss_map`   | any      | the per-point loss over (sample point, step), whole run     |

The first view is the run's main view.

Standard library only (numpy where arrays are built): the plugin imports this.
"""

import functools
from dataclasses import dataclass, field

REGRESSION = "regression"
CLASSIFICATION = "classification"
TASKS = (REGRESSION, CLASSIFICATION)

VIEWS = ("curve", "surface", "pred_true", "true_class", "loss_map")

# Settings keys that belong to the kind.
KIND_KEYS = ("task", "input_width", "feature_names", "output_names", "class_names", "views",
             "sample_order", "grid", "channels")

# How the sample is ordered (and so the rows of the loss map): by x (one feature),
# by the first output's y (regression with several features), by class (classification).
SAMPLE_ORDERS = ("x", "y", "class")


@dataclass(frozen=True)
class Grid:
    """A G x G grid over two features: `x_range` is feature 1's, `y_range` feature 2's."""

    size: int
    x_range: tuple
    y_range: tuple
    features: tuple = (0, 1)

    def axes(self):
        """(values of feature 1 along columns, values of feature 2 along rows), ascending."""
        import numpy as np

        return (np.linspace(self.x_range[0], self.x_range[1], self.size),
                np.linspace(self.y_range[0], self.y_range[1], self.size))

    def points(self):
        """float64 [G*G, 2]: the grid's points, row-major (row i: feature 2's i-th value)."""
        import numpy as np

        xs, ys = self.axes()
        grid_x, grid_y = np.meshgrid(xs, ys)
        return np.column_stack([grid_x.reshape(-1), grid_y.reshape(-1)])

    def to_settings(self):
        return {"size": self.size, "x_range": list(self.x_range), "y_range": list(self.y_range),
                "features": list(self.features),
                "order": "row-major: row i = feature 2's i-th value, column j = feature 1's"}


@dataclass(frozen=True)
class RunKind:
    """What a run fitted and how it is drawn (see the module's docstring)."""

    task: str
    input_width: int
    feature_names: tuple
    output_names: tuple
    class_names: tuple = None
    grid: Grid = None
    sample_order: str = "x"
    views: tuple = field(default=None)

    def __post_init__(self):
        if self.views is None:
            object.__setattr__(self, "views", default_views(self.task, self.input_width,
                                                            self.grid is not None))

    # -- sizes ------------------------------------------------------------------

    @property
    def is_classification(self):
        return self.task == CLASSIFICATION

    @property
    def output_count(self):
        """Regression outputs (k); 1 for a classifier (its class)."""
        return len(self.output_names)

    @property
    def class_count(self):
        return len(self.class_names) if self.class_names else 0

    @property
    def binary(self):
        """A two-class classifier: frames hold P(class 1) only."""
        return self.is_classification and self.class_count == 2

    @property
    def target_width(self):
        """Target rows in the stored point sets: k outputs, or 1 (the class index)."""
        return 1 if self.is_classification else self.output_count

    # -- channels ---------------------------------------------------------------

    @functools.cached_property  # read at every frame
    def prediction_channels(self):
        """Channels of the model's output: pred:j per output, or prob:c per class
        (prob:1 only for two classes)."""
        if self.is_classification:
            if self.binary:
                return ("prob:1",)
            return tuple(f"prob:{c}" for c in range(self.class_count))
        return tuple(f"pred:{j}" for j in range(self.output_count))

    @functools.cached_property  # read at every frame
    def sample_channels(self):
        """Channels of a sample frame: the predictions, the per-point loss, and with
        several outputs each output's own loss."""
        channels = self.prediction_channels + ("loss",)
        if not self.is_classification and self.output_count > 1:
            channels += tuple(f"loss:{j}" for j in range(self.output_count))
        return channels

    @functools.cached_property
    def grid_channels(self):
        return self.prediction_channels if self.grid is not None else ()

    def channel(self, name, series="sample"):
        """Index of channel `name` in a frame of `series`."""
        channels = self.sample_channels if series == "sample" else self.grid_channels
        return channels.index(name)

    # -- reading frames ---------------------------------------------------------

    def class_probabilities(self, values):
        """float64 [N, K] class probabilities from a frame's channels [C, N] (or the
        prediction channels only): P(class 0) = 1 - P(class 1) for two classes."""
        import numpy as np

        values = np.asarray(values, dtype=np.float64)
        if self.binary:
            p1 = values[0]
            return np.column_stack([1.0 - p1, p1])
        return values[:self.class_count].T

    def true_class_probability(self, values, labels):
        """float64 [N]: the probability the frame gives each point's true class."""
        import numpy as np

        probabilities = self.class_probabilities(values)
        labels = np.asarray(labels).astype(np.int64).reshape(-1)
        return probabilities[np.arange(len(labels)), labels]

    def confusion(self, values, labels):
        """int64 [K, K] counts: row = true class, column = predicted class (the most
        probable; the lower index on a tie). Points whose probabilities are not all
        finite (a diverging model) are counted nowhere."""
        import numpy as np

        probabilities = self.class_probabilities(values)
        labels = np.asarray(labels).astype(np.int64).reshape(-1)
        finite = np.all(np.isfinite(probabilities), axis=1)
        predicted = np.argmax(probabilities[finite], axis=1)
        counts = np.zeros((self.class_count, self.class_count), dtype=np.int64)
        np.add.at(counts, (labels[finite], predicted), 1)
        return counts

    # -- settings ---------------------------------------------------------------

    def to_settings(self):
        """The kind's keys of the stored settings (JSON-ready)."""
        return {
            "task": self.task,
            "input_width": self.input_width,
            "feature_names": list(self.feature_names),
            "output_names": list(self.output_names),
            "class_names": None if self.class_names is None else list(self.class_names),
            "views": list(self.views),
            "sample_order": self.sample_order,
            "grid": None if self.grid is None else self.grid.to_settings(),
            "channels": {"sample": list(self.sample_channels),
                         "grid": list(self.grid_channels)},
        }

    @classmethod
    def from_settings(cls, settings):
        """The kind declared by stored settings; version-1 settings (no kind) are the
        1-D regression they recorded. ValueError when the declaration is malformed."""
        settings = settings or {}
        if "task" not in settings:
            return cls(task=REGRESSION, input_width=1,
                       feature_names=(_name(settings.get("x_label"), "x"),),
                       output_names=(_name(settings.get("y_label"), "y"),),
                       sample_order="x", views=("curve", "pred_true", "loss_map"))
        task = settings.get("task")
        if task not in TASKS:
            raise ValueError(f"settings: unknown task {task!r}")
        width = settings.get("input_width")
        if isinstance(width, bool) or not isinstance(width, int) or width < 1:
            raise ValueError(f"settings: bad input_width {width!r}")
        grid = settings.get("grid")
        if grid is not None:
            try:
                grid = Grid(size=int(grid["size"]), x_range=tuple(map(float, grid["x_range"])),
                            y_range=tuple(map(float, grid["y_range"])),
                            features=tuple(int(f) for f in grid.get("features", (0, 1))))
            except (KeyError, TypeError, ValueError):
                raise ValueError(f"settings: bad grid {grid!r}") from None
        views = settings.get("views")
        kind = cls(
            task=task, input_width=width,
            feature_names=_names(settings.get("feature_names"), width, "x"),
            output_names=tuple(str(n) for n in settings.get("output_names") or ("y",)),
            class_names=(None if settings.get("class_names") is None
                         else tuple(str(n) for n in settings["class_names"])),
            grid=grid, sample_order=str(settings.get("sample_order") or "x"),
            views=None if views is None else tuple(str(v) for v in views),
        )
        stored = (settings.get("channels") or {}).get("sample")
        if stored is not None and tuple(stored) != kind.sample_channels:
            raise ValueError(f"settings: channels {stored!r} do not match the declared kind")
        return kind


def default_views(task, input_width, has_grid=True):
    """The views a run of `task` with `input_width` features can be drawn in, main first
    (a surface needs the grid: a two-feature run recorded with grid=None has none)."""
    views = []
    if input_width == 1:
        views.append("curve")
    elif input_width == 2 and has_grid:
        views.append("surface")
    views.append("true_class" if task == CLASSIFICATION else "pred_true")
    views.append("loss_map")
    return tuple(views)


def normalized_settings(settings):
    """Settings with every key of the kind filled in (version-1 runs included)."""
    out = dict(settings or {})
    out.update(RunKind.from_settings(out).to_settings())
    return out


def _name(value, default):
    return value if isinstance(value, str) and value else default


def _names(values, count, prefix):
    if values is None:
        return default_names(prefix, count)
    return tuple(str(v) for v in values)


def default_names(prefix, count, start=1):
    """("x1", "x2", ...) and the like; a single name is just the prefix ("x")."""
    if count == 1 and prefix in ("x", "y"):
        return (prefix,)
    return tuple(f"{prefix}{i + start}" for i in range(count))

