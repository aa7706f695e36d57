"""What does a remote (s3://) log dir send? Bytes to the store against the run's own size.

A 2,000-frame x 1,000-point run (a batch loss per step, an epoch end every 200
steps, no images) is written with FitVizWriter into s3://bucket/bench/run on a
real S3 server on localhost (moto's standalone server, `tests/s3_server.py`),
with the default upload bounds (`tb_fitviz.event_file.UPLOAD_EVERY_BYTES`,
`UPLOAD_EVERY_SECONDS`). Counted:

  run size     the sum of the final objects' sizes (what TensorBoard reads)
  payload      the bytes the writer handed to PUT requests (`store.bytes_sent`)
  wire         every byte the server received (HTTP headers, the probe at
               construction included), counted by a proxy in front of it
  naive        what re-uploading the growing file at every flush would send
               (TensorBoard's own Python writer on S3 does so), computed from
               the run: the sum over frames of the run's size up to that frame

The same loop into a local folder gives the time baseline.

    python bench/bench_remote.py                  # 2,000 frames x 1,000 points
    python bench/bench_remote.py --frames 500     # quicker
"""

import argparse
import os
import struct
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, ROOT)


def record_run(log_dir, frames, points):
    from tb_fitviz import FitVizWriter

    x = np.linspace(-1, 1, points)
    y = np.sin(3 * x)
    started = time.perf_counter()
    writer = FitVizWriter(log_dir, x, y, sample=points, scatter=points, images=False)
    for step in range(frames):
        if step:
            writer.record_batch_loss(step, 1.0 / step)
        writer.record(step, np.sin(3 * writer.x_sample) * step / frames)
        if step % 200 == 199:
            writer.record_epoch(step, step // 200, loss=1.0 / (step + 1))
    events = writer._events
    writer.close()
    return time.perf_counter() - started, events


def frame_ends(data):
    """Byte offsets (within `data`, one event file) just after each frame's last event."""
    from tensorboard.compat.proto import event_pb2

    ends, offset = [], 0
    while offset < len(data):
        (length,) = struct.unpack_from("<Q", data, offset)
        event = event_pb2.Event.FromString(data[offset + 12:offset + 12 + length])
        offset += 12 + length + 4
        if any(value.tag == "fitviz/frame_info" for value in event.summary.value):
            ends.append(offset)
    return ends


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--points", type=int, default=1000)
    args = parser.parse_args()

    from s3_server import S3Server

    from tb_fitviz import event_file

    with S3Server() as server:
        os.environ.update(server.environment())
        server.client().create_bucket(Bucket="bucket")
        wire_before = server.bytes_up
        seconds, events = record_run("s3://bucket/bench/run", args.frames, args.points)
        wire = server.bytes_up - wire_before
        objects = server.objects("bucket", "bench/run/")
        store = events._records.store
        run_size = sum(objects.values())
        # Naive: the growing file re-sent at every frame (one file: the segments joined).
        naive, before = 0, 0
        for key in sorted(objects):
            data = server.get("bucket", key)
            naive += sum(before + end for end in frame_ends(data))
            before += len(data)
    with tempfile.TemporaryDirectory() as folder:
        local_seconds, _ = record_run(os.path.join(folder, "run"), args.frames, args.points)

    print(f"{args.frames} frames x {args.points} points; upload bounds "
          f"{event_file.UPLOAD_EVERY_BYTES / 2**20:g} MiB / {event_file.UPLOAD_EVERY_SECONDS:g} s")
    print(f"  run size (final objects)   {run_size / 1e6:8.2f} MB in {len(objects)} objects")
    print(f"  payload sent (PUT bodies)  {store.bytes_sent / 1e6:8.2f} MB in {store.puts} PUTs"
          f"   ratio {store.bytes_sent / run_size:.4f}")
    print(f"  wire (server received)     {wire / 1e6:8.2f} MB in {server.requests} requests"
          f"   ratio {wire / run_size:.4f}")
    print(f"  naive re-upload per frame  {naive / 1e9:8.2f} GB"
          f"             ratio {naive / run_size:.0f}")
    print(f"  recording time             {seconds:8.2f} s (local folder: {local_seconds:.2f} s)")


if __name__ == "__main__":
    main()
