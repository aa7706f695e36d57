"""Benchmark of the FitViz plugin backend (issue 3, item 6).

A run of 5,000 frames x 1,000 points, written by the real FitVizWriter, served
through TensorBoard's real data provider on both data paths: the Rust data
server (`--load_fast=true`) and the Python multiplexer (`--load_fast=false`).

Measured:
  * server time: the full TensorBoard WSGI app (all its middlewares) in this
    process under werkzeug's test client, no sockets; the data provider is the
    real one (for load_fast=true a real data server subprocess over gRPC).
    "all frames" pages through GET frames as a client does (32 MiB a page);
    "first 100" is GET frames?limit=100. Cold = the run's first read (after
    GET runs, as the tab does: the per-frame index is read by it); warm = the
    run already decoded in the plugin's cache, the steady state. Frames are
    stored in block tags of 128 frames (summary_format, "Frame blocks"), so a
    cold range reads only its blocks. With --legacy the same run is also
    written in the layout before blocks (every frame in one tag
    fitviz/frame, which a cold read must read whole) and measured alongside.
  * bytes per value on the wire (frames are binary and never gzipped).
  * memory: RSS of a real `tensorboard` process group (TensorBoard plus its
    data server) holding the run, minus the same over a one-frame run, against
    the run's raw float32 size.

Speed figures are compared with a baseline measured in the same process (a
plain copy of the raw float32 frames), since the machine is shared and noisy.

Usage:
    .venv/bin/python bench/bench_plugin.py [--frames 5000] [--points 1000]
        [--load-fast true,false] [--repeat 5] [--skip-memory] [--logdir DIR]
        [--legacy]
"""

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

TARGET_ALL_S = 0.5
TARGET_FIRST_100_S = 0.050
TARGET_BYTES_PER_VALUE = 4.1
PREFIX = "/data/plugin/fitviz/"


def write_run(root, name, frames, points, legacy=False):
    """Writes `frames` frames of `points` points with the real writer; returns seconds.

    `legacy`: every frame in the one tag fitviz/frame, as runs written before
    frame blocks hold them.
    """
    # With TensorFlow imported the event file uses its C++ record writer (fast CRC).
    with contextlib.suppress(ImportError):
        import tensorflow  # noqa: F401
    from tb_fitviz import FitVizWriter

    x = np.linspace(-3, 3, max(points, 2))
    y = np.sin(x)
    rng = np.random.default_rng(0)
    from tb_fitviz import summary_format as fmt

    started = time.perf_counter()
    writer = FitVizWriter(os.path.join(root, name), x, y, sample=points,
                          scatter=min(points, 2000), images=False)
    if legacy:
        block_tensor = writer._tensor

        def legacy_tensor(tag, array):
            return block_tensor(fmt.TAG_FRAME if fmt.is_frame_tag(tag) else tag, array)

        writer._tensor = legacy_tensor
    with writer:
        for step in range(frames):
            writer.record_batch_loss(step + 1, 1.0 / (step + 1))
            prediction = y * (step / max(frames, 1)) + rng.normal(0, 0.01, len(x))
            writer.record(step, prediction, epoch=step // 500)
    return time.perf_counter() - started


class _RecordingLoader:
    """FitVizLoader that keeps the plugin it made (to clear its cache between cold runs)."""

    def __new__(cls):
        from tb_fitviz.plugin.loader import FitVizLoader

        class Recording(FitVizLoader):
            plugin = None

            def load(self, context):
                Recording.plugin = super().load(context)
                return Recording.plugin

        return Recording()


def in_process_app(logdir, load_fast):
    """(werkzeug Client, plugin) over TensorBoard's own ingestion, as `tensorboard` builds it."""
    from tensorboard import program
    from tensorboard.backend import application
    from werkzeug.test import Client

    tensorboard = program.TensorBoard()
    tensorboard.configure(argv=["", "--logdir", str(logdir), f"--load_fast={load_fast}",
                                "--reload_task=blocking", "--reload_interval=0"])
    ingester = tensorboard._make_data_ingester()
    multiplexer = getattr(ingester, "deprecated_multiplexer", None)
    loader = _RecordingLoader()
    app = application.TensorBoardWSGIApp(tensorboard.flags, [loader], ingester.data_provider,
                                         None, multiplexer)
    return Client(app), type(loader).plugin


def timed_get(client, path):
    started = time.perf_counter()
    response = client.get(PREFIX + path)
    body = response.get_data()
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"GET {path}: {response.status_code} {body[:200]!r}")
    return elapsed, body


def all_frames(client, run):
    """Pages through every frame as a client does; (seconds, frames, body bytes, values)."""
    from tb_fitviz.plugin.encoding import HEADER

    seconds, frames, total_bytes, values, start = 0.0, 0, 0, 0, 0
    while True:
        elapsed, body = timed_get(client, f"frames?run={run}&start={start}")
        _, count, points, channels = HEADER.unpack_from(body, 0)
        seconds += elapsed
        total_bytes += len(body)
        if count == 0:
            return seconds, frames, total_bytes, values
        frames += count
        values += count * points * channels
        last_step = np.frombuffer(body, "<f8", count=count, offset=HEADER.size)[-1]
        start = int(last_step) + 1


def wait_until_loaded(client, run, frames, timeout=300):
    import json

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = client.get(PREFIX + "runs")
        runs = {r["run"]: r for r in json.loads(response.get_data())}
        if run in runs and runs[run]["frame_count"] >= frames:
            return
        time.sleep(0.5)
    raise RuntimeError(f"{run} did not load {frames} frames in {timeout} s")


def bench_server_time(logdir, run, frames, points, load_fast, repeat):
    client, plugin = in_process_app(logdir, load_fast)
    wait_until_loaded(client, run, frames)
    result = {"cold_runs": [], "cold_first_100": [], "cold_all": [], "warm_first_100": [],
              "warm_all": [], "runs": []}
    for _ in range(repeat):
        plugin._cache.clear()
        result["cold_runs"].append(timed_get(client, "runs")[0])
        result["cold_first_100"].append(timed_get(client, f"frames?run={run}&limit=100")[0])
        plugin._cache.clear()
        timed_get(client, "runs")
        seconds, served, wire_bytes, values = all_frames(client, run)
        result["cold_all"].append(seconds)
        assert served == frames, (served, frames)
        for _ in range(3):
            result["warm_first_100"].append(timed_get(client, f"frames?run={run}&limit=100")[0])
            result["warm_all"].append(all_frames(client, run)[0])
            result["runs"].append(timed_get(client, "runs")[0])
    result["provider_read"], result["provider_read_first"], result["frame_tags"] = (
        provider_read_seconds(plugin, run, frames, repeat))
    result["bytes_per_value"] = wire_bytes / values
    result["wire_bytes"] = wire_bytes
    return {k: (statistics.median(v) if isinstance(v, list) else v) for k, v in result.items()}


def provider_read_seconds(plugin, run, frames, repeat):
    """Median times of TensorBoard's own reads of the run's frames, all of them in one
    call and the first frame tag alone (the floors of cold reads); the tag count."""
    from tensorboard import context
    from tensorboard.data import provider

    from tb_fitviz import summary_format as fmt

    listing = plugin._data_provider.list_tensors(
        context.RequestContext(), experiment_id="", plugin_name="fitviz",
        run_tag_filter=provider.RunTagFilter(runs=[run]))[run]
    tags = sorted((t for t in listing if fmt.is_frame_tag(t)), key=fmt.frame_block_start)

    def read(some):
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            plugin._data_provider.read_tensors(
                context.RequestContext(), experiment_id="", plugin_name="fitviz",
                downsample=frames + 1,
                run_tag_filter=provider.RunTagFilter(runs=[run], tags=some))
            times.append(time.perf_counter() - started)
        return statistics.median(times)

    return read(tags), read(tags[:1]), len(tags)


def baseline_copy_seconds(frames, points, repeat):
    """Median time of a plain copy of the run's raw float32 frames (machine speed now)."""
    raw = np.random.default_rng(0).random((frames, 2, points), dtype=np.float32)
    times = []
    for _ in range(max(repeat, 5)):
        started = time.perf_counter()
        raw.copy()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def group_rss_bytes(pid):
    """Resident memory of every process in `pid`'s process group (TensorBoard + data server)."""
    pids = subprocess.run(["pgrep", "-g", str(pid)], capture_output=True, text=True).stdout.split()
    total = 0
    for member in pids:
        try:
            with open(f"/proc/{member}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


def bench_memory(logdir, small_logdir, run, frames, load_fast):
    """RSS of a real tensorboard holding the run, minus one holding a one-frame run."""
    from tb_process import tensorboard_server

    def measure(directory, name, count, serve):
        with tensorboard_server(directory, f"--load_fast={load_fast}") as url:
            deadline = time.monotonic() + 300
            while True:
                runs = {r["run"]: r for r in url.get_json(PREFIX + "runs")}
                if name in runs and runs[name]["frame_count"] >= count:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name} not loaded")
                time.sleep(0.5)
            time.sleep(1.0)
            loaded = group_rss_bytes(url.process.pid)
            if serve:
                start = 0
                while True:
                    _, _, body = url.get(PREFIX + f"frames?run={name}&start={start}")
                    count_here = int.from_bytes(body[4:8], "little")
                    if not count_here:
                        break
                    start = int(np.frombuffer(body, "<f8", count=count_here, offset=16)[-1]) + 1
            served = group_rss_bytes(url.process.pid)
            return loaded, served

    base_loaded, base_served = measure(small_logdir, "small", 1, True)
    loaded, served = measure(logdir, run, frames, True)
    return {"loaded": loaded - base_loaded, "served": served - base_served}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=5000)
    parser.add_argument("--points", type=int, default=1000)
    parser.add_argument("--load-fast", default="true,false",
                        help="comma-separated --load_fast values to measure")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--logdir", help="reuse (or create) this log directory")
    parser.add_argument("--legacy", action="store_true",
                        help="also measure the run in the single-tag layout before frame blocks")
    args = parser.parse_args(argv)

    work = tempfile.TemporaryDirectory(prefix="fitviz_bench_")
    logdir = Path(args.logdir or os.path.join(work.name, "logs"))
    small = Path(work.name) / "small"
    run = "bench"
    if not (logdir / run).is_dir():
        seconds = write_run(str(logdir), run, args.frames, args.points)
        print(f"wrote {args.frames} frames x {args.points} points in {seconds:.1f} s "
              f"({args.frames / seconds:.0f} frames/s)")
    runs = [run]
    if args.legacy:
        runs.append("bench-legacy")
        if not (logdir / "bench-legacy").is_dir():
            write_run(str(logdir), "bench-legacy", args.frames, args.points, legacy=True)
    write_run(str(small), "small", 1, args.points)
    raw_bytes = args.frames * 2 * args.points * 4
    copy = baseline_copy_seconds(args.frames, args.points, args.repeat)
    print(f"raw float32 frames: {raw_bytes / 2**20:.1f} MiB; baseline copy of them in this "
          f"process: {copy * 1000:.1f} ms")

    rows = []
    for load_fast in [v.strip() for v in args.load_fast.split(",") if v.strip()]:
        for name in runs:
            timing = bench_server_time(logdir, name, args.frames, args.points, load_fast,
                                       args.repeat)
            memory = None if args.skip_memory or name != run else bench_memory(
                logdir, small, run, args.frames, load_fast)
            rows.append((load_fast, name, timing, memory))

    print()
    print(f"FitViz plugin, run of {args.frames} frames x {args.points} points "
          f"(medians of {args.repeat} cold / {3 * args.repeat} warm reads)")
    for load_fast, name, timing, memory in rows:
        layout = ("legacy single tag fitviz/frame" if name != run
                  else f"{timing['frame_tags']} frame block tags")
        print(f"\n--load_fast={load_fast}, run {name!r} ({layout})")
        print(f"  all frames, warm      {timing['warm_all'] * 1000:8.1f} ms   "
              f"target {TARGET_ALL_S * 1000:.0f} ms  ratio {timing['warm_all'] / TARGET_ALL_S:.2f}"
              f"   = {timing['warm_all'] / copy:.1f}x the baseline copy")
        print(f"  first 100, warm       {timing['warm_first_100'] * 1000:8.1f} ms   "
              f"target {TARGET_FIRST_100_S * 1000:.0f} ms   ratio "
              f"{timing['warm_first_100'] / TARGET_FIRST_100_S:.2f}")
        print(f"  all frames, cold      {timing['cold_all'] * 1000:8.1f} ms   target "
              f"{TARGET_ALL_S * 1000:.0f} ms  ratio {timing['cold_all'] / TARGET_ALL_S:.2f}"
              f"   (first read of the run: {timing['cold_all'] / copy:.1f}x the baseline copy)")
        print(f"  first 100, cold       {timing['cold_first_100'] * 1000:8.1f} ms   target "
              f"{TARGET_FIRST_100_S * 1000:.0f} ms   ratio "
              f"{timing['cold_first_100'] / TARGET_FIRST_100_S:.2f}")
        print(f"    TensorBoard's read_tensors alone: every frame tag in one call "
              f"{timing['provider_read'] * 1000:.1f} ms, the first tag "
              f"{timing['provider_read_first'] * 1000:.1f} ms")
        print(f"  runs listing          {timing['runs'] * 1000:8.1f} ms warm, "
              f"{timing['cold_runs'] * 1000:.1f} ms cold")
        print(f"  bytes per value       {timing['bytes_per_value']:8.4f}      target "
              f"{TARGET_BYTES_PER_VALUE}  ({timing['wire_bytes'] / 2**20:.1f} MiB, not gzipped)")
        if memory:
            print(f"  memory for the run    {memory['loaded'] / 2**20:8.1f} MiB loaded "
                  f"({memory['loaded'] / raw_bytes:.2f}x raw), {memory['served'] / 2**20:.1f} MiB "
                  f"after serving every frame ({memory['served'] / raw_bytes:.2f}x raw "
                  f"{raw_bytes / 2**20:.1f} MiB)")
        ok = (timing["warm_all"] <= TARGET_ALL_S and timing["warm_first_100"] <= TARGET_FIRST_100_S
              and timing["bytes_per_value"] <= TARGET_BYTES_PER_VALUE)
        print(f"  targets (warm)        {'met' if ok else 'NOT met'}")
        cold_ok = (timing["cold_all"] <= TARGET_ALL_S
                   and timing["cold_first_100"] <= TARGET_FIRST_100_S)
        print(f"  targets (cold)        {'met' if cold_ok else 'NOT met'}")
    work.cleanup()


if __name__ == "__main__":
    main()
