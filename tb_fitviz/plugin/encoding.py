"""The binary body of GET frames (`FVF1`), and its decoder for Python clients.

All little-endian:

| offset  | type              | meaning                                              |
|---------|-------------------|------------------------------------------------------|
| 0       | 4 bytes           | magic `FVF1`                                         |
| 4       | uint32            | F, frame count                                       |
| 8       | uint32            | N, points per frame                                  |
| 12      | uint32            | C, channels per frame (the run's kind declares them) |
| 16      | float64[F]        | the steps                                            |
| 16+8F   | float64[F*4]      | per frame: summary_format.FRAME_INFO_FIELDS (epoch,  |
|         |                   | sample_loss, validation_loss, regularization_loss;   |
|         |                   | NaN = not recorded)                                  |
| 16+40F  | float32[F*C*N]    | frame-major, channel-major: frame 0 channel 0 (N),   |
|         |                   | frame 0 channel 1 (N), ..., frame 1 channel 0, ...   |

The same layout carries sample frames (N = sample points), grid frames (N = G*G)
and the loss map (one "frame" per column, C = 1, N = rows).

The float32 block starts at a multiple of 8 bytes, so a browser can view it
with `new Float32Array(buffer, 16 + 40 * F, F * C * N)` without copying.
"""

import struct

import numpy as np

from tb_fitviz.summary_format import FRAME_INFO_FIELDS

MAGIC = b"FVF1"
HEADER = struct.Struct("<4sIII")
INFO_FIELDS = len(FRAME_INFO_FIELDS)
CONTENT_TYPE = "application/octet-stream"


def encoded_size(frame_count, sample_size, channels=2):
    """Bytes of a body holding `frame_count` frames."""
    return (HEADER.size + 8 * frame_count * (1 + INFO_FIELDS)
            + 4 * frame_count * channels * sample_size)


def encode_frames(steps, info, values):
    """The `FVF1` body of frames.

    Args:
        steps: float64-compatible array [F].
        info: float64-compatible array [F, 4].
        values: float32-compatible array [F, C, N].

    Returns:
        bytes.
    """
    values = np.asarray(values)
    if values.ndim != 3:
        raise ValueError(f"values: expected shape [F, C, N], got {list(values.shape)}")
    count, channels, sample_size = values.shape
    steps = np.asarray(steps)
    info = np.asarray(info)
    if steps.shape != (count,) or info.shape != (count, INFO_FIELDS):
        raise ValueError(
            f"steps, info: expected shapes [{count}] and [{count}, {INFO_FIELDS}], "
            f"got {list(steps.shape)} and {list(info.shape)}"
        )
    parts = [
        HEADER.pack(MAGIC, count, sample_size, channels),
        np.ascontiguousarray(steps, dtype="<f8"),
        np.ascontiguousarray(info, dtype="<f8"),
        # A contiguous float32 block (the usual case: a range of cached frames) is
        # a view here; `join` then copies it once, straight into the body.
        np.ascontiguousarray(values, dtype="<f4"),
    ]
    return b"".join(part if isinstance(part, bytes) else part.reshape(-1).view(np.uint8)
                    for part in parts)


def decode_frames(body):
    """(steps float64 [F], info float64 [F, 4], values float32 [F, C, N]) of an `FVF1` body."""
    body = memoryview(body)
    if len(body) < HEADER.size:
        raise ValueError(f"frames body: {len(body)} bytes is shorter than the header")
    magic, count, sample_size, channels = HEADER.unpack_from(body, 0)
    if magic != MAGIC:
        raise ValueError(f"frames body: bad magic {bytes(magic)!r}, expected {MAGIC!r}")
    expected = encoded_size(count, sample_size, channels)
    if len(body) != expected:
        raise ValueError(f"frames body: expected {expected} bytes, got {len(body)}")
    offset = HEADER.size
    steps = np.frombuffer(body, dtype="<f8", count=count, offset=offset)
    offset += 8 * count
    info = np.frombuffer(body, dtype="<f8", count=count * INFO_FIELDS, offset=offset)
    offset += 8 * count * INFO_FIELDS
    values = np.frombuffer(body, dtype="<f4", count=count * channels * sample_size, offset=offset)
    return (steps, info.reshape(count, INFO_FIELDS),
            values.reshape(count, channels, sample_size))
