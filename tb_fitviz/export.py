"""`tb-fitviz export`: a FitViz run as an animated GIF, an MP4 video or a PNG picture.

Reads the event files with TensorBoard's own reading code (through
`tb_fitviz.plugin.reading.reader_for_logdir`), draws each frame with the same
figure module as the Images-tab summaries (`tb_fitviz.figure.RunFigure`, any
kind of run, any of its views) and writes the frames one by one, so memory
stays flat however long the run: GIF with Pillow (one palette for the whole
animation, only the changed rectangle of each frame stored), MP4 (H.264) with
the ffmpeg binary that imageio-ffmpeg's wheel carries, PNG (the last frame of
the range) with Pillow.
"""

import math
import os
import struct
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tb_fitviz import storage

FORMATS = (".gif", ".mp4", ".png")
DEFAULT_SIZE = (960, 540)
DEFAULT_FPS = 20.0
DEFAULT_DPI = 100
# Moving-average window of the loss band when a run stores none (runs store theirs:
# `settings["view"]`, from tb_fitviz.defaults).
DEFAULT_SMOOTHING = 21
BANDS = ("auto", "sqrt", "raw", None)
THEMES = ("light", "dark")
# The loss map's cells at most (columns x rows), downsampled by the reader.
LOSS_MAP_CELLS = (600, 400)
# Browsers play GIF delays under 2/100 s as 1/10 s; GIF delays are whole 1/100 s.
GIF_MAX_FPS = 50.0
MIN_SIDE = 100
MAX_SIDE = 8192
# Frames read from the logdir at a time (bounds memory on long runs).
READ_CHUNK = 256
# Default drawing processes at most (each costs one Matplotlib start-up).
MAX_AUTO_JOBS = 8


class ExportError(ValueError):
    """A bad argument or a run that cannot be exported; names the argument.

    Attributes:
        argument: The command-line name of the argument at fault, e.g. "--run".
    """

    def __init__(self, argument, message):
        super().__init__(f"{argument}: {message}")
        self.argument = argument


@dataclass
class ExportResult:
    """What `export` wrote."""

    path: Path
    frames: int
    steps: list
    size: tuple
    fps: float
    seconds: float
    jobs: int = 1

    @property
    def frames_per_second(self):
        """Export speed: frames drawn and encoded per second of wall time."""
        return self.frames / self.seconds if self.seconds > 0 else math.inf


def parse_size(text):
    """(width, height) from "WxH", e.g. "960x540"; ExportError naming --size otherwise."""
    parts = str(text).lower().replace("×", "x").split("x")
    try:
        if len(parts) != 2:
            raise ValueError
        width, height = int(parts[0]), int(parts[1])
    except ValueError:
        raise ExportError(
            "--size", f"expected WIDTHxHEIGHT in pixels, e.g. 960x540; got {text!r}") from None
    if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
        raise ExportError("--size", f"expected a width and height of {MIN_SIDE} to {MAX_SIDE} "
                                    f"pixels, got {text!r}")
    return width, height


def check_arguments(output, *, fps=DEFAULT_FPS, start=0, stop=None, stride=1, size=DEFAULT_SIZE,
                    dpi=DEFAULT_DPI):
    """Checks everything that can be checked before reading the logdir.

    Returns:
        (output path, format suffix ".gif" or ".mp4", (width, height)).
    """
    if storage.is_remote(output):
        raise ExportError("-o/--output", f"expected a local file, got the URL {str(output)!r}")
    output = Path(output)
    suffix = output.suffix.lower()
    if suffix not in FORMATS:
        raise ExportError(
            "-o/--output",
            f"unsupported file type {output.suffix or '(none)'!r} in {str(output)!r}; "
            f"expected a name ending in {', '.join(FORMATS[:-1])} or {FORMATS[-1]}",
        )
    if output.is_dir():
        raise ExportError("-o/--output", f"{str(output)!r} is a directory; expected a file name")
    folder = output.parent if str(output.parent) else Path(".")
    if not folder.is_dir():
        raise ExportError("-o/--output", f"folder {str(folder)!r} does not exist")
    if not os.access(folder, os.W_OK):
        raise ExportError("-o/--output", f"folder {str(folder)!r} is not writable")

    if not isinstance(fps, (int, float)) or not math.isfinite(fps) or fps <= 0:
        raise ExportError("--fps", f"expected a positive number of frames per second, got {fps!r}")
    if suffix == ".gif" and fps > GIF_MAX_FPS:
        raise ExportError(
            "--fps",
            f"{fps:g} is too fast for a GIF (delays are whole 1/100 s and browsers slow "
            f"down delays under 2/100 s): use at most {GIF_MAX_FPS:g}, or write an .mp4",
        )
    _check_int("--start", start, minimum=0)
    if stop is not None:
        _check_int("--stop", stop, minimum=1)
        if stop <= start:
            raise ExportError(
                "--stop", f"expected a step after --start ({start}), got {stop}; "
                "the range is start <= step < stop"
            )
    _check_int("--stride", stride, minimum=1)

    width, height = size
    _check_int("--width", width, minimum=MIN_SIDE, maximum=MAX_SIDE)
    _check_int("--height", height, minimum=MIN_SIDE, maximum=MAX_SIDE)
    if suffix == ".mp4" and (width % 2 or height % 2):
        raise ExportError(
            "--size",
            f"an MP4 (H.264, yuv420p) needs an even width and height, got {width}x{height}",
        )
    if not isinstance(dpi, (int, float)) or not math.isfinite(dpi) or not 10 <= dpi <= 1000:
        raise ExportError("--dpi", f"expected a number between 10 and 1000, got {dpi!r}")
    return output, suffix, (int(width), int(height))


def _check_int(argument, value, minimum=None, maximum=None):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ExportError(argument, f"expected an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise ExportError(argument, f"expected an integer >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ExportError(argument, f"expected an integer <= {maximum}, got {value}")


def export(logdir, run, output, *, fps=DEFAULT_FPS, start=0, stop=None, stride=1,
           size=DEFAULT_SIZE, dpi=DEFAULT_DPI, smoothing=None, band="auto", view=None,
           theme="light", progress=True, stream=None, reader=None, jobs=None):
    """Writes the frames of one FitViz run as an animated GIF, an MP4 video or a PNG.

    Args:
        logdir: The log directory TensorBoard would be given (`--logdir`).
        run: The run's name as TensorBoard lists it (its folder relative to logdir).
        output: File to write; its suffix (.gif, .mp4 or .png) chooses the format.
            A PNG is the picture of the last frame in the range.
            Written to a temporary name first, so a failed export leaves no
            half-written file behind.
        fps: Frames per second of the animation (at most 50 for a GIF).
        start, stop: Only frames with `start <= step < stop` (stop None: to the end).
        stride: Every `stride`-th of those frames, the first one included.
        size: (width, height) in pixels; even numbers for MP4.
        dpi: Resolution of the drawing: larger means larger text and lines.
        smoothing: Moving-average window (points, odd) of the loss band;
            1 draws the raw per-point loss; None: the run's stored default.
        band: "auto" (the band the run stores, faithful to its loss), "sqrt"
            (+/- the square root of the smoothed loss, in units of y), "raw"
            (+/- the smoothed loss itself) or None.
        view: One of the run's views (`tb-fitviz runs` lists them); None: its
            main view.
        theme: "light" (default) or "dark".
        progress: Show a progress bar on `stream`.
        stream: Where the progress bar goes; default sys.stderr.
        reader: A `tb_fitviz.plugin.reading.FitVizReader` already loaded
            (default: one over `logdir`).
        jobs: Processes drawing frames (Matplotlib is the slow part). Default:
            half the CPUs (at most 8), fewer for short runs; 1 draws here.

    Returns:
        An `ExportResult` (path, frame count, steps, size, fps, seconds).

    Raises:
        ExportError: A bad argument, an unknown run (the message lists the
            runs there are), a view the run has not (the message lists its
            views), a run without frames, an empty step range.

    Example:

    ```python
    from tb_fitviz.export import export
    export("logs", "adam-lr0.01", "fit.gif", fps=25, stride=2)
    ```
    """
    began = time.perf_counter()
    output, suffix, (width, height) = check_arguments(
        output, fps=fps, start=start, stop=stop, stride=stride, size=size, dpi=dpi)
    if band == "none":
        band = None
    if band not in BANDS:
        raise ExportError("--band", f"expected 'auto', 'sqrt', 'raw' or 'none', got {band!r}")
    if smoothing is not None:
        _check_int("--smoothing", smoothing, minimum=1)
        if smoothing % 2 == 0:
            raise ExportError("--smoothing",
                              f"expected an odd window (1, 3, 5, ...), got {smoothing}")
    if theme not in THEMES:
        raise ExportError("--theme", f"expected 'light' or 'dark', got {theme!r}")
    if jobs is not None:
        _check_int("--jobs", jobs, minimum=1, maximum=256)

    if reader is None:
        if not storage.is_remote(logdir) and not os.path.isdir(logdir):
            raise ExportError("LOGDIR", f"{str(logdir)!r} is not a directory")
        try:
            storage.check_readable(logdir, label="")
        except (ValueError, PermissionError) as error:
            raise ExportError("LOGDIR", str(error).lstrip(": ")) from None
        from tb_fitviz.plugin.reading import reader_for_logdir

        reader = reader_for_logdir(os.fspath(logdir), run=run)  # that run's files only
    listing = _find_run(reader, run, logdir)
    steps = _selected_steps(listing, run, start, stop, stride)
    static = reader.static(run)
    settings = static.get("settings") or listing.get("settings") or {}
    view = _chosen_view(settings, run, view)
    if suffix == ".png":
        steps = steps[-1:]
    from tb_fitviz.figure import GRID_VIEWS

    spec = {
        "static": static,
        "settings": settings,
        "run": run,
        "size": (width, height),
        "dpi": dpi,
        "smoothing": smoothing,
        "band": band,
        "view": view,
        "theme": theme,
        "scalars": reader.scalars(run),
        "epoch_ends": listing.get("epoch_ends") or [],
        "loss_map": (reader.loss_map(run, *LOSS_MAP_CELLS) if view == "loss_map" else None),
    }
    grid = view in GRID_VIEWS
    jobs = _resolve_jobs(jobs, len(steps))

    encoder = {".gif": _GifEncoder, ".mp4": _Mp4Encoder, ".png": _PngEncoder}[suffix]
    temporary = output.with_name(f".{output.stem}.{os.getpid()}.partial{suffix}")
    bar = _ProgressBar(len(steps), f"{output.name}", stream=stream, enabled=progress)
    written = 0
    try:
        with _Drawing(spec, jobs) as drawing, encoder(temporary, (width, height), fps) as sink:
            if suffix == ".gif":
                # One palette for the whole GIF, from the first and the last frame.
                sink.set_palette(np.concatenate([
                    drawing.one(_task_at(reader, run, steps[0], grid)),
                    drawing.one(_task_at(reader, run, steps[-1], grid)),
                ]))
            for rgb in drawing.all(_tasks(reader, run, steps, stop, stride, grid)):
                sink.write(rgb)
                written += 1
                bar.update(written)
        if written != len(steps):
            raise RuntimeError(
                f"read {written} frames of run {run!r}, expected {len(steps)}: "
                "the event files changed while exporting?")
        os.replace(temporary, output)
    finally:
        bar.close()
        if temporary.exists():
            temporary.unlink()
    return ExportResult(path=output, frames=written, steps=steps, size=(width, height), fps=fps,
                        seconds=time.perf_counter() - began, jobs=jobs)


def _resolve_jobs(jobs, frames):
    """Drawing processes: as asked, or by default half the CPUs, each with 32 frames or more.

    Half: this process (reading, GIF encoding) and ffmpeg need CPU too, and a
    worker's start-up (Matplotlib, the figure) costs about a second. Measured on
    2 shared cores, two workers gained nothing, so there the default is one.
    """
    if jobs is None:
        try:
            cpus = len(os.sched_getaffinity(0))
        except AttributeError:  # macOS, Windows
            cpus = os.cpu_count() or 1
        return max(1, min(cpus // 2, MAX_AUTO_JOBS, frames // 32))
    _check_int("--jobs", jobs, minimum=1, maximum=256)
    return int(jobs)


def _chosen_view(settings, run, view):
    """The view to draw (None: the run's main one); ExportError naming --view otherwise."""
    from tb_fitviz.figure import choose_view
    from tb_fitviz.kind import RunKind

    kind = RunKind.from_settings(settings)
    try:
        return choose_view(kind, view)
    except ValueError:
        raise ExportError("--view", f"run {run!r} has no view {view!r}; its views: "
                          f"{', '.join(kind.views)} (the first is the default)") from None


def _find_run(reader, run, logdir):
    runs = reader.runs()
    names = [entry["run"] for entry in runs]
    if not names:
        raise ExportError("LOGDIR", f"no FitViz runs under {str(logdir)!r}")
    for entry in runs:
        if entry["run"] == run:
            return entry
    listed = ", ".join(repr(name) for name in names[:20])
    more = f" and {len(names) - 20} more" if len(names) > 20 else ""
    raise ExportError("--run", f"no FitViz run {run!r} under {str(logdir)!r}; "
                               f"runs there: {listed}{more}")


def _selected_steps(listing, run, start, stop, stride):
    if listing.get("error"):
        raise ExportError("--run", f"run {run!r} cannot be read: {listing['error']}")
    all_steps = [int(step) for step in listing.get("steps", [])]
    if not all_steps:
        raise ExportError("--run", f"run {run!r} has no recorded frames yet")
    in_range = [step for step in all_steps if step >= start and (stop is None or step < stop)]
    if not in_range:
        wanted = f"{start} <= step" + (f" < {stop}" if stop is not None else "")
        raise ExportError(
            "--start/--stop",
            f"no frame of run {run!r} has {wanted}; its frames are at steps "
            f"{all_steps[0]} to {all_steps[-1]}",
        )
    return in_range[::stride]


def _tasks(reader, run, steps, stop, stride, grid=False):
    """(step, values [C, N], info [4], grid [Cg, G*G] or None) of exactly `steps`, read
    READ_CHUNK frames at a time (with `grid`, the grid frames of the same steps too).

    Each chunk restarts at the next selected step: from a selected frame, every
    `stride`-th frame continues the same selection.
    """
    position = 0
    while position < len(steps):
        frames = reader.frames(run, start=steps[position], stop=stop, stride=stride,
                               limit=READ_CHUNK)
        count = min(len(frames.steps), len(steps) - position)
        if count == 0:
            return
        got = [int(step) for step in frames.steps[:count]]
        if got != steps[position:position + count]:
            raise RuntimeError(
                f"run {run!r}: read steps {got[:3]}... where {steps[position:position + 3]}... "
                "were listed; the event files changed while exporting?")
        grids = None
        if grid:
            grids = reader.frames(run, start=steps[position], stop=stop, stride=stride,
                                  limit=count, series="grid")
            _check_grid_steps(run, got, grids)
        for index in range(count):
            yield (got[index], frames.values[index], frames.info[index],
                   None if grids is None else grids.values[index])
        position += count


def _task_at(reader, run, step, grid=False):
    frames = reader.frames(run, start=step, stop=step + 1, limit=1)
    grids = None
    if grid:
        grids = reader.frames(run, start=step, stop=step + 1, limit=1, series="grid")
        _check_grid_steps(run, [int(frames.steps[0])], grids)
    return (int(frames.steps[0]), frames.values[0], frames.info[0],
            None if grids is None else grids.values[0])


def _check_grid_steps(run, steps, grids):
    got = [int(step) for step in grids.steps[:len(steps)]]
    if got != list(steps):
        raise RuntimeError(f"run {run!r}: its grid frames are at steps {got[:3]}... where its "
                           f"sample frames are at {list(steps[:3])}...")


class _Renderer:
    """Draws frames of one run with FitFigure, at exactly the size asked."""

    def __init__(self, spec):
        self.size = spec["size"]
        self.figure = _make_figure(spec["static"], spec["settings"], spec["run"], spec["size"],
                                   spec["dpi"], spec["smoothing"], spec["band"],
                                   view=spec.get("view"), theme=spec.get("theme", "light"),
                                   loss_map=spec.get("loss_map"))
        history = _History(spec["scalars"], spec["epoch_ends"])
        # The whole run's loss charts, drawn once, under a playhead (as in the tab).
        self.figure.set_history(history.sample, history.batch, history.epoch_ends)

    def render(self, task):
        step, values, info, grid = task
        _draw(self.figure, None, step, values, info, grid)
        return _exact_size(self.figure.rgb(), *self.size)


_worker_renderer = None


def _start_worker(spec):
    global _worker_renderer
    _worker_renderer = _Renderer(spec)


def _render_in_worker(task):
    return _worker_renderer.render(task)


class _Drawing:
    """Frames drawn in order, in this process (jobs=1) or in `jobs` worker processes.

    Matplotlib's Agg drawing is nearly all of an export's time and holds the
    GIL, so more CPUs need more processes. Workers are started with "spawn"
    (no fork of a process that may hold TensorFlow's threads); at most
    2 x jobs frames are in flight, so memory stays flat.
    """

    def __init__(self, spec, jobs):
        self.spec = spec
        self.jobs = jobs
        self._renderer = None
        self._pool = None

    def __enter__(self):
        if self.jobs == 1:
            self._renderer = _Renderer(self.spec)
        else:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            self._pool = ProcessPoolExecutor(
                max_workers=self.jobs, mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker, initargs=(self.spec,))
        return self

    def one(self, task):
        if self._pool is None:
            return self._renderer.render(task)
        return self._pool.submit(_render_in_worker, task).result()

    def all(self, tasks):
        if self._pool is None:
            for task in tasks:
                yield self._renderer.render(task)
            return
        import collections

        pending = collections.deque()
        for task in tasks:
            pending.append(self._pool.submit(_render_in_worker, task))
            if len(pending) >= 2 * self.jobs:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()

    def __exit__(self, kind, error, trace):
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        return False


def _make_figure(static, settings, run, size, dpi, smoothing, band, view=None, theme="light",
                 loss_map=None):
    from tb_fitviz.figure import figure_for_run

    return figure_for_run(settings, static, view=view, size=size, dpi=dpi,
                          title=settings.get("title") or run, smoothing=smoothing,
                          band=None if band == "auto" else ("none" if band is None else band),
                          theme=theme, loss_map=loss_map)


class _History:
    """The loss histories of a run, cut at each frame's step for the side panels."""

    def __init__(self, scalars, epoch_ends):
        self.sample = _series(scalars.get("sample_loss"))
        self.batch = _series(scalars.get("batch_loss"))
        self.epoch_ends = np.asarray(epoch_ends, dtype=np.float64)

    def upto(self, step):
        def cut(series):
            steps, values = series
            end = np.searchsorted(steps, step, side="right")
            return steps[:end], values[:end]

        ends = self.epoch_ends[self.epoch_ends <= step]
        return cut(self.sample), cut(self.batch), ends


def _series(pair):
    if pair is None:
        return np.zeros(0), np.zeros(0)
    if isinstance(pair, dict):
        pair = (pair["steps"], pair["values"])
    steps = np.asarray(pair[0], dtype=np.float64)
    values = np.asarray(pair[1], dtype=np.float64)
    order = np.argsort(steps, kind="stable")
    return steps[order], values[order]


def _draw(figure, history, step, values, info, grid=None):
    """One frame; `history` None: the figure has the whole run's (`set_history`)."""
    sample_loss, batch_loss, epoch_ends = (None, None, None) if history is None \
        else history.upto(step)
    epoch = info[0]
    figure.draw(
        step, values, grid,
        epoch=int(epoch) if math.isfinite(epoch) else None,
        sample_loss=sample_loss, batch_loss=batch_loss, epoch_ends=epoch_ends,
    )


def _exact_size(rgb, width, height):
    """The figure's pixels at exactly width x height (Matplotlib may round a pixel)."""
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] < 3:
        raise RuntimeError(f"FitFigure.rgb() gave shape {rgb.shape}; expected (H, W, 3)")
    rgb = rgb[:height, :width, :3]
    if rgb.shape[:2] != (height, width):
        padded = np.full((height, width, 3), 255, dtype=np.uint8)
        padded[:rgb.shape[0], :rgb.shape[1]] = rgb
        rgb = padded
    return np.ascontiguousarray(rgb, dtype=np.uint8)


class _GifEncoder:
    """An animated GIF written frame by frame.

    One global 256-colour palette (no dithering, so lines stay crisp and
    unchanged pixels stay identical); each frame stores only the rectangle
    that changed since the previous one. An unchanged frame is still written
    (as one pixel), so the GIF has exactly one frame per exported step.
    """

    def __init__(self, path, size, fps):
        from PIL import Image  # noqa: F401  (fail early when Pillow is missing)

        self.path = Path(path)
        self.size = size
        self.fps = float(fps)
        self.count = 0
        self._palette = None
        self._previous = None
        self._file = None

    def __enter__(self):
        self._file = open(self.path, "wb")  # noqa: SIM115  (closed in __exit__)
        return self

    def set_palette(self, rgb):
        from PIL import Image

        source = Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8), "RGB")
        self._palette = source.quantize(
            colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        colours = (self._palette.getpalette() or [])[: 256 * 3]
        colours += [0] * (256 * 3 - len(colours))
        width, height = self.size
        self._file.write(
            b"GIF89a" + struct.pack("<HHBBB", width, height, 0xF7, 0, 0) + bytes(colours)
            # Loop forever (NETSCAPE2.0 application extension).
            + b"!\xff\x0bNETSCAPE2.0\x03\x01" + struct.pack("<H", 0) + b"\x00"
        )

    def write(self, rgb):
        from PIL import GifImagePlugin, Image, ImageChops

        if self._palette is None:
            self.set_palette(rgb)
        frame = Image.fromarray(rgb, "RGB").quantize(
            palette=self._palette, dither=Image.Dither.NONE)
        if self._previous is None:
            box = (0, 0, *frame.size)
        else:
            box = ImageChops.subtract_modulo(frame, self._previous).getbbox()
            box = box or (0, 0, 1, 1)
        self._previous = frame
        # Whole 1/100 s delays whose running sum follows the exact frame times.
        delay = round((self.count + 1) * 100 / self.fps) - round(self.count * 100 / self.fps)
        for data in GifImagePlugin.getdata(frame.crop(box), offset=box[:2],
                                           duration=max(delay, 1) * 10, disposal=1):
            self._file.write(data)
        self.count += 1

    def __exit__(self, kind, error, trace):
        try:
            if kind is None:
                self._file.write(b";")
        finally:
            self._file.close()
        return False


class _PngEncoder:
    """One picture: the last frame written (the range's last step)."""

    def __init__(self, path, size, fps):
        from PIL import Image  # noqa: F401  (fail early when Pillow is missing)

        self.path = Path(path)
        self.count = 0
        self._last = None

    def __enter__(self):
        return self

    def write(self, rgb):
        self._last = rgb
        self.count += 1

    def __exit__(self, kind, error, trace):
        if kind is None and self._last is not None:
            from PIL import Image

            Image.fromarray(self._last, "RGB").save(self.path, format="png", optimize=True)
        return False


class _Mp4Encoder:
    """H.264 MP4 through imageio-ffmpeg (its wheel carries the ffmpeg binary)."""

    def __init__(self, path, size, fps):
        try:
            import imageio_ffmpeg
        except ImportError:
            raise ImportError(
                "writing MP4 needs imageio-ffmpeg: pip install 'tb_fitviz[export]'") from None
        self._writer = imageio_ffmpeg.write_frames(
            os.fspath(path), size, fps=float(fps), codec="libx264", pix_fmt_in="rgb24",
            pix_fmt_out="yuv420p", quality=8, macro_block_size=2,
            # "veryfast": H.264 at a fraction of the default preset's CPU (the drawing
            # process and ffmpeg share the cores), for a somewhat larger file.
            output_params=["-preset", "veryfast", "-movflags", "+faststart"],
        )
        self.count = 0

    def __enter__(self):
        self._writer.send(None)  # starts ffmpeg
        return self

    def write(self, rgb):
        self._writer.send(rgb.tobytes())
        self.count += 1

    def __exit__(self, kind, error, trace):
        self._writer.close()
        return False


class _ProgressBar:
    """A one-line progress bar on stderr; plain lines (every 10%) when not a terminal."""

    def __init__(self, total, label, stream=None, enabled=True, width=28):
        self.total = max(int(total), 1)
        self.label = label
        self.stream = sys.stderr if stream is None else stream
        self.enabled = enabled
        self.width = width
        self.began = time.perf_counter()
        self._shown_at = 0.0
        self._decile = -1
        self._done = 0
        self._terminal = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()

    def update(self, done):
        self._done = done
        if not self.enabled:
            return
        now = time.perf_counter()
        if self._terminal:
            if done < self.total and now - self._shown_at < 0.1:
                return
            self._shown_at = now
            self.stream.write("\r" + self._line(now))
        else:
            decile = done * 10 // self.total
            if decile == self._decile:
                return
            self._decile = decile
            self.stream.write(self._line(now) + "\n")
        self.stream.flush()

    def _line(self, now):
        elapsed = now - self.began
        rate = self._done / elapsed if elapsed > 0 else 0.0
        filled = self.width * self._done // self.total
        bar = "#" * filled + "-" * (self.width - filled)
        remaining = (self.total - self._done) / rate if rate > 0 else 0.0
        return (f"{self.label} [{bar}] {self._done}/{self.total} frames "
                f"{rate:5.1f} frames/s  ETA {int(remaining) // 60}:{int(remaining) % 60:02d}")

    def close(self):
        if self.enabled and self._terminal:
            self.stream.write("\n")
            self.stream.flush()
