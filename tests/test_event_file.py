"""The TFRecord framing of event files, by each way FitViz can write it, read back byte for
byte and checked with TensorBoard's own pure-Python CRC32C (an independent implementation)."""

import os
import sys

import pytest
from fault_scripts import support  # tests/ is on sys.path

from tb_fitviz import event_file


def _records(path):
    """The records of a TFRecord file, each CRC checked; fails on a torn or corrupt file."""
    with open(path, "rb") as file:
        return [body for _, body in support.tfrecords(file.read())]


def _payloads():
    # Sizes from empty to a surface frame's; 700 records between two flushes are 2,800
    # buffers, more than one os.writev call takes (1,024 on Linux).
    return [bytes([i % 251]) * size
            for i, size in enumerate([0, 1, 7, 48_214, 300] + [5 + i % 40 for i in range(700)])]


FRAMINGS = ["writev", "buffered", "tensorflow", "pure python"]


def _use_framing(framing, monkeypatch):
    """Makes `_open_records` pick `framing`: google-crc32c's C code with or without
    os.writev, TensorFlow's TFRecordWriter, or TensorBoard's pure Python."""
    if framing in ("tensorflow", "pure python"):
        monkeypatch.setattr(event_file, "_fast_crc32c", lambda: None)
    if framing == "buffered":
        monkeypatch.delattr(os, "writev")
    if framing == "tensorflow":
        pytest.importorskip("tensorflow")
    else:
        monkeypatch.setitem(sys.modules, "tensorflow", None)


@pytest.mark.parametrize("framing", FRAMINGS)
def test_records_read_back_whatever_writes_them(framing, tmp_path, monkeypatch):
    _use_framing(framing, monkeypatch)
    path = str(tmp_path / "records")
    records = event_file._open_records(path)
    assert isinstance(records, event_file._PythonRecords) == (framing != "tensorflow")
    payloads = _payloads()
    for i, payload in enumerate(payloads):
        records.write(payload)
        if i in (2, 4):
            records.flush()
    records.flush()
    assert _records(path) == payloads  # every record, in order, once flushed
    records.write(b"last")
    records.close()
    assert _records(path) == payloads + [b"last"]


def test_a_short_write_is_finished_in_order(tmp_path, monkeypatch):
    """os.writev may write less than asked (a signal, a full pipe): the rest follows, in order."""
    real = os.writev

    def short(fd, buffers):
        return real(fd, [bytes(buffers[0])[:3]])  # 3 bytes of the first buffer only

    monkeypatch.setattr(os, "writev", short)
    path = str(tmp_path / "records")
    records = event_file._PythonRecords(path)
    payloads = [b"frame" * 1000, b"loss", b""]
    for payload in payloads:
        records.write(payload)
    records.close()
    assert _records(path) == payloads


@pytest.mark.parametrize("framing", FRAMINGS)
def test_an_event_given_in_parts_is_one_record(framing, tmp_path, monkeypatch):
    """`EventFile.write_serialized` (a steady frame's event, in parts) writes the parts
    joined as one record, whatever frames the records."""
    _use_framing(framing, monkeypatch)
    events = event_file.EventFile(str(tmp_path))
    payloads = _payloads()[:40]
    for i, payload in enumerate(payloads):
        cut = [0, len(payload) // 3, len(payload) // 2, len(payload)][: 2 + i % 3]
        events.write_serialized([payload[a:b] for a, b in zip(cut, cut[1:] + [len(payload)])])
        if i % 7 == 0:
            events.flush()
    events.close()
    assert _records(events.path)[1:] == payloads  # after the file_version record
