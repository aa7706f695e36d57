"""A TensorBoard event file: appended and flushed frame by frame, or uploaded in segments.

Local log dir: one append-only file; every `flush` hands the data to the OS.

Remote log dir (s3://, gs://, ...; see `tb_fitviz.storage`): object stores have
no append, and re-uploading a growing file at every frame would send the run
again and again. Records go instead to a local spool file in $TMPDIR, itself a
complete event file (it starts with the `file_version` event); it is closed
and uploaded as a new object, and a new spool file begun, when it holds
`UPLOAD_EVERY_BYTES` of records, or `UPLOAD_EVERY_SECONDS` after its first
record (a background thread keeps that deadline even when nothing is
written), and at `close`. Object names are the file's name plus a 6-digit
segment number, so they sort in time order: TensorBoard's directory watcher
reads a run's event files in name order and moves on to the next once one is
done, so it reads every segment, in order. Segments are uploaded strictly in
order; one that fails is kept on disk and retried every
`UPLOAD_EVERY_SECONDS` (later ones wait behind it), the failure is reported
once with `warnings.warn`, and training goes on. A crash or kill loses, from
the store, the records not yet uploaded (at most the last
`UPLOAD_EVERY_SECONDS`, or `UPLOAD_EVERY_BYTES`, plus whatever was waiting
for a store that was down); they are still in the spool folder
($TMPDIR/fitviz-spool-*), as complete event files that can be copied into the
run's directory.

The framing (TFRecord: length, masked CRC32C, data, masked CRC32C) is written
with google-crc32c's C code (a dependency), each flush handing the records to
the OS in one `os.writev` call, without copying them in Python: inside a Keras
fit that takes ~20 us less a moons frame (48 kB) than TensorFlow's C++
`TFRecordWriter`, which is used when google-crc32c's C code is missing and
TensorFlow is already imported; else TensorBoard's pure-Python record writer
(its CRC costs ~2 ms per 8 KB frame). TensorFlow is never imported here: a
PyTorch or NumPy user does not pay for it.
"""

import collections
import itertools
import os
import shutil
import socket
import struct
import sys
import tempfile
import threading
import time
import warnings

from tensorboard.compat.proto import event_pb2

from tb_fitviz import storage

_counter = itertools.count()

# Remote log dirs: upload a segment when it holds this many bytes of records,
# or this many seconds after its first record (and retry a failed upload as often).
UPLOAD_EVERY_BYTES = 4 << 20
UPLOAD_EVERY_SECONDS = 15.0
# At close, a segment that cannot be uploaded is tried this many times (1 s, 2 s apart).
CLOSE_ATTEMPTS = 3


class EventFile:
    """One new event file in `log_dir`; `write` buffers, `flush` hands data to the OS.

    For a remote `log_dir`, `flush` uploads only when a segment is due (see the
    module's docstring) and `close` uploads the rest.

    Args:
        log_dir: Existing directory, or a URL checked by `storage.prepare_log_dir`.
        suffix: End of the file name (TensorBoard reads any
            `events.out.tfevents.*` file).
    """

    def __init__(self, log_dir, suffix=".fitviz"):
        stem = (f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}."
                f"{os.getpid()}.{next(_counter)}")
        if storage.is_remote(log_dir):
            self._records = SegmentedUpload(storage.open_store(log_dir), stem, suffix)
            self.path = self._records.first_url
            self.uses_tensorflow = self._records.uses_tensorflow
            return  # each segment starts with its own file_version event
        self.path = os.path.join(storage.local_path(log_dir), stem + suffix)
        self._records = _open_records(self.path)
        self.uses_tensorflow = not isinstance(self._records, _PythonRecords)
        self._records.write(_header())
        self.flush()

    def write(self, event):
        self._records.write(event.SerializeToString())

    def write_serialized(self, parts):
        """Writes one event given serialized, as `parts` whose concatenation is the
        event: a writer that frames records itself takes them without joining them, and
        keeps them until `flush` (bytes, or a buffer left unchanged until then that
        google-crc32c takes: a ctypes array)."""
        self._records.write_parts(parts)

    def flush(self):
        self._records.flush()

    def close(self):
        self._records.flush()
        self._records.close()


class _PythonRecords:
    """TFRecord framing in Python: CRC32C by google-crc32c's C code when it is installed,
    else by TensorBoard's pure Python (~2-4 ms per 8 KB frame).

    With the C code, `write` keeps a record's four parts (length, its CRC, the data, its
    CRC) and `flush` hands every part kept to the OS in one `os.writev` call: no copy
    of the data in Python, one system call a frame. Nothing is written before `flush`
    (the writer flushes after every frame, epoch end and figure).
    """

    def __init__(self, path):
        self._crc = _fast_crc32c()
        self._extend = _fast_crc32c_extend() if self._crc is not None else None
        self._gather = _gathers()  # parts kept for one os.writev at flush
        if self._gather:
            self._file = open(path, "ab", buffering=0)  # noqa: SIM115 (kept open)
            self._fd = self._file.fileno()
        else:
            from tensorboard.summary.writer.record_writer import RecordWriter

            self._file = open(path, "ab")  # noqa: SIM115 (kept open across frames)
            self._writer = RecordWriter(self._file) if self._crc is None else None
        self._parts = []
        self._bytes = 0  # in self._parts
        self._lengths = {}  # record length -> its framing head (length, masked CRC)

    def _head(self, size):
        head = self._lengths.get(size)
        if head is None:
            if len(self._lengths) > 64:
                self._lengths.clear()
            length = struct.pack("<Q", size)
            head = self._lengths[size] = length + struct.pack(
                "<I", _masked(self._crc(length)))
        return head

    def write(self, data):
        self.write_parts((data,))

    def write_parts(self, parts):
        """`write(b"".join(parts))` without joining the parts (bytes) when it can."""
        if self._crc is None:
            self._writer.write(b"".join(parts))
            return
        size = 0
        crc = 0
        for part in parts:
            size += len(part)
            crc = self._extend(crc, part)
        framed = (self._head(size), *parts, struct.pack("<I", _masked(crc)))
        if self._gather:
            self._parts.extend(framed)
            self._bytes += size + 16
        else:  # no os.writev here
            self._file.write(b"".join(framed))

    def flush(self):
        if not self._gather:
            self._file.flush()
            return
        parts, expected = self._parts, self._bytes
        if not parts:
            return
        self._parts, self._bytes = [], 0
        fd = self._fd
        if len(parts) <= _IOV_MAX:  # the usual case: every part in one call
            written = os.writev(fd, parts)
            if written != expected:
                _write_rest(fd, parts, written)
            return
        while parts:
            batch, parts = parts[:_IOV_MAX], parts[_IOV_MAX:]
            _write_rest(fd, batch, os.writev(fd, batch))

    def close(self):
        self.flush()
        self._file.close()


# Buffers one os.writev call takes (POSIX guarantees at least 16; Linux takes 1024).
try:
    _IOV_MAX = max(16, os.sysconf("SC_IOV_MAX"))
except (AttributeError, ValueError, OSError):
    _IOV_MAX = 16


def _write_rest(fd, parts, written):
    """After `written` bytes of `parts` went out: the rest, in order (a short write, e.g.
    interrupted by a signal)."""
    rest = memoryview(b"".join(parts))[written:]
    while rest:
        rest = rest[os.write(fd, rest):]


def _fast_crc32c():
    """google_crc32c.value when its C implementation is installed, else None."""
    try:
        import google_crc32c
    except ImportError:
        return None
    return google_crc32c.value if getattr(google_crc32c, "implementation", "") == "c" else None


def _fast_crc32c_extend():
    """google_crc32c.extend (its C implementation: call only when `_fast_crc32c` is not None)."""
    import google_crc32c

    return google_crc32c.extend


def _gathers():
    """Whether records are framed by google-crc32c's C code and written with os.writev."""
    return _fast_crc32c() is not None and hasattr(os, "writev")


def _masked(crc):
    """TFRecord's masked CRC: rotated right by 15 bits plus a constant, 32 bits."""
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _header():
    return event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2").SerializeToString()


class SegmentedUpload:
    """Records for a remote run: spooled locally, uploaded as numbered event files.

    Has the record interface of `_open_records` (write, flush, close); see the
    module's docstring for when segments are uploaded and what a crash loses.

    Args:
        store: A `storage.S3Store` or `storage.FileSystemStore`.
        stem: Object names are `stem.NNNNNN` + `suffix`.
    """

    def __init__(self, store, stem, suffix):
        self.store = store
        self._stem, self._suffix = stem, suffix
        self._max_bytes = UPLOAD_EVERY_BYTES
        self._max_seconds = UPLOAD_EVERY_SECONDS
        self.spool = tempfile.mkdtemp(prefix="fitviz-spool-")
        self._cond = threading.Condition()
        self._ready = collections.deque()  # closed segments (name, spool path), oldest first
        self._index = 0
        self._retry_at = None
        self._failing = False
        self._unreported = None  # an upload error to warn about from the caller's thread
        self._last_error = None
        self._stopping = False
        self._closed = False
        self.uploaded = []  # names of the objects written, in order
        self._open_segment()
        self.first_url = store.join(self._segment[0])
        self.uses_tensorflow = not isinstance(self._records, _PythonRecords)
        self._thread = threading.Thread(target=self._run, name="fitviz-upload", daemon=True)
        self._thread.start()

    # -- the caller's side (under the writer's lock) --------------------------------------

    def write(self, data):
        self.write_parts((data,))

    def write_parts(self, parts):
        """`write(b"".join(parts))`, the parts framed by the spool file's records."""
        with self._cond:
            self._records.write_parts(parts)
            self._size += sum(map(len, parts)) + 16  # TFRecord framing: length, 2 CRCs
            if self._started is None:
                self._started = time.monotonic()
                self._cond.notify_all()  # the uploader has a deadline now

    def flush(self):
        with self._cond:
            self._records.flush()  # on local disk: a kill keeps it in the spool
            if self._due_locked(time.monotonic()):
                self._rotate_locked()
        self._report()

    def close(self):
        with self._cond:
            if self._closed:
                return
            self._closed = self._stopping = True
            self._cond.notify_all()
        self._thread.join()
        with self._cond:
            self._rotate_locked(reopen=False)
        for attempt in range(CLOSE_ATTEMPTS):
            while self._ready and self._upload(self._ready[0]):
                pass
            if not self._ready:
                break
            if attempt + 1 < CLOSE_ATTEMPTS:
                time.sleep(2 ** attempt)
        if self._ready:
            size = sum(os.path.getsize(path) for _, path in self._ready)
            warnings.warn(
                f"FitViz: could not upload the last {len(self._ready)} segment(s) "
                f"({size / 1e3:.0f} kB) of {self.store.url}: {self._last_error!r}. They are "
                f"kept in {self.spool} as complete event files: copy them into "
                f"{self.store.url}/ to see them in TensorBoard.",
                storage.UploadWarning, stacklevel=2)
        else:
            shutil.rmtree(self.spool, ignore_errors=True)

    def _report(self):
        error, self._unreported = self._unreported, None
        if error is not None:
            warnings.warn(
                f"FitViz: cannot upload to log_dir {self.store.url}: {error!r}. Training goes "
                f"on; the records are kept (in {self.spool}) and retried every "
                f"{self._max_seconds:g} s. If the store is still down at close, they stay in "
                "that folder, as event files to copy into the run's directory.",
                storage.UploadWarning, stacklevel=2)

    # -- segments -------------------------------------------------------------------------

    def _open_segment(self):
        name = f"{self._stem}.{self._index:06d}{self._suffix}"
        self._index += 1
        path = os.path.join(self.spool, name)
        self._records = _open_records(path)
        self._records.write(_header())
        self._segment = (name, path)
        self._size = 0  # bytes of records after the header
        self._started = None  # monotonic time of the first record

    def _due_locked(self, now):
        if self._started is None:
            return False
        if self._size >= self._max_bytes:
            return True
        # While earlier segments wait for the store, the current one grows (by size only).
        return not self._ready and now - self._started >= self._max_seconds

    def _rotate_locked(self, reopen=True):
        """Closes the current segment; queues it for upload if it holds records."""
        self._records.close()
        name, path = self._segment
        if self._started is None:
            os.remove(path)  # a header alone: nothing to send
        else:
            self._ready.append(self._segment)
            self._cond.notify_all()
        if reopen:
            self._open_segment()

    def _upload(self, segment):
        name, path = segment
        with open(path, "rb") as file:
            data = file.read()
        try:
            self.store.put(name, data)
        except Exception as error:  # noqa: BLE001  (any failure: keep it, retry later)
            with self._cond:
                self._last_error = error
                if not self._failing:
                    self._failing = True
                    self._unreported = error
            return False
        with self._cond:
            self._failing = False
            self._ready.popleft()
            self.uploaded.append(name)
        os.remove(path)
        return True

    def _run(self):
        while True:
            with self._cond:
                while True:
                    if self._stopping:
                        return
                    now = time.monotonic()
                    if self._due_locked(now):
                        self._rotate_locked()
                    if self._ready and (self._retry_at is None or now >= self._retry_at):
                        break
                    waits = []
                    if self._ready:
                        waits.append(self._retry_at - now)
                    elif self._started is not None:
                        waits.append(self._started + self._max_seconds - now)
                    self._cond.wait(max(0.0, min(waits)) if waits else None)
                segment = self._ready[0]
            ok = self._upload(segment)
            with self._cond:
                self._retry_at = None if ok else time.monotonic() + self._max_seconds


def _open_records(path):
    """google-crc32c's C code with os.writev (fastest: no copy of a frame in Python), else
    TensorFlow's TFRecordWriter if TensorFlow is imported, else Python framing. Each
    takes write(bytes), write_parts(parts), flush() and close()."""
    tf = sys.modules.get("tensorflow")
    record_writer = getattr(getattr(tf, "io", None), "TFRecordWriter", None)
    if record_writer is not None and not _gathers():
        return _TensorFlowRecords(record_writer(path))
    return _PythonRecords(path)


class _TensorFlowRecords:
    """TensorFlow's TFRecordWriter, with `write_parts` (the parts joined: it takes bytes)."""

    def __init__(self, writer):
        self._writer = writer
        self.write = writer.write
        self.flush = writer.flush
        self.close = writer.close

    def write_parts(self, parts):
        self._writer.write(b"".join(parts))
