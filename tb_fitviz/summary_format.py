"""The stored format of FitViz: the one module the writer and the plugin both import.

Everything FitViz records is an ordinary TensorBoard summary in an event file.
Tags under the ``fitviz`` plugin are read by the FitViz tab; the scalar tags
under the stock ``scalars`` plugin also show in TensorBoard's Scalars tab, and
the figure tag under the stock ``images`` plugin shows in the Images tab.

The run's declaration
    The metadata content of ``fitviz/sample`` is JSON: the run's settings, with
    the schema ``version`` and the run's *kind* (`tb_fitviz.kind.RunKind`):
    task ("regression" or "classification"), input width, feature / output /
    class names, the views the run has, the grid of a surface, and the channel
    names of each frame series. Writer, plugin, tab, figure and export decide
    everything from it. Version 1 runs (one feature, one output, regression)
    are read as that kind.

Per run (written once, at step 0)
    ``fitviz/sample``      float32 [d + t, N]: the sample's d features, then its
                           t target rows (regression: one row per output;
                           classification: one row, the class index).
    ``fitviz/scatter``     float32 [d + t, M]: the points drawn as data.
    ``fitviz/validation``  float32 [d + t, V]: validation points, if any.
    (Version 1: [2, n], x and y, which is the same layout with d = t = 1.)

Per recorded step (global batch count; 0 is the model before training)
    ``fitviz/frame/<first step>``
                           float32 [C, N]: the sample channels of the run's
                           kind, e.g. ``pred:0, loss`` (one output),
                           ``pred:0, pred:1, loss, loss:0, loss:1`` (two outputs:
                           ``loss`` is the mean over outputs, ``loss:j`` output
                           j's own), ``prob:1, loss`` (two classes: P(class 1)),
                           ``prob:0, ..., prob:K-1, loss`` (K > 2 classes). The
                           per-point loss is unsmoothed.
    ``fitviz/grid/<first step>``
                           float32 [Cg, G*G], runs with a surface only: the
                           model's output on the G x G grid (``pred:j`` or
                           ``prob:c`` channels), row-major: row i is feature 2
                           at its i-th grid value (ascending), column j feature 1.
    ``fitviz/frame_info/<first step>``
                           float64 [4] (`FRAME_INFO_FIELDS`): epoch, sample loss
                           (mean of the unsmoothed per-point loss), validation-
                           sample loss, regularization loss; NaN: not recorded.
                           In blocks aligned with the frame blocks.
    ``fitviz/frame_index`` float64 [1 + 4, k]: the steps and frame_info of the k
                           frames of one completed block, written when the
                           block is complete (and for the partial block at
                           close), so that listing a run reads one tensor per
                           block instead of one per frame. The per-frame
                           ``frame_info`` blocks are what a crash leaves.
    ``fitviz/batch_losses`` float64 [2, K]: the global steps and own losses of
                           the K batches since the previous chunk. Keeps every
                           batch loss for the plugin, whatever the scalars
                           reservoir keeps.
    (Version 1: ``fitviz/frame_info`` float64 [4] in one tag, one per frame.)

Scalars (plugin ``scalars``, shown in the Scalars tab)
    ``fitviz/batch_loss``, ``fitviz/sample_loss``, ``fitviz/validation_loss``,
    ``fitviz/regularization_loss``, ``fitviz/epoch_loss``,
    ``fitviz/epoch_val_loss``.

Images (plugin ``images``)
    ``fitviz/figure``      PNG of the Matplotlib figure.

Frame blocks
    A writer puts its frames in blocks of `FRAME_BLOCK_SIZE` consecutive
    frames (grid frames: `GRID_BLOCK_SIZE`), each block its own tag named
    after the step of its first frame, zero-padded to 12 digits so the tags
    sort: ``fitviz/frame/000000000000`` holds the first 128 frames,
    ``fitviz/frame/000000000640`` the next 128 if frame 128 was recorded at
    step 640, and so on (`block_tag`, `block_start`). TensorBoard's read API
    has no step range, only tag filters: with blocks, a reader serving a step
    range reads only the blocks that can hold it (a block's steps run from its
    first step to the max step TensorBoard lists for the tag), and a finished
    block never changes. Naming blocks by step, not by a frame count, keeps a
    second training in a reused log directory from writing into another
    training's block unless both start a block at the same step (then
    TensorBoard's restart rule applies, as for any tag); where two blocks hold
    the same step, the later wall time wins. Runs written before blocks hold
    every frame in the one tag ``fitviz/frame`` (`TAG_FRAME`); readers read
    both layouts (a legacy tag is a block starting at step 0).

Loss chunks (version 2)
    With each ``fitviz/frame_index`` chunk (a completed block, or the partial
    block at close) the writer stores, in the same event (same step: the last
    frame's), ``fitviz/loss_chunk``: float16 [k, N], the ``loss`` channel of the
    block's k frames (values above `LOSS_CHUNK_MAX` stored as it, NaN kept).
    The loss map of a whole run then reads one tensor per block instead of one
    per frame (TensorBoard converts each tensor on its own: ~80 us apiece).
    Readers fall back to the frames where a chunk is missing.

This module imports only TensorBoard's protos and the standard library at
import time (numpy when a tensor is built): the plugin's entry point imports
it, so it stays light.
"""

import json

from tensorboard.compat.proto import summary_pb2, tensor_pb2, tensor_shape_pb2, types_pb2

PLUGIN_NAME = "fitviz"
SCALARS_PLUGIN_NAME = "scalars"
IMAGES_PLUGIN_NAME = "images"

# Bumped on any incompatible change; the plugin refuses newer versions.
# 1: one feature, one output, regression; frame_info one tensor per frame.
# 2: the run's kind in the settings; C channels per frame; grid frames; chunked frame_info.
SCHEMA_VERSION = 2

# Step at which per-run data is written.
STATIC_STEP = 0

TAG_SAMPLE = "fitviz/sample"
TAG_SCATTER = "fitviz/scatter"
TAG_VALIDATION = "fitviz/validation"
TAG_FRAME = "fitviz/frame"  # legacy: every frame in one tag (runs written before blocks)
TAG_FRAME_BLOCK_PREFIX = TAG_FRAME + "/"
TAG_GRID_BLOCK_PREFIX = "fitviz/grid/"
TAG_FRAME_INFO = "fitviz/frame_info"  # version 1: one tensor per frame, one tag
TAG_FRAME_INFO_BLOCK_PREFIX = TAG_FRAME_INFO + "/"
TAG_FRAME_INDEX = "fitviz/frame_index"
TAG_BATCH_LOSSES = "fitviz/batch_losses"
# Version 2: an epoch end, its epoch (float64 [1]) at the end's step, written whether or
# not the epoch's losses are known (readers of runs written before it take epoch ends
# from the epoch-loss scalars alone).
TAG_EPOCH_END = "fitviz/epoch_end"
# Version 2: the per-point loss of a block's frames in one tensor (see "Loss chunks").
TAG_LOSS_CHUNK = "fitviz/loss_chunk"
# Loss chunks are float16: the largest finite value; larger losses are stored as it.
LOSS_CHUNK_MAX = 65504.0

STATIC_TAGS = (TAG_SAMPLE, TAG_SCATTER, TAG_VALIDATION)
# Tags with fixed names (blocks have names known only from a listing).
PLUGIN_TAGS = STATIC_TAGS + (TAG_FRAME, TAG_FRAME_INFO, TAG_FRAME_INDEX, TAG_BATCH_LOSSES,
                             TAG_LOSS_CHUNK, TAG_EPOCH_END)

# Frames per block tag (see "Frame blocks" above). 128 frames of 1,000 points are
# 1 MiB: a range of 100 frames reads one or two blocks, and one read_tensors call
# of every block of a 5,000-frame run costs no more than the legacy single tag.
FRAME_BLOCK_SIZE = 128
# Grid frames are bigger (a 100 x 100 grid is 40 kB a channel): smaller blocks, so
# that the first frame of a surface run reads about 1 MB, not 5.
GRID_BLOCK_SIZE = 32
_BLOCK_DIGITS = 12

# The frame series of a run: name -> (tag prefix, frames per block).
SERIES = {
    "sample": (TAG_FRAME_BLOCK_PREFIX, FRAME_BLOCK_SIZE),
    "grid": (TAG_GRID_BLOCK_PREFIX, GRID_BLOCK_SIZE),
}


def block_tag(prefix, first_step):
    """Tag of the block of `prefix` whose first frame is at `first_step` (an int >= 0)."""
    return f"{prefix}{int(first_step):0{_BLOCK_DIGITS}d}"


def block_start(prefix, tag):
    """First step of a block tag of `prefix`, or None for any other tag."""
    if not tag.startswith(prefix):
        return None
    digits = tag[len(prefix):]
    if not digits.isascii() or not digits.isdigit():
        return None
    return int(digits)


def frame_block_tag(first_step):
    """Tag of the frame block whose first frame is at `first_step` (an int >= 0)."""
    return block_tag(TAG_FRAME_BLOCK_PREFIX, first_step)


def frame_block_start(tag):
    """First step of a frame tag: the number of a block tag, 0 for the legacy
    `TAG_FRAME`, None for any other tag."""
    if tag == TAG_FRAME:
        return 0
    return block_start(TAG_FRAME_BLOCK_PREFIX, tag)


def series_block_start(series, tag):
    """First step of a block tag of frame series `series` ("sample" or "grid"), or None."""
    if series == "sample":
        return frame_block_start(tag)
    return block_start(SERIES[series][0], tag)


def is_frame_tag(tag):
    """Whether `tag` holds frames: a block tag or the legacy `TAG_FRAME`."""
    return frame_block_start(tag) is not None


# Order of the values in a frame_info tensor (and in the info block of GET frames).
# Declared once: the writer, the reader, the binary body and (through GET config) the tab.
FRAME_INFO_FIELDS = ("epoch", "sample_loss", "validation_loss", "regularization_loss")

SCALAR_BATCH_LOSS = "fitviz/batch_loss"
SCALAR_SAMPLE_LOSS = "fitviz/sample_loss"
SCALAR_VALIDATION_LOSS = "fitviz/validation_loss"
SCALAR_REGULARIZATION_LOSS = "fitviz/regularization_loss"
SCALAR_EPOCH_LOSS = "fitviz/epoch_loss"
SCALAR_EPOCH_VAL_LOSS = "fitviz/epoch_val_loss"
SCALAR_TAGS = (
    SCALAR_BATCH_LOSS,
    SCALAR_SAMPLE_LOSS,
    SCALAR_VALIDATION_LOSS,
    SCALAR_REGULARIZATION_LOSS,
    SCALAR_EPOCH_LOSS,
    SCALAR_EPOCH_VAL_LOSS,
)

TAG_FIGURE = "fitviz/figure"

# Keys of the run settings stored in the metadata content of TAG_SAMPLE, besides
# the kind's own keys (`tb_fitviz.kind.KIND_KEYS`): version, loss ("squared" |
# "absolute" | "cross_entropy" | "model" | a callable's name), schedule (a short
# description), sample_size, scatter_size, validation_size, x_label, y_label,
# title (strings or null), framework ("keras", "tf_keras", "numpy", ...), view
# (the run's view defaults: {"band": "sqrt" | "raw" | "none", "smoothing": odd int}).
SETTINGS_KEYS = (
    "version",
    "loss",
    "schedule",
    "sample_size",
    "scatter_size",
    "validation_size",
    "x_label",
    "y_label",
    "title",
    "framework",
    "view",
)


def encode_content(settings=None):
    """JSON bytes for a fitviz summary's plugin content (always carries the version)."""
    content = {"version": SCHEMA_VERSION}
    if settings:
        content.update(settings)
    return json.dumps(content, sort_keys=True, allow_nan=False).encode("utf-8")


def decode_content(content):
    """The dict stored by `encode_content`; raises ValueError if unreadable or too new."""
    try:
        value = json.loads(bytes(content).decode("utf-8")) if content else {}
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"unreadable fitviz metadata: {error}") from None
    if not isinstance(value, dict):
        raise ValueError("unreadable fitviz metadata: not a JSON object")
    version = value.get("version", 0)
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise ValueError(
            f"fitviz data of schema version {version!r}; this tb_fitviz reads "
            f"up to {SCHEMA_VERSION}: upgrade tb_fitviz"
        )
    return value


def plugin_metadata(settings=None):
    """SummaryMetadata for a tensor tag of the fitviz plugin."""
    return summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(
            plugin_name=PLUGIN_NAME, content=encode_content(settings)
        ),
        data_class=summary_pb2.DATA_CLASS_TENSOR,
    )


def scalar_metadata(description=""):
    """SummaryMetadata for a scalar shown in the stock Scalars tab."""
    return summary_pb2.SummaryMetadata(
        summary_description=description,
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name=SCALARS_PLUGIN_NAME),
        data_class=summary_pb2.DATA_CLASS_SCALAR,
    )


def image_metadata(description=""):
    """SummaryMetadata for a figure shown in the stock Images tab."""
    return summary_pb2.SummaryMetadata(
        summary_description=description,
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name=IMAGES_PLUGIN_NAME),
        data_class=summary_pb2.DATA_CLASS_BLOB_SEQUENCE,
    )


_DTYPES = {
    "float16": (types_pb2.DT_HALF, "<f2"),
    "float32": (types_pb2.DT_FLOAT, "<f4"),
    "float64": (types_pb2.DT_DOUBLE, "<f8"),
}
_DTYPES_BY_TYPE = {}  # numpy dtype -> (proto dtype, wire format): `dtype.name` costs ~5 us


def array_tensor(array):
    """TensorProto of a float16, float32 or float64 array, packed as little-endian bytes.

    `tensor_content` is the fastest encoding to build and to read back.
    """
    return fill_array_tensor(tensor_pb2.TensorProto(), array)


def wire_dtype(dtype):
    """The stored (little-endian) form of a float16, float32 or float64 NumPy dtype."""
    return _DTYPES[dtype.name][1]


def fill_array_tensor(tensor, array):
    """Fills an empty TensorProto (e.g. a field of an event being built: no copy of the
    message afterwards) as `array_tensor` makes it; returns it."""
    import numpy as np  # here, so that the plugin's entry point can import this module cheaply

    array = np.asarray(array)
    known = _DTYPES_BY_TYPE.get(array.dtype)
    if known is None:
        known = _DTYPES_BY_TYPE[array.dtype] = _DTYPES[array.dtype.name]
    tensor.dtype, wire = known
    dims = tensor.tensor_shape.dim
    for n in array.shape:
        dims.add(size=n)
    tensor.tensor_content = np.ascontiguousarray(array, dtype=wire).tobytes()
    return tensor


def scalar_tensor(value):
    """A float32 scalar TensorProto, as the stock scalars plugin stores them."""
    return fill_scalar_tensor(tensor_pb2.TensorProto(), value)


def fill_scalar_tensor(tensor, value):
    """Fills an empty TensorProto as `scalar_tensor` makes it; returns it."""
    tensor.dtype = types_pb2.DT_FLOAT
    tensor.tensor_shape.SetInParent()  # a scalar: a shape with no dimension
    tensor.float_val.append(float(value))
    return tensor


def image_tensor(width, height, png_bytes):
    """The images plugin's blob sequence: [width, height, png]."""
    return tensor_pb2.TensorProto(
        dtype=types_pb2.DT_STRING,
        tensor_shape=tensor_shape_pb2.TensorShapeProto(
            dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=3)]
        ),
        string_val=[str(int(width)).encode(), str(int(height)).encode(), png_bytes],
    )
