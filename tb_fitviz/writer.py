"""FitVizWriter: records FitViz frames from any training loop, without TensorFlow."""

import atexit
import contextlib
import math
import numbers
import os
import tempfile
import threading
import time
import weakref

import numpy as np
from tensorboard.compat.proto import event_pb2, summary_pb2

from tb_fitviz import storage
from tb_fitviz import summary_format as fmt
from tb_fitviz.data import as_points, evenly_spaced, resolve_count
from tb_fitviz.event_file import EventFile
from tb_fitviz.point_losses import point_loss_function
from tb_fitviz.schedules import as_schedule
from tb_fitviz.smoothing import check_window

DEFAULT_SAMPLE = 1000
DEFAULT_SCATTER = 2000
IMAGE_SIZE = (960, 540)


class FitVizWriter:
    """Writes what a model predicts over a sample of the data, step by step.

    Framework-neutral: give it predictions as NumPy arrays (from PyTorch, JAX,
    NumPy or anything else) and it writes TensorBoard event files that the
    FitViz tab shows. TensorFlow is not needed.

    Flush policy: every frame, and every epoch end, is handed to the operating
    system as it is recorded, so a crash, a KeyboardInterrupt or even a kill
    loses at most the batch losses recorded since the last frame.

    Args:
        log_dir: Directory of the run; event files go directly into it, so its
            last component is the run's name in TensorBoard.
        x: The inputs, one feature: shape (n,) or (n, 1).
        y: The targets, one output: shape (n,) or (n, 1).
        sample: How many points (int >= 2) or what fraction (float in (0, 1])
            of the data to predict on, spread evenly over sorted x. Default:
            1,000, or all points if fewer.
        scatter: Same, for the points drawn as the scatter (default 2,000).
        validation_data: Optional (x_val, y_val), drawn in their own colour;
            the validation-sample loss is recorded when predictions on
            `x_validation` are passed to `record`.
        validation_sample: Size of the validation sample, as for `sample`.
        every: Optional schedule for `due(step)`: an int n, a sequence of
            booleans (one per step, the first for step 1), a callable
            (step, logs) -> bool or a `tb_fitviz.schedules` schedule. `record`
            itself always writes; `due` tells a loop when to call it.
        loss: "squared" (default), "absolute", a callable
            (y_true, y_pred) -> one value per point (called with NumPy
            arrays), or "model": the loop computes its own per-point loss and
            passes it to `record` as `point_loss` (the Keras callback does so).
        images: Figures for TensorBoard's Images tab: "epoch" (default: at
            each `record_epoch`, and the last frame at `close`), an int n
            (every n-th recorded frame, and the last), or False.
        smoothing: Odd moving-average window applied to the per-point loss
            in the figures' loss band (a view setting; the stored loss is
            unsmoothed).
        band: Loss band of the figures: "auto" (sqrt of the loss for squared
            losses, the loss itself for "absolute", none for a callable),
            "sqrt", "raw" or None.
        x_label, y_label, title: Optional names shown on the axes.
        background_images: Draw figures in a background thread (default), so
            the training loop does not wait for Matplotlib; `close()` waits
            for them.

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
        sample=DEFAULT_SAMPLE,
        scatter=DEFAULT_SCATTER,
        validation_data=None,
        validation_sample=DEFAULT_SAMPLE,
        every=None,
        loss="squared",
        images="epoch",
        smoothing=1,
        band="auto",
        x_label=None,
        y_label=None,
        title=None,
        framework="numpy",
        schedule_description=None,
        background_images=True,
    ):
        if isinstance(log_dir, bytes) or not isinstance(log_dir, (str, os.PathLike)):
            raise TypeError(f"log_dir: expected a path (str), got {type(log_dir).__name__}")
        x, y = as_points(x, y, "x", "y")
        order = np.argsort(x, kind="stable")
        x, y = x[order], y[order]
        sample_index = evenly_spaced(len(x), resolve_count(sample, len(x), "sample"))
        scatter_index = evenly_spaced(len(x), resolve_count(scatter, len(x), "scatter", minimum=1))
        self.x_sample = x[sample_index]
        self.y_sample = y[sample_index]
        self.x_scatter, self.y_scatter = x[scatter_index], y[scatter_index]

        self.x_validation = self.y_validation = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise TypeError(
                    "validation_data: expected a tuple (x_val, y_val), "
                    f"got {type(validation_data).__name__}"
                    + (f" of length {len(validation_data)}"
                       if isinstance(validation_data, (tuple, list)) else "")
                )
            xv, yv = as_points(validation_data[0], validation_data[1], "validation_data[0]",
                               "validation_data[1]")
            order = np.argsort(xv, kind="stable")
            xv, yv = xv[order], yv[order]
            index = evenly_spaced(len(xv), resolve_count(
                validation_sample, len(xv), "validation_sample", minimum=1))
            self.x_validation, self.y_validation = xv[index], yv[index]

        self.schedule = as_schedule(every)
        if self.schedule is not None and hasattr(self.schedule, "set_scale"):
            self.schedule.set_scale(self.y_sample)
        self.loss_name, self._point_loss = point_loss_function(loss)
        self.images = _check_images(images)
        self._smoothing = check_window(smoothing, "smoothing")
        self._band = _resolve_band(band, loss, self.loss_name)
        for name, value in (("x_label", x_label), ("y_label", y_label), ("title", title)):
            if value is not None and not isinstance(value, str):
                raise TypeError(f"{name}: expected a string or None, got {type(value).__name__}")
        self._labels = (x_label, y_label, title)

        self.log_dir = os.fspath(log_dir)
        storage.prepare_log_dir(self.log_dir)
        if schedule_description is None:
            schedule_description = ("every call to record" if self.schedule is None
                                    else self.schedule.describe())
        self.settings = {
            "loss": self.loss_name,
            "schedule": schedule_description,
            "sample_size": int(len(self.x_sample)),
            "scatter_size": int(len(self.x_scatter)),
            "validation_size": 0 if self.x_validation is None else int(len(self.x_validation)),
            "x_label": x_label,
            "y_label": y_label,
            "title": title,
            "framework": framework,
        }
        self._lock = threading.RLock()
        self._events = None
        self._described_tags = set()
        self._last_step = None
        self._last_batch_step = None
        self._pending_steps = []
        self._pending_losses = []
        self._closed = False
        self.frames_recorded = 0
        self._frame_tag = None  # the current frame block's tag (summary_format)
        # Histories for the figure's side panels, and the last frame for images.
        self._sample_loss_history = ([], [])
        self._batch_loss_history = ([], [])
        self._epoch_ends = []
        self._last_frame = None
        self._imaged_step = None
        self._frames_since_image = 0
        self._figure = None
        self._worker = None
        self._events_closed = False
        self._background_images = bool(background_images)
        # True: a figure still waiting when the next is queued is dropped (never the last).
        self.drop_stale_images = False
        self.images_written = 0
        self.image_seconds = 0.0
        self.last_image_seconds = None

    # -- scheduling ---------------------------------------------------------

    def due(self, step, logs=None, predictions=None):
        """Whether the writer's `every` schedule wants a frame at `step`.

        Always True without a schedule, and for step 0 and step 1 (the model
        before training and after the first batch).
        """
        if self.schedule is None or step <= 1:
            return True
        return bool(self.schedule(int(step), logs, predictions))

    # -- writing ------------------------------------------------------------

    def _writer(self):
        if self._events is None:
            self._events = EventFile(self.log_dir)
            _OPEN_WRITERS.add(self)
            self._described_tags = set()
            self._write_static()
        return self._events

    def _value(self, tag, metadata, tensor):
        # Metadata once per tag and file, as tf.summary does: readers take it from the first.
        if tag in self._described_tags:
            return summary_pb2.Summary.Value(tag=tag, tensor=tensor)
        self._described_tags.add(tag)
        return summary_pb2.Summary.Value(tag=tag, metadata=metadata(), tensor=tensor)

    def _tensor(self, tag, array):
        return self._value(tag, fmt.plugin_metadata, fmt.array_tensor(array))

    def _scalar(self, tag, value):
        return self._value(tag, fmt.scalar_metadata, fmt.scalar_tensor(value))

    def _emit(self, step, values):
        events = self._writer()
        events.write(event_pb2.Event(
            wall_time=time.time(), step=int(step), summary=summary_pb2.Summary(value=values)))

    def _write_static(self):
        settings = self.settings
        values = [
            summary_pb2.Summary.Value(
                tag=fmt.TAG_SAMPLE, metadata=fmt.plugin_metadata(settings),
                tensor=fmt.array_tensor(np.stack([self.x_sample, self.y_sample]))),
            self._tensor(fmt.TAG_SCATTER, np.stack([self.x_scatter, self.y_scatter])),
        ]
        self._described_tags.add(fmt.TAG_SAMPLE)
        if self.x_validation is not None:
            values.append(self._tensor(
                fmt.TAG_VALIDATION, np.stack([self.x_validation, self.y_validation])))
        self._events.write(event_pb2.Event(
            wall_time=time.time(), step=fmt.STATIC_STEP, summary=summary_pb2.Summary(value=values)))

    def point_loss(self, y_pred, y_true=None):
        """Per-point loss of `y_pred` against the sample's y (or `y_true`)."""
        y_true = self.y_sample if y_true is None else y_true
        if self._point_loss is None:
            raise ValueError(
                "loss: 'model' has no NumPy form; pass point_loss= (and point_loss_validation=) "
                "to record, or choose 'squared', 'absolute' or a callable")
        with np.errstate(all="ignore"):
            values = np.asarray(self._point_loss(y_true, y_pred), dtype=np.float64).reshape(-1)
        if values.shape != np.shape(y_true):
            raise ValueError(
                f"loss: the callable returned {values.size} values for {len(y_true)} points; "
                "expected one value per point"
            )
        return values

    def record(self, step, y_pred, *, epoch=0, y_pred_validation=None,
               regularization_loss=None, point_loss=None, point_loss_validation=None,
               image=None):
        """Records one frame: the predictions at `x_sample` after `step` batches.

        Non-finite predictions (a diverging model) are recorded as they are.

        Args:
            step: Global batch count (0 = before training); must increase.
            y_pred: Predictions at `x_sample`, shape (N,) or (N, 1).
            epoch: Epoch the step belongs to (0-based).
            y_pred_validation: Predictions at `x_validation`, if any.
            regularization_loss: Sum of regularization penalties, if any.
            point_loss: Per-point loss at `x_sample`, if computed by the
                caller already; otherwise computed with the writer's `loss`.
            point_loss_validation: Same, at `x_validation`.
            image: True/False to force or skip a figure for this frame;
                None follows the `images` option.
        """
        with self._lock:
            step = self._check_step(step)
        y_pred = _as_values(y_pred, len(self.x_sample), "y_pred")
        losses = (self.point_loss(y_pred) if point_loss is None
                  else _as_values(point_loss, len(self.x_sample), "point_loss"))
        with np.errstate(all="ignore"):
            sample_loss = float(np.mean(losses))
            validation_loss = math.nan
            if self.x_validation is not None and (
                    y_pred_validation is not None or point_loss_validation is not None):
                if point_loss_validation is None:
                    yv = _as_values(y_pred_validation, len(self.x_validation),
                                    "y_pred_validation")
                    point_loss_validation = self.point_loss(yv, self.y_validation)
                else:
                    point_loss_validation = _as_values(
                        point_loss_validation, len(self.x_validation), "point_loss_validation")
                validation_loss = float(np.mean(point_loss_validation))
        regularization = math.nan if regularization_loss is None else float(regularization_loss)
        epoch = _as_epoch(epoch)
        info = np.array([epoch, sample_loss, validation_loss, regularization], dtype=np.float64)
        frame = np.empty((2, len(y_pred)), dtype=np.float32)
        frame[0] = y_pred
        frame[1] = losses
        with self._lock:
            if self.frames_recorded % fmt.FRAME_BLOCK_SIZE == 0:
                self._frame_tag = fmt.frame_block_tag(step)
            values = [
                self._tensor(self._frame_tag, frame),
                self._tensor(fmt.TAG_FRAME_INFO, info),
                self._scalar(fmt.SCALAR_SAMPLE_LOSS, sample_loss),
            ]
            if not math.isnan(validation_loss):
                values.append(self._scalar(fmt.SCALAR_VALIDATION_LOSS, validation_loss))
            if regularization_loss is not None:
                values.append(self._scalar(fmt.SCALAR_REGULARIZATION_LOSS, regularization))
            self._flush_batch_losses_locked()
            self._emit(step, values)
            self._last_step = step
            if self.schedule is not None:
                # OnChange compares the next predictions with these.
                self.schedule.recorded(step, y_pred)
            self.frames_recorded += 1
            self._frames_since_image += 1
            self._sample_loss_history[0].append(step)
            self._sample_loss_history[1].append(sample_loss)
            self._last_frame = (step, epoch, y_pred, losses)
            if image or (image is None and self.images is not False and isinstance(self.images, int)
                         and self._frames_since_image >= self.images):
                self._write_image_locked()
            self._events.flush()

    def record_batch_loss(self, step, loss):
        """Records the loss of one batch (its own value, not a running mean).

        Written as the scalar `fitviz/batch_loss` and, in chunks at each
        frame, as `fitviz/batch_losses` (which keeps every value).
        """
        if isinstance(step, bool) or not isinstance(step, numbers.Integral):
            raise TypeError(f"step: expected an int, got {type(step).__name__}")
        step = int(step)
        loss = float(loss)
        with self._lock:
            if self._closed:
                raise RuntimeError("record_batch_loss: this FitVizWriter is closed")
            if self._last_batch_step is not None and step <= self._last_batch_step:
                raise ValueError(
                    f"step: batch-loss steps must increase; got {step} after "
                    f"{self._last_batch_step}")
            self._last_batch_step = step
            self._emit(step, [self._scalar(fmt.SCALAR_BATCH_LOSS, loss)])
            self._pending_steps.append(step)
            self._pending_losses.append(loss)
            self._batch_loss_history[0].append(step)
            self._batch_loss_history[1].append(loss)

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
        values = []
        with self._lock:
            if self._closed:
                raise RuntimeError("record_epoch: this FitVizWriter is closed")
            if loss is not None:
                values.append(self._scalar(fmt.SCALAR_EPOCH_LOSS, loss))
            if val_loss is not None:
                values.append(self._scalar(fmt.SCALAR_EPOCH_VAL_LOSS, val_loss))
            self._flush_batch_losses_locked()
            if values:
                self._emit(step, values)
            if not self._epoch_ends or step > self._epoch_ends[-1]:
                self._epoch_ends.append(int(step))
            if image or (image is None and self.images == "epoch"):
                self._write_image_locked()
            self._writer().flush()

    def write_image(self):
        """Draws the figure of the last recorded frame into the Images tab."""
        with self._lock:
            if not self._closed:  # close() already drew the last one
                self._write_image_locked()

    def prepare_images(self):
        """Makes the figure and renders it once, in the background, before it is needed.

        Importing Matplotlib and the first render (fonts) take a fraction of a
        second; this moves that cost out of the training loop.
        """
        if self.images and self._background_images and self._figure is None:
            self._image_worker().put(_WARM_UP)

    def _write_image_locked(self):
        if self._last_frame is None or self._imaged_step == self._last_frame[0]:
            return
        step, epoch, y_pred, losses = self._last_frame
        job = (step, epoch, y_pred, losses,
               (np.array(self._sample_loss_history[0]), np.array(self._sample_loss_history[1])),
               (np.array(self._batch_loss_history[0]), np.array(self._batch_loss_history[1])),
               list(self._epoch_ends))
        self._imaged_step = step
        self._frames_since_image = 0
        if self._background_images:
            self._image_worker().put(job)
        else:
            self._draw_image(job)

    def _image_worker(self):
        if self._worker is None:
            self._worker = _ImageWorker(self._draw_image, self.drop_stale_images)
        return self._worker

    def _draw_image(self, job):
        """Renders one figure (outside the lock: slow) and writes it (inside)."""
        started = time.perf_counter()
        first = self._figure is None
        figure = self.figure()
        if job is _WARM_UP:
            figure.png()
            self.image_seconds += time.perf_counter() - started
            return
        step, epoch, y_pred, losses, sample_loss, batch_loss, epoch_ends = job
        figure.draw(step, y_pred, losses, epoch=epoch, sample_loss=sample_loss,
                    batch_loss=batch_loss, epoch_ends=epoch_ends)
        png = figure.png()
        width, height = figure.size
        with self._lock:
            if self._events is not None and not self._events_closed:
                self._emit(step, [self._value(fmt.TAG_FIGURE, fmt.image_metadata,
                                              fmt.image_tensor(width, height, png))])
                self._events.flush()
                self.images_written += 1
        seconds = time.perf_counter() - started
        self.image_seconds += seconds
        if not first or self.last_image_seconds is None:
            self.last_image_seconds = seconds

    def wait_for_images(self):
        """Blocks until every figure queued so far is written."""
        if self._worker is not None:
            self._worker.join()

    def figure(self):
        """The `tb_fitviz.figure.FitFigure` used for images (made on first use)."""
        if self._figure is None:
            from tb_fitviz.figure import FitFigure

            x_label, y_label, title = self._labels
            self._figure = FitFigure(
                self.x_sample, self.y_sample, self.x_scatter, self.y_scatter,
                self.x_validation, self.y_validation, x_label=x_label, y_label=y_label,
                title=title or os.path.basename(os.path.normpath(self.log_dir)),
                size=IMAGE_SIZE, smoothing=self._smoothing, band=self._band)
        return self._figure

    def _flush_batch_losses_locked(self):
        if not self._pending_steps:
            return
        chunk = np.array([self._pending_steps, self._pending_losses], dtype=np.float64)
        self._emit(self._pending_steps[-1], [self._tensor(fmt.TAG_BATCH_LOSSES, chunk)])
        self._pending_steps, self._pending_losses = [], []

    def _check_step(self, step):
        if isinstance(step, bool) or not isinstance(step, numbers.Integral):
            raise TypeError(f"step: expected an int, got {type(step).__name__}")
        step = int(step)
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
            if self._closed:
                return
            self._flush_batch_losses_locked()
            if self._events is not None:
                self._events.flush()

    def close(self):
        """Draws the last frame's figure (if images are on), flushes and closes.

        Waits for figures being drawn in the background. Safe to call twice.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self.images and self._last_frame is not None:
                self._write_image_locked()
        try:
            if self._worker is not None:
                self._worker.stop()
                self._worker = None
        finally:
            with self._lock:
                self._flush_batch_losses_locked()
                if self._events is not None:
                    self._events.close()
                    self._events_closed = True

    def reopen(self):
        """Continues a closed writer in a new event file of the same run.

        Steps go on from where they were (they must still increase).
        """
        with self._lock:
            if self._closed:
                self._closed = False
                self._events = None
                self._events_closed = False

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
        return False


_WARM_UP = object()


class _ImageWorker:
    """Draws figures in order in a thread that lives only while there is work.

    With `drop_stale`, a figure still waiting when the next one is queued is
    dropped (the newest, e.g. the last frame's, is always drawn).
    """

    def __init__(self, draw, drop_stale):
        self._draw = draw
        self._drop_stale = drop_stale
        self._condition = threading.Condition()
        self._jobs = []
        self._busy = False
        self._thread = None
        self.error = None

    def put(self, job):
        with self._condition:
            if self._drop_stale:
                self._jobs = [j for j in self._jobs if j is _WARM_UP]
            self._jobs.append(job)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="fitviz-images",
                                                daemon=True)
                self._thread.start()

    def join(self):
        with self._condition:
            while self._jobs or self._busy:
                self._condition.wait()

    stop = join

    def _run(self):
        while True:
            with self._condition:
                if not self._jobs:
                    self._thread = None
                    self._condition.notify_all()
                    return
                job = self._jobs.pop(0)
                self._busy = True
            try:
                self._draw(job)
            except Exception as error:  # a figure must never break training
                if self.error is None:
                    self.error = error
                    import warnings

                    warnings.warn(f"FitViz could not draw a figure: {error!r}", stacklevel=1)
            finally:
                with self._condition:
                    self._busy = False
                    self._condition.notify_all()


_OPEN_WRITERS = weakref.WeakSet()


@atexit.register
def _close_open_writers():
    """At exit, writers left open still get their last figure and a flush."""
    for writer in list(_OPEN_WRITERS):
        with contextlib.suppress(Exception):  # nothing useful to do at exit
            writer.close()


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


def _resolve_band(band, loss, loss_name):
    if band == "auto":
        if loss == "absolute":
            return "raw"
        if callable(loss):
            return None
        return "sqrt"
    if band not in ("sqrt", "raw", None):
        raise ValueError(f"band: expected 'auto', 'sqrt', 'raw' or None, got {band!r}")
    return band


def _as_epoch(epoch):
    if epoch is None:
        return math.nan
    if isinstance(epoch, bool) or not isinstance(epoch, numbers.Real):
        raise TypeError(f"epoch: expected an int, got {type(epoch).__name__}")
    return float(epoch)


def _as_values(values, length, name):
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: expected numbers, got {type(values).__name__}") from None
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.shape != (length,):
        raise ValueError(
            f"{name}: expected {length} values (one per sample point), got shape {array.shape}"
        )
    return array


def _check_writable(log_dir):
    if not log_dir:
        raise ValueError("log_dir: expected a directory path, got an empty string")
    if os.path.exists(log_dir) and not os.path.isdir(log_dir):
        raise ValueError(f"log_dir: {log_dir!r} exists and is not a directory")
    try:
        os.makedirs(log_dir, exist_ok=True)
    except OSError as error:
        raise ValueError(f"log_dir: cannot create {log_dir!r}: {error.strerror}") from None
    try:  # os.access says yes to root even on read-only mounts: try it.
        with tempfile.TemporaryFile(dir=log_dir):
            pass
    except OSError as error:
        raise ValueError(f"log_dir: {log_dir!r} is not writable: {error.strerror}") from None
