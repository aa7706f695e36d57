"""FitVizWriter: records FitViz frames from any training loop, without TensorFlow.

The writer is the recording's input side: it checks the data, decides the
run's kind (`tb_fitviz.kind`), chooses the points to predict on and follows
the schedule. What it records goes to two outputs: the event file
(`tb_fitviz.summaries.EventOutput`) and the Images-tab figures
(`tb_fitviz.images.ImageOutput`). The Keras callback uses only this public API.
"""

import atexit
import contextlib
import functools
import math
import numbers
import os
import sys
import threading
import weakref

import numpy as np

from tb_fitviz import defaults, point_losses, storage
from tb_fitviz import summary_format as fmt
from tb_fitviz.data import (
    as_features,
    as_targets,
    check_lengths,
    check_names,
    choose,
    guess_task,
    make_grid,
    raw_targets,
    sample_order,
)
from tb_fitviz.images import ImageOutput
from tb_fitviz.kind import CLASSIFICATION, TASKS, RunKind
from tb_fitviz.point_losses import point_loss
from tb_fitviz.schedules import as_schedule
from tb_fitviz.smoothing import check_window
from tb_fitviz.summaries import EventOutput, frame_info

DEFAULT_SAMPLE = 1000
DEFAULT_SCATTER = 2000
DEFAULT_GRID = "auto"
IMAGE_SIZE = (960, 540)


class FitVizWriter:
    """Writes what a model predicts over a sample of the data, step by step.

    Framework-neutral: give it predictions as NumPy arrays (from PyTorch, JAX,
    NumPy or anything else) and it writes TensorBoard event files that the
    FitViz tab shows. TensorFlow is not needed.

    What is recorded follows from the data (see `tb_fitviz.kind`): with one
    feature, a curve over x; with two, also the model's output on a grid (a
    surface); with any number, predicted against true values (regression) or
    the probability of the true class and the confusion matrix (classifiers),
    and the per-point loss of the sample at every frame.

    Flush policy: every frame, and every epoch end, is handed to the operating
    system as it is recorded, so a crash, a KeyboardInterrupt or even a kill
    loses at most the batch losses recorded since the last frame.

    Args:
        log_dir: Directory of the run; event files go directly into it, so its
            last component is the run's name in TensorBoard.
        x: The inputs: (n,), (n, 1) or (n, d) arrays, a list of lists, or a
            pandas DataFrame (its column names become the feature names).
        y: The targets: regression (n,) or (n, k); classification integer class
            labels (n,) or one-hot rows (n, K); a list of arrays (one per output)
            is stacked.
        task: "auto" (default: integer or boolean labels and one-hot rows are a
            classification, anything else a regression), "regression" or
            "classification". The decision is stored in the settings.
        sample: How many points (int >= 2) or what fraction (float in (0, 1])
            of the data to predict on (default 1,000, or all points if fewer).
            One feature: spread evenly over sorted x; several: evenly over
            sorted y (regression) or stratified by class (classification).
        scatter: Same, for the points drawn as data (default 2,000).
        validation_data: Optional (x_val, y_val), drawn in their own colour;
            the validation-sample loss is recorded when predictions on
            `x_validation` are passed to `record`.
        validation_sample: Size of the validation sample, as for `sample`.
        grid: Points a side of the surface of a two-feature run (2 to 1,000;
            "auto": the default, 100), or None for no surface. Ignored with
            other input widths.
        every: Optional schedule for `due(step)`: an int n, a sequence of
            booleans (one per step, the first for step 1), a callable
            (step, logs) -> bool or a `tb_fitviz.schedules` schedule. `record`
            itself always writes; `due` tells a loop when to call it.
        loss: Per-point loss: "auto" (default: "squared" for a regression,
            "cross_entropy" for a classifier), "squared", "absolute",
            "cross_entropy", a callable (y_true, y_pred) -> one value per point
            (called with NumPy arrays, per output), or "model": the loop
            computes its own per-point loss and passes it to `record` as
            `point_loss` (the Keras callback does so).
        images: Figures for TensorBoard's Images tab: "epoch" (default: at
            each `record_epoch`, and the last frame at `close`), an int n
            (every n-th recorded frame, and the last), or False.
        smoothing: Odd moving-average window of the loss band (a view
            default stored with the run; the stored loss is unsmoothed).
            None: the project's default (`frontend/defaults.json`).
        band: Loss band: "auto" (faithful to the loss: sqrt of a squared
            loss, the absolute loss itself, none for cross-entropy or a
            callable), "sqrt", "raw" or None.
        feature_names, output_names, class_names: Names (defaults: the
            DataFrame's columns, else "x1".., "y1".., "0"..; one feature or
            output: "x", "y").
        x_label, y_label, title: Optional texts for the axes of a 1-feature
            curve and the title.
        framework: Stored in the settings ("numpy" by default).
        background_images: Draw figures in the background (default): in a child
            process (`tb_fitviz.figure_process`), so the training loop neither
            waits for Matplotlib nor shares its GIL with it; `close()` waits
            for them.
        drop_stale_images: A figure not yet started when the next is due is
            dropped (the last frame's is always drawn).

    Example:

    ```python
    import numpy as np
    from tb_fitviz import FitVizWriter

    x = np.linspace(0, 1, 500)
    y = 3 * x + 1 + np.random.normal(0, 0.1, x.size)
    w = b = 0.0
    with FitVizWriter("logs/numpy-gd", x, y, every=5) as writer:
        writer.record(0, w * writer.x_sample + b)  # the model before training
        for step in range(1, 201):
            error = w * x + b - y
            w -= 0.1 * 2 * np.mean(error * x)
            b -= 0.1 * 2 * np.mean(error)
            writer.record_batch_loss(step, np.mean(error ** 2))
            if writer.due(step):
                writer.record(step, w * writer.x_sample + b)
    ```
    """

    def __init__(
        self,
        log_dir,
        x,
        y,
        *,
        task="auto",
        sample=DEFAULT_SAMPLE,
        scatter=DEFAULT_SCATTER,
        validation_data=None,
        validation_sample=DEFAULT_SAMPLE,
        grid=DEFAULT_GRID,
        every=None,
        loss="auto",
        images="epoch",
        smoothing=None,
        band="auto",
        feature_names=None,
        output_names=None,
        class_names=None,
        x_label=None,
        y_label=None,
        title=None,
        framework="numpy",
        schedule_description=None,
        background_images=True,
        drop_stale_images=False,
        class_count=None,
    ):
        if isinstance(log_dir, bytes) or not isinstance(log_dir, (str, os.PathLike)):
            raise TypeError(f"log_dir: expected a path (str), got {type(log_dir).__name__}")
        for name, value in (("x_label", x_label), ("y_label", y_label), ("title", title)):
            if value is not None and not isinstance(value, str):
                raise TypeError(f"{name}: expected a string or None, got {type(value).__name__}")

        # -- the data and the run's kind --
        features, columns = as_features(x, "x")
        if task == "auto":  # class names say classification; else y decides
            task = (CLASSIFICATION if class_names is not None
                    else guess_task(raw_targets(y, "y")[0]))
        elif task not in TASKS:
            raise ValueError(
                f"task: expected 'auto', 'regression' or 'classification', got {task!r}")
        if class_names is not None and task != CLASSIFICATION:
            raise ValueError("class_names: given for a regression (task='regression', or a "
                             "model whose loss is not a cross-entropy); class names need a "
                             "classifier")
        classes_from = None if class_count is None else "the model's output"
        if class_names is not None:  # a classification (refused above otherwise)
            if isinstance(class_names, str) or not hasattr(class_names, "__len__") \
                    or len(class_names) < 2:
                raise ValueError(f"class_names: expected a list of at least 2 names, got "
                                 f"{class_names!r}")
            class_count, classes_from = len(class_names), "class_names"
        targets = as_targets(y, task, "y", class_count=class_count, classes_from=classes_from)
        check_lengths(features, targets)
        d = features.shape[1]
        feature_names = check_names(
            feature_names if feature_names is not None
            else columns if columns is not None
            else (x_label,) if (x_label and d == 1) else None,
            d, "feature_names" if feature_names is not None or columns is None
            else "x (its column names)", "x")
        if task == CLASSIFICATION:
            output_names = check_names(output_names if output_names is not None
                                       else targets.names if targets.names
                                       and len(targets.names) == 1 else ("class",),
                                       1, "output_names", "y")
            class_names = check_names(class_names, targets.class_count, "class_names", "")
        else:
            k = targets.values.shape[1]
            output_names = check_names(
                output_names if output_names is not None
                else targets.names if targets.names and len(targets.names) == k
                else (y_label,) if (y_label and k == 1) else None, k,
                "output_names" if output_names is not None or not targets.names
                else "y (its column names)", "y")
            class_names = None
        self.loss = point_loss(loss, task)
        grid_spec = None
        if d == 2 and grid is not None:
            settings = defaults.grid_defaults()
            grid_spec = make_grid(features, settings["size"] if grid == "auto" else grid,
                                  settings["margin"])
        elif grid is not None and grid != "auto":
            make_grid(np.zeros((2, 2)), grid, 0.0)  # the same checks, whatever the width
        self.kind = RunKind(task=task, input_width=d, feature_names=feature_names,
                            output_names=output_names, class_names=class_names,
                            grid=grid_spec, sample_order=sample_order(d, task))
        self.targets = targets

        # -- the points predicted on and drawn --
        index = choose(features, targets, sample, "sample")
        self._sample = (features[index], _subset(targets, index))
        index = choose(features, targets, scatter, "scatter", minimum=1)
        self._scatter = (features[index], _subset(targets, index))
        self._validation = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise TypeError(
                    "validation_data: expected a tuple (x_val, y_val), "
                    f"got {type(validation_data).__name__}"
                    + (f" of length {len(validation_data)}"
                       if isinstance(validation_data, (tuple, list)) else "")
                )
            xv, _ = as_features(validation_data[0], "validation_data[0]")
            if xv.shape[1] != d:
                raise ValueError(f"validation_data[0]: has {xv.shape[1]} features, x has {d}")
            yv = as_targets(validation_data[1], task, "validation_data[1]",
                            class_count=self.kind.class_count or None,
                            classes_from=classes_from or "y")
            check_lengths(xv, yv, "validation_data[0]", "validation_data[1]")
            if task != CLASSIFICATION and yv.values.shape[1] != targets.values.shape[1]:
                raise ValueError(f"validation_data[1]: has {yv.values.shape[1]} outputs, "
                                 f"y has {targets.values.shape[1]}")
            index = choose(xv, yv, validation_sample, "validation_sample", minimum=1)
            self._validation = (xv[index], _subset(yv, index))

        # -- schedule, loss, view defaults --
        # The loss of each point set, its targets prepared once (this runs at every frame).
        self._sample_loss = self._bind_loss(self._sample[1])
        self._validation_loss = (None if self._validation is None
                                 else self._bind_loss(self._validation[1]))
        self.schedule = as_schedule(every)
        if self.schedule is not None and hasattr(self.schedule, "set_scale"):
            self.schedule.set_scale(self._prediction_scale())
        self.images = _check_images(images)
        if smoothing is not None:
            smoothing = check_window(smoothing, "smoothing")
        view = defaults.view_defaults(self.loss.kind, band, smoothing)
        self.log_dir = os.fspath(log_dir)
        storage.prepare_log_dir(self.log_dir)
        if schedule_description is None:
            schedule_description = ("every call to record" if self.schedule is None
                                    else self.schedule.describe())
        self.settings = {
            **self.kind.to_settings(),
            "loss": self.loss.name,
            "schedule": schedule_description,
            "sample_size": len(self._sample[0]),
            "scatter_size": len(self._scatter[0]),
            "validation_size": 0 if self._validation is None else len(self._validation[0]),
            "x_label": x_label,
            "y_label": y_label,
            "title": title,
            "framework": framework,
            "view": view,
            "target_form": targets.form,
        }
        self._title = title
        self._lock = threading.RLock()
        self._last_step = None
        self._last_batch_step = None
        self._closed = False
        self.frames_recorded = 0
        self._events = EventOutput(self.log_dir, self.settings, self.points())
        self._images = ImageOutput(self._make_figure(), self._write_image,
                                   background=bool(background_images),
                                   drop_stale=bool(drop_stale_images))

    # -- the points -----------------------------------------------------------------

    @property
    def x_sample(self):
        """The sample's inputs: (N,) with one feature, else (N, d); what to predict on."""
        return _public_x(self._sample[0])

    @property
    def y_sample(self):
        """The sample's targets: (N,) for one output or class labels, else (N, k)."""
        return _public_y(self._sample[1])

    @property
    def x_validation(self):
        return None if self._validation is None else _public_x(self._validation[0])

    @property
    def y_validation(self):
        return None if self._validation is None else _public_y(self._validation[1])

    @property
    def x_scatter(self):
        return _public_x(self._scatter[0])

    @property
    def y_scatter(self):
        return _public_y(self._scatter[1])

    @property
    def x_grid(self):
        """The surface's grid points, float64 [G*G, 2] (row-major, see `kind.Grid`),
        or None when the run has no surface."""
        return None if self.kind.grid is None else self.kind.grid.points()

    def points(self):
        """The stored point sets: {"sample", "scatter", "validation"}: float32
        [d + t, n] (features, then targets) or None."""
        def rows(pair):
            if pair is None:
                return None
            features, targets = pair
            return np.concatenate([features.T, _target_rows(targets)]).astype(np.float32)

        return {"sample": rows(self._sample), "scatter": rows(self._scatter),
                "validation": rows(self._validation)}

    def _prediction_scale(self):
        if self.kind.is_classification:
            return np.array([0.0, 1.0])
        return self._sample[1].reshape(-1)

    # -- scheduling ---------------------------------------------------------

    def due(self, step, logs=None, predictions=None):
        """Whether the writer's `every` schedule wants a frame at `step`.

        Always True without a schedule, and for step 0 and step 1 (the model
        before training and after the first batch).
        """
        if self.schedule is None or step <= 1:
            return True
        return bool(self.schedule(int(step), logs, predictions))

    # -- recording ------------------------------------------------------------------

    def set_framework(self, framework):
        """Names the training framework in the settings (before the first write only)."""
        with self._lock:
            if not self._events.opened:
                self.settings["framework"] = str(framework)

    def predictions(self, y_pred, name="y_pred", count=None, dtype=np.float64):
        """The model's output as the kind's prediction channels, `dtype` (float64) [n, P].

        Regression: (n,) or (n, k) values. Classification: (n, K) class
        probabilities; two classes also (n,) or (n, 1), P(class 1).
        """
        count = len(self._sample[0]) if count is None else count
        try:
            array = np.asarray(y_pred, dtype=dtype)
        except (TypeError, ValueError):
            raise TypeError(f"{name}: expected numbers, got {type(y_pred).__name__}") from None
        if array.ndim == 1:
            array = array[:, None]
        width = len(self.kind.prediction_channels)
        if self.kind.binary and array.ndim == 2 and array.shape[1] == 2:
            array = array[:, 1:]
        if array.shape != (count, width):
            if self.kind.is_classification:
                expected = ("P(class 1), shape (n,) or (n, 1), or both probabilities (n, 2)"
                            if self.kind.binary else
                            f"the {self.kind.class_count} class probabilities, shape (n, "
                            f"{self.kind.class_count})")
            else:
                expected = (f"one value per point, shape ({count},)" if width == 1
                            else f"one value per output, shape ({count}, {width})")
            raise ValueError(f"{name}: expected {expected} with n = {count}, "
                             f"got shape {np.shape(y_pred)}")
        return array

    def point_loss(self, y_pred, y_true=None):
        """Per-point loss of `y_pred` against the sample's targets (or `y_true`, a
        target array as `y_sample` gives it): float64 [N], or [N, k] (each output's
        own) for a regression with k > 1 outputs."""
        if self.loss.function is None:
            raise ValueError(
                "loss: 'model' has no NumPy form; pass point_loss= (and point_loss_validation=) "
                "to record, or choose another loss")
        loss = (self._sample_loss if y_true is None
                else self._bind_loss(np.asarray(y_true)))
        losses = loss(self.predictions(y_pred, count=len(self._sample[0] if y_true is None
                                                             else y_true)))
        return losses[:, 0] if losses.shape[1] == 1 else losses

    def _bind_loss(self, targets):
        """The writer's loss for these targets (as `y_sample` or `_sample[1]` holds them)."""
        kind = self.kind
        if not kind.is_classification:
            targets = targets.reshape(len(targets), -1)
        return self.loss.bind(targets, classification=kind.is_classification,
                              binary=kind.binary)

    def _losses(self, predictions, given, loss, name):
        """(the loss per point [n], each output's [n, k] or None) of one point set, by
        `given` values or else by its bound `loss`."""
        if given is None:
            if loss is None:
                raise ValueError(
                    f"{name}: required with loss='model' (the per-point loss has no NumPy "
                    "form here); pass it to record, or choose another loss")
            losses = loss(predictions)
        else:
            losses = np.asarray(given, dtype=np.float64)
            n = len(predictions)
            width = 1 if self.kind.is_classification else self.kind.output_count
            if losses.ndim == 1:
                losses = losses[:, None]
            if losses.shape not in ((n, 1), (n, width)):
                raise ValueError(
                    f"{name}: expected one value per point, shape ({n},)"
                    + (f", or one per output, ({n}, {width})" if width > 1 else "")
                    + f"; got shape {np.shape(given)}")
        return point_losses.mean_and_each(
            losses, 1 if self.kind.is_classification else self.kind.output_count)

    def record(self, step, y_pred, *, epoch=0, y_pred_validation=None, y_pred_grid=None,
               regularization_loss=None, point_loss=None, point_loss_validation=None,
               image=None):
        """Records one frame: the predictions at `x_sample` after `step` batches.

        Non-finite predictions (a diverging model) are recorded as they are.

        Args:
            step: Global batch count (0 = before training); must increase.
            y_pred: Predictions at `x_sample` (see `predictions` for the shapes).
            epoch: Epoch the step belongs to (0-based).
            y_pred_validation: Predictions at `x_validation`, if any.
            y_pred_grid: Predictions at `x_grid`: required when the run has a
                surface (two features, `grid` not None).
            regularization_loss: Sum of regularization penalties, if any.
            point_loss: Per-point loss at `x_sample` (shape (N,), or (N, k) each
                output's own), if computed by the caller already; otherwise
                computed with the writer's `loss`.
            point_loss_validation: Same, at `x_validation`.
            image: True/False to force or skip a figure for this frame;
                None follows the `images` option.
        """
        with self._lock:
            step = self._check_step(step)
        kind = self.kind
        predictions = self.predictions(y_pred)
        loss, per_output = self._losses(predictions, point_loss, self._sample_loss, "point_loss")
        grid = None
        if kind.grid is not None:
            if y_pred_grid is None:
                raise ValueError(
                    "y_pred_grid: required: this run has a surface (two features); predict at "
                    "writer.x_grid, or make the writer with grid=None")
            # Stored as float32: converted once (not through float64 as the sample is), and
            # copied (the figure of the last frame draws it later; the caller may reuse it).
            grid = self.predictions(y_pred_grid, "y_pred_grid", count=kind.grid.size ** 2,
                                    dtype=np.float32)
            grid = np.array(grid.T, order="C")
        # A sum of huge losses can overflow (a warning): not a clipped cross-entropy's.
        computed = point_loss is None and point_loss_validation is None
        with (contextlib.nullcontext() if computed and self.loss.kind == "cross_entropy"
              else np.errstate(all="ignore")):
            sample_loss = float(loss.sum()) / loss.size  # np.mean's value, without its wrapper
            validation_loss = math.nan
            if self._validation is not None and (
                    y_pred_validation is not None or point_loss_validation is not None):
                count = len(self._validation[0])
                vp = (np.zeros((count, len(kind.prediction_channels)))
                      if y_pred_validation is None
                      else self.predictions(y_pred_validation, "y_pred_validation", count))
                vloss, _ = self._losses(vp, point_loss_validation, self._validation_loss,
                                        "point_loss_validation")
                validation_loss = float(vloss.sum()) / vloss.size
        channels = [predictions.T, loss[None, :]]
        if per_output is not None:
            channels.append(per_output.T)
        values = np.concatenate(channels, dtype=np.float32)
        self._write_frame(step, epoch, values, grid, predictions, sample_loss, validation_loss,
                          regularization_loss, image)

    def record_channels(self, step, values, *, grid=None, epoch=0, sample_loss=None,
                        validation_loss=None, regularization_loss=None, image=None):
        """Records one frame given as it is stored (the Keras callback's compiled pass
        makes it so, see `tb_fitviz.compiled_frame`): nothing is converted or computed
        but the sample's mean loss when it is not given.

        Args:
            step: Global batch count; must increase.
            values: float32 [C, N] C-contiguous: the sample frame's channels,
                `kind.sample_channels` (predictions, per-point loss, each output's loss).
            grid: float32 [Cg, G*G] C-contiguous: the grid's channels
                (`kind.grid_channels`); required when the run has a surface.
            epoch: Epoch the step belongs to (0-based).
            sample_loss: The mean of the loss channel (computed when None).
            validation_loss: The validation sample's mean loss, if any.
            regularization_loss: Sum of regularization penalties, if any.
            image: As for `record`.

        The writer keeps `values` and `grid` (the figure of the last frame is drawn from
        them): do not change them afterwards.
        """
        with self._lock:
            step = self._check_step(step)
        kind = self.kind
        count = len(self._sample[0])
        _check_channels(values, "values", (len(kind.sample_channels), count))
        if kind.grid is not None:
            _check_channels(grid, "grid", (len(kind.grid_channels), kind.grid.size ** 2))
        elif grid is not None:
            raise ValueError("grid: this run has no surface; pass grid=None")
        if sample_loss is None:
            loss = values[kind.channel("loss")]
            sample_loss = float(loss.sum(dtype=np.float64)) / count
        if validation_loss is not None and self._validation is None:
            raise ValueError("validation_loss: this run has no validation data; pass None")
        validation_loss = math.nan if validation_loss is None else float(validation_loss)
        predictions = values[:len(kind.prediction_channels)].T
        self._write_frame(step, epoch, values, grid, predictions, float(sample_loss),
                          validation_loss, regularization_loss, image)

    def _write_frame(self, step, epoch, values, grid, predictions, sample_loss,
                     validation_loss, regularization_loss, image):
        """Writes a frame in the stored layout (what `record` and `record_channels` end in)."""
        regularization = math.nan if regularization_loss is None else float(regularization_loss)
        epoch = _as_epoch(epoch)
        info = frame_info(epoch, sample_loss, validation_loss, regularization)
        scalars = [(fmt.SCALAR_SAMPLE_LOSS, sample_loss)]
        if not math.isnan(validation_loss):
            scalars.append((fmt.SCALAR_VALIDATION_LOSS, validation_loss))
        if regularization_loss is not None:
            scalars.append((fmt.SCALAR_REGULARIZATION_LOSS, regularization))
        with self._lock:
            self._open_writer()
            self._events.frame(step, values, info, grid, scalars)
            self._last_step = step
            if self.schedule is not None:
                # OnChange compares the next predictions with these.
                self.schedule.recorded(step, predictions)
            self.frames_recorded += 1
            self._images.note_frame(step, epoch, values, grid, sample_loss)
            if image or (image is None and self.images is not False
                         and isinstance(self.images, int)
                         and self._images.frames_since_image >= self.images):
                self._images.draw_last()

    def record_batch_loss(self, step, loss):
        """Records the loss of one batch (its own value, not a running mean).

        Written as the scalar `fitviz/batch_loss` and, in chunks at each
        frame, as `fitviz/batch_losses` (which keeps every value).
        """
        step = _as_step(step)
        loss = float(loss)
        with self._lock:
            if self._closed:
                raise RuntimeError("record_batch_loss: this FitVizWriter is closed")
            if self._last_batch_step is not None and step <= self._last_batch_step:
                raise ValueError(
                    f"step: batch-loss steps must increase; got {step} after "
                    f"{self._last_batch_step}")
            self._last_batch_step = step
            self._open_writer()
            self._events.batch_loss(step, loss)
            self._images.note_batch_loss(step, loss)

    def record_epoch(self, step, epoch, loss=None, val_loss=None, image=None):
        """Records an epoch end at global `step`: its loss and validation loss.

        With `images="epoch"` this also draws the figure of the last frame
        (record a frame at `step` first to show the model at the epoch end).

        Args:
            step: Global step of the epoch's last batch.
            epoch: The epoch (0-based).
            loss, val_loss: The epoch's loss and validation loss, if known.
            image: True/False to force or skip the figure; None follows
                the `images` option.
        """
        step, epoch = _as_step(step), _as_epoch(epoch)  # None: unknown (NaN)
        with self._lock:
            if self._closed:
                raise RuntimeError("record_epoch: this FitVizWriter is closed")
            self._open_writer()
            self._events.epoch(step, loss, val_loss, epoch)
            self._images.note_epoch_end(step)
            if image or (image is None and self.images == "epoch"):
                self._images.draw_last()

    def write_image(self):
        """Draws the figure of the last recorded frame into the Images tab."""
        with self._lock:
            if not self._closed:  # close() already drew the last one
                self._images.draw_last()

    def prepare_images(self):
        """Makes the figure and renders it once, in the background, before it is needed.

        Importing Matplotlib and the first render (fonts) take a fraction of a
        second; this moves that cost out of the training loop.
        """
        if self.images:
            self._images.prepare()

    def wait_for_images(self):
        """Blocks until every figure queued so far is written."""
        self._images.wait()

    @property
    def image_seconds(self):
        """Seconds spent drawing figures so far (in the background by default)."""
        return self._images.seconds

    @property
    def last_image_seconds(self):
        """What the last figure cost (None before the first)."""
        return self._images.last_seconds

    @property
    def images_written(self):
        return self._images.images_written

    def figure(self):
        """The run's figure used for images (`tb_fitviz.figure.figure_for_run`)."""
        return self._images.figure()

    def _make_figure(self):
        """A picklable recipe of the run's figure: the figure process makes it."""
        from tb_fitviz.figure import figure_for_run

        return functools.partial(
            figure_for_run, self.settings, self.points(), size=IMAGE_SIZE,
            title=self._title or os.path.basename(os.path.normpath(self.log_dir)))

    def _write_image(self, step, width, height, png):
        with self._lock:
            return self._events.image(step, width, height, png)

    def _open_writer(self):
        if not self._events.opened:
            _OPEN_WRITERS.add(self)

    def _check_step(self, step):
        step = _as_step(step)
        if step < 0:
            raise ValueError(f"step: expected a step >= 0, got {step}")
        if self._closed:
            raise RuntimeError("record: this FitVizWriter is closed")
        if self._last_step is not None and step <= self._last_step:
            raise ValueError(f"step: steps must increase; got {step} after {self._last_step}")
        return step

    @property
    def last_step(self):
        """The step of the last recorded frame, or None."""
        return self._last_step

    @property
    def closed(self):
        return self._closed

    def flush(self):
        """Hands everything recorded so far to the operating system."""
        with self._lock:
            if not self._closed:
                self._events.flush()

    def close(self):
        """Draws the last frame's figure (if images are on), flushes and closes.

        Waits for figures being drawn in the background. Safe to call twice.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self.images and self._images.has_frame:
                self._images.draw_last()
        try:
            self._images.stop()
        finally:
            with self._lock:
                self._events.close()

    def reopen(self):
        """Continues a closed writer in a new event file of the same run.

        Steps go on from where they were (they must still increase).
        """
        with self._lock:
            if self._closed:
                self._closed = False
                self._events.reopen()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
        return False


_OPEN_WRITERS = weakref.WeakSet()


@atexit.register
def _close_open_writers():
    """At exit, writers left open still get their last figure and a flush; then the
    figure process, which drew them, is closed."""
    for writer in list(_OPEN_WRITERS):
        with contextlib.suppress(Exception):  # nothing useful to do at exit
            writer.close()
    figure_process = sys.modules.get("tb_fitviz.figure_process")
    if figure_process is not None:
        with contextlib.suppress(Exception):
            figure_process.close_shared()


def _subset(targets, index):
    return targets.values[index]


def _target_rows(values):
    values = np.asarray(values)
    return values[None, :] if values.ndim == 1 else values.T


def _public_x(features):
    return features[:, 0] if features.shape[1] == 1 else features


def _public_y(values):
    return values[:, 0] if values.ndim == 2 and values.shape[1] == 1 else values


def _check_channels(array, name, shape):
    """A frame's channels as `record_channels` takes them: float32, `shape`, contiguous."""
    if not (isinstance(array, np.ndarray) and array.dtype == np.float32
            and array.shape == shape and array.flags.c_contiguous):
        got = (f"{array.dtype} {list(array.shape)}" if isinstance(array, np.ndarray)
               else type(array).__name__)
        raise ValueError(f"{name}: expected a C-contiguous float32 array of shape "
                         f"{list(shape)} (the stored channels), got {got}")


def _check_images(images):
    if images is False or images is None:
        return False
    if images == "epoch":
        return "epoch"
    if isinstance(images, numbers.Integral) and not isinstance(images, bool) and images >= 1:
        return int(images)
    raise ValueError(
        f"images: expected 'epoch', a positive int (every n recorded frames) or False, "
        f"got {images!r}"
    )


def _as_step(step):
    if type(step) is int:  # the usual case, without the slower checks below
        return step
    if isinstance(step, bool) or not isinstance(step, numbers.Integral):
        raise TypeError(f"step: expected an int, got {type(step).__name__}")
    return int(step)


def _as_epoch(epoch):
    if type(epoch) is int:
        return float(epoch)
    if epoch is None:
        return math.nan
    if isinstance(epoch, bool) or not isinstance(epoch, numbers.Real):
        raise TypeError(f"epoch: expected an int, got {type(epoch).__name__}")
    return float(epoch)
