"""Reads FitViz runs through a TensorBoard data provider.

Used by the plugin's routes (`context.data_provider` of a running TensorBoard,
Rust data server or Python multiplexer alike) and by the export command
(`reader_for_logdir`, an in-process provider over a log directory).

Reading is per run and per tag: the Rust data server caps each gRPC answer at
256 MiB, and a run's frames are the only large series (5,000 frames of 1,000
points are 40 MB). Frames are stored in block tags of 128 frames
(`summary_format`, "Frame blocks"): a step range reads only the blocks that
can hold it, all in one provider call, so the first 100 frames of a run never
wait for the whole run. Decoded arrays are cached (frames per block, the rest
per run) and re-read when their series change (TensorBoard reloads while
training goes on): a finished block never changes, so a growing run re-reads
only its newest block. Runs written before blocks (one tag fitviz/frame) are
read as one block.
"""

import collections
import ctypes
import math
import os
import sys
import threading

import numpy as np
from tensorboard import errors
from tensorboard.data import provider
from tensorboard.util import tb_logging

from tb_fitviz import defaults
from tb_fitviz import summary_format as fmt
from tb_fitviz.kind import RunKind, normalized_settings

# Read "every point" of a series (counts are unknown before reading). Neither
# data provider allocates for it: checked with the Rust data server 0.7.2.
_MAX_DOWNSAMPLE = 10_000_000

# Below the Rust data server's 256 MiB gRPC answer limit, with room for the
# per-point framing (step, wall time, tensor header).
_FITTING_MESSAGE_BYTES = 224 * 1024 * 1024
_POINT_OVERHEAD_BYTES = 64

# Default and largest `limit` of `frames`: as many frames as fit in 32 MiB of values.
MAX_FRAME_VALUE_BYTES = 32 * 1024 * 1024

# Decoded arrays kept in memory across requests, least recently used dropped first.
DEFAULT_CACHE_BYTES = 2 * 1024 * 1024 * 1024

logger = tb_logging.get_logger()

# Channels of a version-1 frame (predictions, per-point losses).
CHANNELS = 2

# How the loss map reduces the per-point losses that fall into one cell.
LOSS_MAP_REDUCTIONS = ("max", "mean")
MAX_LOSS_MAP_SIDE = 4096

SCALAR_NAMES = (
    "batch_loss",
    "sample_loss",
    "validation_loss",
    "regularization_loss",
    "epoch_loss",
    "epoch_val_loss",
)


class Frames:
    """Frames of one run: `steps` float64 [F], `info` float64 [F, 4]
    (`summary_format.FRAME_INFO_FIELDS`), `values` float32 [F, C, N] (the
    channels the run's kind declares for the series, e.g. predictions and
    per-point losses over the sample, or the model's output over the grid)."""

    __slots__ = ("steps", "info", "values")

    def __init__(self, steps, info, values):
        self.steps = steps
        self.info = info
        self.values = values

    @property
    def sample_size(self):
        """Points per frame (N): the sample's size, or G*G for grid frames."""
        return int(self.values.shape[2])

    @property
    def channels(self):
        return int(self.values.shape[1])

    def __len__(self):
        return int(self.steps.shape[0])

    def __repr__(self):
        return f"Frames(count={len(self)}, sample_size={self.sample_size})"


class ArrayCache:
    """Decoded per-run arrays shared by every request, keyed by (experiment, run, kind).

    An entry is valid while the run's series stamp (max step and wall time of the
    tags it was read from) is unchanged. Thread-safe; one loader per key at a time,
    so concurrent first requests for a big run read it once.
    """

    def __init__(self, max_bytes=DEFAULT_CACHE_BYTES):
        self.max_bytes = max_bytes
        self._entries = collections.OrderedDict()  # key -> (stamp, value, nbytes)
        self._bytes = 0
        self._lock = threading.Lock()
        self._key_locks = {}

    def get(self, key, stamp, load):
        """The cached value for `key` if its stamp equals `stamp`, else `load()` (cached)."""
        with self._lock:
            hit = self._hit_locked(key, stamp)
            if hit is not None:
                return hit[0]
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                hit = self._hit_locked(key, stamp)
                if hit is not None:
                    return hit[0]
            value, nbytes = load()
            with self._lock:
                self._drop_locked(key)
                if nbytes <= self.max_bytes:
                    self._entries[key] = (stamp, value, nbytes)
                    self._bytes += nbytes
                    while self._bytes > self.max_bytes:
                        self._drop_locked(next(iter(self._entries)))
            return value

    def peek(self, key):
        """(stamp, value) cached for `key` whatever its stamp, or None."""
        with self._lock:
            entry = self._entries.get(key)
            return None if entry is None else (entry[0], entry[1])

    def _hit_locked(self, key, stamp):
        entry = self._entries.get(key)
        if entry is None or entry[0] != stamp:
            return None
        self._entries.move_to_end(key)
        return (entry[1],)

    def _drop_locked(self, key):
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= entry[2]

    @property
    def nbytes(self):
        return self._bytes

    def clear(self):
        with self._lock:
            self._entries.clear()
            self._bytes = 0


class FitVizReader:
    """Reads FitViz runs through a TensorBoard data provider (`context.data_provider`).

    Args:
        data_provider: A `tensorboard.data.provider.DataProvider`.
        ctx: The request's `RequestContext` (`plugin_util.context(environ)`).
        experiment_id: The experiment (`plugin_util.experiment_id(environ)`).
        cache: An `ArrayCache` shared across readers; a private one if None.
        sampled: True when TensorBoard keeps only a sample of each FitViz tag
            (`--samples_per_plugin=fitviz=N`, N > 0): the frame_index chunks then
            list frames TensorBoard dropped, so the index is read from the
            per-frame frame_info tensors instead.

    Unknown runs raise `tensorboard.errors.NotFoundError`, bad arguments
    `tensorboard.errors.InvalidArgumentError`. A run whose data cannot be read
    (unreadable metadata, a newer schema version, no fitviz/sample, malformed
    frame_info) is listed by `runs()` with an `"error"` field and no frames, and
    its other methods raise `NotFoundError` with the same reason; frames that
    cannot be decoded (a wrong shape) make `frames()` raise `NotFoundError`
    naming the step. Other runs are unaffected.

    Example:

    ```python
    reader = reader_for_logdir("logs")
    run = reader.runs()[0]["run"]
    frames = reader.frames(run, stride=10)
    print(frames.steps, frames.values.shape)
    ```
    """

    def __init__(self, data_provider, ctx, experiment_id, cache=None, sampled=False):
        self._sampled = bool(sampled)
        self._provider = data_provider
        self._ctx = ctx
        self._experiment_id = experiment_id
        self._cache = cache if cache is not None else ArrayCache()

    # -- listing -------------------------------------------------------------

    def _list_fitviz(self, runs=None, tags=fmt.PLUGIN_TAGS):
        """{run: {tag: TensorTimeSeries}} of FitViz tags (`tags=None`: all of them).

        For one run, fitviz/sample (whose metadata carries the settings) is listed
        apart: the Rust data server's answers above a few hundred bytes wait
        ~40 ms in TCP (Nagle's algorithm and delayed ACKs), while the small
        answers of a single run take < 1 ms. Listing all runs is one call: it
        waits once either way.
        """
        if tags is None:
            # Every fitviz tag (frame blocks have names known only from the listing).
            groups = [None]
        elif runs is None:
            groups = [list(tags)]
        else:
            groups = [[tag for tag in tags if tag != fmt.TAG_SAMPLE]]
            if fmt.TAG_SAMPLE in tags:
                groups.append([fmt.TAG_SAMPLE])
        merged = {}
        for group in groups:
            if group is not None and not group:
                continue
            listing = self._provider.list_tensors(
                self._ctx,
                experiment_id=self._experiment_id,
                plugin_name=fmt.PLUGIN_NAME,
                run_tag_filter=provider.RunTagFilter(runs=runs, tags=group),
            )
            for run, series in listing.items():
                merged.setdefault(run, {}).update(series)
        return merged

    def _list_epoch_scalars(self, runs=None):
        return self._provider.list_scalars(
            self._ctx,
            experiment_id=self._experiment_id,
            plugin_name=fmt.SCALARS_PLUGIN_NAME,
            run_tag_filter=provider.RunTagFilter(
                runs=runs, tags=[fmt.SCALAR_EPOCH_LOSS, fmt.SCALAR_EPOCH_VAL_LOSS]
            ),
        )

    def run_names(self):
        """Names of the runs that have FitViz data, sorted."""
        return sorted(self._list_fitviz())

    def runs(self):
        """One dict per run with FitViz data, sorted by run name (GET runs of the HTTP API)."""
        listing = self._list_fitviz(tags=None)
        epoch_listing = self._list_epoch_scalars(list(listing)) if listing else {}
        try:
            epoch_ends = self._epoch_ends(listing)
        except Exception as error:  # noqa: BLE001 (a bad run must not hide the others)
            logger.warning("FitViz: epoch ends not read (%s); shown from the epoch losses",
                           error)
            epoch_ends = {}
        result = []
        for run in sorted(listing):
            try:
                result.append(self._run_summary(run, listing[run], epoch_listing.get(run, {}),
                                                epoch_ends.get(run, ())))
            except (ValueError, TypeError, KeyError, IndexError, errors.NotFoundError) as error:
                # One unreadable run must not hide the others.
                result.append(_error_summary(run, error))
        return result

    def _run_summary(self, run, series, epoch_series, epoch_end_steps=()):
        _settings(run, series)  # unreadable or too new: the run is listed with the reason
        static = self._static(run, series)
        settings = static["settings"]
        index = self._index(run, series)
        epochs = self._epoch_scalars(run, epoch_series)
        epoch_ends = sorted(set(epochs["epoch_loss"][0].tolist())
                            | set(epochs["epoch_val_loss"][0].tolist()) | set(epoch_end_steps))
        grid = settings.get("grid")
        return {
            "run": run,
            "steps": index["steps_list"],
            "frame_count": len(index["steps_list"]),
            "frame_epochs": index["epochs_list"],
            "epoch_ends": [int(s) for s in epoch_ends],
            "sample_size": int(static["sample"].shape[1]),
            "task": settings["task"],
            "views": settings["views"],
            "input_width": settings["input_width"],
            "channels": settings["channels"],
            "grid_size": 0 if grid is None else int(grid["size"]),
            "settings": settings,
        }

    def _series(self, run, tags):
        """The run's series of `tags` (all of them if None; versions checked);
        NotFoundError if the run has no FitViz data or unreadable metadata."""
        _check_run_name(run)
        series = self._list_fitviz([run], tags).get(run, {})
        checked = series
        if not series and tags is not None and tuple(tags) != fmt.PLUGIN_TAGS:
            # None of these tags (yet): is it a FitViz run at all, and a readable one?
            checked = self._list_fitviz([run]).get(run, {})
        if not checked:
            raise errors.NotFoundError(f"run: no FitViz data for run {run!r}")
        try:
            for time_series in checked.values():
                fmt.decode_content(time_series.plugin_content)
        except ValueError as error:
            raise errors.NotFoundError(f"run {run!r}: {error}") from None
        return series

    # -- per-frame index (small: steps and frame_info) -------------------------

    def _index(self, run, series):
        """{"steps", "info", "steps_list", "epochs_list"} of every frame of the run.

        Version 2: one `fitviz/frame_index` chunk per completed block, and the
        per-frame `fitviz/frame_info/<block>` tensors only of the blocks no chunk
        covers (normally the newest); version 1: every `fitviz/frame_info`.
        """
        info_blocks = sorted(
            (start, tag) for tag, start in (
                (tag, fmt.block_start(fmt.TAG_FRAME_INFO_BLOCK_PREFIX, tag)) for tag in series)
            if start is not None)
        stamp = _stamp(series, (fmt.TAG_FRAME_INFO, fmt.TAG_FRAME_INDEX)
                       + tuple(tag for _, tag in info_blocks))
        fields = len(fmt.FRAME_INFO_FIELDS)

        def rows_of(tag, data):
            steps = np.array([d.step for d in data], dtype=np.float64)
            info = np.full((len(data), fields), np.nan)
            for i, datum in enumerate(data):
                row = np.asarray(datum.numpy, dtype=np.float64).reshape(-1)
                if row.shape[0] != fields:
                    raise ValueError(f"{tag} at step {datum.step}: expected {fields} values, "
                                     f"got {row.shape[0]}")
                info[i] = row
            return steps, info

        def load():
            parts = []
            chunk_steps = []  # (event step, the chunk's frame steps) of every chunk read
            if fmt.TAG_FRAME_INFO in series:
                tag = fmt.TAG_FRAME_INFO
                parts.append(rows_of(tag, self._read_tensors(run, tag, series)))
            if info_blocks:
                chunks = {}
                chunk_data = [] if self._sampled else self._read_tensors(
                    run, fmt.TAG_FRAME_INDEX, series)
                for datum in chunk_data:
                    chunk = np.asarray(datum.numpy, dtype=np.float64)
                    if chunk.ndim != 2 or chunk.shape[0] != 1 + fields or not chunk.shape[1]:
                        raise ValueError(f"{fmt.TAG_FRAME_INDEX} at step {datum.step}: expected "
                                         f"shape [{1 + fields}, k], got {list(chunk.shape)}")
                    chunks[int(chunk[0, 0])] = chunk  # a later chunk of a block wins
                    chunk_steps.append((datum.step, chunk[0]))
                missing = [tag for start, tag in info_blocks
                           if start not in chunks or chunks[start][0, -1] < series[tag].max_step]
                data = self._read_tensors_of(run, missing) if missing else {}
                for start, tag in info_blocks:
                    if tag in data:
                        parts.append(rows_of(tag, data[tag]))
                    else:
                        chunk = chunks[start]
                        parts.append((chunk[0].copy(), chunk[1:].T.copy()))
            if parts:
                steps = np.concatenate([p[0] for p in parts])
                info = np.concatenate([p[1] for p in parts])
            else:
                steps, info = np.empty(0), np.empty((0, fields))
            if steps.size > 1 and not np.all(steps[1:] > steps[:-1]):
                # Blocks of a reused log directory may overlap: the latest block wins.
                order = np.argsort(steps, kind="stable")
                steps, info = steps[order], info[order]
                keep = np.append(steps[1:] != steps[:-1], True)
                steps, info = steps[keep], info[keep]
            value = {
                "steps": steps,
                "info": info,
                # JSON-ready copies for GET runs, made once per change of the run.
                "steps_list": [int(step) for step in steps.tolist()],
                "epochs_list": [_int_or_none(epoch) for epoch in info[:, 0].tolist()],
                # Matched with the loss chunks written in the same events (`_loss_frames`).
                "chunk_steps": chunk_steps,
            }
            return value, 3 * (steps.nbytes + info.nbytes)

        return self._cache.get((self._experiment_id, run, "index"), stamp, load)

    def _read_tensors(self, run, tag, series, point_bytes=None):
        """Every point of one tag of one run.

        Args:
            point_bytes: Size of one point, if known. When the answer is too big
                for one message (the Rust data server's gRPC limit, 256 MiB), the
                tag is read again downsampled to what fits; TensorBoard's
                downsampling keeps the last point.
        """
        if tag not in series:
            return []
        # Not `max_step + 1`: a reused log directory holds several points per step.
        downsample = _MAX_DOWNSAMPLE
        try:
            return self._read_tensors_once(run, tag, downsample)
        except Exception as error:  # grpc.RpcError; grpc is absent on the Python path
            if not point_bytes or not _is_resource_exhausted(error):
                raise
        fitting = max(1, _FITTING_MESSAGE_BYTES // (point_bytes + _POINT_OVERHEAD_BYTES))
        logger.warning(
            "FitViz: run %r: %s is too big for one data server answer; serving %d of "
            "its points (evenly downsampled, last kept). Start TensorBoard with "
            "--load_fast=false to serve every frame.", run, tag, fitting)
        return self._read_tensors_once(run, tag, min(fitting, downsample))

    def _read_tensors_of(self, run, tags, downsample=_MAX_DOWNSAMPLE):
        """{tag: points} of several tags of one run, in one provider call."""
        return self._read_tensors_of_runs([run], tags, downsample)[run]

    def _read_tensors_of_runs(self, runs, tags, downsample=_MAX_DOWNSAMPLE):
        """{run: {tag: points}} of several tags of several runs, in one provider call
        (the Rust data server's answers may each wait ~40 ms: one call waits once)."""
        result = self._provider.read_tensors(
            self._ctx,
            experiment_id=self._experiment_id,
            plugin_name=fmt.PLUGIN_NAME,
            downsample=downsample,
            run_tag_filter=provider.RunTagFilter(runs=list(runs), tags=list(tags)),
        )
        return {run: {tag: _after_restarts(result.get(run, {}).get(tag, [])) for tag in tags}
                for run in runs}

    def _read_tensors_once(self, run, tag, downsample):
        return self._read_tensors_of(run, [tag], downsample)[tag]

    # -- static ----------------------------------------------------------------

    def static(self, run):
        """Settings and the run's fixed point sets as NumPy arrays.

        Returns a dict with `settings` (normalized: the run's kind filled in,
        version-1 runs included) and float32 arrays [d + t, n] `sample`,
        `scatter` and `validation` (None if the run has no validation points):
        the d features, then the t target rows (`summary_format`).
        """
        return self._static(run, self._series(run, _STATIC_STAMP_TAGS))

    def _static(self, run, series):
        """`static(run)` from a listing of at least `_STATIC_STAMP_TAGS`; the sample is
        listed only when the cached value is stale (see `_STATIC_STAMP_TAGS`)."""
        stamp = _stamp(series, _STATIC_STAMP_TAGS)

        def load():
            full = series if fmt.TAG_SAMPLE in series else self._series(run, fmt.STATIC_TAGS)
            settings = dict(_settings(run, full))  # ValueError without a sample
            kind = RunKind.from_settings(settings)
            rows = kind.input_width + kind.target_width
            value = {"settings": settings}
            nbytes = 0
            for tag, name, required in (
                (fmt.TAG_SAMPLE, "sample", True),
                (fmt.TAG_SCATTER, "scatter", True),
                (fmt.TAG_VALIDATION, "validation", False),
            ):
                data = self._read_tensors(run, tag, full)
                if not data:
                    if required:
                        raise ValueError(f"run {run!r} has no {tag}")
                    value[name] = None
                    continue
                points = np.asarray(data[-1].numpy, dtype=np.float32)
                if points.ndim != 2 or points.shape[0] != rows:
                    raise ValueError(f"{tag}: expected shape [{rows}, n], got "
                                     f"{list(points.shape)}")
                value[name] = points.copy()
                nbytes += points.nbytes
            # TensorBoard keeps the metadata (the settings) of a tag's first event
            # file, but the points of the last training in a reused directory: the
            # sizes are taken from the points.
            for name in ("sample", "scatter", "validation"):
                points = value[name]
                settings[name + "_size"] = 0 if points is None else int(points.shape[1])
            return value, nbytes

        try:
            return self._cache.get((self._experiment_id, run, "static"), stamp, load)
        except ValueError as error:
            raise errors.NotFoundError(f"run {run!r}: {error}") from None

    # -- frames ----------------------------------------------------------------

    def frames(self, run, start=0, stop=None, stride=1, limit=None, series="sample"):
        """Frames whose step is in [start, stop), every `stride`-th, at most `limit`.

        Reads only the frame blocks (`summary_format.block_tag`) that can hold
        the answer, in one data provider call, and keeps decoded blocks: a
        finished block never changes, so while training goes on only the newest
        block is read again.

        Args:
            run: Run name, as `runs()` lists it.
            start: First step (int >= 0).
            stop: Step to stop before (int >= 0), or None for all.
            stride: Take every stride-th frame of the range (int >= 1), the first included.
            limit: At most this many frames (int >= 1); None and anything larger
                mean `max_frames(points, channels)` (32 MiB of values).
            series: "sample" (the channels over the sample) or "grid" (the
                model's output over the grid of a surface run).

        Returns:
            A `Frames`.
        """
        _check_run_name(run)
        start = _check_int(start, "start", 0)
        stop = None if stop is None else _check_int(stop, "stop", 0)
        stride = _check_int(stride, "stride", 1)
        limit = None if limit is None else _check_int(limit, "limit", 1)
        _check_series(series)
        tags = self._frame_series(run)
        try:
            return self._frames(run, tags, start, stop, stride, limit, series=series)
        except ValueError as error:
            raise errors.NotFoundError(f"run {run!r}: {error}") from None

    def all_frames(self, run, series="sample"):
        """Every frame of `run` (decoded blocks are cached)."""
        _check_series(series)
        tags = self._frame_series(run)
        try:
            return self._frames(run, tags, 0, None, 1, None, cap=False, series=series)
        except ValueError as error:
            raise errors.NotFoundError(f"run {run!r}: {error}") from None

    def loss_map(self, run, width, height, reduce="max", channel="loss"):
        """The per-point loss of the whole run, downsampled to at most `width` x `height` cells.

        Columns are the run's frames in order (each column the frames of one
        run of consecutive frames: equal shares of the frame count, so a
        log-spaced schedule gives its early steps more columns); rows are the
        sample's points in their stored order (`settings["sample_order"]`),
        equal shares of them per row. At most `MAX_LOSS_MAP_SIDE` cells a side,
        and never more columns than frames or rows than points. Each cell holds
        the `reduce` ("max" or "mean") of its finite losses (NaN if it has none).

        Returns:
            A `Frames` with one frame per column: `steps` the first step of the
            column, `info` that frame's info, `values` float32 [columns, 1, rows].
        """
        _check_run_name(run)
        # More cells than frames or points, or than MAX_LOSS_MAP_SIDE: clipped.
        width = min(_check_int(width, "width", 1), MAX_LOSS_MAP_SIDE)
        height = min(_check_int(height, "height", 1), MAX_LOSS_MAP_SIDE)
        if reduce not in LOSS_MAP_REDUCTIONS:
            raise errors.InvalidArgumentError(
                f"reduce: expected one of {', '.join(LOSS_MAP_REDUCTIONS)}, got {reduce!r}")
        tags = self._frame_series(run)
        settings = self._static(run, self._series(run, _STATIC_STAMP_TAGS))["settings"]
        channels = settings["channels"]["sample"]
        if channel not in channels:
            raise errors.InvalidArgumentError(
                f"channel: expected one of {', '.join(channels)}, got {channel!r}")
        stamp = (_stamp(tags, tuple(sorted(tags))), width, height, reduce, channel)

        def load():
            if channel == "loss" and fmt.TAG_LOSS_CHUNK in tags and not self._sampled:
                frames, at = self._loss_frames(run, tags, channels.index("loss")), 0
            else:
                frames = self._frames(run, tags, 0, None, 1, None, cap=False)
                at = channels.index(channel)
            value = _reduce_map(frames, at, width, height, reduce)
            return value, value.values.nbytes + value.info.nbytes

        try:
            return self._cache.get((self._experiment_id, run, "loss_map", width, height, reduce,
                                    channel), stamp, load)
        except ValueError as error:
            raise errors.NotFoundError(f"run {run!r}: {error}") from None

    def _loss_frames(self, run, tags, loss_at):
        """`Frames` of the loss channel alone (values float32 [F, 1, N]) of every frame:
        from the loss chunks (one tensor per block), and from the frames of the
        blocks no chunk covers (normally the newest)."""
        index = self._index(run, tags)
        channels, points = self._layout(run, tags, "sample")
        losses = {datum.step: datum
                  for datum in self._read_tensors(run, fmt.TAG_LOSS_CHUNK, tags)}
        parts, covered = [], {}
        for event_step, chunk_steps in index["chunk_steps"]:
            loss = losses.get(event_step)
            if loss is None:
                continue
            values = np.asarray(loss.numpy)
            if values.shape != (len(chunk_steps), points):
                continue  # another training's chunk in a reused log directory
            parts.append((chunk_steps, values))
            first = int(chunk_steps[0])
            covered[first] = max(covered.get(first, -math.inf), chunk_steps[-1])
        uncovered = [tag for tag in tags
                     if (first := fmt.series_block_start("sample", tag)) is not None
                     and covered.get(first, -math.inf) < tags[tag].max_step]
        if uncovered:
            point_bytes = 4 * channels * points if points else None
            for steps, _, values in self._frame_blocks(run, tags, sorted(uncovered), point_bytes,
                                                       channels, fmt.FRAME_BLOCK_SIZE):
                if values.shape[2] == points:
                    parts.append((steps, values[:, loss_at, :]))
        wanted = index["steps"]
        if not parts:
            return Frames(wanted, index["info"],
                          np.full((len(wanted), 1, points), np.nan, dtype=np.float32))
        steps = np.concatenate([part[0] for part in parts])
        values = np.concatenate([part[1] for part in parts], dtype=np.float32)
        if np.array_equal(steps, wanted):  # the usual case: one row per frame, in order
            return Frames(wanted, index["info"], values[:, None, :])
        table = np.full((len(wanted), 1, points), np.nan, dtype=np.float32)
        # Each step's last row wins (a later chunk of a block, or the block's frames).
        order = np.argsort(steps, kind="stable")
        steps, values = steps[order], values[order]
        last = np.append(steps[1:] != steps[:-1], True)
        steps, values = steps[last], values[last]
        at = np.searchsorted(steps, wanted)
        found = (at < len(steps)) & (steps[np.minimum(at, len(steps) - 1)] == wanted)
        table[found, 0] = values[at[found]]
        return Frames(wanted, index["info"], table)

    def _frame_series(self, run):
        """Every fitviz series of `run` (block names are known only from a listing
        of all tags), listed again only when the run got a new frame.

        The scalar fitviz/sample_loss is written with every frame (both schema
        versions), so its (max step, wall time) stamps the frame blocks too. A
        listing of every tag is a larger answer, which the Rust data server
        makes wait ~40 ms (see `_list_fitviz`); listing one scalar keeps requests
        to an unchanged run at < 1 ms.
        """
        _check_run_name(run)
        key = (self._experiment_id, run, "frame_series")
        cached = self._cache.peek(key)
        if cached is not None and cached[0] == self._frame_stamp(run):
            return cached[1]
        stamp = self._frame_stamp(run)
        series = self._series(run, None)
        if stamp is not None:
            self._cache.get(key, stamp, lambda: (series, 256 * len(series)))
        return series

    def _frame_stamp(self, run):
        listing = self._provider.list_scalars(
            self._ctx, experiment_id=self._experiment_id, plugin_name=fmt.SCALARS_PLUGIN_NAME,
            run_tag_filter=provider.RunTagFilter(runs=[run], tags=[fmt.SCALAR_SAMPLE_LOSS]),
        ).get(run, {})
        return _stamp(listing, (fmt.SCALAR_SAMPLE_LOSS,)) if listing else None

    def _layout(self, run, tags, series):
        """(channels, points per frame) of frame series `series`, from the run's settings."""
        settings = normalized_settings(_settings(run, tags))
        if series == "grid":
            grid = settings.get("grid")
            if grid is None:
                raise errors.NotFoundError(f"run {run!r}: has no grid (it is not a surface run)")
            return len(settings["channels"]["grid"]), int(grid["size"]) ** 2
        size = settings.get("sample_size")
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            size = 0
        return len(settings["channels"]["sample"]), size

    def _frames(self, run, tags, start, stop, stride, limit, cap=True, series="sample"):
        index = self._index(run, tags)
        block_size = fmt.SERIES[series][1]
        blocks = sorted(
            (first, tag) for tag, first in (
                (tag, fmt.series_block_start(series, tag)) for tag in tags)
            if first is not None
            and tags[tag].max_step >= start and (stop is None or first < stop))
        channels, points = self._layout(run, tags, series)
        point_bytes = 4 * channels * points if points else None
        if not blocks:
            return _no_frames(points, channels)
        parts = []  # decoded blocks read so far: (steps, wall times, values)
        done = 0
        while done < len(blocks):
            # Enough blocks for the answer if each holds a full block of frames;
            # more are read only if some hold fewer (a run's last block, a restart).
            if cap:
                wanted = limit if limit is not None else max_frames(points or 2, channels)
                count = sum(len(part[0]) for part in parts)
                needed = max(1, -(-(wanted * stride - count) // block_size))
            else:
                needed = len(blocks)
            batch = blocks[done:done + needed]
            parts.extend(self._frame_blocks(run, tags, [tag for _, tag in batch], point_bytes,
                                            channels, block_size))
            done += len(batch)
            frames = _merge_blocks(parts, index, points, channels)
            if not cap or done >= len(blocks):
                break
            selection = _select(frames, start, stop, stride, limit)
            # Complete when the answer is full and ends before any unread block
            # (a block holds no step before its first).
            full = max_frames(frames.sample_size, channels)
            if (len(selection) and len(selection) >= min(limit or full, full)
                    and selection.steps[-1] < blocks[done][0]):
                return selection
        if not cap:
            return frames
        return _select(frames, start, stop, stride, limit)

    def _frame_blocks(self, run, series, tags, point_bytes, channels, block_size):
        """Decoded blocks [(steps, wall times, values)] of `tags`, from the cache
        or read (all missing ones in as few provider calls as the message cap allows)."""
        decoded = {}
        missing = []
        for tag in tags:
            stamp = _stamp(series, (tag,))
            cached = self._cache.peek((self._experiment_id, run, "frame_block", tag))
            if cached is not None and cached[0] == stamp:
                decoded[tag] = cached[1]
            else:
                missing.append(tag)
        per_call = len(missing)
        if point_bytes:
            block_bytes = block_size * (point_bytes + _POINT_OVERHEAD_BYTES)
            per_call = max(1, _FITTING_MESSAGE_BYTES // block_bytes)
        for first in range(0, len(missing), max(1, per_call)):
            group = missing[first:first + per_call]
            if len(group) == 1:
                data = {group[0]: self._read_tensors(run, group[0], series, point_bytes)}
            else:
                data = self._read_tensors_of(run, group)
            for tag in group:
                block = _decode_block(tag, data.get(tag, []), channels)
                nbytes = sum(array.nbytes for array in block)
                decoded[tag] = self._cache.get(
                    (self._experiment_id, run, "frame_block", tag), _stamp(series, (tag,)),
                    lambda block=block, nbytes=nbytes: (block, nbytes))
            del data
        if missing:
            _return_freed_memory()
        return [decoded[tag] for tag in tags]

    # -- scalars ---------------------------------------------------------------

    def scalars(self, run):
        """The run's loss series: name -> (steps float64 array, values float64 array).

        Names: batch_loss (every batch, from the fitviz/batch_losses chunks),
        sample_loss, validation_loss, regularization_loss (per frame, where
        recorded), epoch_loss and epoch_val_loss (from the Scalars tags).
        """
        series = self._frame_series(run)
        try:
            index = self._index(run, series)
            batch = self._batch_losses(run, series)
        except ValueError as error:
            raise errors.NotFoundError(f"run {run!r}: {error}") from None
        result = {"batch_loss": batch}
        steps, info = index["steps"], index["info"]
        result["sample_loss"] = (steps, info[:, 1])
        for name, column in (("validation_loss", 2), ("regularization_loss", 3)):
            recorded = ~np.isnan(info[:, column])
            result[name] = (steps[recorded], info[recorded, column])
        epoch_series = self._list_epoch_scalars([run]).get(run, {})
        result.update(self._epoch_scalars(run, epoch_series))
        return result

    def _batch_losses(self, run, series):
        stamp = _stamp(series, (fmt.TAG_BATCH_LOSSES,))

        def load():
            chunks = []
            for datum in self._read_tensors(run, fmt.TAG_BATCH_LOSSES, series):
                chunk = np.asarray(datum.numpy, dtype=np.float64)
                if chunk.ndim != 2 or chunk.shape[0] != 2:
                    raise ValueError(
                        f"{fmt.TAG_BATCH_LOSSES} at step {datum.step}: expected shape "
                        f"[2, k], got {list(chunk.shape)}"
                    )
                chunks.append(chunk)
            both = np.concatenate(chunks, axis=1) if chunks else np.empty((2, 0))
            order = np.argsort(both[0], kind="stable")
            value = (both[0][order], both[1][order])
            return value, both.nbytes

        return self._cache.get((self._experiment_id, run, "batch_loss"), stamp, load)

    def _epoch_ends(self, listing):
        """{run: steps of its epoch ends} from `fitviz/epoch_end`, for every run of
        `listing` that has it (runs written before it: their epoch ends come from the
        epoch losses), in one provider call for all of them."""
        runs = sorted(run for run, series in listing.items() if fmt.TAG_EPOCH_END in series)
        if not runs:
            return {}
        stamp = tuple((run, *_stamp(listing[run], (fmt.TAG_EPOCH_END,))[0]) for run in runs)

        def load():
            read = self._read_tensors_of_runs(runs, [fmt.TAG_EPOCH_END])
            value = {run: [int(datum.step) for datum in read[run][fmt.TAG_EPOCH_END]]
                     for run in runs}
            return value, 64 * sum(len(steps) for steps in value.values())

        return self._cache.get((self._experiment_id, "epoch_ends"), stamp, load)

    def _epoch_scalars(self, run, epoch_series):
        stamp = tuple(
            (tag, s.max_step, s.max_wall_time) for tag, s in sorted(epoch_series.items())
        )

        def load():
            value = {}
            data = {}
            if epoch_series:
                data = self._provider.read_scalars(
                    self._ctx,
                    experiment_id=self._experiment_id,
                    plugin_name=fmt.SCALARS_PLUGIN_NAME,
                    downsample=_MAX_DOWNSAMPLE,
                    run_tag_filter=provider.RunTagFilter(runs=[run], tags=list(epoch_series)),
                ).get(run, {})
            nbytes = 0
            for name, tag in (("epoch_loss", fmt.SCALAR_EPOCH_LOSS),
                              ("epoch_val_loss", fmt.SCALAR_EPOCH_VAL_LOSS)):
                points = data.get(tag, [])
                steps = np.array([p.step for p in points], dtype=np.float64)
                values = np.array([p.value for p in points], dtype=np.float64)
                value[name] = (steps, values)
                nbytes += steps.nbytes + values.nbytes
            return value, nbytes

        return self._cache.get((self._experiment_id, run, "epochs"), stamp, load)


def _select(frames, start, stop, stride, limit):
    """The `Frames` of the frames route's selection from `frames`."""
    mask = frames.steps >= start
    if stop is not None:
        mask &= frames.steps < stop
    chosen = np.flatnonzero(mask)[::stride]
    cap = max_frames(frames.sample_size, frames.channels)
    cap = cap if limit is None else min(limit, cap)
    chosen = chosen[:cap]
    if chosen.size and chosen[-1] - chosen[0] + 1 == chosen.size:
        # A contiguous range: views, no copy.
        piece = slice(int(chosen[0]), int(chosen[-1]) + 1)
        return Frames(frames.steps[piece], frames.info[piece], frames.values[piece])
    return Frames(frames.steps[chosen], frames.info[chosen], frames.values[chosen])


def _decode_block(tag, data, channels):
    """(steps float64, wall times float64, values float32 [k, C, N]) of one frame tag."""
    if data:
        size = int(np.shape(data[-1].numpy)[-1])
        # Frames of another size come from an older training in a reused log
        # directory (the Python loader keeps some): keep the last training's.
        data = [d for d in data if np.shape(d.numpy)[-1:] == (size,)]
    else:
        size = 0
    for datum in data:
        if datum.numpy.shape != (channels, size):
            raise ValueError(
                f"{tag} at step {datum.step}: expected shape "
                f"[{channels}, {size}], got {list(datum.numpy.shape)}"
            )
    if data:
        values = np.concatenate([datum.numpy for datum in data]).astype(
            np.float32, copy=False).reshape(len(data), channels, size)
    else:
        values = np.empty((0, channels, 0), dtype=np.float32)
    steps = np.array([datum.step for datum in data], dtype=np.float64)
    wall_times = np.array([datum.wall_time for datum in data], dtype=np.float64)
    return steps, wall_times, values


def _no_frames(points, channels=CHANNELS):
    return Frames(np.empty(0), np.empty((0, len(fmt.FRAME_INFO_FIELDS))),
                  np.empty((0, channels, points), dtype=np.float32))


def _merge_blocks(parts, index, points, channels):
    """One `Frames` from decoded blocks: ascending steps, each step once (the
    latest wall time wins: a reused log directory may hold a step in two blocks),
    only steps the index (frame_info) has, with their info."""
    parts = [part for part in parts if len(part[0])]
    if not parts:
        return _no_frames(points, channels)
    # The last training's frame size: that of the newest block.
    newest = max(parts, key=lambda part: part[1].max())
    points = newest[2].shape[2]
    parts = [part for part in parts if part[2].shape[2] == points]
    if len(parts) == 1:
        steps, wall_times, values = parts[0]
    else:
        steps = np.concatenate([part[0] for part in parts])
        wall_times = np.concatenate([part[1] for part in parts])
        values = None
    ordered = bool(np.all(steps[1:] > steps[:-1]))
    if ordered:
        chosen = None
    else:
        order = np.lexsort((wall_times, steps))
        last_of_step = np.append(steps[order][1:] != steps[order][:-1], True)
        chosen = order[last_of_step]
        steps = steps[chosen]
    # frame_info and frame are written together; keep the steps both have.
    in_index = np.isin(steps, index["steps"])
    if not in_index.all():
        chosen = np.flatnonzero(in_index) if chosen is None else chosen[in_index]
        steps = steps[in_index]
    if values is None:
        values = np.concatenate([part[2] for part in parts])
    if chosen is not None:
        values = values[chosen]
    info = index["info"][np.searchsorted(index["steps"], steps)]
    return Frames(steps, info, values)


def max_frames(points, channels=CHANNELS):
    """Most frames one `frames` answer holds: 32 MiB of float32 values (at least 1)."""
    return max(1, MAX_FRAME_VALUE_BYTES // (4 * max(1, int(channels)) * max(1, int(points))))


def _bins(count, parts):
    """Start indices of `parts` (at most `count`) near-equal consecutive bins of range(count)."""
    parts = max(1, min(int(parts), int(count)))
    return np.unique(np.floor(np.arange(parts) * count / parts).astype(np.int64))


def _reduce_map(frames, channel, width, height, reduce):
    """The loss map of `frames` (see `FitVizReader.loss_map`)."""
    count, points = len(frames), frames.sample_size
    if count == 0 or points == 0:
        return Frames(np.empty(0), np.empty((0, len(fmt.FRAME_INFO_FIELDS))),
                      np.empty((0, 1, 0), dtype=np.float32))
    columns = _bins(count, width)
    rows = _bins(points, height)
    values = frames.values[:, channel, :]  # a strided view: nothing copied
    bounds = np.append(columns, count)
    with np.errstate(all="ignore"):
        # Columns first, one ufunc.reduce per column over whole rows of points: numpy's
        # reduceat along the frame axis is ~10x slower (it does not vectorize over rows).
        if reduce == "max":
            # fmax skips NaN (a cell of only NaN stays NaN).
            by_column = np.stack([np.fmax.reduce(values[a:b], axis=0)
                                  for a, b in zip(bounds[:-1], bounds[1:])])
            cells = np.fmax.reduceat(by_column, rows, axis=1)
            cells[np.isneginf(cells)] = np.nan
        else:
            sums, counts = [], []
            for a, b in zip(bounds[:-1], bounds[1:]):
                block = values[a:b]
                finite = np.isfinite(block)
                sums.append(np.add.reduce(np.where(finite, block, 0), axis=0, dtype=np.float64))
                counts.append(np.add.reduce(finite, axis=0, dtype=np.float64))
            cells = (np.add.reduceat(np.stack(sums), rows, axis=1)
                     / np.add.reduceat(np.stack(counts), rows, axis=1))
    return Frames(frames.steps[columns].copy(), frames.info[columns].copy(),
                  cells.astype(np.float32)[:, None, :])


def reader_for_logdir(logdir, run=None):
    """An in-process reader over `logdir`, loaded once, keeping every tensor.

    Uses TensorBoard's Python ingestion (an `EventMultiplexer` with no sampling of
    tensors, and a `MultiplexerDataProvider`): no server, no TensorFlow.

    Args:
        logdir: A TensorBoard log directory (runs are its sub-directories).
        run: Load only this run (its directory `logdir/run`, which must hold event
            files: else every run is loaded, so that an error can list them).

    Example:

    ```python
    reader = reader_for_logdir("logs")
    for run in reader.runs():
        print(run["run"], run["frame_count"])
    ```
    """
    from tb_fitviz import storage

    storage.prepare_reading(str(logdir))  # s3:// through TensorBoard's own gfile (boto3)
    from tensorboard import context as tb_context
    from tensorboard.backend.event_processing import (
        data_provider as multiplexer_provider,
    )
    from tensorboard.backend.event_processing import (
        plugin_event_multiplexer,
        tag_types,
    )

    multiplexer = plugin_event_multiplexer.EventMultiplexer(
        size_guidance={tag_types.TENSORS: 0, tag_types.SCALARS: 0}
    )
    path = _run_directory(str(logdir), run) if run else None
    if path is not None:
        multiplexer.AddRun(path, name=run)
    else:
        multiplexer.AddRunsFromDirectory(str(logdir))
    multiplexer.Reload()
    data_provider = multiplexer_provider.MultiplexerDataProvider(multiplexer, str(logdir))
    return FitVizReader(data_provider, tb_context.RequestContext(), "")


# -- helpers -------------------------------------------------------------------


def _run_directory(logdir, run):
    """`logdir`/`run` if it is a directory holding event files, else None."""
    from tensorboard.backend.event_processing import io_wrapper
    from tensorboard.compat import tf as tb_tf

    if run in ("", ".") or ".." in run.split("/"):
        return None
    path = (logdir.rstrip("/") + "/" + run if "://" in logdir
            else os.path.join(logdir, *run.split("/")))
    try:
        names = tb_tf.io.gfile.listdir(path)
    except (OSError, tb_tf.errors.OpError):
        return None
    return path if any(io_wrapper.IsTensorFlowEventsFile(n) for n in names) else None


def _settings(run, series):
    """The run's settings (content of fitviz/sample), normalized: the kind's keys and
    the view defaults filled in (version-1 runs too); ValueError if unreadable or too new."""
    settings = None
    for tag, time_series in series.items():
        content = fmt.decode_content(time_series.plugin_content)
        if tag == fmt.TAG_SAMPLE:
            settings = content
    if settings is None:
        raise ValueError(f"no {fmt.TAG_SAMPLE} recorded (yet)")
    settings = normalized_settings(settings)
    if not isinstance(settings.get("view"), dict):
        loss = settings.get("loss")
        kind = loss if loss in ("squared", "absolute", "cross_entropy", "model") else "callable"
        settings["view"] = defaults.view_defaults(kind)
    return settings


def _check_series(series):
    if series not in fmt.SERIES:
        raise errors.InvalidArgumentError(
            f"series: expected one of {', '.join(fmt.SERIES)}, got {series!r}")


def _after_restarts(data):
    """The points of one series as the last training left them: steps strictly ascending.

    A log directory reused by a new training holds a second event file whose
    steps start again at 0, and the Python loader hands the points over in file
    order. As TensorBoard does on a restart, a point whose step does not
    increase drops every earlier point at that step or later.
    """
    kept = []
    for datum in data:
        while kept and kept[-1].step >= datum.step:
            kept.pop()
        kept.append(datum)
    return kept


# What tells whether a run's static data changed: the scatter and validation series, written in
# the same event as the sample (`tb_fitviz.summaries`), so a new recording moves them too. The
# sample's own listing carries the settings in its metadata, an answer big enough to wait ~40 ms
# on the Rust data server (see `_list_fitviz`); theirs takes < 1 ms.
_STATIC_STAMP_TAGS = (fmt.TAG_SCATTER, fmt.TAG_VALIDATION)


def _stamp(series, tags):
    return tuple(
        (tag, series[tag].max_step, series[tag].max_wall_time) if tag in series else (tag,)
        for tag in tags
    )


_malloc_trim = []


def _return_freed_memory():
    """Hands freed heap pages back to the operating system, where glibc allows it.

    Reading a run leaves about twice its size in freed blocks (the provider's
    answer and one small array per frame); glibc keeps them mapped, so without
    this TensorBoard's memory would stay ~3x the run's size after one read.
    """
    if not _malloc_trim:
        trim = None
        if sys.platform.startswith("linux"):
            try:
                trim = ctypes.CDLL("libc.so.6").malloc_trim
            except (OSError, AttributeError):
                trim = None
        _malloc_trim.append(trim)
    if _malloc_trim[0] is not None:
        _malloc_trim[0](0)


def _is_resource_exhausted(error):
    code = getattr(error, "code", None)
    try:
        return callable(code) and getattr(code(), "name", "") == "RESOURCE_EXHAUSTED"
    except Exception:  # noqa: BLE001 - anything odd: not the error we handle
        return False


def _error_summary(run, error):
    return {
        "run": run,
        "steps": [],
        "frame_count": 0,
        "frame_epochs": [],
        "epoch_ends": [],
        "sample_size": 0,
        "task": None,
        "views": [],
        "input_width": 0,
        "channels": {"sample": [], "grid": []},
        "grid_size": 0,
        "settings": {},
        "error": str(error),
    }


def _int_or_none(value):
    return int(value) if math.isfinite(value) else None


def _check_run_name(run):
    if not isinstance(run, str) or not run:
        raise errors.InvalidArgumentError("run: expected a run name (a non-empty string)")


def _check_int(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise errors.InvalidArgumentError(
            f"{name}: expected an integer >= {minimum}, got {value!r}"
        )
    if value < minimum:
        raise errors.InvalidArgumentError(f"{name}: expected an integer >= {minimum}, got {value}")
    return int(value)
