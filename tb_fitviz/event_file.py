"""An append-only TensorBoard event file, flushed frame by frame.

The framing (TFRecord: length, masked CRC32C, data, masked CRC32C) is written
by TensorFlow's C++ `TFRecordWriter` when TensorFlow is already imported (its
CRC is ~1000x faster than the pure-Python one, which costs ~2 ms per 8 KB
frame), otherwise by TensorBoard's pure-Python record writer, so that the
writer works where TensorFlow is not installed. TensorFlow is never imported
here: a PyTorch or NumPy user does not pay for it.
"""

import itertools
import os
import socket
import sys
import time

from tensorboard.compat.proto import event_pb2

_counter = itertools.count()


class EventFile:
    """One new event file in `log_dir`; `write` buffers, `flush` hands data to the OS.

    Args:
        log_dir: Existing directory.
        suffix: End of the file name (TensorBoard reads any
            `events.out.tfevents.*` file).
    """

    def __init__(self, log_dir, suffix=".fitviz"):
        name = (f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}."
                f"{os.getpid()}.{next(_counter)}{suffix}")
        self.path = os.path.join(log_dir, name)
        self._records = _open_records(self.path)
        self.uses_tensorflow = not isinstance(self._records, _PythonRecords)
        self.write(event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2"))
        self.flush()

    def write(self, event):
        self._records.write(event.SerializeToString())

    def flush(self):
        self._records.flush()

    def close(self):
        self._records.flush()
        self._records.close()


class _PythonRecords:
    def __init__(self, path):
        from tensorboard.summary.writer.record_writer import RecordWriter

        self._file = open(path, "ab")  # noqa: SIM115 (kept open across frames)
        self._writer = RecordWriter(self._file)

    def write(self, data):
        self._writer.write(data)

    def flush(self):
        self._file.flush()

    def close(self):
        self._file.close()


def _open_records(path):
    tf = sys.modules.get("tensorflow")
    record_writer = getattr(getattr(tf, "io", None), "TFRecordWriter", None)
    if record_writer is not None:
        return record_writer(path)
    return _PythonRecords(path)
