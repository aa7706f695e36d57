"""The recording's image output: figures for TensorBoard's Images tab.

`ImageOutput` keeps what a figure shows besides the frame (the loss
histories, the epoch ends), draws the last recorded frame with the run's
figure (`tb_fitviz.figure.figure_for_run`) on request, in a child process by
default (`tb_fitviz.figure_process`: drawing never holds the training's GIL),
and hands the PNG to a `write` function (the event output). A thread of the
training process waits for the child; if the child cannot run, figures are drawn
in that thread instead. Matplotlib is imported only when the first figure is made.
"""

import threading
import time
import warnings
from array import array

import numpy as np


class ImageOutput:
    """Figures of one run.

    Args:
        make_figure: () -> a figure with `draw(step, values, grid, epoch=, sample_loss=,
            batch_loss=, epoch_ends=)`, `png()` and `size`; picklable for `process`.
        write: (step, width, height, png) -> bool: stores one figure.
        background: Draw in the background (the training loop never waits).
        process: In the background, draw in a child process (default) rather than in
            the background thread itself.
        drop_stale: A figure still waiting when the next is queued is dropped
            (the newest, e.g. the last frame's, is always drawn).
    """

    def __init__(self, make_figure, write, background=True, drop_stale=False, process=True):
        self._make_figure = make_figure
        self._use_process = bool(background and process)
        self._process = None
        self._figure_error = None
        self._write = write
        self._background = background
        self._drop_stale = drop_stale
        self._figure = None
        self._worker = None
        self._sample_loss = (array("d"), array("d"))
        self._batch_loss = (array("d"), array("d"))
        self._epoch_ends = []
        self._last_frame = None
        self._imaged_step = None
        self._drawn_in_child = 0
        self.frames_since_image = 0
        self.images_written = 0
        self.seconds = 0.0  # spent drawing figures, warm-up included
        self.last_seconds = None  # the last figure's cost (the first one's until a second)

    # -- what figures show ------------------------------------------------------

    def note_frame(self, step, epoch, values, grid, sample_loss):
        self._last_frame = (step, epoch, values, grid)
        self._sample_loss[0].append(step)
        self._sample_loss[1].append(sample_loss)
        self.frames_since_image += 1

    def note_batch_loss(self, step, loss):
        self._batch_loss[0].append(step)
        self._batch_loss[1].append(loss)

    def note_epoch_end(self, step):
        if not self._epoch_ends or step > self._epoch_ends[-1]:
            self._epoch_ends.append(int(step))

    @property
    def has_frame(self):
        return self._last_frame is not None

    # -- drawing ----------------------------------------------------------------

    def draw_last(self):
        """Queues (or draws) the figure of the last frame, unless it has one already."""
        if self._last_frame is None or self._imaged_step == self._last_frame[0]:
            return
        step, epoch, values, grid = self._last_frame
        job = (step, epoch, values, grid,
               tuple(np.array(a) for a in self._sample_loss),
               tuple(np.array(a) for a in self._batch_loss),
               list(self._epoch_ends))
        self._imaged_step = step
        self.frames_since_image = 0
        if self._background:
            self._thread().put(job)
        else:
            self._draw(job)

    def prepare(self):
        """Makes the figure and renders it once, in the background, before it is needed
        (importing Matplotlib and the first render take a fraction of a second)."""
        if self._background and self._figure is None:
            self._thread().put(_WARM_UP)

    def _thread(self):
        if self._worker is None:
            self._worker = _Worker(self._draw, self._drop_stale)
        return self._worker

    def figure(self):
        if self._figure is None:
            self._figure = self._make_figure()
        return self._figure

    def _child(self):
        """The figure process, started on first use; None when figures are drawn here."""
        if self._figure_error is not None:
            raise self._figure_error  # the figure cannot be made: not tried again
        if self._use_process and self._process is None:
            from tb_fitviz.figure_process import FigureProcess

            try:
                self._process = FigureProcess(self._make_figure)
            except RuntimeError as error:  # the child runs, the figure could not be made
                self._figure_error = error
                raise
            except OSError as error:
                self._use_process = False
                warnings.warn(f"FitViz draws figures in a thread: no figure process ({error})",
                              stacklevel=1)
        return self._process

    def _draw(self, job):
        started = time.perf_counter()
        child = self._child()
        first = (child is None and self._figure is None) or (child is not None
                                                             and self._drawn_in_child == 0)
        if job is _WARM_UP:
            if child is not None:
                child.warm_up()
            else:
                self.figure().png()
            self.seconds += time.perf_counter() - started
            return
        step, epoch, values, grid, sample_loss, batch_loss, epoch_ends = job
        options = {"epoch": epoch, "sample_loss": sample_loss, "batch_loss": batch_loss,
                   "epoch_ends": epoch_ends}
        if child is not None:
            try:
                png, width, height = child.draw(step, values, grid, **options)
            except OSError:
                self._process = None  # the child is gone: the next figure starts another
                raise
            self._drawn_in_child += 1
        else:
            figure = self.figure()
            figure.draw(step, values, grid, **options)
            png = figure.png()
            width, height = figure.size
        if self._write(step, width, height, png):
            self.images_written += 1
        seconds = time.perf_counter() - started
        self.seconds += seconds
        if not first or self.last_seconds is None:
            self.last_seconds = seconds

    def wait(self):
        """Blocks until every figure queued so far is written."""
        if self._worker is not None:
            self._worker.join()

    def stop(self):
        try:
            self.wait()
        finally:
            self._worker = None
            if self._process is not None:
                self._process.close()
                self._process = None


_WARM_UP = object()


class _Worker:
    """Draws figures in order in a thread that lives only while there is work."""

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
                    warnings.warn(f"FitViz could not draw a figure: {error!r}", stacklevel=1)
            finally:
                with self._condition:
                    self._busy = False
                    self._condition.notify_all()
