"""The recording's event-file output: every summary FitViz writes, in the stored format.

`EventOutput` turns what the writer records (the point sets once, frames,
batch losses, epoch ends, figures) into TensorBoard summaries laid out as
`tb_fitviz.summary_format` describes, and hands them to an `EventFile`. It
knows nothing of models or data checking: the writer (the input side) gives
it arrays that are already right.
"""

import ctypes
import math
import struct
import time

import numpy as np
from tensorboard.compat.proto import event_pb2

from tb_fitviz import summary_format as fmt
from tb_fitviz.event_file import EventFile


class EventOutput:
    """Summaries of one run into event files in `log_dir` (one file per open).

    Args:
        log_dir: The run's directory.
        settings: The run's settings (stored with `fitviz/sample`).
        points: {"sample": float32 [d + t, N], "scatter": ..., "validation": ... or None}.
    """

    # False: every frame's event is built as a protobuf message (what frames written from
    # a `_FrameTemplate` are compared with in the tests and benchmarks).
    templates = True

    def __init__(self, log_dir, settings, points):
        self.log_dir = log_dir
        self.settings = settings
        self.points = points
        self._events = None
        self._described = set()
        self.frames = 0  # frames written (across files: blocks continue)
        self._sample_tag = self._info_tag = self._grid_tag = None
        self._block_rows = []  # (step, info) of the frames of the current sample block
        self._block_losses = None  # float32 [block size, N]: the loss channel of those frames
        channels = settings.get("channels", {}).get("sample", [])
        self._loss_channel = channels.index("loss") if "loss" in channels else None
        # Batch losses not written yet: (steps, losses, wall times), written at the next
        # frame, epoch end, figure or flush (when the file is flushed anyway).
        self._pending_steps = []
        self._pending_losses = []
        self._pending_times = []
        self._template = None  # the steady frames' `_FrameTemplate` (of the open file)
        self.closed = False

    @property
    def opened(self):
        return self._events is not None

    @property
    def event_file(self):
        """The open `EventFile` (None before the first write and after close)."""
        return self._events

    @property
    def uses_tensorflow(self):
        """Whether TensorFlow's record writer frames the open file (None: no file yet)."""
        return None if self._events is None else self._events.uses_tensorflow

    def _file(self):
        if self._events is None:
            self._events = EventFile(self.log_dir)
            self._described = set()
            self._template = None  # its values have no metadata: a new file needs them
            self._write_static()
        return self._events

    # Events are built in place (values added to the event, tensors filled in it): a
    # message put into another is copied, and a frame's tensors are tens of kilobytes.

    def _event(self, step, wall_time=None):
        self._file()  # first: a new file describes its tags afresh
        return event_pb2.Event(wall_time=time.time() if wall_time is None else wall_time,
                               step=int(step))

    def _add(self, event, tag, metadata):
        """A new value of `event` for `tag`, described if this file has not described it
        (metadata once per tag and file, as tf.summary does: readers take the first)."""
        value = event.summary.value.add()
        value.tag = tag
        if tag not in self._described:
            self._described.add(tag)
            value.metadata.CopyFrom(metadata())
        return value

    def _add_tensor(self, event, tag, array):
        fmt.fill_array_tensor(self._add(event, tag, fmt.plugin_metadata).tensor, array)

    def _add_scalar(self, event, tag, value):
        fmt.fill_scalar_tensor(self._add(event, tag, fmt.scalar_metadata).tensor, value)

    def _write(self, event):
        self._file().write(event)

    def _write_static(self):
        event = event_pb2.Event(wall_time=time.time(), step=fmt.STATIC_STEP)
        # The sample's metadata carries the run's settings.
        sample = self._add(event, fmt.TAG_SAMPLE, lambda: fmt.plugin_metadata(self.settings))
        fmt.fill_array_tensor(sample.tensor, self.points["sample"])
        self._add_tensor(event, fmt.TAG_SCATTER, self.points["scatter"])
        if self.points.get("validation") is not None:
            self._add_tensor(event, fmt.TAG_VALIDATION, self.points["validation"])
        self._events.write(event)

    # -- recording ------------------------------------------------------------------

    def frame(self, step, values, info, grid=None, scalars=()):
        """One frame: sample channels float32 [C, N], frame_info float64 [4], the grid's
        channels float32 [Cg, G*G] (surface runs), and a sequence of (tag, value)
        scalars, each tag once."""
        count = self.frames
        if count % fmt.FRAME_BLOCK_SIZE == 0:
            self._sample_tag = fmt.frame_block_tag(step)
            self._info_tag = fmt.block_tag(fmt.TAG_FRAME_INFO_BLOCK_PREFIX, step)
            self._block_rows = []
        if grid is not None and count % fmt.GRID_BLOCK_SIZE == 0:
            self._grid_tag = fmt.block_tag(fmt.TAG_GRID_BLOCK_PREFIX, step)
        # A steady frame (neither the first nor the last of its block, nor the first of
        # its grid block, in an open file, nothing pending but its own step's batch loss)
        # is laid out as the steady frames before it: it is written from their
        # `_FrameTemplate` when its tags, shapes, dtypes and scalars' tags are theirs.
        pending = self._pending_steps
        key = None
        if (self.templates and (count + 1) % fmt.FRAME_BLOCK_SIZE and count % fmt.FRAME_BLOCK_SIZE
                and (grid is None or count % fmt.GRID_BLOCK_SIZE) and self._events is not None
                and (not pending or (len(pending) == 1 and pending[0] == step))):
            key = (self._sample_tag, values.shape, values.dtype, info.shape, info.dtype,
                   len(pending),
                   None if grid is None else (self._grid_tag, grid.shape, grid.dtype),
                   *[tag for tag, _ in scalars])
            template = self._template
            if template is not None and template.key == key:
                if template.usable:
                    self._frame_from(template, step, values, info, grid, scalars)
                    return
                key = None  # known not to fit: build frames as usual
        batch_loss = self._pending_losses[0] if pending else None
        event = self._event(step)
        self._add_tensor(event, self._sample_tag, values)
        self._add_tensor(event, self._info_tag, info)
        if grid is not None:
            self._add_tensor(event, self._grid_tag, grid)
        for tag, value in scalars:
            self._add_scalar(event, tag, value)
        self._flush_batch_losses(event)
        self._frame_written(step, values, info)
        if self.frames % fmt.FRAME_BLOCK_SIZE == 0:
            self._add_index_chunk(event)
        if key is None:
            self._write(event)
        else:  # the first steady frame of its kind: the template of the next ones
            serialized = event.SerializeToString()
            arrays, floats = self._numbers(step, values, info, grid, scalars, batch_loss)
            self._template = _FrameTemplate(event, serialized, dict(arrays), dict(floats), key)
            self._events.write_serialized((serialized,))
        self._events.flush()

    def _numbers(self, step, values, info, grid, scalars, batch_loss):
        """A frame's event's numbers: its (tag, array) tensors and (tag, value) float32
        scalars, with the batch loss of its step (None: none pending)."""
        arrays = [(self._sample_tag, values), (self._info_tag, info)]
        if grid is not None:
            arrays.append((self._grid_tag, grid))
        if batch_loss is not None:
            arrays.append((fmt.TAG_BATCH_LOSSES, np.array([[step], [batch_loss]], np.float64)))
            scalars = [*scalars, (fmt.SCALAR_BATCH_LOSS, batch_loss)]
        return arrays, scalars

    def _frame_from(self, template, step, values, info, grid, scalars):
        pending = self._pending_steps
        template.fill(*self._numbers(step, values, info, grid, scalars,
                                     self._pending_losses[0] if pending else None))
        if pending:
            self._pending_steps, self._pending_losses, self._pending_times = [], [], []
        self._frame_written(step, values, info)
        self._events.write_serialized(template.parts(step, time.time()))
        self._events.flush()  # now: the next frame fills the same buffer

    def _frame_written(self, step, values, info):
        if self._loss_channel is not None:
            self._note_loss(values[self._loss_channel])
        self._block_rows.append((step, info))
        self.frames += 1

    def _note_loss(self, loss):
        """Keeps a frame's per-point loss for the block's loss chunk (values above
        `LOSS_CHUNK_MAX` as it; NaN kept): one NumPy call a frame, in a float32 block
        made float16 when the chunk is written."""
        row = len(self._block_rows)
        if row == 0 and (self._block_losses is None or self._block_losses.shape[1] != len(loss)):
            # Kept from block to block: a new one (512 kB for 1,000 points) would be new
            # memory, its pages faulted in one a frame.
            self._block_losses = np.empty((fmt.FRAME_BLOCK_SIZE, len(loss)), np.float32)
        np.minimum(loss, _LOSS_CHUNK_MAX, out=self._block_losses[row])

    def _add_index_chunk(self, event):
        """Adds the fitviz/frame_index tensor of the current block ([1 + 4, k] steps and
        info), and its fitviz/loss_chunk (float16 [k, N])."""
        chunk = np.empty((1 + len(fmt.FRAME_INFO_FIELDS), len(self._block_rows)))
        for column, (step, info) in enumerate(self._block_rows):
            chunk[0, column] = step
            chunk[1:, column] = info
        self._add_tensor(event, fmt.TAG_FRAME_INDEX, chunk)
        if self._block_losses is not None:
            losses = self._block_losses[:len(self._block_rows)]
            self._add_tensor(event, fmt.TAG_LOSS_CHUNK,
                             to_float16(losses, np.empty(losses.shape, np.float16)))

    def batch_loss(self, step, loss):
        # Kept until the next write that flushes (a frame, an epoch end, a figure, flush):
        # an event per batch would cost ~50 us of the training loop each, for data the
        # file holds back until that flush anyway.
        self._pending_steps.append(step)
        self._pending_losses.append(loss)
        self._pending_times.append(time.time())

    def epoch(self, step, loss=None, val_loss=None, epoch=None):
        event = self._event(step)
        if epoch is not None:
            self._add_tensor(event, fmt.TAG_EPOCH_END, np.array([epoch], np.float64))
        if loss is not None:
            self._add_scalar(event, fmt.SCALAR_EPOCH_LOSS, loss)
        if val_loss is not None:
            self._add_scalar(event, fmt.SCALAR_EPOCH_VAL_LOSS, val_loss)
        self._flush_batch_losses(event)
        if event.summary.value:
            self._write(event)
        self._events.flush()

    def image(self, step, width, height, png):
        """A figure for the Images tab (dropped once the output is closed)."""
        if self._events is None or self.closed:
            return False
        self._flush_batch_losses()
        event = self._event(step)
        self._add(event, fmt.TAG_FIGURE, fmt.image_metadata).tensor.CopyFrom(
            fmt.image_tensor(width, height, png))
        self._write(event)
        self._events.flush()
        return True

    def _flush_batch_losses(self, event=None):
        """Writes the pending batch losses: each as the scalar `fitviz/batch_loss` in an
        event of its own step, and all as one `fitviz/batch_losses` chunk. The last loss's
        scalar and the chunk go into `event` (which the caller writes) when that loss is
        at its step: one event fewer to build and write."""
        if not self._pending_steps:
            return
        steps, losses, times = self._pending_steps, self._pending_losses, self._pending_times
        self._pending_steps, self._pending_losses, self._pending_times = [], [], []
        joined = event is not None and steps[-1] == event.step
        for i in range(len(steps) - 1 if joined else len(steps)):
            own = self._event(steps[i], times[i])
            self._add_scalar(own, fmt.SCALAR_BATCH_LOSS, losses[i])
            self._write(own)
        if joined:
            self._add_scalar(event, fmt.SCALAR_BATCH_LOSS, losses[-1])
        else:
            event = self._event(steps[-1])
        self._add_tensor(event, fmt.TAG_BATCH_LOSSES, np.array([steps, losses], np.float64))
        if not joined:
            self._write(event)

    def flush(self):
        self._flush_batch_losses()
        if self._events is not None:
            self._events.flush()

    def close(self):
        """Writes what is pending (batch losses, the index of a partial block) and closes."""
        self._flush_batch_losses()
        if self._events is not None:
            if self._block_rows and self.frames % fmt.FRAME_BLOCK_SIZE:
                event = self._event(self._block_rows[-1][0])
                self._add_index_chunk(event)
                self._write(event)
            self._events.close()
        self.closed = True

    def reopen(self):
        """After `close`: the next write opens a new event file of the same run."""
        self._events = None
        self.closed = False


class _FrameTemplate:
    """A steady frame's event as protobuf serializes it, with the places of its numbers.

    The frames of a block after its first (and before its last, which carries the
    block's index; and after the first of a grid block) are laid out alike in a run: the
    same tags, described already (no metadata), the same shapes and dtypes, the same
    scalars, and the batch loss of the frame's own step or none (`EventOutput.frame`
    keys the template by all of these). Their events differ only in fixed-width
    numbers: the tensors' contents, the scalars' one packed float32, the wall time and
    the step. So one such event is serialized by protobuf and kept, and the next frames
    write their numbers into its bytes in place (NumPy views on them, `struct` for the
    scalars) instead of building and serializing a message of six or seven values, which
    inside a fit costs more than the bytes it makes (the Python calls run on caches
    TensorFlow's pass has just used).
    The event's head (wall time, step: a varint) is serialized by protobuf at each frame,
    so a frame written from the template is byte for byte the event protobuf makes of it
    (tests/test_frame_template.py). `usable` is False when the serialized event is not
    laid out as expected (each number at the end of its value, as protobuf serializes a
    tensor whose content is its last field); frames are then built as usual.

    Args:
        event: A steady frame's event, as `EventOutput.frame` built it.
        serialized: `event.SerializeToString()`.
        arrays: {tag: array} of the event's tensors.
        scalars: {tag: value} of the event's float32 scalars.
        key: What the next frames must match to be written from the template.
    """

    def __init__(self, event, serialized, arrays, scalars, key):
        self.key = key
        self.usable = False
        self._views = {}  # tag -> a view of the buffer, in the tensor's wire dtype and shape
        self._offsets = {}  # tag -> offset of the scalar's float32
        summary = event.summary.SerializeToString()
        head = event_pb2.Event(wall_time=event.wall_time, step=event.step).SerializeToString()
        if not (serialized.startswith(head) and serialized.endswith(summary)):
            return
        self._summary_head = serialized[len(head):len(serialized) - len(summary)]
        self._head = event_pb2.Event()
        # A ctypes array, not a bytearray: google-crc32c takes it as it takes bytes (it
        # refuses a buffer that must be released), so the frame's 48 kB are neither
        # copied nor allocated again at each frame to be checksummed and written.
        self._buffer = (ctypes.c_char * len(summary)).from_buffer_copy(summary)
        position = 0
        for value in event.summary.value:
            own = value.SerializeToString()
            position = summary.find(own, position)
            if value.HasField("metadata") or position < 0 or value.tag in self._views \
                    or value.tag in self._offsets:
                return
            end = position + len(own)
            if value.tag in arrays:
                array = np.asarray(arrays[value.tag])
                wire = np.dtype(fmt.wire_dtype(array.dtype))
                start = end - array.size * wire.itemsize
                self._views[value.tag] = np.frombuffer(
                    self._buffer, wire, array.size, start).reshape(array.shape)
                expected = np.ascontiguousarray(array, wire).tobytes()
            elif value.tag in scalars:
                start = end - 4
                self._offsets[value.tag] = start
                expected = _float32_bytes(scalars[value.tag])
            else:
                return
            if summary[start:end] != expected:
                return
            position = end
        self.usable = len(self._views) == len(arrays) and len(self._offsets) == len(scalars)

    def fill(self, arrays, scalars):
        """Writes a frame's numbers in place: (tag, array) and (tag, value) pairs."""
        views = self._views
        for tag, array in arrays:
            views[tag][...] = array
        offsets, buffer = self._offsets, self._buffer
        for tag, value in scalars:
            _pack_float32(buffer, offsets[tag], value)

    def parts(self, step, wall_time):
        """The serialized event, in two parts: its head, and its summary (the template's
        own buffer: write it before the next `fill`)."""
        head = self._head  # one message, reused: ~half the cost of a new one
        head.wall_time, head.step = wall_time, step
        return head.SerializeToString() + self._summary_head, self._buffer


_FLOAT32 = struct.Struct("<f")


def _pack_float32(buffer, offset, value):
    """`value` as protobuf stores a float32 field: float(value), rounded to nearest, an
    infinity beyond float32's range."""
    value = float(value)
    try:
        _FLOAT32.pack_into(buffer, offset, value)
    except OverflowError:
        _FLOAT32.pack_into(buffer, offset, math.copysign(math.inf, value))


def _float32_bytes(value):
    buffer = bytearray(4)
    _pack_float32(buffer, 0, value)
    return bytes(buffer)


def frame_info(epoch, sample_loss, validation_loss=math.nan, regularization_loss=math.nan):
    """A frame_info row in `summary_format.FRAME_INFO_FIELDS` order."""
    return np.array([epoch, sample_loss, validation_loss, regularization_loss], dtype=np.float64)


_LOSS_CHUNK_MAX = np.float32(fmt.LOSS_CHUNK_MAX)
# Below this a float16 is subnormal: NumPy's cast takes a slow path there (~40x slower a
# value; a well-fitted model's per-point losses are mostly that small).
_FLOAT16_SMALLEST_NORMAL = np.float32(2.0 ** -14)
_FLOAT16_QUANTA = np.float32(2.0 ** 24)  # float16 subnormals are multiples of 2**-24


def to_float16(values, out):
    """`out[...] = values` (float32 -> float16), bit for bit as NumPy's cast rounds (to
    nearest, ties to even), without its slow path: a result in float16's subnormal range
    is k * 2**-24 with k = round(|x| * 2**24) (exact: a power-of-two scale), and its bits
    are k (and the sign)."""
    values = np.asarray(values, np.float32)
    small = np.abs(values) < _FLOAT16_SMALLEST_NORMAL  # False for NaN
    if not small.any():
        out[...] = values
        return out
    out[...] = np.where(small, np.float32(0), values)
    tiny = values[small]
    quanta = np.rint(np.abs(tiny) * _FLOAT16_QUANTA).astype(np.uint16)
    out.view(np.uint16)[small] = quanta | (np.signbit(tiny).astype(np.uint16) << 15)
    return out

