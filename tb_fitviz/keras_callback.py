"""FitVizCallback: records a Keras fit for TensorBoard's FitViz tab.

Works with Keras 3 (the `keras` package) and with legacy Keras 2 (`tf_keras`,
which `TF_USE_LEGACY_KERAS=1` makes `tf.keras`). The callback is a thin
adapter on `FitVizWriter`'s public API: it decides the run's task from the
model, runs one compiled forward pass (`tb_fitviz.forward.Forward`: the sample,
the validation sample and the grid of a surface, in one call) when a frame is
due, and recovers each batch's own loss.
"""

import collections
import math
import numbers
import os
import statistics
import sys
import time

import numpy as np

from tb_fitviz import schedules as schedules_module
from tb_fitviz.compiled_frame import CompiledFrame
from tb_fitviz.data import MAX_CLASSES, guess_task, raw_targets
from tb_fitviz.kind import CLASSIFICATION, REGRESSION
from tb_fitviz.writer import DEFAULT_GRID, DEFAULT_SAMPLE, DEFAULT_SCATTER, FitVizWriter

DEFAULT_MAX_OVERHEAD = 0.05
# Under the time cap, the training steps right after a frame are charged to recording for
# what they take over a typical step: a frame's forward pass leaves the training's data out
# of the caches (measured on the moons bench: the next three steps take +1.6, +0.45 and
# +0.13 ms over 1.7 ms, about half again a frame's own 4 ms).
SLOW_STEPS_AFTER_A_FRAME = 3
TYPICAL_STEP_WINDOW = 15  # steps away from frames and epoch starts; their median is typical
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
    the cluster has no chief); other workers record nothing, but every worker
    reads the loss tracker at every batch (a collective all must join), and
    the chief's forward pass runs in its replica context (no collective).

    Args:
        log_dir: Directory of the run; event files go directly into it, so
            its last component is the run's name in TensorBoard.
        x: Training inputs: (n,), (n, 1) or (n, d) arrays, a list of lists or a
            pandas DataFrame (its column names become the feature names).
        y: Training targets: regression (n,) or (n, k), or a list of arrays (a
            model with several outputs); classification integer labels (n,),
            one-hot rows (n, K), or 0/1 labels for one sigmoid unit.
        task: "auto" (default: any cross-entropy in the model's compiled loss
            means a classification, else the writer's rule on y), "regression"
            or "classification".
        sample: Points to predict on: an int count (>= 2) or a float fraction
            in (0, 1] of the data (default 1,000; all points if fewer): one
            feature: spread evenly over sorted x; several: evenly over sorted y
            (regression) or stratified by class.
        scatter: Same, for the points drawn as data (default 2,000).
        validation_data: Optional (x_val, y_val): drawn in their own colour;
            their sample's loss is recorded with each frame.
        validation_sample: Size of the validation sample, as for `sample`.
        grid: Points a side of the surface of a two-feature model ("auto":
            100), or None for no surface.
        every: When to record a frame: an int n (every n-th batch), a
            sequence of booleans (one per global batch, the first for step 1),
            a callable (step, logs) -> bool, or a `tb_fitviz.schedules`
            schedule (`EveryN`, `LogSpaced`, `OnChange`). Default:
            `LogSpaced(budget=300)` with `max_overhead=0.05`. The first and
            last batch of each fit are always recorded.
        loss: Per-point loss: "auto" (default: "squared" for a regression,
            "cross_entropy" for a classifier, computed from the predictions),
            "squared", "absolute", "cross_entropy", "model" (the model's own
            compiled loss, per point and output) or a callable
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
            first batch where the budget allows. Both are counted from the
            end of the fit's first batch (tracing the train step and the
            first frame are one-time costs: compiling earns no budget).
            "auto" (default): 0.05 with the default schedule, None (no cap:
            the schedule is honoured exactly) when `every` is given.
        smoothing: Odd moving-average window of the loss band (None: the default).
        band: Loss band: "auto" (faithful to the loss), "sqrt", "raw" or None.
        feature_names, output_names, class_names: Names (defaults: DataFrame
            columns, the model's output names, else "x1".., "y1".., "0"..).
        x_label, y_label, title: Optional texts for the axes and title.
        jit_compile: How FitViz compiles its own forward pass (not the model's
            training step). "auto" (default): with XLA on TensorFlow, falling
            back to TensorFlow's graph when XLA cannot compile the model (XLA
            fuses the pass: 16% and 27% faster, in a loop, for the two models
            of bench/bench_recording.py); True: XLA or a ValueError; False: the
            graph. A multi-worker run uses the graph. XLA skips TensorFlow's
            runtime checks (`tf.debugging.check_numerics`, an out-of-range
            gather): pass False to keep them. The frame (per-point losses,
            stored layout) is computed in the same pass (see
            `tb_fitviz.compiled_frame`). JAX always uses XLA.

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

    def __init__(self, log_dir, x, y, *, task="auto", sample=DEFAULT_SAMPLE,
                 scatter=DEFAULT_SCATTER, validation_data=None, validation_sample=DEFAULT_SAMPLE,
                 grid=DEFAULT_GRID, every=None, loss="auto", images="epoch",
                 max_overhead="auto", smoothing=None, band="auto", feature_names=None,
                 output_names=None, class_names=None, x_label=None, y_label=None, title=None,
                 jit_compile="auto"):
        super().__init__()
        from tb_fitviz.forward import check_jit_compile

        backend = None
        if jit_compile is True and self._flavour != "tf_keras":
            import keras

            backend = keras.backend.backend()
        self._jit_compile = check_jit_compile(jit_compile, backend)
        if every is None:
            schedule = schedules_module.LogSpaced(schedules_module.DEFAULT_BUDGET)
        else:
            schedule = schedules_module.as_schedule(every)
        self.max_overhead = _check_max_overhead(max_overhead, default=every is None)
        description = schedule.describe()
        if self.max_overhead is not None:
            description += f", at most {self.max_overhead:.0%} overhead"
        self.schedule = schedule
        self._task_option = task
        self._names_given = output_names is not None
        self._writer_arguments = (log_dir, x, y)
        self._writer_options = dict(
            sample=sample, scatter=scatter, validation_data=validation_data,
            validation_sample=validation_sample, grid=grid, loss=loss, images=images,
            smoothing=smoothing, band=band, feature_names=feature_names,
            output_names=output_names, class_names=class_names, x_label=x_label,
            y_label=y_label, title=title, framework=self._flavour or "keras",
            schedule_description=description,
            # With a time cap, a figure not yet started when the next is due is dropped.
            drop_stale_images=self.max_overhead is not None)
        # Checked now, before any training: the task is settled when Keras hands
        # over the model (its loss may say classification where y looked like values).
        # Options only a classifier takes say classification whatever the model's loss.
        self._labels_said = class_names is not None or loss == "cross_entropy"
        try:
            self._y_task = guess_task(raw_targets(y)[0])  # what y alone says
        except (TypeError, ValueError):  # bad y: the writer says what is wrong with it
            self._y_task = None
        self.writer = self._first_writer(task)
        self._loss_option = loss
        self.step = 0
        self._epoch = -1
        self._active = True
        self._forward = None
        self._logits = False
        self._sizes = None
        self._seconds_recording = 0.0
        self._image_seconds_before = 0.0
        self._fit_started = None
        self._returned = None  # when on_train_batch_end last returned (under the cap)
        self._steps_to_charge = 0
        self._typical_steps = collections.deque(maxlen=TYPICAL_STEP_WINDOW)
        self._first_batch_of_fit = True
        self._batches_in_epoch = 0
        self._tracker_previous, self._tracker_k = (0.0, 0.0), 0
        self._multi_worker = False
        self._batch_size = None
        self._mean_previous = (0, 0.0)
        self.frames_skipped = 0
        self._frame_owed = False

    def _first_writer(self, task):
        """The writer made at construction. With task="auto", y that reads as class
        labels is checked as such; where it fails as labels (labels below 0 or beyond
        the classes y shows, a regression loss option) it is checked as values instead,
        as the model's compiled loss may well make the run a regression. `_prepare`
        then decides from that loss, and a classifier's checks refuse such y before
        the first batch. Options that only a classifier takes (`class_names`,
        loss="cross_entropy") settle it as labels now."""
        try:
            return self._make_writer(task)
        except ValueError as error:
            if task != "auto" or self._labels_said or self._y_task != CLASSIFICATION:
                raise
            try:
                return self._make_writer(REGRESSION)
            except ValueError:
                raise error from None  # wrong as values too: the labels' error says more

    def _make_writer(self, task, **extra):
        log_dir, x, y = self._writer_arguments
        writer = FitVizWriter(log_dir, x, y, task=task, **{**self._writer_options, **extra})
        if hasattr(self.schedule, "set_scale"):
            # OnChange measures moves against the predictions' range.
            self.schedule.set_scale(np.array([0.0, 1.0]) if writer.kind.is_classification
                                    else writer.y_sample)
        return writer

    # -- Keras protocol -------------------------------------------------------

    # Both CallbackLists look these up; keep them right whatever the base class.
    _supports_tf_logs = False
    # Not async_safe. On backends that declare themselves thread-safe (JAX, PyTorch,
    # NumPy; not TensorFlow), Keras 3's CallbackList hands batch-end hooks to a
    # thread pool when every callback in the list is async_safe, and training goes
    # on meanwhile: the hooks run late, concurrently and in no set order. A frame
    # is the model as it is after *its* batch, and the batch losses are recovered
    # from consecutive running means, so FitViz needs its hook called in order,
    # before the next step: run late, on JAX it would read the trainer's state
    # (`model._jax_state`) of a later step, on PyTorch parameters being updated
    # in place. The cost: with FitViz in the list Keras calls every batch-end hook
    # synchronously, as it always does on TensorFlow (bench/bench_backends.py
    # measures it: variant (s)).
    async_safe = False

    def _implements_train_batch_hooks(self):
        return True

    def _implements_test_batch_hooks(self):
        return False

    def _implements_predict_batch_hooks(self):
        return False

    def set_model(self, model):
        flavour = model_flavour(model)
        if flavour is not None:
            self.writer.set_framework(flavour)
        super().set_model(model)

    def on_train_begin(self, logs=None):
        from tb_fitviz.forward import multi_worker_strategy

        model = self.model
        # Under a multi-worker tf.distribute strategy only the chief records, but
        # every worker reads Keras' loss tracker, at every batch (`_batch_loss`):
        # its variables sync on read, so each read is an all-reduce that every
        # worker must join, in the same order, or the strategy's next collective
        # is matched against it and aborts. (The chief's forward pass runs in a
        # replica context and issues none: `tb_fitviz.forward`.) Every batch,
        # because tf_keras' per-batch logs["loss"] is then the sum of the workers'
        # own running means, not the mean (twice it with two workers).
        self._multi_worker = multi_worker_strategy(model) is not None
        self._active = is_chief(model)
        if not self._active:
            return
        if self.writer.closed:  # fit again after close(): batch losses need an open file too
            self.writer.reopen()
        if self._forward is None:
            self._prepare(model)
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
        self._start_cap_clock()  # again after the first batch

    def _prepare(self, model):
        """Settles the run's kind from the model, then builds the forward pass."""
        from tb_fitviz import forward

        flavour = model_flavour(model) or self._flavour or "keras"
        info = forward.compiled_loss_info(model, flavour)
        # Only read for the output shapes and names: not worth compiling by XLA.
        probe = forward.Forward(model, self.writer.x_sample.reshape(
            len(self.writer.x_sample), -1)[:2], flavour=flavour, jit_compile=False)
        width = sum(probe.output_widths)
        task = self._task_option
        if task == "auto":
            # Class names or loss="cross_entropy", else the model's compiled loss, else
            # (no loss to read: a custom train_step) what y alone says.
            task = CLASSIFICATION if self._labels_said or info["cross_entropy"] else (
                REGRESSION if info["names"] else self._y_task or self.writer.kind.task)
        extra = {}
        if task == CLASSIFICATION:
            if len(probe.output_widths) > 1:
                raise ValueError("model: a classifier with several outputs is not supported; "
                                 "FitViz draws one classifier output")
            if width > MAX_CLASSES:
                raise ValueError(f"model: gives {width} values per point; FitViz records a "
                                 f"classifier of at most {MAX_CLASSES} classes")
            extra["class_count"] = max(width, 2)
        elif (probe.output_names and not self._names_given
              and width == len(probe.output_names)):
            extra["output_names"] = probe.output_names
        if self.writer.last_step is None and (task != self.writer.kind.task or extra):
            self.writer = self._make_writer(task, **extra)
            self.writer.set_framework(flavour)
        kind = self.writer.kind
        if kind.is_classification:
            self._logits = bool(info["from_logits"])
            expected = 1 if kind.binary else kind.class_count
            if width not in (expected, kind.class_count):
                raise ValueError(
                    f"model: gives {width} values per point; a classifier of "
                    f"{kind.class_count} classes needs {kind.class_count}"
                    + (" (or 1 sigmoid unit)" if kind.binary else ""))
        elif width != kind.output_count:
            raise ValueError(f"model: gives {width} values per point; y has "
                             f"{kind.output_count} output(s)")
        parts = [self.writer.x_sample, self.writer.x_validation, self.writer.x_grid]
        parts = [np.asarray(p, dtype=np.float64).reshape(len(p), -1)
                 for p in parts if p is not None]
        self._sizes = [len(p) for p in parts]
        points = np.concatenate(parts)
        targets = None
        loss = "model" if self._loss_option == "model" else None
        if loss:
            targets = self._model_targets(probe, len(points))
        finish = None
        if self._compiles_frame(probe, flavour):
            # The pass makes the frame as stored (see `tb_fitviz.compiled_frame`).
            writer = self.writer
            sizes = [0 if p is None else len(p)
                     for p in (writer.x_sample, writer.x_validation, writer.x_grid)]
            finish = CompiledFrame(kind, writer.loss, sizes, writer.y_sample,
                                   writer.y_validation,
                                   logits=kind.is_classification and self._logits)
        self._forward = forward.Forward(model, points, flavour=flavour, targets=targets,
                                        loss=loss, finish=finish,
                                        jit_compile=self._jit_compile)

    def _compiles_frame(self, probe, flavour):
        """Whether the forward pass can make the frame itself: a TensorFlow model, a loss
        with a compiled form, and the model's own loss (loss="model") of one value per
        point or one per regression output."""
        from tb_fitviz import forward

        kind = self.writer.kind
        if forward.model_backend(self.model, flavour) != "tensorflow" \
                or not CompiledFrame.covers(self.writer.loss):
            return False
        if self.writer.loss.kind == "model":
            outputs = len(probe.output_widths)
            return outputs == 1 or (not kind.is_classification and outputs == kind.output_count
                                    and all(w == 1 for w in probe.output_widths))
        return True

    def _model_targets(self, probe, count):
        """The sample's and validation sample's targets in the form the model's loss takes,
        one array per output, padded to `count` rows (the grid has no targets)."""
        writer = self.writer
        kind = writer.kind
        rows = [writer.y_sample]
        if writer.y_validation is not None:
            rows.append(writer.y_validation)
        values = np.concatenate(rows)
        pad = count - len(values)
        if kind.is_classification:
            labels = np.concatenate([values, np.zeros(pad)]).astype(np.int64)
            if writer.settings.get("target_form") == "one_hot":
                return [np.eye(kind.class_count, dtype=np.float32)[labels]]
            if sum(probe.output_widths) == 1:
                return [labels.astype(np.float32).reshape(-1, 1)]
            return [labels]
        values = values.reshape(len(values), -1)
        values = np.concatenate([values, np.zeros((pad, values.shape[1]))]).astype(np.float32)
        if len(probe.output_widths) == 1:
            return [values]
        out, start = [], 0
        for width in probe.output_widths:
            out.append(values[:, start:start + width])
            start += width
        return out

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch += 1
        self._batches_in_epoch = 0
        self._tracker_previous, self._tracker_k = (0.0, 0.0), 0  # Keras resets it per epoch
        self._mean_previous = (0, 0.0)

    def on_train_batch_end(self, batch, logs=None):
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
        # Every worker reads the loss tracker at the same batches (see on_train_begin).
        batch_loss = self._batch_loss(logs)
        if not self._active:
            return
        if batch_loss is not None:
            self.writer.record_batch_loss(step, batch_loss)
        if self.max_overhead is not None and self._returned is not None \
                and self._batches_in_epoch > new_batches:  # an epoch's first step is slower
            self._charge_step(started - self._returned, new_batches)

        predictions = None
        step_of_fit_one = self._first_batch_of_fit
        if step_of_fit_one:
            self._first_batch_of_fit = False
            wanted = True
        else:
            if self.schedule.needs_predictions:
                predictions = self._run_forward()
                wanted = self.schedule(step, logs, predictions["sample"])
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
        if step_of_fit_one:
            # The cap's clock starts now: the first batch (tracing the train step) and its
            # frame are one-time costs, and compiling must not earn recording time.
            self._start_cap_clock()
            return
        self._returned = time.perf_counter()
        self._seconds_recording += self._returned - started

    def _start_cap_clock(self):
        self._image_seconds_before = self.writer.image_seconds
        self._seconds_recording = 0.0
        self._fit_started = self._returned = time.perf_counter()

    def _charge_step(self, seconds, batches):
        """Under the time cap: a training step (`batches` batches, `seconds` since this
        hook last returned) just after a frame is charged what it took over the typical
        step; the others are the typical step."""
        seconds /= batches
        if self._steps_to_charge:
            self._steps_to_charge -= 1
            if self._typical_steps:
                typical = statistics.median_high(self._typical_steps)
                self._seconds_recording += max(0.0, seconds - typical) * batches
        else:
            self._typical_steps.append(seconds)

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
        """Time spent recording in the current fit, as a fraction of the training time
        (both from the end of the fit's first batch)."""
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
        parts = predictions if predictions is not None else self._run_forward()
        self._frame_owed = False
        if "frame" in parts:
            values, grid, (sample_loss, validation_loss, regularization) = parts["frame"]
            self.writer.record_channels(
                self.step, values, grid=grid if self.writer.kind.grid is not None else None,
                epoch=max(self._epoch, 0), sample_loss=sample_loss,
                validation_loss=(validation_loss if self.writer.x_validation is not None
                                 else None),
                regularization_loss=regularization if self._forward.has_regularization
                else None)
        else:
            self.writer.record(
                self.step, parts["sample"], epoch=max(self._epoch, 0),
                y_pred_validation=parts.get("validation"), y_pred_grid=parts.get("grid"),
                point_loss=parts.get("sample_loss"),
                point_loss_validation=parts.get("validation_loss"),
                regularization_loss=parts["regularization"])
        self.schedule.recorded(self.step, parts["sample"])  # OnChange compares with these
        self._steps_to_charge = SLOW_STEPS_AFTER_A_FRAME  # under the cap (_charge_step)

    def _run_forward(self):
        """{"sample", "validation", "grid", "regularization", and with loss="model"
        "sample_loss", "validation_loss"}: the forward pass, split by point set; or, when
        the pass makes the frame, {"sample": its prediction channels [N, P], "frame":
        (values, grid, [sample loss, validation loss, regularization])}."""
        if self._forward.finished:
            values, grid, scalars = self._forward()
            return {"sample": values[:len(self.writer.kind.prediction_channels)].T,
                    "frame": (values, grid, scalars.tolist())}
        outputs, regularization, point_loss = self._forward()
        kind = self.writer.kind
        if kind.is_classification:
            outputs = _probabilities(outputs, self._logits)
        names = ["sample", "validation", "grid"]
        if self.writer.x_validation is None:
            names.remove("validation")
        result = {"regularization": regularization}
        start = 0
        for name, size in zip(names, self._sizes):
            result[name] = outputs[start:start + size]
            if point_loss is not None and name != "grid":
                result[name + "_loss"] = point_loss[start:start + size]
            start += size
        return result

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
        if self._multi_worker:
            return self._batch_loss_from_tracker(k)
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

    def _batch_loss_from_tracker(self, k):
        """This batch's loss from the tracker alone: (total - total before) / (count -
        count before), exact whatever the batch sizes; None without a tracker."""
        state = self._read_tracker()
        if state is None:
            return None
        (total, count), (base_total, base_count) = state, self._tracker_previous
        self._tracker_previous, self._tracker_k = state, k
        if count <= base_count:
            return None
        return (total - base_total) / (count - base_count)

    def _read_tracker(self):
        from tb_fitviz.forward import read_loss_tracker

        return read_loss_tracker(self.model)


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


def _probabilities(outputs, logits):
    """Class probabilities from a classifier's outputs: as they are, or through a
    sigmoid (one unit) or softmax (several) when the model outputs logits."""
    if not logits:
        return outputs
    outputs = np.asarray(outputs, dtype=np.float64)
    with np.errstate(all="ignore"):
        if outputs.shape[1] == 1:
            return 1.0 / (1.0 + np.exp(-outputs))
        shifted = np.exp(outputs - np.max(outputs, axis=1, keepdims=True))
        return shifted / np.sum(shifted, axis=1, keepdims=True)


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
