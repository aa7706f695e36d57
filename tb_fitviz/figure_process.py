"""Figures drawn in a child process, not in the training process.

Drawn in a thread of the training process, Matplotlib shares its GIL and its
CPU time: the GIL part turned out small (`bench/bench_figure_gil.py`: a Python
loop beside a figure thread keeps 96 to 99% of its speed), the CPU part does
not (the training process spends 6 to 11% more CPU time with a figure an epoch,
`bench/bench_recording.py`). A child process has its own interpreter: the
training process only pickles a frame (tens of kilobytes) and reads back a PNG.
On a machine with few cores the child would still take a core from the training
while it draws: it runs at the lowest CPU priority (nice 19), so that it draws in
the time training leaves, and the callback's time cap counts its drawing time.

The child is `python -m tb_fitviz.figure_process`, never a fork of the training
process (forking a process that runs TensorFlow threads is unsafe) nor
`multiprocessing`'s spawn (which re-imports the user's ``__main__`` script). One
child serves every figure of the training process (its imports, about a second of
CPU, are paid once). It reads pickled requests on stdin and answers on the stdout
it had at start; it ends when its stdin closes, so it never outlives the training
process, even after a kill.
"""

import contextlib
import itertools
import os
import pickle
import subprocess
import sys
import threading

NICENESS = 19  # the child's: the lowest priority (Unix)


class FigureProcess:
    """One figure, held in the training process's figure child.

    All the figures of a process share one child (started by the first, kept for
    the next: a sweep of fits or a notebook pays its imports once), which ends
    with the training process.

    Args:
        make_figure: A picklable () -> figure (e.g. a `functools.partial` of
            `tb_fitviz.figure.figure_for_run`), called once in the child.

    Raises:
        OSError: The child could not be started or did not answer.
        RuntimeError: The figure could not be made (the child's error message).
    """

    def __init__(self, make_figure):
        self._child = _Child.shared()
        self._key = self._child.new_key()
        self._child.ask(("make", self._key, make_figure))

    def warm_up(self):
        """Renders the figure once (imports and first render, off the training process)."""
        return self._child.ask(("warm", self._key))

    def draw(self, step, values, grid, **options):
        """(png bytes, width, height) of the figure drawn at `step`."""
        return self._child.ask(("draw", self._key, step, values, grid, options))

    def close(self):
        """Drops the figure (the child stays for the next one)."""
        child, self._child = self._child, None
        if child is not None and child.alive:
            with contextlib.suppress(OSError, RuntimeError):
                child.ask(("drop", self._key))

    @property
    def pid(self):
        """The child's process id."""
        return None if self._child is None else self._child.pid


class _Child:
    """The child process, one per training process, started on first use."""

    _shared = None
    _shared_lock = threading.Lock()

    @classmethod
    def shared(cls):
        with cls._shared_lock:
            if cls._shared is None or not cls._shared.alive:
                cls._shared = cls()
            return cls._shared

    def __init__(self):
        package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (package_parent, env.get("PYTHONPATH")) if p)
        # The child needs no accelerator and must not grab one.
        env.setdefault("CUDA_VISIBLE_DEVICES", "")
        env["MPLBACKEND"] = "Agg"
        self._lock = threading.Lock()
        self._keys = itertools.count()
        self._process = subprocess.Popen(
            [sys.executable, "-m", "tb_fitviz.figure_process"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, env=env, close_fds=True)
        self.pid = self._process.pid
        # Not closed by an exit handler of its own: one registered here would run before
        # the writers' (`tb_fitviz.writer`, registered at import, so run last), which
        # draw their last figures in this child. Those close it after them
        # (`close_shared`); in any case the child ends when this process's end closes
        # its stdin.

    def new_key(self):
        return next(self._keys)

    def ask(self, request):
        with self._lock:
            if self._process is None:
                raise OSError("the figure process was closed")
            try:
                pickle.dump(request, self._process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
                self._process.stdin.flush()
                status, payload = pickle.load(self._process.stdout)
            except (OSError, EOFError, pickle.UnpicklingError) as error:
                self._close_locked()
                raise OSError(f"the figure process stopped ({error!r})") from None
        if status == "error":
            raise RuntimeError(payload)
        return payload

    def close(self):
        """Ends the child (it exits when its stdin closes)."""
        with self._lock:
            self._close_locked()

    def _close_locked(self):
        process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(OSError):
            process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()

    @property
    def alive(self):
        return self._process is not None and self._process.poll() is None


def close_shared():
    """Ends the shared child, if one runs (at exit, after the writers' last figures)."""
    with _Child._shared_lock:
        child = _Child._shared
    if child is not None:
        child.close()


def _serve(requests, answers):
    figures = {}
    while True:
        try:
            request = pickle.load(requests)
        except EOFError:
            return
        try:
            kind, key = request[0], request[1]
            payload = None
            if kind == "make":
                figures[key] = request[2]()
            elif kind == "warm":
                figures[key].png()
            elif kind == "drop":
                figures.pop(key, None)
            else:
                _, _, step, values, grid, options = request
                figure = figures[key]
                figure.draw(step, values, grid, **options)
                width, height = figure.size
                payload = (figure.png(), width, height)
            answer = ("ok", payload)
        except Exception as error:  # noqa: BLE001 - reported to the parent, which warns once
            answer = ("error", f"{type(error).__name__}: {error}")
        pickle.dump(answer, answers, protocol=pickle.HIGHEST_PROTOCOL)
        answers.flush()


def main():
    # The lowest CPU priority: where training keeps every core busy, figures take only the time
    # it leaves (on 2 cores, a figure an epoch cost the half-moons default 1.16x of plain fit
    # in wall time at normal priority, 1.09x at this one; no figures: 1.06x).
    if hasattr(os, "nice"):
        with contextlib.suppress(OSError):
            os.nice(NICENESS - os.nice(0))
    # Stdout is the answer channel: anything printed (a library's notice) goes to stderr.
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    _serve(sys.stdin.buffer, answers)


if __name__ == "__main__":
    main()
