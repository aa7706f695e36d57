"""The FitViz picture as an off-screen Matplotlib figure.

Used for the Images tab (by the writer) and by the export command. The figure
is drawn on its own Agg canvas (``matplotlib.figure.Figure`` +
``FigureCanvasAgg``): pyplot is never imported, so the user's backend, current
figure and interactive state are left alone. All artists are made once in
``__init__``; ``draw`` only updates their data, so the figure never grows.
"""

import io
import math

import numpy as np

from tb_fitviz.smoothing import check_window, moving_average

CURVE_COLOR = "steelblue"
SCATTER_COLOR = "0.55"
VALIDATION_COLOR = "darkorange"
BATCH_LOSS_COLOR = "0.5"
EPOCH_END_COLOR = "0.8"
BANDS = ("sqrt", "raw", None)
# More epoch-end lines than this turn the side panels grey: mark every k-th epoch instead.
MAX_EPOCH_MARKS = 12


class FitFigure:
    """One off-screen figure: the fit over x, with sample-loss and batch-loss charts.

    Main panel: the scatter of the data (grey), validation points (orange) if
    any, the model's current predictions over the sample (steelblue line) and
    a band around it showing the per-point loss, smoothed over x. Side panels:
    the sample loss and the batch loss over steps, with epoch ends marked.

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

    Example:

    ```python
    figure = FitFigure(x, y, x, y)
    figure.draw(10, y_pred, (y_pred - y) ** 2, epoch=0)
    open("frame.png", "wb").write(figure.png())
    ```
    """

    def __init__(self, sample_x, sample_y, scatter_x, scatter_y, validation_x=None,
                 validation_y=None, *, x_label=None, y_label=None, title=None,
                 size=(960, 540), dpi=100, smoothing=1, band="sqrt"):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.collections import LineCollection, PolyCollection
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator

        if band not in BANDS:
            raise ValueError(f"band: expected 'sqrt', 'raw' or None, got {band!r}")
        self._smoothing = check_window(smoothing, "smoothing")
        self._band_kind = band
        width, height = _check_size(size)
        self.sample_x = np.asarray(sample_x, dtype=np.float64).reshape(-1)
        self.sample_y = np.asarray(sample_y, dtype=np.float64).reshape(-1)
        scatter_x = np.asarray(scatter_x, dtype=np.float64).reshape(-1)
        scatter_y = np.asarray(scatter_y, dtype=np.float64).reshape(-1)

        self.figure = Figure(figsize=(width / dpi, height / dpi), dpi=dpi)
        self.canvas = FigureCanvasAgg(self.figure)
        grid = self.figure.add_gridspec(2, 3, left=0.07, right=0.98, bottom=0.1, top=0.88,
                                        wspace=0.35, hspace=0.45)
        self.main_axes = self.figure.add_subplot(grid[:, :2])
        self.sample_loss_axes = self.figure.add_subplot(grid[0, 2])
        self.batch_loss_axes = self.figure.add_subplot(grid[1, 2])
        if title:
            self.figure.suptitle(title)

        main = self.main_axes
        main.scatter(scatter_x, scatter_y, s=4, color=SCATTER_COLOR, alpha=0.6, linewidths=0,
                     zorder=1, label="data", rasterized=True)
        y_values = [scatter_y, self.sample_y]
        if validation_x is not None and validation_y is not None:
            vx = np.asarray(validation_x, dtype=np.float64).reshape(-1)
            vy = np.asarray(validation_y, dtype=np.float64).reshape(-1)
            main.scatter(vx, vy, s=6, color=VALIDATION_COLOR, alpha=0.7, linewidths=0,
                         zorder=1.5, label="validation", rasterized=True)
            y_values.append(vy)
        self._band = None
        if band is not None:
            self._band = PolyCollection([], facecolor=CURVE_COLOR, edgecolor="none",
                                        alpha=0.3, zorder=2, label="loss band")
            main.add_collection(self._band)
        (self._curve,) = main.plot(self.sample_x, np.full_like(self.sample_x, np.nan),
                                   color=CURVE_COLOR, linewidth=2, zorder=3, label="model")
        main.set_xlim(*_limits([self.sample_x, scatter_x], pad=0.02))
        main.set_ylim(*_limits(y_values, pad=0.1))
        main.set_xlabel(x_label or "x")
        main.set_ylabel(y_label or "y")
        # Above the axes: the curve, drawn on top of a cached background, never hides it.
        main.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=4, fontsize="small",
                    frameon=False, borderaxespad=0.2, handlelength=1.5)
        # A figure-level text, not an axes title: it is drawn on its own over the cached
        # background, at a fixed place left of the legend.
        self._step_text = self.figure.text(
            main.get_position().x0, 0.9, "", ha="left", va="bottom", fontsize="medium")

        (self._sample_loss_line,) = self.sample_loss_axes.plot(
            [], [], color=CURVE_COLOR, linewidth=1.5)
        (self._batch_loss_line,) = self.batch_loss_axes.plot(
            [], [], color=BATCH_LOSS_COLOR, linewidth=0.8)
        self._epoch_marks = []
        for axes, label in ((self.sample_loss_axes, "sample loss"),
                            (self.batch_loss_axes, "batch loss")):
            axes.set_title(label, fontsize="small")
            axes.set_xlabel("step", fontsize="small")
            axes.tick_params(labelsize="x-small")
            axes.xaxis.set_major_locator(MaxNLocator(4, integer=True))
            axes.yaxis.set_major_locator(MaxNLocator(4))
            marks = LineCollection([], colors=EPOCH_END_COLOR, linewidths=0.8, zorder=0,
                                   transform=axes.get_xaxis_transform())
            axes.add_collection(marks)
            self._epoch_marks.append(marks)
        # Everything else never changes: rendered once, then restored for each frame.
        self._dynamic = [a for a in (self._band, self._curve) if a is not None]
        self._background = None
        self._dirty = True

    def draw(self, step, y_pred, point_loss, *, epoch=None, sample_loss=None,
             batch_loss=None, epoch_ends=None):
        """Updates the artists for one frame (no new artists are made).

        Args:
            step: The frame's global step.
            y_pred: Predictions at `sample_x`.
            point_loss: Unsmoothed per-point loss at `sample_x`.
            epoch: The frame's epoch (0-based), shown in the title.
            sample_loss: (steps, values) of the sample loss up to this frame.
            batch_loss: (steps, values) of the batch losses up to this step.
            epoch_ends: Steps at which epochs ended, marked on the side panels.
        """
        y_pred = np.asarray(y_pred, dtype=np.float64).reshape(-1)
        point_loss = np.asarray(point_loss, dtype=np.float64).reshape(-1)
        n = len(self.sample_x)
        if len(y_pred) != n or len(point_loss) != n:
            raise ValueError(
                f"y_pred, point_loss: expected {n} values each (one per sample point), "
                f"got {len(y_pred)} and {len(point_loss)}"
            )
        self._curve.set_ydata(y_pred)
        if self._band is not None:
            smoothed = moving_average(point_loss, self._smoothing)
            with np.errstate(invalid="ignore"):
                half = np.sqrt(np.maximum(smoothed, 0)) if self._band_kind == "sqrt" else smoothed
                self._band.set_verts(_band_polygons(self.sample_x, y_pred - half, y_pred + half))
        text = f"step {int(step)}"
        if epoch is not None and not (isinstance(epoch, float) and math.isnan(epoch)):
            text += f"   epoch {int(epoch) + 1}"
        self._step_text.set_text(text)

        last_step = max(int(step), 1)
        for axes, line, history in ((self.sample_loss_axes, self._sample_loss_line, sample_loss),
                                    (self.batch_loss_axes, self._batch_loss_line, batch_loss)):
            steps, values = _history(history)
            line.set_data(steps, values)
            _fit_axes(axes, last_step, values)
        ends = [] if epoch_ends is None else np.asarray(epoch_ends, dtype=np.float64).reshape(-1)
        ends = [s for s in ends if s <= last_step]
        every = max(1, math.ceil(len(ends) / MAX_EPOCH_MARKS))
        segments = [[(s, 0.0), (s, 1.0)] for s in ends[every - 1::every]]
        for marks in self._epoch_marks:
            marks.set_segments(segments)
        self._dirty = True

    def rgb(self):
        """The figure as an (H, W, 3) uint8 array."""
        if self._dirty:
            self._render()
            self._dirty = False
        return np.asarray(self.canvas.buffer_rgba())[:, :, :3].copy()

    def _render(self):
        side_axes = (self.sample_loss_axes, self.batch_loss_axes)
        if self._background is None:
            # The static part (scatter, main axes, legend) once, without what changes.
            hidden = [*self._dynamic, self._step_text, *side_axes]
            for artist in hidden:
                artist.set_visible(False)
            self.canvas.draw()
            self._background = self.canvas.copy_from_bbox(self.figure.bbox)
            for artist in hidden:
                artist.set_visible(True)
        self.canvas.restore_region(self._background)
        for artist in self._dynamic:
            self.main_axes.draw_artist(artist)
        for artist in (self._step_text, *side_axes):
            self.figure.draw_artist(artist)

    def png(self):
        """The figure as PNG bytes."""
        from PIL import Image  # Matplotlib's own dependency for PNG.

        buffer = io.BytesIO()
        Image.fromarray(self.rgb()).save(buffer, format="png", compress_level=1)
        return buffer.getvalue()

    @property
    def size(self):
        """(width, height) in pixels."""
        width, height = self.canvas.get_width_height()
        return int(width), int(height)


def _check_size(size):
    try:
        width, height = (int(v) for v in size)
    except (TypeError, ValueError):
        raise TypeError(f"size: expected (width, height) in pixels, got {size!r}") from None
    if width < 100 or height < 100:
        raise ValueError(f"size: expected at least 100 x 100 pixels, got {width} x {height}")
    return width, height


def _limits(arrays, pad):
    values = np.concatenate([np.asarray(a, dtype=np.float64).reshape(-1) for a in arrays])
    values = values[np.isfinite(values)]
    if values.size == 0:
        return -1.0, 1.0
    lo, hi = float(values.min()), float(values.max())
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
    else:
        # Linear scale from 0 when all losses are >= 0: the drop of the loss reads at a glance.
        lo, hi = _limits([finite], pad=0.05)
        axes.set_ylim(0 if finite.min() >= 0 else lo, hi)


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


def figure_for_run(settings, points, *, size=(960, 540), dpi=100, title=None, smoothing=None,
                   band=None):
    """The figure of a run's main view, from its settings and stored point sets.

    Args:
        settings: The run's settings (its kind and view defaults).
        points: {"sample", "scatter", "validation"}: float [d + t, n] arrays or None.
        smoothing, band: Override the run's view defaults.
    """
    from tb_fitviz.kind import RunKind

    kind = RunKind.from_settings(settings)
    view = settings.get("view") or {}
    band = view.get("band", "sqrt") if band is None else band
    smoothing = view.get("smoothing", 1) if smoothing is None else smoothing
    if kind.input_width == 1 and kind.task == "regression" and kind.output_count == 1:
        sample, scatter, validation = points["sample"], points["scatter"], points.get("validation")
        figure = FitFigure(
            sample[0], sample[1], scatter[0], scatter[1],
            None if validation is None else validation[0],
            None if validation is None else validation[1],
            x_label=settings.get("x_label") or kind.feature_names[0],
            y_label=settings.get("y_label") or kind.output_names[0],
            title=title, size=size, dpi=dpi, smoothing=smoothing,
            band=None if band == "none" else band)
        return _ChannelFigure(figure, kind)
    raise NotImplementedError(f"no figure yet for a {kind.task} run with {kind.input_width} "
                              "features")


class _ChannelFigure:
    """Adapts FitFigure to frames of channels."""

    def __init__(self, figure, kind):
        self.inner = figure
        self._loss = kind.channel("loss")

    def draw(self, step, values, grid=None, **options):
        self.inner.draw(step, values[0], values[self._loss], **options)

    def png(self):
        return self.inner.png()

    def rgb(self):
        return self.inner.rgb()

    @property
    def size(self):
        return self.inner.size
