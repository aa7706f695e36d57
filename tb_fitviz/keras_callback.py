"""FitVizCallback: records a Keras fit for TensorBoard's FitViz tab.

Works with Keras 3 (the `keras` package, TensorFlow backend) and with legacy
Keras 2 (`tf_keras`, which `TF_USE_LEGACY_KERAS=1` makes `tf.keras`). The
callback is a thin adapter on `FitVizWriter`: it runs one compiled forward
pass (predictions and per-point loss on the sample, traced once) when a frame
is due, and recovers each batch's own loss.
"""

import math
import numbers
import os
import sys
import time

import numpy as np

from tb_fitviz import schedules as schedules_module
from tb_fitviz.writer import DEFAULT_SAMPLE, DEFAULT_SCATTER, FitVizWriter

DEFAULT_MAX_OVERHEAD = 0.05
# Expected cost of a first figure (Matplotlib import, fonts, first render), measured here.
FIRST_IMAGE_SECONDS = 0.5
_TRUE = ("1", "true", "yes", "on")


class FitVizCallback:
    """Records what the model predicts over a sample of the data as it trains.

    After the batches its schedule picks, the callback runs the model on a
    representative sample of (x, y) and writes the predictions, the per-point
    loss and a few scalars to TensorBoard event files in `log_dir`; the
    FitViz tab plays them back, and the Images tab shows a figure per epoch.

    Steps are global batch counts: step 0 is the model before training, step
    1 after the first batch, never reset at an epoch. Calling `fit` again with
    the same callback continues the count in the same run: the event file
    stays open between fits (flushed after every frame and at the end of each
    fit); `close()` closes it, and so does the interpreter's exit. A `fit`
    after `close()` continues the run in a new event file.

    Batch losses: Keras' `logs["loss"]` is the running mean over the epoch
    so far, weighted by batch size (Keras 3 and tf_keras alike: a `Mean`
    metric updated with the batch size as weight, reset at each epoch). The
    callback recovers each batch's own loss: k * mean_k - (k - 1) * mean_{k-1}
    for the equal-sized batches inside an epoch, and, for the last (possibly
    short) batch of each epoch, the running sum and sample count read from
    Keras' loss tracker, so that every value is exact. (Without a tracker,
    e.g. a custom `train_step` with its own metrics, a short last batch gets
    the equal-size formula, off by the size ratio.) With
    `steps_per_execution` > 1 Keras calls back once per execution, and the
    value is the mean over its batches, at the last of them.

    Under `tf.distribute` with several workers, only the chief writes (the
    strategy's cluster resolver decides: task type "chief", or worker 0 when
    the cluster has no chief); other workers record nothing.

    Args:
        log_dir: Directory of the run; event files go directly into it, so
            its last component is the run's name in TensorBoard.
        x: Training inputs, one feature: shape (n,) or (n, 1).
        y: Training targets, one output: shape (n,) or (n, 1).
        sample: Points to predict on: an int count (>= 2) or a float fraction
            in (0, 1] of the data, spread evenly over sorted x. Default 1,000
            (all points if fewer).
        scatter: Same, for the scatter drawn behind the curve (default 2,000).
        validation_data: Optional (x_val, y_val): drawn in their own colour;
            their sample's loss is recorded with each frame.
        validation_sample: Size of the validation sample, as for `sample`.
        every: When to record a frame: an int n (every n-th batch), a
            sequence of booleans (one per global batch, the first for step 1),
            a callable (step, logs) -> bool, or a `tb_fitviz.schedules`
            schedule (`EveryN`, `LogSpaced`, `OnChange`). Default:
            `LogSpaced(budget=300)` with `max_overhead=0.05`. The first and
            last batch of each fit are always recorded.
        loss: Per-point loss: "squared" (default), "absolute", "model" (the
            model's own compiled loss, per point) or a callable
            (y_true, y_pred) -> one value per point (run on NumPy arrays).
        images: Figures for the Images tab: "epoch" (default: one per epoch
            end, plus the last frame), an int n (every n-th recorded frame),
            or False. Drawn in a background thread. Under the time cap
            (default), an epoch's figure is drawn only if its expected cost
            fits in the budget (so short runs get only the last figure, drawn
            after `fit` returns), and one still waiting when the next is due
            is dropped; the last frame's figure is always drawn.
        max_overhead: Time cap on recording as a fraction of training time:
            a scheduled frame is put off while the time spent recording
            (figures drawn in the background included) exceeds this
            fraction of the time spent training so far, and taken at the
            first batch where the budget allows.
            "auto" (default): 0.05 with the default schedule, None (no cap:
            the schedule is honoured exactly) when `every` is given.
        smoothing: Odd moving-average window for the figures' loss band.
        band: Loss band of the figures: "auto", "sqrt", "raw" or None.
        x_label, y_label, title: Optional texts for the axes and title.

    Example:

    ```python
    from tb_fitviz import FitVizCallback

    model.fit(x_train, y_train, epochs=20, batch_size=64,
              callbacks=[FitVizCallback("logs/adam-lr0.01", x_train, y_train)])
    ```
    """

    _flavour = None

    def __new__(cls, *args, **kwargs):
        if cls is FitVizCallback:
            cls = callback_class(_guess_flavour())
        return object.__new__(cls)

    def __init__(self, log_dir, x, y, *, sample=DEFAULT_SAMPLE, scatter=DEFAULT_SCATTER,
                 validation_data=None, validation_sample=DEFAULT_SAMPLE, every=None,
                 loss="squared", images="epoch", max_overhead="auto", smoothing=1,
                 band="auto", x_label=None, y_label=None, title=None):
        super().__init__()
        if every is None:
            schedule = schedules_module.LogSpaced(schedules_module.DEFAULT_BUDGET)
        else:
            schedule = schedules_module.as_schedule(every)
        self.max_overhead = _check_max_overhead(max_overhead, default=every is None)
        description = schedule.describe()
        if self.max_overhead is not None:
            description += f", at most {self.max_overhead:.0%} overhead"
        self.schedule = schedule
        self._x_ndim = _ndim(x)
        self.writer = FitVizWriter(
            log_dir, x, y, sample=sample, scatter=scatter, validation_data=validation_data,
            validation_sample=validation_sample, loss=loss, images=images,
            smoothing=smoothing, band=band, x_label=x_label, y_label=y_label, title=title,
            framework=self._flavour or "keras", schedule_description=description)
        if hasattr(schedule, "set_scale"):
            schedule.set_scale(self.writer.y_sample)
        # With a time cap, a figure not yet started when the next is due is dropped.
        self.writer.drop_stale_images = self.max_overhead is not None
        self._loss_option = loss
        self.step = 0
        self._epoch = -1
        self._active = True
        self._forward = None
        self._tf_loss = False
        self._loss_tracker = None
        self._has_regularization = False
        self._seconds_recording = 0.0
        self._image_seconds_before = 0.0
        self._fit_started = None
        self._first_batch_of_fit = True
        self._batches_in_epoch = 0
        self._tracker_previous, self._tracker_k = (0.0, 0.0), 0
        self._batch_size = None
        self._mean_previous = (0, 0.0)
        self.frames_skipped = 0
        self._frame_owed = False

    # -- Keras protocol -------------------------------------------------------

    # Both CallbackLists look these up; keep them right whatever the base class.
    _supports_tf_logs = False
    async_safe = False  # Keras 3 must not run our batch hook in a thread.

    def _implements_train_batch_hooks(self):
        return True

    def _implements_test_batch_hooks(self):
        return False

    def _implements_predict_batch_hooks(self):
        return False

    def set_model(self, model):
        flavour = model_flavour(model)
        if flavour is not None and flavour != self._flavour:
            # Built for the other Keras: become the subclass of the model's Callback.
            params = getattr(self, "params", None)
            self.__class__ = callback_class(flavour)
            type(self).__mro__[2].__init__(self)
            if params:
                self.params = params
        if self.writer.last_step is None:
            self.writer.settings["framework"] = self._flavour
        super().set_model(model)

    def on_train_begin(self, logs=None):
        model = self.model
        self._active = is_chief(model)
        if not self._active:
            return
        if self.writer.closed:  # fit again after close(): batch losses need an open file too
            self.writer.reopen()
        if self._forward is None:
            self._forward = self._build_forward(model)
        params = getattr(self, "params", None) or {}
        epochs, steps = params.get("epochs"), params.get("steps")
        if epochs and steps:
            self.schedule.start(self.step + int(epochs) * int(steps))
        else:
            self.schedule.start(None)
        if self.writer.last_step is None or self.writer.last_step < self.step:
            self._record_frame()
        if self.max_overhead is None:
            # No time cap: make the figure now, in the background, off the training loop.
            self.writer.prepare_images()
        self._first_batch_of_fit = True
        self._image_seconds_before = self.writer.image_seconds
        self._seconds_recording = 0.0
        self._fit_started = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        if not self._active:
            return
        self._epoch += 1
        self._batches_in_epoch = 0
        self._tracker_previous, self._tracker_k = (0.0, 0.0), 0  # Keras resets it per epoch
        self._mean_previous = (0, 0.0)

    def on_train_batch_end(self, batch, logs=None):
        if not self._active:
            return
        started = time.perf_counter()
        end = int(batch) + 1
        steps = (getattr(self, "params", None) or {}).get("steps")
        if steps:
            # With steps_per_execution, Keras 3 reports the last execution's nominal end.
            end = min(end, int(steps))
        new_batches = max(end - self._batches_in_epoch, 1)
        self._batches_in_epoch += new_batches
        self.step += new_batches
        step = self.step
        batch_loss = self._batch_loss(logs)
        if batch_loss is not None:
            self.writer.record_batch_loss(step, batch_loss)

        predictions = None
        if self._first_batch_of_fit:
            self._first_batch_of_fit = False
            wanted = True
        else:
            if self.schedule.needs_predictions:
                predictions = self._run_forward()
                wanted = self.schedule(step, logs, predictions[0])
            else:
                wanted = self.schedule(step, logs)
            # A frame skipped for the time cap is owed: taken as soon as the budget allows.
            wanted = wanted or self._frame_owed
            if wanted and self._over_budget(started):
                wanted = False
                self._frame_owed = True
                self.frames_skipped += 1
        if wanted:
            self._record_frame(predictions)
        self._seconds_recording += time.perf_counter() - started

    def on_epoch_end(self, epoch, logs=None):
        if not self._active:
            return
        started = time.perf_counter()
        logs = logs or {}
        image = self.writer.images == "epoch"
        if image and self.max_overhead is not None:
            # Under the time cap a figure must fit in the budget, at its expected cost.
            image = not self._over_budget(started, extra=self._expected_image_seconds())
        if image and self.writer.last_step < self.step:
            self._record_frame()
        self.writer.record_epoch(self.step, self._epoch, _number(logs.get("loss")),
                                 _number(logs.get("val_loss")), image=image)
        self._seconds_recording += time.perf_counter() - started

    def on_train_end(self, logs=None):
        if not self._active:
            return
        if self.writer.last_step is None or self.writer.last_step < self.step:
            self._record_frame()
        if self.writer.images:
            self.writer.write_image()
        self.writer.flush()

    def close(self):
        """Closes the event file (a later `fit` with this callback opens a new one)."""
        self.writer.close()

    # -- recording --------------------------------------------------------------

    @property
    def overhead(self):
        """Time spent recording in the current fit, as a fraction of the training time."""
        if self._fit_started is None:
            return 0.0
        training = time.perf_counter() - self._fit_started - self._seconds_recording
        return self._seconds_recording / training if training > 0 else 0.0

    def _over_budget(self, now, extra=0.0):
        """Whether recording (frames, and figures drawn in the background) exceeds the cap."""
        if self.max_overhead is None:
            return False
        images = self.writer.image_seconds - self._image_seconds_before
        training = now - self._fit_started - self._seconds_recording
        return self._seconds_recording + images + extra > self.max_overhead * training

    def _expected_image_seconds(self):
        # The first figure of a process also imports Matplotlib and loads fonts.
        last = self.writer.last_image_seconds
        return last if last else FIRST_IMAGE_SECONDS

    def _record_frame(self, predictions=None):
        if self.writer.closed:
            self.writer.reopen()  # after close(): a new event file, same run, same steps
        prediction, point_loss, validation_prediction, validation_loss, regularization = (
            predictions if predictions is not None else self._run_forward())
        self._frame_owed = False
        self.writer.record(
            self.step, prediction, epoch=max(self._epoch, 0),
            y_pred_validation=validation_prediction, point_loss=point_loss,
            point_loss_validation=validation_loss, regularization_loss=regularization)
        self.schedule.recorded(self.step, prediction)

    def _run_forward(self):
        values = self._forward().numpy()
        n = len(self.writer.x_sample)
        v = 0 if self.writer.x_validation is None else len(self.writer.x_validation)
        prediction, validation_prediction = values[:n], values[n:n + v]
        point_loss = validation_loss = regularization = None
        offset = n + v
        if self._tf_loss:
            point_loss = values[offset:offset + n]
            validation_loss = values[offset + n:offset + n + v]
            offset += n + v
        if self._has_regularization:
            regularization = float(values[offset])
        if not v:
            validation_prediction = validation_loss = None
        return prediction, point_loss, validation_prediction, validation_loss, regularization

    def _build_forward(self, model):
        """One traced function: predictions, per-point loss, regularization; one tensor out."""
        import tensorflow as tf

        writer = self.writer
        x_all = writer.x_sample
        y_all = writer.y_sample
        if writer.x_validation is not None:
            x_all = np.concatenate([x_all, writer.x_validation])
            y_all = np.concatenate([y_all, writer.y_validation])
        count = len(x_all)
        input_rank, input_dtype = _model_input(model, self._x_ndim)
        x_tensor = tf.constant(x_all.reshape((count, 1) if input_rank == 2 else (count,)),
                               dtype=input_dtype)
        y_tensor = tf.constant(y_all.reshape(count, 1), dtype=tf.float32)
        loss_function = self._tensorflow_point_loss(model)
        self._tf_loss = loss_function is not None
        self._has_regularization = bool(_safe_losses(model))

        def forward():
            output = model(x_tensor, training=False)
            if isinstance(output, (list, tuple, dict)):
                raise ValueError("model: has several outputs; FitViz supports one output so far")
            output = tf.cast(output, tf.float32)
            if output.shape.rank is not None and (
                    output.shape.num_elements() not in (None, count)):
                raise ValueError(
                    f"model: gives {output.shape.num_elements() // count} values per point "
                    f"(output shape {tuple(output.shape)}); FitViz supports one output so far")
            prediction = tf.reshape(output, [count, 1])
            parts = [prediction[:, 0]]
            if loss_function is not None:
                point_loss = tf.cast(loss_function(y_tensor, prediction), tf.float32)
                if point_loss.shape.num_elements() not in (None, count):
                    raise ValueError(
                        f"loss: the model's loss gave {point_loss.shape.num_elements()} values "
                        f"for {count} points; loss='model' needs one value per point")
                parts.append(tf.reshape(point_loss, [count]))
            if self._has_regularization:
                penalties = [tf.cast(tf.reshape(p, []), tf.float32) for p in model.losses]
                parts.append(tf.reshape(tf.add_n(penalties), [1]))
            return tf.concat(parts, axis=0)

        return tf.function(forward, autograph=False).get_concrete_function()

    def _tensorflow_point_loss(self, model):
        import tensorflow as tf

        loss = self._loss_option
        if loss == "squared":
            return lambda y_true, y_pred: tf.square(y_pred - y_true)[:, 0]
        if loss == "absolute":
            return lambda y_true, y_pred: tf.abs(y_pred - y_true)[:, 0]
        if loss == "model":
            return _model_loss_function(model, self._flavour)
        return None  # a user callable: run on NumPy by the writer

    def _batch_loss(self, logs):
        """This batch's own loss, from Keras' running mean over the epoch.

        Keras' `logs["loss"]` is the mean over the epoch so far, weighted by
        batch size. Within an epoch every batch but the last has the same
        size B, so loss_k = k * mean_k - (k - 1) * mean_{k-1} is exact there
        and costs nothing. At the first batch of an epoch (to learn B), at
        the last (often shorter) one, and at every batch when the epoch length
        is unknown, the loss tracker's running sum and sample count are read
        (two small device reads, ~0.1 ms each), which is exact whatever the
        sizes.
        """
        k = self._batches_in_epoch
        steps = (getattr(self, "params", None) or {}).get("steps")
        mean = _number((logs or {}).get("loss"))
        previous_k, previous_mean = self._mean_previous
        if mean is not None:
            self._mean_previous = (k, mean)
        if steps is None or k >= steps or previous_k == 0 or mean is None:
            state = self._read_tracker()
            if state is not None:
                total, count = state
                base = None
                if self._tracker_k == previous_k:
                    base = self._tracker_previous
                elif self._batch_size and mean is not None:
                    base_count = previous_k * self._batch_size
                    base = (base_count * previous_mean, base_count)
                if previous_k == 0 and k:
                    self._batch_size = count / k
                self._tracker_previous, self._tracker_k = (total, count), k
                if base is not None and count > base[1]:
                    return (total - base[0]) / (count - base[1])
        if mean is None:
            return None
        if previous_k == 0:
            return mean
        return (k * mean - previous_k * previous_mean) / max(k - previous_k, 1)

    def _read_tracker(self):
        tracker = self._loss_tracker
        if tracker is None:
            tracker = self._loss_tracker = _find_loss_tracker(self.model)
        if tracker is None:
            return None
        return float(tracker.total.numpy()), float(tracker.count.numpy())


# -- Keras flavours ----------------------------------------------------------------

_CLASSES = {}


def callback_class(flavour):
    """The FitVizCallback subclass deriving from `flavour`'s Callback ("keras" or "tf_keras")."""
    if flavour not in _CLASSES:
        if flavour == "tf_keras":
            import tf_keras

            base = tf_keras.callbacks.Callback
        elif flavour == "keras":
            import keras

            base = keras.callbacks.Callback
        else:
            raise ValueError(f"unknown Keras flavour {flavour!r}")
        _CLASSES[flavour] = type("FitVizCallback", (FitVizCallback, base), {
            "_flavour": flavour, "__module__": __name__, "__doc__": FitVizCallback.__doc__})
    return _CLASSES[flavour]


def model_flavour(model):
    """"keras" (Keras 3), "tf_keras" (legacy Keras 2), or None, from the model's classes."""
    for klass in type(model).__mro__:
        module = getattr(klass, "__module__", "") or ""
        if module.startswith("tf_keras.") or module == "tf_keras":
            return "tf_keras"
        if module.startswith("keras.") or module == "keras":
            return "keras"
    return None


def _guess_flavour():
    """The Keras the user most likely trains with (corrected at set_model)."""
    legacy = os.environ.get("TF_USE_LEGACY_KERAS", "").strip().lower() in _TRUE
    if legacy and _importable("tf_keras"):
        return "tf_keras"
    if "tf_keras" in sys.modules and "keras" not in sys.modules:
        return "tf_keras"
    try:
        import keras
    except ImportError:
        keras = None
    if keras is not None and str(getattr(keras, "__version__", "3")).split(".")[0] >= "3":
        return "keras"
    if _importable("tf_keras"):
        return "tf_keras"
    if keras is not None:
        return "keras"
    raise ImportError("FitVizCallback needs Keras: install keras (3) or tf_keras; "
                      "without Keras, use tb_fitviz.FitVizWriter")


def _importable(name):
    if name in sys.modules:
        return True
    import importlib.util

    return importlib.util.find_spec(name) is not None


def is_chief(model):
    """False on a non-chief worker of a multi-worker tf.distribute strategy.

    Checks `model.distribute_strategy.cluster_resolver`: with no resolver or
    no task type (single machine) this is the chief; otherwise the chief is
    task type "chief", or "worker" 0 when the cluster has no "chief".
    """
    strategy = getattr(model, "distribute_strategy", None)
    resolver = getattr(strategy, "cluster_resolver", None)
    task_type = getattr(resolver, "task_type", None)
    if resolver is None or not task_type:
        return True
    try:
        cluster = resolver.cluster_spec().as_dict()
    except Exception:
        cluster = {}
    if "chief" in cluster or task_type == "chief":
        return task_type == "chief"
    return task_type == "worker" and int(getattr(resolver, "task_id", 0) or 0) == 0


def _find_loss_tracker(model):
    for metric in getattr(model, "metrics", None) or []:
        if getattr(metric, "name", None) == "loss" and hasattr(metric, "total") \
                and hasattr(metric, "count"):
            return metric
    return None


def _model_loss_function(model, flavour):
    loss = getattr(model, "loss", None)
    if isinstance(loss, (list, tuple)) and len(loss) == 1:
        loss = loss[0]
    if isinstance(loss, dict) and len(loss) == 1:
        loss = next(iter(loss.values()))
    if loss is None or (isinstance(loss, (list, tuple, dict)) and not loss):
        raise ValueError("loss: 'model' needs a compiled model with a loss; compile the "
                         "model first, or use loss='squared'")
    if isinstance(loss, (list, tuple, dict)):
        raise ValueError("loss: 'model' with several losses is not supported; FitViz "
                         "supports one output so far")
    if flavour == "tf_keras":
        import tf_keras as keras_module
    else:
        import keras as keras_module
    if isinstance(loss, str):
        loss = keras_module.losses.get(loss)
    if isinstance(loss, keras_module.losses.Loss):
        # The unreduced per-sample values, before the Loss object's reduction.
        return loss.call
    if callable(loss):
        return loss
    raise ValueError(f"loss: 'model' cannot use the model's loss {loss!r}")


def _model_input(model, x_ndim):
    """(rank, dtype) of the model's input; the user's x decides when unknown."""
    rank, dtype = (2 if x_ndim == 2 else None), "float32"
    inputs = getattr(model, "inputs", None)
    try:
        if inputs:
            shape = tuple(inputs[0].shape)
            rank = len(shape)
            dtype = getattr(inputs[0].dtype, "name", inputs[0].dtype) or "float32"
    except (AttributeError, TypeError, ValueError):
        pass
    if rank is None:
        rank = 2  # Dense layers want (n, 1)
    if rank not in (1, 2):
        raise ValueError(f"model: expects inputs of rank {rank}; FitViz supports one "
                         "feature, shape (n,) or (n, 1)")
    return rank, str(dtype)


def _safe_losses(model):
    try:
        return list(model.losses)
    except Exception:
        return []


def _ndim(values):
    return getattr(values, "ndim", None) or np.ndim(values)


def _number(value):
    if value is None:
        return None
    try:
        value = float(np.asarray(value))
    except (TypeError, ValueError):
        return None
    return value


def _check_max_overhead(value, default):
    if isinstance(value, str) and value == "auto":
        return DEFAULT_MAX_OVERHEAD if default else None
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) \
            or not math.isfinite(value) or value <= 0:
        raise ValueError(f"max_overhead: expected 'auto', None or a positive fraction such "
                         f"as 0.05, got {value!r}")
    return float(value)
