"""FitVizWriter: records FitViz frames from any training loop, without TensorFlow."""

import math
import os
import threading

import numpy as np
from tensorboard.compat.proto import event_pb2, summary_pb2

from tb_fitviz import summary_format as fmt
from tb_fitviz.event_file import EventFile
from tb_fitviz.data import as_points, evenly_spaced, resolve_count
from tb_fitviz.point_losses import point_loss_function

DEFAULT_SAMPLE = 1000
DEFAULT_SCATTER = 2000


class FitVizWriter:
    """Writes what a model predicts over a sample of the data, step by step.

    Each frame is handed to the operating system as it is recorded (and each
    epoch end too), so a crash or a kill loses at most the batch losses since
    the last frame.

    Framework-neutral: give it predictions as NumPy arrays (from PyTorch, JAX,
    NumPy or anything else) and it writes TensorBoard event files that the
    FitViz tab shows. TensorFlow is not needed.

    Args:
        log_dir: Directory of the run; event files go directly into it, so its
            last component is the run's name in TensorBoard.
        x: The inputs, one feature: shape (n,) or (n, 1).
        y: The targets, one output: shape (n,) or (n, 1).
        sample: How many points (int >= 2) or what fraction (float in (0, 1])
            of the data to predict on, spread evenly over sorted x.
        scatter: Same, for the points drawn as the scatter.
        validation_data: Optional (x_val, y_val), drawn in their own style;
            the validation-sample loss is recorded when predictions on
            `x_validation` are passed to `record`.
        validation_sample: Size of the validation sample, as for `sample`.
        loss: "squared" (default), "absolute", or a callable
            (y_true, y_pred) -> one value per point. ("model" is only
            meaningful to the Keras callback, which computes it.)
        x_label, y_label, title: Optional names shown on the axes.

    Example:

    ```python
    with FitVizWriter("logs/numpy-sgd", x, y) as writer:
        for step in range(1, 501):
            w, b = sgd_step(w, b)
            writer.record(step, w * writer.x_sample + b, epoch=0)
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
        loss="squared",
        x_label=None,
        y_label=None,
        title=None,
        framework="numpy",
        schedule_description="",
    ):
        x, y = as_points(x, y, "x", "y")
        order = np.argsort(x, kind="stable")
        x, y = x[order], y[order]
        sample_index = evenly_spaced(len(x), resolve_count(sample, len(x), "sample"))
        scatter_index = evenly_spaced(len(x), resolve_count(scatter, len(x), "scatter", minimum=1))
        self.x_sample = x[sample_index]
        self.y_sample = y[sample_index]
        self._scatter = np.stack([x[scatter_index], y[scatter_index]])

        self.x_validation = self.y_validation = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) < 2:
                raise TypeError(
                    "validation_data: expected a tuple (x_val, y_val), "
                    f"got {type(validation_data).__name__}"
                )
            xv, yv = as_points(validation_data[0], validation_data[1], "validation_data[0]",
                               "validation_data[1]")
            order = np.argsort(xv, kind="stable")
            xv, yv = xv[order], yv[order]
            index = evenly_spaced(len(xv), resolve_count(
                validation_sample, len(xv), "validation_sample", minimum=1))
            self.x_validation, self.y_validation = xv[index], yv[index]

        self.loss_name, self._point_loss = point_loss_function(loss)
        for name, value in (("x_label", x_label), ("y_label", y_label), ("title", title)):
            if value is not None and not isinstance(value, str):
                raise TypeError(f"{name}: expected a string or None, got {type(value).__name__}")

        self.log_dir = os.fspath(log_dir)
        _check_writable(self.log_dir)
        self.settings = {
            "loss": self.loss_name,
            "schedule": schedule_description,
            "sample_size": int(len(self.x_sample)),
            "scatter_size": int(self._scatter.shape[1]),
            "validation_size": 0 if self.x_validation is None else int(len(self.x_validation)),
            "x_label": x_label,
            "y_label": y_label,
            "title": title,
            "framework": framework,
        }
        self._lock = threading.Lock()
        self._events = None
        self._last_step = None
        self._pending_steps = []
        self._pending_losses = []
        self._closed = False
        self.frames_recorded = 0

    # -- writing -----------------------------------------------------------

    def _writer(self):
        if self._events is None:
            self._events = EventFile(self.log_dir)
            self._write_static()
        return self._events

    def _emit(self, step, values):
        event = event_pb2.Event(
            wall_time=_now(), step=int(step), summary=summary_pb2.Summary(value=values)
        )
        self._writer().write(event)

    def _write_static(self):
        values = [
            _tensor_value(fmt.TAG_SAMPLE, np.stack([self.x_sample, self.y_sample]), self.settings),
            _tensor_value(fmt.TAG_SCATTER, self._scatter),
        ]
        if self.x_validation is not None:
            values.append(_tensor_value(
                fmt.TAG_VALIDATION, np.stack([self.x_validation, self.y_validation])))
        event = event_pb2.Event(
            wall_time=_now(), step=fmt.STATIC_STEP, summary=summary_pb2.Summary(value=values)
        )
        self._events.write(event)

    def point_loss(self, y_pred, y_true=None):
        """Per-point loss of `y_pred` against the sample's y (or `y_true`)."""
        y_true = self.y_sample if y_true is None else y_true
        return np.asarray(self._point_loss(y_true, y_pred), dtype=np.float64).reshape(-1)

    def record(self, step, y_pred, *, epoch=0, y_pred_validation=None,
               regularization_loss=None, point_loss=None):
        """Records one frame: the predictions at `x_sample` after `step` batches.

        Args:
            step: Global batch count (0 = before training); must increase.
            y_pred: Predictions at `x_sample`, shape (N,) or (N, 1).
            epoch: Epoch the step belongs to (0-based).
            y_pred_validation: Predictions at `x_validation`, if any.
            regularization_loss: Sum of regularization penalties, if any.
            point_loss: Per-point loss, if computed by the caller already;
                otherwise computed with the writer's `loss`.
        """
        step = self._check_step(step)
        y_pred = _as_prediction(y_pred, len(self.x_sample), "y_pred")
        with np.errstate(all="ignore"):
            losses = (self.point_loss(y_pred) if point_loss is None
                      else _as_prediction(point_loss, len(self.x_sample), "point_loss"))
            sample_loss = float(np.mean(losses))
            validation_loss = math.nan
            if y_pred_validation is not None and self.x_validation is not None:
                yv = _as_prediction(y_pred_validation, len(self.x_validation), "y_pred_validation")
                validation_loss = float(np.mean(self.point_loss(yv, self.y_validation)))
        regularization = math.nan if regularization_loss is None else float(regularization_loss)
        info = np.array([epoch, sample_loss, validation_loss, regularization], dtype=np.float64)
        values = [
            _tensor_value(fmt.TAG_FRAME, np.stack([y_pred, losses]).astype(np.float32)),
            _tensor_value(fmt.TAG_FRAME_INFO, info),
            _scalar_value(fmt.SCALAR_SAMPLE_LOSS, sample_loss),
        ]
        if not math.isnan(validation_loss):
            values.append(_scalar_value(fmt.SCALAR_VALIDATION_LOSS, validation_loss))
        if regularization_loss is not None:
            values.append(_scalar_value(fmt.SCALAR_REGULARIZATION_LOSS, regularization))
        with self._lock:
            self._flush_batch_losses_locked()
            self._emit(step, values)
            self._events.flush()
            self._last_step = step
            self.frames_recorded += 1

    def record_batch_loss(self, step, loss):
        """Records the loss of one batch (its own value, not a running mean)."""
        loss = float(loss)
        with self._lock:
            self._emit(int(step), [_scalar_value(fmt.SCALAR_BATCH_LOSS, loss)])
            self._pending_steps.append(int(step))
            self._pending_losses.append(loss)

    def record_epoch(self, step, epoch, loss=None, val_loss=None):
        """Records the epoch's loss and validation loss at its last global step."""
        values = []
        if loss is not None:
            values.append(_scalar_value(fmt.SCALAR_EPOCH_LOSS, loss))
        if val_loss is not None:
            values.append(_scalar_value(fmt.SCALAR_EPOCH_VAL_LOSS, val_loss))
        with self._lock:
            self._flush_batch_losses_locked()
            if values:
                self._emit(step, values)
            self._writer().flush()

    def _flush_batch_losses_locked(self):
        if not self._pending_steps:
            return
        chunk = np.array([self._pending_steps, self._pending_losses], dtype=np.float64)
        self._emit(self._pending_steps[-1], [_tensor_value(fmt.TAG_BATCH_LOSSES, chunk)])
        self._pending_steps, self._pending_losses = [], []

    def _check_step(self, step):
        if isinstance(step, bool) or not isinstance(step, (int, np.integer)):
            raise TypeError(f"step: expected an int, got {type(step).__name__}")
        step = int(step)
        if step < 0:
            raise ValueError(f"step: expected a step >= 0, got {step}")
        if self._last_step is not None and step <= self._last_step:
            raise ValueError(
                f"step: steps must increase; got {step} after {self._last_step}"
            )
        if self._closed:
            raise RuntimeError("record: this FitVizWriter is closed")
        return step

    @property
    def last_step(self):
        """The step of the last recorded frame, or None."""
        return self._last_step

    def flush(self):
        """Writes everything recorded so far to disk."""
        with self._lock:
            self._flush_batch_losses_locked()
            if self._events is not None:
                self._events.flush()

    def close(self):
        """Flushes and closes the event file. Safe to call twice."""
        with self._lock:
            if self._closed:
                return
            self._flush_batch_losses_locked()
            self._closed = True
            if self._events is not None:
                self._events.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
        return False


def _now():
    import time

    return time.time()


def _tensor_value(tag, array, settings=None):
    return summary_pb2.Summary.Value(
        tag=tag, metadata=fmt.plugin_metadata(settings), tensor=fmt.array_tensor(array)
    )


def _scalar_value(tag, value):
    return summary_pb2.Summary.Value(
        tag=tag, metadata=fmt.scalar_metadata(), tensor=fmt.scalar_tensor(value)
    )


def _as_prediction(values, length, name):
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.shape != (length,):
        raise ValueError(
            f"{name}: expected {length} values (one per sample point), got shape {array.shape}"
        )
    return array


def _check_writable(log_dir):
    try:
        os.makedirs(log_dir, exist_ok=True)
    except OSError as error:
        raise ValueError(f"log_dir: cannot create {log_dir!r}: {error.strerror}") from None
    if not os.access(log_dir, os.W_OK | os.X_OK):
        raise ValueError(f"log_dir: {log_dir!r} is not writable")
