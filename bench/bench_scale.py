"""Scale benchmark (issue 6, item 8): many runs, and one long run, in a real TensorBoard.

Two log directories, written fast with FitVizWriter directly:

  many   RUNS runs x FRAMES frames x POINTS points (default 50 x 2,000 x 500)
  long   one run of LONG frames x POINTS points (default 20,000 x 500)

For each, and for each `--load_fast` value, a real `tensorboard` subprocess
(`--reload_task=blocking`: it answers once everything is loaded) is started and
measured over HTTP:

  load        seconds from start until GET runs lists every frame of every run
  runs cold   GET runs, the first time it lists everything (the plugin reads
              every run's index)
  runs warm   GET runs again (median of 5; the target is <= 1 s once loaded)
  first frame GET static + GET frames?stop=1 for one run, cold: what the tab
              needs to draw something; then the whole run through GET frames
              (paged as a client does, `start=last+1`)
  RSS         resident memory of TensorBoard's process group (TensorBoard and
              its Rust data server) after loading and after the frame reads,
              against the raw float32 size of the frames

The machine is shared and noisy; each figure is printed with the baseline
"read the event files with TensorBoard's own Python loader" measured in the same
run where that helps (load).

Usage:
    .venv/bin/python bench/bench_scale.py [--quick] [--load-fast true,false]
        [--runs 50] [--frames 2000] [--points 500] [--long 20000] [--keep DIR]

The generated data is removed at the end unless --keep is given.
"""

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from tb_process import tensorboard_server  # noqa: E402

from tb_fitviz.plugin import encoding  # noqa: E402

PLUGIN = "/data/plugin/fitviz"


def write_runs(logdir, runs, frames, points, prefix="run"):
    """Writes `runs` runs of `frames` frames; returns seconds taken."""
    import tensorflow  # noqa: F401  (TF's C++ record writer: fast CRC32C)

    from tb_fitviz import FitVizWriter

    started = time.perf_counter()
    rng = np.random.default_rng(0)
    x = np.linspace(0, 1, points)
    y = np.sin(6 * x) + rng.normal(0, 0.1, points)
    for r in range(runs):
        with FitVizWriter(os.path.join(logdir, f"{prefix}-{r:03d}"), x, y, sample=points,
                          scatter=points, images=False) as writer:
            base = np.sin(6 * writer.x_sample)
            for step in range(frames):
                if step:
                    writer.record_batch_loss(step, 1.0 / step)
                writer.record(step, base * (step / frames) + r, epoch=step // 200)
                if step and step % 200 == 0:
                    writer.record_epoch(step, step // 200 - 1, loss=1.0 / step)
    return time.perf_counter() - started


def group_rss(pid):
    """Resident bytes of every process in process group `pid` (TensorBoard + data server)."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            if int(fields[2]) != pid:  # pgrp
                continue
            with open(f"/proc/{entry}/status") as handle:
                for line in handle:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
        except (OSError, ValueError, IndexError):
            continue
    return total


def timed(function):
    started = time.perf_counter()
    value = function()
    return time.perf_counter() - started, value


def fetch_all_frames(url, run):
    """Pages through GET frames as a client does; returns the frame count."""
    start, count = 0, 0
    while True:
        status, _, body = url.get(f"{PLUGIN}/frames?run={urllib.parse.quote(run)}&start={start}",
                                  timeout=600)
        assert status == 200, body[:300]
        steps, _, _ = encoding.decode_frames(body)
        if not len(steps):
            return count
        count += len(steps)
        start = int(steps[-1]) + 1


def measure(logdir, load_fast, runs, frames, points):
    raw = runs * frames * points * 2 * 4
    started = time.perf_counter()
    with tensorboard_server(logdir, f"--load_fast={load_fast}", timeout=7200) as url:
        # The Rust data server loads in the background even with --reload_task=blocking:
        # "loaded" is when GET runs first lists every frame of every run.
        deadline = time.monotonic() + 7200
        while True:
            cold, body = timed(lambda: url.get(f"{PLUGIN}/runs", timeout=600))
            listing = json.loads(body[2])
            if len(listing) == runs and all(e["frame_count"] == frames for e in listing):
                break
            assert time.monotonic() < deadline, "not loaded after 2 hours"
            time.sleep(0.5)
        load = time.perf_counter() - started
        rss_loaded = group_rss(url.process.pid)
        warm = statistics.median(
            timed(lambda: url.get(f"{PLUGIN}/runs", timeout=600))[0] for _ in range(5))
        run = listing[len(listing) // 2]["run"]
        q = urllib.parse.quote(run)
        static_s, _ = timed(lambda: url.get(f"{PLUGIN}/static?run={q}"))
        first_s, answer = timed(lambda: url.get(f"{PLUGIN}/frames?run={q}&stop=1", timeout=600))
        assert encoding.decode_frames(answer[2])[0].tolist() == [0.0]
        all_s, count = timed(lambda: fetch_all_frames(url, run))
        assert count == frames, count
        all_warm_s, _ = timed(lambda: fetch_all_frames(url, run))
        rss_read = group_rss(url.process.pid)
        errors = [line for line in url.output().splitlines()
                  if "Traceback" in line or " 500 " in line]
    return {
        "load_fast": load_fast, "runs": runs, "frames": frames, "points": points,
        "raw_mb": raw / 1e6, "load_s": load, "runs_cold_s": cold, "runs_warm_s": warm,
        "runs_bytes": len(body[2]), "static_s": static_s, "first_frame_s": first_s,
        "all_frames_cold_s": all_s, "all_frames_warm_s": all_warm_s,
        "rss_loaded_mb": rss_loaded / 1e6, "rss_after_reads_mb": rss_read / 1e6,
        "errors": errors,
    }


def server_baseline(logdir, load_fast):
    """(start-up seconds, RSS bytes) of tensorboard over a one-frame run: the fixed costs."""
    started = time.perf_counter()
    with tensorboard_server(logdir, f"--load_fast={load_fast}", timeout=600) as url:
        load = time.perf_counter() - started
        url.get(f"{PLUGIN}/runs")
        url.get(f"{PLUGIN}/frames?run=tiny-000")
        return load, group_rss(url.process.pid)


def python_loader_baseline(logdir):
    """Seconds for TensorBoard's own Python loader just to parse every event of `logdir`."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    started = time.perf_counter()
    events = 0
    for path in Path(logdir).rglob("events.out.tfevents.*"):
        for _ in EventFileLoader(str(path)).Load():
            events += 1
    return time.perf_counter() - started


def report(result, baseline):
    r = result
    base_load, base_rss = baseline
    extra_loaded = r["rss_loaded_mb"] - base_rss / 1e6
    extra_read = r["rss_after_reads_mb"] - base_rss / 1e6
    print(f"  load_fast={r['load_fast']}: {r['runs']} run(s) x {r['frames']} frames x "
          f"{r['points']} points, raw float32 {r['raw_mb']:.0f} MB")
    print(f"    load (start to all frames listed) {r['load_s']:5.1f} s  (one-frame logdir: "
          f"{base_load:.1f} s)")
    print(f"    GET runs cold / warm           {r['runs_cold_s']:8.3f} s / {r['runs_warm_s']:.3f} s"
          f"  ({r['runs_bytes'] / 1e3:.0f} kB; target warm <= 1 s: "
          f"{'OK' if r['runs_warm_s'] <= 1 else 'MISSED'})")
    print(f"    first frame, cold: static + frames?stop=1  {r['static_s']:.3f} s + "
          f"{r['first_frame_s']:.3f} s")
    print(f"    whole run via frames cold / warm {r['all_frames_cold_s']:.3f} s / "
          f"{r['all_frames_warm_s']:.3f} s")
    print(f"    RSS after load / after reads   {r['rss_loaded_mb']:8.0f} MB / "
          f"{r['rss_after_reads_mb']:.0f} MB; over a one-frame logdir ({base_rss / 1e6:.0f} MB): "
          f"+{extra_loaded:.0f} MB / +{extra_read:.0f} MB = {extra_loaded / r['raw_mb']:.2f}x / "
          f"{extra_read / r['raw_mb']:.2f}x raw")
    if r["errors"]:
        print("    ERRORS in tensorboard output:", *r["errors"][:5], sep="\n      ")
    sys.stdout.flush()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="5 runs x 400 frames, long run of 2,000 frames")
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--points", type=int, default=500)
    parser.add_argument("--long", type=int, default=20000)
    parser.add_argument("--load-fast", default="true,false")
    parser.add_argument("--keep", help="write into this directory and keep it")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.frames, args.long = 5, 400, 2000
    modes = [m.strip() for m in args.load_fast.split(",") if m.strip()]

    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="fitviz-scale-"))
    many, long, tiny = root / "many", root / "long", root / "tiny"
    try:
        write_runs(tiny, 1, 1, args.points, prefix="tiny")
        baselines = {mode: server_baseline(tiny, mode) for mode in modes}
        print(f"writing {args.runs} x {args.frames} frames x {args.points} points ...", flush=True)
        seconds = write_runs(many, args.runs, args.frames, args.points)
        size = sum(p.stat().st_size for p in many.rglob("*") if p.is_file())
        print(f"  {seconds:.1f} s, {size / 1e6:.0f} MB of event files "
              f"({args.runs * args.frames / seconds:.0f} frames/s)", flush=True)
        seconds = write_runs(long, 1, args.long, args.points, prefix="long")
        print(f"writing 1 x {args.long} frames: {seconds:.1f} s", flush=True)
        print(f"baseline: TensorBoard's Python loader parses '{many.name}' in "
              f"{python_loader_baseline(many):.1f} s", flush=True)
        print("many runs:")
        for mode in modes:
            report(measure(many, mode, args.runs, args.frames, args.points), baselines[mode])
        print("one long run:")
        for mode in modes:
            report(measure(long, mode, 1, args.long, args.points), baselines[mode])
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
