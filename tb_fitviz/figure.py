"""The FitViz pictures as off-screen Matplotlib figures, one view per kind of run.

Used for the Images tab (by the writer) and by `tb-fitviz export`. A figure is
drawn on its own Agg canvas (``matplotlib.figure.Figure`` + ``FigureCanvasAgg``):
pyplot is never imported, so the user's backend, current figure and
interactive state are left alone.

A `RunFigure` draws one view of a run (the views of `tb_fitviz.kind`, the same
as the FitViz tab's `frontend/views/*.js`), with the loss charts beside it:

    curve       one feature: the data, the model's prediction and its loss band
                (one stacked panel per output, sharing x); a classifier: the
                probability of each class over x, the data in a row per class
    surface     two features: the model's output on the run's grid (imshow,
                bilinear, over the grid's extent), the sample's points on top,
                a colour bar: a sequential scale of the prediction (regression),
                a diverging scale of P(class 1) (two classes, as TensorFlow
                Playground), or decision regions in the class colours, lighter
                where the model is less sure (more classes); wrongly classified
                points ringed
    pred_true   a regression: predicted against true y per output, the diagonal
    true_class  a classifier: each point's true-class probability grouped by
                class, and the confusion matrix of the frame
    loss_map    the per-point loss over the whole run (export only: it needs
                every frame), the playhead as a line

Colours, band and smoothing come from the one place of defaults
(`tb_fitviz.defaults`, the file the tab reads) and the run's stored settings.
Every artist is made once; `draw` only updates data, and the parts that never
change are rendered once and restored for each frame.
"""

import io
import math

import numpy as np

from tb_fitviz import defaults
from tb_fitviz.smoothing import check_window, moving_average

THEMES = ("light", "dark")
_LIGHT = defaults.theme("light")
CURVE_COLOR = _LIGHT["curve"]  # steelblue, #4682b4
SCATTER_COLOR = _LIGHT["scatter"]
VALIDATION_COLOR = _LIGHT["validation"]
BATCH_LOSS_COLOR = _LIGHT["batch"]
EPOCH_END_COLOR = _LIGHT["epoch"]
BANDS = ("sqrt", "raw", None)
# More epoch-end lines than this turn the side panels grey: mark every k-th epoch instead.
MAX_EPOCH_MARKS = 12
# The titles the tab gives its views (frontend/views/*.js `label`) and loss charts.
VIEW_LABELS = {
    "curve": "Fit over x",
    "surface": "Surface over two features",
    "pred_true": "Predicted vs. true",
    "true_class": "True-class probability and confusion",
    "loss_map": "Where the loss sits",
}
SAMPLE_CHART_TITLE = "Loss on the sample"
BATCH_CHART_TITLE = "Batch loss"
# Above the probability axis of a one-feature classifier: one row per class for the data.
CLASS_ROW = 0.07


# -- colours (the same arithmetic as frontend/colors.js) ---------------------------


def _round(values):
    """JavaScript's Math.round (halves up), so that colours match the tab's to the unit."""
    return np.floor(np.asarray(values, dtype=np.float64) + 0.5)


def parse_color(text):
    """(r, g, b, a) of '#rgb', '#rrggbb' or '#rrggbbaa': 0-255, alpha 0-1."""
    hexa = str(text).strip().lstrip("#")
    if len(hexa) == 3:
        hexa = "".join(c + c for c in hexa)
    if len(hexa) not in (6, 8):
        raise ValueError(f"colour: expected '#rrggbb' or '#rrggbbaa', got {text!r}")
    r, g, b = (int(hexa[i:i + 2], 16) for i in (0, 2, 4))
    return r, g, b, (int(hexa[6:8], 16) / 255 if len(hexa) == 8 else 1.0)


def mpl_color(text):
    """A theme colour as Matplotlib's (r, g, b, a) in 0-1."""
    r, g, b, a = parse_color(text)
    return (r / 255, g / 255, b / 255, a)


def ramp(stops, size=256):
    """uint8 [size, 3]: the colour ramp through evenly spaced `stops` (colors.js `ramp`)."""
    colors = np.array([parse_color(s)[:3] for s in stops], dtype=np.float64)
    t = np.arange(size) / (size - 1) * (len(colors) - 1)
    k = np.minimum(len(colors) - 2, np.floor(t)).astype(int)
    u = (t - k)[:, None]
    return _round(colors[k] + (colors[k + 1] - colors[k]) * u).astype(np.uint8)


def ramp_colors(values, lo, hi, lut):
    """uint8 [n, 4]: values through a ramp over [lo, hi] (colors.js `rampColors`);
    non-finite values are transparent."""
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    size = len(lut)
    out = np.zeros((len(values), 4), dtype=np.uint8)
    finite = np.isfinite(values)
    if hi > lo:
        with np.errstate(invalid="ignore"):
            index = _round((values - lo) * ((size - 1) / (hi - lo)))
    else:
        index = np.full(len(values), (size - 1) >> 1, dtype=np.float64)
    index = np.clip(np.where(finite, index, 0), 0, size - 1).astype(np.intp)
    out[:, :3] = lut[index]
    out[:, 3] = np.where(finite, 255, 0)
    return out


def region_colors(probabilities, class_rgb, base_rgb):
    """uint8 [n, 4]: decision regions (colors.js `regionColors`): each point in the colour of
    its most probable class (the lower index on a tie), mixed from the region base by how
    sure the model is (1/K: the base, 1: the class colour); not finite: transparent.

    Args:
        probabilities: [K, n] class probabilities.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    count = probabilities.shape[0]
    finite = np.all(np.isfinite(probabilities), axis=0)
    safe = np.where(finite, probabilities, -1.0)
    best = np.argmax(safe, axis=0)
    top = safe[best, np.arange(safe.shape[1])]
    floor = 1.0 / count
    u = np.clip((top - floor) / (1 - floor), 0, 1)[:, None]
    base = np.asarray(base_rgb, dtype=np.float64)
    colors = np.asarray(class_rgb, dtype=np.float64)[best]
    out = np.zeros((probabilities.shape[1], 4), dtype=np.uint8)
    # Uint8ClampedArray rounds half to even, as numpy's rint does.
    out[:, :3] = np.clip(np.rint(base + (colors - base) * u), 0, 255)
    out[:, 3] = np.where(finite, 255, 0)
    out[~finite, :3] = 0
    return out


def class_color(theme, c):
    """The theme's colour of class `c` (cycling through the palette)."""
    palette = theme["classes"]
    return palette[c % len(palette)]


class Theme(dict):
    """A theme's colours (`defaults.theme`) with its ramps made once."""

    def __init__(self, name="light"):
        if name not in THEMES:
            raise ValueError(f"theme: expected 'light' or 'dark', got {name!r}")
        super().__init__(defaults.theme(name))
        self.name = name
        self.sequential = ramp(self["sequential"])
        self.diverging = ramp(self["diverging"])
        self.heat = ramp(self["heat"])

    def color(self, key):
        return mpl_color(self[key])


# -- the figure --------------------------------------------------------------------


class RunFigure:
    """One off-screen figure of one view of a run, with the loss charts beside it.

    Args:
        settings: The run's stored settings (its kind, labels, view defaults).
        points: {"sample", "scatter", "validation"}: float [d + t, n] arrays (features,
            then targets) or None, as stored.
        view: One of the run's views (`settings["views"]`); None: its main view.
        size: (width, height) of the image in pixels.
        dpi: Dots per inch of the figure (text size scales with it).
        title: The figure's title (default: the settings' title).
        smoothing, band: The loss band's moving-average window and rule ("sqrt", "raw",
            "none"/None); default: the run's stored view defaults.
        theme: "light" (default) or "dark": the colours of `frontend/defaults.json`.
        loss_map: For the loss_map view: the run's map (`FitVizReader.loss_map`).

    `draw(step, values, grid=None, epoch=, sample_loss=, batch_loss=, epoch_ends=)`
    takes a frame's channels [C, N] (`RunKind.sample_channels`) and, for a surface,
    the grid frame's channels [Cg, G*G].
    """

    def __init__(self, settings, points, *, view=None, size=(960, 540), dpi=100, title=None,
                 smoothing=None, band=None, theme="light", loss_map=None):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        from tb_fitviz.kind import RunKind

        self.kind = RunKind.from_settings(settings)
        self.settings = dict(settings or {})
        self.view_name = choose_view(self.kind, view)
        self.theme = theme if isinstance(theme, Theme) else Theme(theme)
        stored = self.settings.get("view") or {}
        band = stored.get("band", "sqrt") if band is None else band
        band = None if band == "none" else band
        if band not in BANDS:
            raise ValueError(f"band: expected 'sqrt', 'raw' or None, got {band!r}")
        self.band = band
        self.smoothing = check_window(
            int(stored.get("smoothing", defaults.load()["view"]["smoothing"]))
            if smoothing is None else smoothing, "smoothing")
        width, height = _check_size(size)
        self.points = {name: None if points.get(name) is None
                       else np.asarray(points[name], dtype=np.float64)
                       for name in ("sample", "scatter", "validation")}
        theme = self.theme

        self.figure = Figure(figsize=(width / dpi, height / dpi), dpi=dpi,
                             facecolor=theme.color("background"))
        self.canvas = FigureCanvasAgg(self.figure)
        outer = self.figure.add_gridspec(1, 2, width_ratios=[2.05, 1], left=0.08, right=0.98,
                                         bottom=0.1, top=0.86, wspace=0.27)
        side = outer[0, 1].subgridspec(2, 1, hspace=0.55)
        self.sample_loss_axes = self.figure.add_subplot(side[0])
        self.batch_loss_axes = self.figure.add_subplot(side[1])
        title = title if title is not None else self.settings.get("title")
        if title:
            self.figure.suptitle(title, color=theme.color("text"), y=0.985)
        self._dynamic = []  # (axes or None, artist) redrawn at each frame
        view_class = VIEW_CLASSES[self.view_name]
        self.view = view_class(self, outer[0, 0], loss_map=loss_map)
        # The frame's step and epoch, at a fixed place above the main area.
        left = min(a.get_position().x0 for a in self.view.axes)
        self._step_text = self.figure.text(left, 0.905, "", ha="left", va="bottom",
                                           fontsize="medium", color=theme.color("text"))
        self._sample_loss_line = self.sample_loss_axes.plot(
            [], [], color=theme.color("curve"), linewidth=1.5)[0]
        self._batch_loss_line = self.batch_loss_axes.plot(
            [], [], color=theme.color("batch"), linewidth=0.8)[0]
        self._epoch_marks = []
        from matplotlib.collections import LineCollection
        from matplotlib.ticker import MaxNLocator

        for axes, label in ((self.sample_loss_axes, SAMPLE_CHART_TITLE),
                            (self.batch_loss_axes, BATCH_CHART_TITLE)):
            style_axes(axes, theme)
            axes.set_title(label, fontsize="small", color=theme.color("text"))
            axes.set_xlabel("step", fontsize="small")
            axes.tick_params(labelsize="x-small")
            axes.xaxis.set_major_locator(MaxNLocator(4, integer=True))
            axes.yaxis.set_major_locator(MaxNLocator(4))
            marks = LineCollection([], colors=[theme.color("epoch")], linewidths=0.8, zorder=0,
                                   transform=axes.get_xaxis_transform())
            axes.add_collection(marks)
            self._epoch_marks.append(marks)
        self._cursors = None  # the playhead, once the whole history is set
        self._background = None
        self._dirty = True

    def set_history(self, sample_loss, batch_loss, epoch_ends=None):
        """The whole run's loss histories, known in advance (export): the charts show the
        whole run, as the tab's do, become part of the static picture, and each frame
        only moves a playhead over them. `draw` then ignores its history arguments."""
        theme = self.theme
        steps = []
        for line, history in ((self._sample_loss_line, sample_loss),
                              (self._batch_loss_line, batch_loss)):
            xs, losses = _history(history)
            line.set_data(xs, losses)
            steps.append(xs)
        steps = np.concatenate(steps + [np.asarray(epoch_ends if epoch_ends is not None else [],
                                                   dtype=np.float64).reshape(-1)])
        last_step = max(float(steps.max()) if steps.size else 1.0, 1.0)
        for axes, line in ((self.sample_loss_axes, self._sample_loss_line),
                           (self.batch_loss_axes, self._batch_loss_line)):
            _fit_axes(axes, last_step, np.asarray(line.get_ydata(), dtype=np.float64))
        self._set_epoch_marks(epoch_ends, last_step)
        if self._cursors is None:
            self._cursors = []
            for axes in (self.sample_loss_axes, self.batch_loss_axes):
                cursor = axes.axvline(0, color=theme.color("cursor"), linewidth=1.2, zorder=4)
                self._cursors.append(self.add_dynamic(cursor, axes))
        self._background = None
        self._dirty = True

    def _set_epoch_marks(self, epoch_ends, last_step):
        ends = [] if epoch_ends is None else np.asarray(epoch_ends, dtype=np.float64).reshape(-1)
        ends = [s for s in ends if s <= last_step]
        every = max(1, math.ceil(len(ends) / MAX_EPOCH_MARKS))
        segments = [[(s, 0.0), (s, 1.0)] for s in ends[every - 1::every]]
        for marks in self._epoch_marks:
            marks.set_segments(segments)

    # -- what views use -------------------------------------------------------------

    def add_dynamic(self, artist, axes=None):
        """Marks an artist as changing per frame (drawn over the cached background)."""
        self._dynamic.append((axes, artist))
        return artist

    def features(self, name):
        """The d feature rows of point set `name` (None if the run has none)."""
        points = self.points.get(name)
        return None if points is None else points[:self.kind.input_width]

    def targets(self, name):
        points = self.points.get(name)
        return None if points is None else points[self.kind.input_width:]

    # -- drawing --------------------------------------------------------------------

    def draw(self, step, values, grid=None, *, epoch=None, sample_loss=None, batch_loss=None,
             epoch_ends=None):
        """Updates the artists for one frame (no new artists are made).

        Args:
            step: The frame's global step.
            values: The frame's channels [C, N] over the sample.
            grid: The grid frame's channels [Cg, G*G] (a surface), or None.
            epoch: The frame's epoch (0-based), shown as epoch + 1.
            sample_loss: (steps, values) of the sample loss up to this frame.
            batch_loss: (steps, values) of the batch losses up to this step.
            epoch_ends: Steps at which epochs ended, marked on the loss charts.
            (After `set_history` the charts show the whole run and these three are
            not used.)
        """
        values = np.asarray(values, dtype=np.float64)
        if values.ndim == 1:
            values = values[None, :]
        n = self.points["sample"].shape[1]
        channels = len(self.kind.sample_channels)
        if values.shape != (channels, n):
            raise ValueError(f"values: expected {channels} channels x {n} points "
                             f"({', '.join(self.kind.sample_channels)}), got "
                             f"{list(values.shape)}")
        self.view.draw(step, values, grid)
        text = f"step {int(step)}"
        if epoch is not None and not (isinstance(epoch, float) and math.isnan(epoch)):
            text += f"   epoch {int(epoch) + 1}"
        self._step_text.set_text(text)
        self._dirty = True
        if self._cursors is not None:
            for cursor in self._cursors:
                cursor.set_xdata([step, step])
            return
        last_step = max(int(step), 1)
        for axes, line, history in ((self.sample_loss_axes, self._sample_loss_line, sample_loss),
                                    (self.batch_loss_axes, self._batch_loss_line, batch_loss)):
            steps, losses = _history(history)
            line.set_data(steps, losses)
            _fit_axes(axes, last_step, losses)
        self._set_epoch_marks(epoch_ends, last_step)

    def rgb(self):
        """The figure as an (H, W, 3) uint8 array."""
        if self._dirty:
            self._render()
            self._dirty = False
        return np.asarray(self.canvas.buffer_rgba())[:, :, :3].copy()

    def _render(self):
        # Charts that change with every frame are drawn with it; charts of the whole run
        # (set_history) are static, under a moving playhead.
        side_axes = ((self.sample_loss_axes, self.batch_loss_axes) if self._cursors is None
                     else ())
        if self._background is None:
            # The static part (data, axes, colour bars, legends) once, without what changes.
            hidden = [a for _, a in self._dynamic] + [self._step_text, *side_axes]
            for artist in hidden:
                artist.set_visible(False)
            self.canvas.draw()
            self._background = self.canvas.copy_from_bbox(self.figure.bbox)
            for artist in hidden:
                artist.set_visible(True)
            if hasattr(self.view, "prepare"):
                self.view.prepare(self.canvas, self._background)
        self.canvas.restore_region(self._background)
        if hasattr(self.view, "paint"):
            self.view.paint(self.canvas)
        renderer = self.canvas.get_renderer()
        for axes, artist in self._dynamic:
            if axes is not None:
                axes.draw_artist(artist)
            else:
                artist.draw(renderer)
        for artist in (self._step_text, *side_axes):
            self.figure.draw_artist(artist)

    def png(self):
        """The figure as PNG bytes."""
        from PIL import Image  # Matplotlib's own dependency for PNG.

        buffer = io.BytesIO()
        Image.fromarray(self.rgb()).save(buffer, format="png", compress_level=1)
        return buffer.getvalue()

    def pixel(self, axes, x, y):
        """(row, column) of the image pixel where data point (x, y) of `axes` is drawn."""
        self.rgb()
        px, py = axes.transData.transform((x, y))
        height = self.size[1]
        return int(math.floor(height - py)), int(math.floor(px))

    @property
    def size(self):
        """(width, height) in pixels."""
        width, height = self.canvas.get_width_height()
        return int(width), int(height)


def choose_view(kind, view=None):
    """The view to draw: `view` when the run has it, else (None) the run's main view.
    ValueError naming `view` and the run's views otherwise."""
    views = tuple(kind.views)
    if view is None or view == "main":
        # (a two-feature run recorded with grid=None lists "surface" but has no grid)
        drawable = [v for v in views if v in VIEW_CLASSES and v != "loss_map"
                    and not (v in GRID_VIEWS and kind.grid is None)]
        if not drawable:
            raise ValueError(f"view: the run has no view a figure draws (its views: "
                             f"{', '.join(views)})")
        return drawable[0]
    if view not in views:
        raise ValueError(f"view: the run has no view {view!r}; its views: {', '.join(views)}")
    if view not in VIEW_CLASSES:
        raise ValueError(f"view: {view!r} is not drawn by figures; the run's views: "
                         f"{', '.join(views)}")
    return view


def style_axes(axes, theme):
    """Theme colours on an axes: its face, spines, ticks and labels."""
    axes.set_facecolor(theme.color("panel"))
    for spine in axes.spines.values():
        spine.set_color(theme.color("axis"))
    axes.tick_params(colors=theme.color("axis"), labelcolor=theme.color("text"))
    axes.xaxis.label.set_color(theme.color("text"))
    axes.yaxis.label.set_color(theme.color("text"))


def _wrap(name, width=8):
    """A long class name on two lines (at the space nearest its middle), for tick labels."""
    if len(name) <= width or " " not in name:
        return name
    middle = len(name) / 2
    cut = min((i for i, c in enumerate(name) if c == " "), key=lambda i: abs(i - middle))
    return name[:cut] + "\n" + name[cut + 1:]


def _staggered(axes, names, width, top=False):
    """Sets `names` as the x tick labels of `axes`, one a column `width` inches wide; when
    one is wider than its column, every other label goes one line further from the axis
    (on one line, with twice the width; what is still too long ends in an ellipsis), so
    that neighbours never run into each other. Returns whether they were staggered."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    axes.set_xticklabels(names)
    font = FontProperties(size=axes.xaxis.get_ticklabels()[0].get_fontsize())
    measure = TextToPath()

    def points(text):
        return measure.get_text_width_height_descent(text, font, ismath=False)[0]

    gap = font.get_size_in_points() * 0.5
    if len(names) < 2 or max(points(line) for name in names
                             for line in name.split("\n")) <= width * 72 - gap:
        return False

    def fitted(text, room):
        if points(text) <= room:
            return text
        low, high = 0, len(text)
        while low < high:
            middle = (low + high + 1) // 2
            if points(text[:middle] + "…") <= room:
                low = middle
            else:
                high = middle - 1
        return text[:low] + "…"

    labels = [fitted(name.replace("\n", " "), 2 * width * 72 - gap) for name in names]
    axes.set_xticklabels([label if c % 2 == 0 else (label + "\n" if top else "\n" + label)
                          for c, label in enumerate(labels)])
    return True


def _bar_title(axes, label, theme):
    """A colour bar's label above it, left-aligned (beside it, it would run into the loss
    charts at small sizes)."""
    axes.set_title(label, fontsize="small", color=theme.color("text"), loc="left", pad=6)


def _legend(axes, handles, theme, **options):
    legend = axes.legend(handles=handles, fontsize="small", frameon=False, handlelength=1.5,
                         labelcolor=theme.color("text"), **options)
    return legend


# -- views ------------------------------------------------------------------------


class _View:
    def __init__(self, owner, spec, loss_map=None):
        self.owner = owner
        self.kind = owner.kind
        self.theme = owner.theme
        self.axes = []
        self.build(spec, loss_map)

    def add_axes(self, spec, **options):
        axes = self.owner.figure.add_subplot(spec, **options)
        style_axes(axes, self.theme)
        self.axes.append(axes)
        return axes


class CurveView(_View):
    """One feature: the data, the prediction over x and its loss band; one stacked panel per
    output; a classifier: each class's probability over x, the data in a row per class."""

    def build(self, spec, loss_map):
        from matplotlib.collections import PolyCollection
        from matplotlib.lines import Line2D
        from matplotlib.patches import Patch

        owner, kind, theme = self.owner, self.kind, self.theme
        sample_x = owner.features("sample")[0]
        self.order = np.argsort(sample_x, kind="stable")
        self.x = sample_x[self.order]
        scatter_x = owner.features("scatter")[0]
        validation = owner.points["validation"]
        x_values = [self.x, scatter_x] + ([] if validation is None else [validation[0]])
        x_limits = _limits(x_values, pad=0.02)
        x_label = owner.settings.get("x_label") or kind.feature_names[0]
        self.lines = []
        self.bands = []
        if kind.is_classification:
            axes = self.add_axes(spec)
            self.main_axes = axes
            labels = owner.targets("scatter")[0].astype(np.int64)
            count = kind.class_count
            index = np.arange(len(labels))
            jitter = CLASS_ROW * 0.3 * (((index * 7919) % 13) / 13 - 0.5)
            for c in range(count):
                chosen = labels == c
                color = mpl_color(class_color(theme, c))
                axes.scatter(scatter_x[chosen], 1 + CLASS_ROW * (c + 0.5) + jitter[chosen], s=5,
                             color=color, alpha=0.7, linewidths=0, zorder=1, rasterized=True)
                line = axes.plot(self.x, np.full_like(self.x, np.nan), color=color,
                                 linewidth=2, zorder=3)[0]
                self.lines.append(owner.add_dynamic(line, axes))
            axes.axhline(1, color=theme.color("grid"), linewidth=1, zorder=0.5)
            axes.set_ylim(-0.04, 1 + CLASS_ROW * count + 0.02)
            axes.set_yticks([0, 0.25, 0.5, 0.75, 1])
            axes.set_xlim(*x_limits)
            axes.set_xlabel(x_label)
            axes.set_ylabel(f"P({kind.output_names[0]})")
            handles = [Patch(color=mpl_color(class_color(theme, c)), label=name)
                       for c, name in enumerate(kind.class_names)]
            _legend(axes, handles, theme, loc="lower right", bbox_to_anchor=(1.0, 1.0),
                    ncol=min(count, 5), borderaxespad=0.2)
            return
        count = kind.output_count
        grid = spec.subgridspec(count, 1, hspace=0.12 if count > 1 else 0.0)
        scatter_y = owner.targets("scatter")
        sample_y = owner.targets("sample")
        color = theme.color("curve")
        for j in range(count):
            axes = self.add_axes(grid[j], sharex=self.axes[0] if self.axes else None)
            axes.scatter(scatter_x, scatter_y[j], s=4, color=theme.color("scatter"),
                         linewidths=0, zorder=1, rasterized=True)
            y_values = [scatter_y[j], sample_y[j]]
            if validation is not None:
                vy = validation[kind.input_width + j]
                axes.scatter(validation[0], vy, s=7, facecolors="none",
                             edgecolors=[mpl_color(theme["validation"])[:3] + (0.6,)],
                             linewidths=0.8, zorder=1.5, rasterized=True)
                y_values.append(vy)
            if owner.band is not None:
                band = PolyCollection([], facecolor=color, edgecolor="none", alpha=0.25,
                                      zorder=2)
                axes.add_collection(band)
                self.bands.append(owner.add_dynamic(band, axes))
            line = axes.plot(self.x, np.full_like(self.x, np.nan), color=color, linewidth=2,
                             zorder=3)[0]
            self.lines.append(owner.add_dynamic(line, axes))
            axes.set_xlim(*x_limits)
            axes.set_ylim(*_limits(y_values, pad=0.08))
            name = (j == 0 and owner.settings.get("y_label")) or kind.output_names[j]
            axes.set_ylabel(name)
            if count > 2:
                from matplotlib.ticker import MaxNLocator

                axes.yaxis.set_major_locator(MaxNLocator(3))
            if j < count - 1:
                axes.tick_params(labelbottom=False)
        self.axes[-1].set_xlabel(x_label)
        handles = [Line2D([], [], marker="o", linestyle="", markersize=4,
                          color=theme.color("scatter"), label="data")]
        if validation is not None:
            handles.append(Line2D([], [], marker="o", linestyle="", markersize=4,
                                  markerfacecolor="none", color=theme.color("validation"),
                                  label="validation"))
        if owner.band is not None:
            handles.append(Patch(color=color, alpha=0.25, label="loss band"))
        handles.append(Line2D([], [], color=color, linewidth=2, label="model"))
        # Above the axes: the curve, drawn over a cached background, never hides it.
        _legend(self.axes[0], handles, theme, loc="lower right", bbox_to_anchor=(1.0, 1.0),
                ncol=4, borderaxespad=0.2)
        self.main_axes = self.axes[0]

    def draw(self, step, values, grid):
        kind, owner = self.kind, self.owner
        values = values[:, self.order]
        if kind.is_classification:
            probabilities = kind.class_probabilities(values)
            for c, line in enumerate(self.lines):
                line.set_ydata(probabilities[:, c])
            return
        for j, line in enumerate(self.lines):
            prediction = values[j]
            line.set_ydata(prediction)
            if owner.band is None:
                continue
            loss = values[kind.channel(f"loss:{j}" if kind.output_count > 1 else "loss")]
            smoothed = moving_average(loss, owner.smoothing)
            with np.errstate(invalid="ignore"):
                half = (np.where(smoothed >= 0, np.sqrt(np.abs(smoothed)), np.nan)
                        if owner.band == "sqrt" else smoothed)
                self.bands[j].set_verts(_band_polygons(self.x, prediction - half,
                                                       prediction + half))


class SurfaceView(_View):
    """Two features: the model's output over the grid as an image, the sample's points on top.

    The image is what ``imshow(rgba, interpolation="bilinear", extent=...)`` draws (grid
    points at the centres of the image's cells, colours interpolated between them, as
    the tab's smoothly scaled canvas), computed in NumPy at the axes' own pixels and
    written into the canvas; the sample's points, which never move, are rendered once
    into a transparent layer and laid over it. Only the wrongly classified rings are
    drawn by Matplotlib at each frame. About 3 times faster than imshow + scatter.
    """

    def build(self, spec, loss_map):
        from matplotlib.cm import ScalarMappable
        from matplotlib.colors import ListedColormap, Normalize
        from matplotlib.patches import Patch

        owner, kind, theme = self.owner, self.kind, self.theme
        if kind.grid is None:
            raise ValueError("view: 'surface' needs the run's grid (settings['grid'])")
        columns = spec.subgridspec(1, 2, width_ratios=[1, 0.045], wspace=0.04)
        axes = self.add_axes(columns[0])
        self.main_axes = axes
        grid = kind.grid
        size = grid.size
        (x0, x1), (y0, y1) = grid.x_range, grid.y_range
        # Grid points sit at the centres of the image's cells: it reaches half a cell past them.
        hx = (x1 - x0) / (size - 1) / 2
        hy = (y1 - y0) / (size - 1) / 2
        self.extent = (x0 - hx, x1 + hx, y0 - hy, y1 + hy)
        self.size = size
        axes.set_xlim(x0, x1)
        axes.set_ylim(y0, y1)
        axes.set_xlabel(kind.feature_names[grid.features[0]])
        axes.set_ylabel(kind.feature_names[grid.features[1]])
        features = owner.features("sample")
        fx, fy = features[grid.features[0]], features[grid.features[1]]
        targets = owner.targets("sample")[0]
        rim = mpl_color(theme["point_rim"])[:3] + (0.45,)  # dark in both themes (surface.js)
        radius = 3.0 * 72 / owner.figure.dpi  # 3 pixels, in points
        self.labels = None
        if kind.is_classification:
            self.labels = targets.astype(np.int64)
            colors = [mpl_color(class_color(theme, int(c))) for c in self.labels]
        else:
            scatter_targets = owner.targets("scatter")[0]
            self.value_range = _finite_extent([targets, scatter_targets]) or (0.0, 1.0)
            colors = ramp_colors(targets, *self.value_range, theme.sequential)[:, :3] / 255
        # Static, but over the image: rendered once into the overlay (see `paint`).
        self.points = axes.scatter(fx, fy, s=(2 * radius) ** 2, c=colors, edgecolors=[rim],
                                   linewidths=0.7 * 72 / owner.figure.dpi, zorder=3)
        self.points.set_visible(False)
        self.wrong = None
        self.xy = np.column_stack([fx, fy])
        if kind.is_classification:
            self.wrong = axes.scatter([], [], s=(2 * radius + 4 * 72 / owner.figure.dpi) ** 2,
                                      facecolors="none", edgecolors=[theme.color("wrong")],
                                      linewidths=1.4 * 72 / owner.figure.dpi, zorder=4)
            owner.add_dynamic(self.wrong, axes)
        # The axes' frame over the image.
        for spine in axes.spines.values():
            owner.add_dynamic(spine, axes)
        self.rgba = None
        self._layout = None
        bar_axes = owner.figure.add_subplot(columns[1])
        style_axes(bar_axes, theme)
        if kind.is_classification and not kind.binary:
            bar_axes.set_axis_off()
            handles = [Patch(color=mpl_color(class_color(theme, c)), label=name)
                       for c, name in enumerate(kind.class_names)]
            legend = _legend(bar_axes, handles, theme, loc="upper left",
                             bbox_to_anchor=(0.0, 1.0), borderaxespad=0.0,
                             title="most\nprobable", alignment="left")
            legend.get_title().set_color(theme.color("muted"))
            legend.get_title().set_fontsize("small")
            self.class_rgb = [parse_color(class_color(theme, c))[:3]
                              for c in range(kind.class_count)]
            self.base_rgb = parse_color(theme["region_base"])[:3]
            return
        if kind.is_classification:
            lut, lo, hi = theme.diverging, 0.0, 1.0
            label = f"P({kind.class_names[1]})"
        else:
            lut, (lo, hi) = theme.sequential, self.value_range
            label = kind.output_names[0]
        mappable = ScalarMappable(Normalize(lo, hi), ListedColormap(lut / 255.0))
        bar = owner.figure.colorbar(mappable, cax=bar_axes)
        _bar_title(bar_axes, label, theme)
        bar.outline.set_edgecolor(theme.color("axis"))
        bar_axes.tick_params(colors=theme.color("axis"), labelcolor=theme.color("text"),
                             labelsize="small")
        if kind.is_classification:
            bar.set_ticks([0, 0.25, 0.5, 0.75, 1])

    def grid_rgba(self, grid):
        """uint8 [G, G, 4] of a grid frame (row 0: feature 2's lowest value)."""
        kind, theme = self.kind, self.theme
        grid = np.asarray(grid, dtype=np.float64)
        if grid.ndim == 1:
            grid = grid[None, :]
        if kind.is_classification and not kind.binary:
            rgba = region_colors(kind.class_probabilities(grid).T, self.class_rgb, self.base_rgb)
        elif kind.is_classification:
            rgba = ramp_colors(grid[0], 0.0, 1.0, theme.diverging)
        else:
            rgba = ramp_colors(grid[0], *self.value_range, theme.sequential)
        return rgba.reshape(self.size, self.size, 4)

    def draw(self, step, values, grid):
        self.rgba = None if grid is None else self.grid_rgba(grid)
        if self.wrong is not None:
            probabilities = self.kind.class_probabilities(values)
            finite = np.all(np.isfinite(probabilities), axis=1)
            predicted = np.argmax(np.where(np.isfinite(probabilities), probabilities, -1), axis=1)
            wrong = finite & (predicted != self.labels)
            self.wrong.set_offsets(self.xy[wrong] if wrong.any() else np.empty((0, 2)))

    def prepare(self, canvas, background):
        """Once, after the static part is rendered: the pixels of the axes, where each pixel's
        centre falls in the grid, and the points rendered into a transparent overlay."""
        axes = self.main_axes
        box = axes.get_window_extent()
        height = canvas.get_width_height()[1]
        c0, c1 = int(math.ceil(box.x0 - 0.5)), int(math.floor(box.x1 - 0.5)) + 1
        r0 = int(math.ceil(height - box.y1 - 0.5))
        r1 = int(math.floor(height - box.y0 - 0.5)) + 1
        inverse = axes.transData.inverted()
        centres_x = inverse.transform(np.column_stack([np.arange(c0, c1) + 0.5,
                                                       np.zeros(c1 - c0)]))[:, 0]
        centres_y = inverse.transform(np.column_stack([np.zeros(r1 - r0),
                                                       height - (np.arange(r0, r1) + 0.5)]))[:, 1]
        (gx0, gx1), (gy0, gy1) = self.kind.grid.x_range, self.kind.grid.y_range
        g = self.size - 1
        self._layout = (r0, r1, c0, c1, _lerp_weights((centres_x - gx0) / (gx1 - gx0) * g, g),
                        _lerp_weights((centres_y - gy0) / (gy1 - gy0) * g, g))
        renderer = canvas.get_renderer()
        renderer.clear()
        self.points.set_visible(True)
        axes.draw_artist(self.points)
        self.points.set_visible(False)
        overlay = np.asarray(canvas.buffer_rgba())[r0:r1, c0:c1].astype(np.float32)
        canvas.restore_region(background)
        overlay = overlay.reshape(-1, 4)
        # Only the pixels the points cover: (their flat indices, colour x alpha, 1 - alpha).
        covered = np.flatnonzero(overlay[:, 3] > 0)
        alpha = overlay[covered, 3:4] / 255.0
        self._overlay = (covered, overlay[covered, :3] * alpha, 1.0 - alpha)

    def paint(self, canvas):
        """The image of the frame (and the points over it) straight into the canvas."""
        if self.rgba is None or self._layout is None:
            return
        r0, r1, c0, c1, (xi, xj, xw), (yi, yj, yw) = self._layout
        opaque = bool(self.rgba[:, :, 3].min() == 255)  # every grid value finite
        image = (self.rgba[:, :, :3] if opaque else self.rgba).astype(np.float32)
        # Bilinear: along feature 2 (rows; the top of the axes is its highest value), then
        # along feature 1 (columns).
        rows = image[yi]
        rows += (image[yj] - rows) * yw[:, None, None]
        pixels = rows[:, xi]
        pixels += (rows[:, xj] - pixels) * xw[None, :, None]
        target = np.asarray(canvas.buffer_rgba())[r0:r1, c0:c1, :3]
        if not opaque:
            # A non-finite grid value is transparent: the background shows.
            alpha = pixels[:, :, 3:] / 255.0
            pixels = pixels[:, :, :3] * alpha + target.astype(np.float32) * (1 - alpha)
        covered, premultiplied, rest = self._overlay
        # The points composited into a flat copy, which is what is written: `pixels` made
        # by `rows[:, xi]` is not C-ordered, so its reshape is a copy, not a view (the
        # points were lost that way).
        flat = pixels.reshape(-1, 3)
        flat[covered] = premultiplied + flat[covered] * rest
        flat += 0.5
        np.copyto(target, flat.reshape(pixels.shape), casting="unsafe")


def _lerp_weights(position, last):
    """(lower index, upper index, weight of the upper) of fractional grid positions,
    clamped to the grid (past the outer grid points the edge colour holds)."""
    position = np.clip(position, 0, last)
    lower = np.minimum(np.floor(position).astype(np.intp), max(last - 1, 0))
    upper = np.minimum(lower + 1, last)
    return lower, upper, (position - lower).astype(np.float32)


class PredTrueView(_View):
    """A regression: the sample's points at (true y, predicted y) per output, the diagonal."""

    def build(self, spec, loss_map):
        owner, kind, theme = self.owner, self.kind, self.theme
        count = kind.output_count
        grid = spec.subgridspec(1, count, wspace=0.35)
        self.true = owner.targets("sample")
        self.scatters = []
        for j in range(count):
            axes = self.add_axes(grid[j])
            axes.set_box_aspect(1)
            lo, hi = _pad(_finite_extent([self.true[j]]) or (0.0, 1.0), 0.1)
            axes.set_xlim(lo, hi)
            axes.set_ylim(lo, hi)
            axes.plot([lo, hi], [lo, hi], color=theme.color("diagonal"), linestyle=(0, (4, 3)),
                      linewidth=1, zorder=1)
            name = kind.output_names[j]
            axes.set_xlabel(f"true {name}")
            axes.set_ylabel(f"predicted {name}")
            scatter = axes.scatter(self.true[j], np.full(self.true.shape[1], np.nan),
                                   s=(4.4 * 72 / owner.figure.dpi) ** 2,
                                   color=mpl_color(theme["curve"])[:3] + (0.7,), linewidths=0,
                                   zorder=2)
            self.scatters.append(owner.add_dynamic(scatter, axes))
        self.main_axes = self.axes[0]

    def draw(self, step, values, grid):
        for j, scatter in enumerate(self.scatters):
            scatter.set_offsets(np.column_stack([self.true[j], values[j]]))


def jitter(i):
    """Horizontal jitter of point i inside its class column, in [-0.5, 0.5): fixed by the
    index (trueclass.js `jitter`)."""
    return np.mod(np.asarray(i, dtype=np.float64) * 0.6180339887498949, 1) - 0.5


class TrueClassView(_View):
    """A classifier: each point's true-class probability by class, and the confusion matrix."""

    def build(self, spec, loss_map):
        owner, kind, theme = self.owner, self.kind, self.theme
        count = kind.class_count
        # Room between the two for the matrix's row labels (class names).
        longest = max(len(name) for name in kind.class_names)
        columns = spec.subgridspec(1, 2, width_ratios=[1, 1],
                                   wspace=min(0.35 + 0.04 * max(longest - 3, 0), 0.8))
        strip = self.add_axes(columns[0])
        self.strip_axes = strip
        self.main_axes = strip
        self.labels = owner.targets("sample")[0].astype(np.int64)
        n = len(self.labels)
        self.x = self.labels + 0.7 * jitter(np.arange(n))
        strip.set_xlim(-0.5, count - 0.5)
        strip.set_ylim(-0.02, 1.03)  # dots at 0 and 1 whole, not cut by the frame
        names = [_wrap(name) for name in kind.class_names]
        strip.set_xticks(range(count))
        inches = owner.figure.get_size_inches()
        box = strip.get_position(original=True)
        staggered = _staggered(strip, names, box.width * inches[0] / count)
        if staggered:  # the strip a line shorter, for the second row of names below it
            size = strip.xaxis.get_ticklabels()[0].get_fontsize()
            lift = size * 1.3 / 72 / inches[1]
            strip.set_position([box.x0, box.y0 + lift, box.width, box.height - lift])
        strip.set_yticks([0, 0.25, 0.5, 0.75, 1])
        # Two-line names, or staggered ones: no room below for the axis label.
        if not staggered and not any("\n" in name for name in names):
            strip.set_xlabel("true class")
        strip.set_ylabel("P(true class)")
        if kind.binary:
            strip.axhline(0.5, color=theme.color("diagonal"), linestyle=(0, (4, 3)),
                          linewidth=1, zorder=1)
        colors = [mpl_color(class_color(theme, int(c)))[:3] + (0.75,) for c in self.labels]
        self.scatter = strip.scatter(self.x, np.full(n, np.nan), c=colors,
                                     s=(4.4 * 72 / owner.figure.dpi) ** 2, linewidths=0, zorder=2)
        owner.add_dynamic(self.scatter, strip)

        matrix = self.add_axes(columns[1])
        self.matrix_axes = matrix
        matrix.set_box_aspect(1)
        self.base = np.array(parse_color(theme["background"])[:3], dtype=np.float64)
        self.ink = np.array(parse_color(theme["curve"])[:3], dtype=np.float64)
        self.cells = matrix.imshow(np.zeros((count, count, 3), dtype=np.uint8),
                                   interpolation="nearest", aspect="auto",
                                   extent=(-0.5, count - 0.5, count - 0.5, -0.5), zorder=1)
        owner.add_dynamic(self.cells, matrix)
        self.texts = []
        for t in range(count):
            for p in range(count):
                text = matrix.text(p, t, "", ha="center", va="center", fontsize="medium",
                                   zorder=2)
                self.texts.append(owner.add_dynamic(text, matrix))
        matrix.set_xlim(-0.5, count - 0.5)
        matrix.set_ylim(count - 0.5, -0.5)
        matrix.set_xticks(range(count))
        box = matrix.get_position(original=True)  # square: the smaller side is its width
        if _staggered(matrix, names, min(box.width * inches[0], box.height * inches[1]) / count,
                      top=True):
            matrix.xaxis.labelpad = 9  # "predicted" apart from the lifted names
        matrix.set_yticks(range(count))
        matrix.set_yticklabels(names)
        matrix.xaxis.set_label_position("top")
        matrix.xaxis.tick_top()
        matrix.set_xlabel("predicted")
        matrix.yaxis.set_label_position("right")
        matrix.set_ylabel("true class")
        for spine in matrix.spines.values():
            owner.add_dynamic(spine, matrix)

    def shades(self, counts):
        """uint8 [K, K, 3]: each cell shaded by its share of its row (trueclass.js)."""
        totals = counts.sum(axis=1, keepdims=True)
        share = np.where(totals > 0, counts / np.maximum(totals, 1), 0.0)
        rgb = self.base + (self.ink - self.base) * share[:, :, None]
        return np.clip(_round(rgb), 0, 255).astype(np.uint8), share

    def draw(self, step, values, grid):
        kind, theme = self.kind, self.theme
        probability = kind.true_class_probability(values, self.labels)
        self.scatter.set_offsets(np.column_stack([self.x, probability]))
        counts = kind.confusion(values, self.labels)
        rgb, share = self.shades(counts)
        self.cells.set_data(rgb)
        count = kind.class_count
        for t in range(count):
            for p in range(count):
                text = self.texts[t * count + p]
                text.set_text(str(int(counts[t, p])))
                text.set_color(theme.color("background" if share[t, p] > 0.55 else "text"))


class LossMapView(_View):
    """The per-point loss of the whole run (max per cell, log colour scale), the playhead."""

    def build(self, spec, loss_map):
        from matplotlib.cm import ScalarMappable
        from matplotlib.colors import ListedColormap, Normalize

        owner, kind, theme = self.owner, self.kind, self.theme
        if loss_map is None:
            raise ValueError("view: 'loss_map' needs the whole run's loss map "
                             "(tb-fitviz export draws it; the Images tab does not)")
        steps = np.asarray(loss_map.steps, dtype=np.float64)
        cells = np.asarray(loss_map.values, dtype=np.float64)[:, 0, :]  # [columns, rows]
        columns = spec.subgridspec(1, 2, width_ratios=[1, 0.045], wspace=0.04)
        axes = self.add_axes(columns[0])
        self.main_axes = axes
        with np.errstate(all="ignore"):
            logs = np.where(cells > 0, np.log10(cells), np.nan)
        finite = logs[np.isfinite(logs)]
        if finite.size:
            lo, hi = np.quantile(finite, [0.02, 0.98])
        else:
            lo, hi = -1.0, 0.0
        if hi <= lo:
            lo, hi = lo - 0.5, hi + 0.5
        rgba = ramp_colors(logs.T.reshape(-1), lo, hi, theme.heat).reshape(
            logs.shape[1], logs.shape[0], 4)
        width, height = logs.shape
        axes.imshow(rgba, origin="upper", extent=(0, width, height, 0), aspect="auto",
                    interpolation="nearest", zorder=1)
        axes.set_xlim(0, width)
        axes.set_ylim(height, 0)
        self.steps = steps
        ticks = np.unique(np.linspace(0, width - 1, min(5, width)).astype(int))
        axes.set_xticks(ticks + 0.5)
        axes.set_xticklabels([str(int(steps[t])) for t in ticks])
        axes.set_xlabel("step (one column per group of frames)")
        order = {"x": "by x", "y": f"by {kind.output_names[0]}", "class": "by class"}
        axes.set_ylabel(f"sample points ({order.get(kind.sample_order, kind.sample_order)})")
        axes.set_yticks([])
        self.cursor = axes.axvline(0, color=theme.color("cursor"), linewidth=1.5, zorder=3)
        owner.add_dynamic(self.cursor, axes)
        bar_axes = owner.figure.add_subplot(columns[1])
        style_axes(bar_axes, theme)
        mappable = ScalarMappable(Normalize(lo, hi), ListedColormap(theme.heat / 255.0))
        bar = owner.figure.colorbar(mappable, cax=bar_axes)
        _bar_title(bar_axes, "max loss\n(log10)", theme)
        bar.outline.set_edgecolor(theme.color("axis"))
        bar_axes.tick_params(colors=theme.color("axis"), labelcolor=theme.color("text"),
                             labelsize="small")

    def draw(self, step, values, grid):
        column = max(int(np.searchsorted(self.steps, step, side="right")) - 1, 0)
        self.cursor.set_xdata([column + 0.5, column + 0.5])


VIEW_CLASSES = {
    "curve": CurveView,
    "surface": SurfaceView,
    "pred_true": PredTrueView,
    "true_class": TrueClassView,
    "loss_map": LossMapView,
}
# Views that need the grid frames.
GRID_VIEWS = ("surface",)


# -- the classic 1-D figure ----------------------------------------------------------


class FitFigure(RunFigure):
    """The 1-D curve figure from plain arrays: the fit over x, with the loss charts.

    Main panel: the scatter of the data, validation points if any, the model's
    current predictions over the sample (a steelblue line) and a band around it
    showing the per-point loss, smoothed over x. Side panels: the sample loss
    and the batch loss over steps, with epoch ends marked.

    Args:
        sample_x, sample_y: The representative sample (x ascending).
        scatter_x, scatter_y: The points drawn as the scatter.
        validation_x, validation_y: Optional validation points.
        x_label, y_label, title: Optional texts.
        size: (width, height) of the image in pixels.
        dpi: Dots per inch of the figure (text size scales with it).
        smoothing: Odd moving-average window over the sorted sample applied
            to the per-point loss before drawing the band (1: none).
        band: "sqrt" draws y_pred +/- sqrt(smoothed loss), i.e. in units of y
            for a squared loss; "raw" draws y_pred +/- smoothed loss (units
            of y for an absolute loss); None draws no band.
        theme: "light" or "dark".

    Example:

    ```python
    figure = FitFigure(x, y, x, y)
    figure.draw(10, y_pred, (y_pred - y) ** 2, epoch=0)
    open("frame.png", "wb").write(figure.png())
    ```
    """

    def __init__(self, sample_x, sample_y, scatter_x, scatter_y, validation_x=None,
                 validation_y=None, *, x_label=None, y_label=None, title=None,
                 size=(960, 540), dpi=100, smoothing=1, band="sqrt", theme="light"):
        if band not in BANDS:
            raise ValueError(f"band: expected 'sqrt', 'raw' or None, got {band!r}")

        def rows(x, y):
            return np.vstack([np.asarray(x, dtype=np.float64).reshape(-1),
                              np.asarray(y, dtype=np.float64).reshape(-1)])

        settings = {"task": "regression", "input_width": 1,
                    "feature_names": [x_label or "x"], "output_names": [y_label or "y"],
                    "x_label": x_label, "y_label": y_label,
                    "view": {"band": band or "none", "smoothing": smoothing}}
        validation = (None if validation_x is None or validation_y is None
                      else rows(validation_x, validation_y))
        super().__init__(settings, {"sample": rows(sample_x, sample_y),
                                    "scatter": rows(scatter_x, scatter_y),
                                    "validation": validation},
                         view="curve", size=size, dpi=dpi, title=title or "", theme=theme)
        self.sample_x = self.points["sample"][0]
        self.sample_y = self.points["sample"][1]
        self.main_axes = self.view.main_axes

    def draw(self, step, y_pred, point_loss, **options):
        """Updates the artists for one frame: predictions and per-point loss at `sample_x`
        (see `RunFigure.draw` for the options)."""
        y_pred = np.asarray(y_pred, dtype=np.float64).reshape(-1)
        point_loss = np.asarray(point_loss, dtype=np.float64).reshape(-1)
        n = len(self.sample_x)
        if len(y_pred) != n or len(point_loss) != n:
            raise ValueError(
                f"y_pred, point_loss: expected {n} values each (one per sample point), "
                f"got {len(y_pred)} and {len(point_loss)}"
            )
        super().draw(step, np.vstack([y_pred, point_loss]), None, **options)


# -- helpers ------------------------------------------------------------------------


def _check_size(size):
    try:
        width, height = (int(v) for v in size)
    except (TypeError, ValueError):
        raise TypeError(f"size: expected (width, height) in pixels, got {size!r}") from None
    if width < 100 or height < 100:
        raise ValueError(f"size: expected at least 100 x 100 pixels, got {width} x {height}")
    return width, height


def _finite_extent(arrays):
    values = np.concatenate([np.asarray(a, dtype=np.float64).reshape(-1) for a in arrays])
    values = values[np.isfinite(values)]
    if values.size == 0:
        return None
    return float(values.min()), float(values.max())


def _pad(domain, fraction):
    lo, hi = domain
    if lo == hi:
        d = 1.0 if lo == 0 else abs(lo) * 0.1
        return lo - d, hi + d
    d = (hi - lo) * fraction
    return lo - d, hi + d


def _limits(arrays, pad):
    extent = _finite_extent(arrays)
    if extent is None:
        return -1.0, 1.0
    lo, hi = extent
    span = hi - lo if hi > lo else max(abs(hi), 1.0)
    return lo - pad * span, hi + pad * span


def _history(history):
    if history is None:
        return np.empty(0), np.empty(0)
    steps, values = history
    return (np.asarray(steps, dtype=np.float64).reshape(-1),
            np.asarray(values, dtype=np.float64).reshape(-1))


def _fit_axes(axes, last_step, values):
    axes.set_xlim(0, last_step * 1.02)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        axes.set_ylim(0, 1)
        return
    view = defaults.load()["view"]
    if view.get("ignore_outliers") and finite.size >= 20:
        # As the tab (and TensorBoard's "Ignore outliers in chart scaling"): the first
        # steps' huge losses do not flatten the rest.
        lo, hi = np.quantile(finite, view.get("outlier_quantiles", (0.05, 0.95)))
    else:
        lo, hi = float(finite.min()), float(finite.max())
    # Linear scale from 0 when all losses are >= 0: the drop of the loss reads at a glance.
    bottom = 0.0 if finite.min() >= 0 else min(0.0, lo)
    top = hi if hi > bottom else bottom + 1.0
    axes.set_ylim(bottom, top + (top - bottom) * 0.05)


def _band_polygons(x, lower, upper):
    """One polygon per run of points where both edges are finite (NaN breaks the band)."""
    ok = np.isfinite(lower) & np.isfinite(upper)
    if ok.all():
        runs = [(0, len(x))]
    else:
        edges = np.flatnonzero(np.diff(np.concatenate(([0], ok.astype(np.int8), [0]))))
        runs = list(zip(edges[::2], edges[1::2]))
    polygons = []
    for start, stop in runs:
        if stop - start < 2:
            continue
        xs = x[start:stop]
        polygons.append(np.column_stack((
            np.concatenate((xs, xs[::-1])),
            np.concatenate((lower[start:stop], upper[start:stop][::-1])),
        )))
    return polygons


def figure_for_run(settings, points, *, view=None, size=(960, 540), dpi=100, title=None,
                   smoothing=None, band=None, theme="light", loss_map=None):
    """The figure of one view of a run (default: its main view), from its settings and
    stored point sets.

    Args:
        settings: The run's settings (its kind and view defaults).
        points: {"sample", "scatter", "validation"}: float [d + t, n] arrays or None.
        view: One of the run's views; None: the main one.
        smoothing, band: Override the run's view defaults.
        theme: "light" or "dark".
        loss_map: The run's loss map, for view "loss_map".

    Returns:
        A `RunFigure`: `draw(step, values, grid, epoch=, sample_loss=, batch_loss=,
        epoch_ends=)`, `rgb()`, `png()`, `size`.
    """
    return RunFigure(settings, points, view=view, size=size, dpi=dpi, title=title,
                     smoothing=smoothing, band=band, theme=theme, loss_map=loss_map)
