"""The `tb-fitviz` command.

    tb-fitviz export LOGDIR --run RUN -o fit.gif   # or fit.mp4, or fit.png (one picture)
    tb-fitviz runs LOGDIR                          # the FitViz runs: kind, views, frames

Bad arguments exit with status 2 and a message naming the argument.
"""

import argparse
import os
import sys

from tb_fitviz import __version__, storage

EXAMPLES = """\
examples:
  tb-fitviz export logs --run adam-lr0.01 -o fit.gif
  tb-fitviz export logs --run sine -o sine.mp4 --fps 30 --size 1280x720
  tb-fitviz export logs --run sine -o first-epochs.gif --stop 300 --stride 2
  tb-fitviz export logs --run moons -o moons.mp4 --view true_class --theme dark
  tb-fitviz export logs --run moons -o moons.png --stop 500   # the last frame before step 500
"""


def build_parser():
    parser = argparse.ArgumentParser(
        prog="tb-fitviz",
        description="FitViz: watch a model learn, in TensorBoard. Tools for recorded runs.",
    )
    parser.add_argument("--version", action="version", version=f"tb_fitviz {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    from tb_fitviz import export as ex

    export = commands.add_parser(
        "export",
        help="write a run's frames as an animated GIF, an MP4 video or a PNG picture",
        description="Writes the frames of one FitViz run as an animated GIF (Pillow), an "
        "MP4 video (H.264, through the ffmpeg of imageio-ffmpeg) or, for a .png, the picture "
        "of the last frame in the range, drawn like the figures of the Images tab. Any kind "
        "of run: a curve, a surface, predicted vs. true, the true class, the loss map.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    export.add_argument("logdir", metavar="LOGDIR", help="the log directory given to tensorboard")
    export.add_argument("--run", required=True,
                        help="the run's name as TensorBoard lists it (see `tb-fitviz runs`)")
    export.add_argument("-o", "--output", required=True, metavar="FILE",
                        help="file to write: .gif, .mp4 or .png (the range's last frame)")
    export.add_argument("--fps", type=float, default=ex.DEFAULT_FPS,
                        help=f"frames per second (default {ex.DEFAULT_FPS:g}; GIF: at most "
                        f"{ex.GIF_MAX_FPS:g})")
    export.add_argument("--start", type=int, default=0,
                        help="first step to include (default 0)")
    export.add_argument("--stop", type=int, default=None,
                        help="steps from here on are left out (default: none)")
    export.add_argument("--stride", type=int, default=1,
                        help="take every N-th frame of the range, the first included (default 1)")
    export.add_argument("--size", default=None, metavar="WxH",
                        help=f"picture size in pixels (default "
                        f"{ex.DEFAULT_SIZE[0]}x{ex.DEFAULT_SIZE[1]})")
    export.add_argument("--width", type=int, default=None, help="picture width in pixels")
    export.add_argument("--height", type=int, default=None, help="picture height in pixels")
    export.add_argument("--dpi", type=float, default=ex.DEFAULT_DPI,
                        help=f"drawing resolution: larger means larger text and lines "
                        f"(default {ex.DEFAULT_DPI})")
    export.add_argument("--view", default=None,
                        help="which of the run's views to draw (`tb-fitviz runs` lists them: "
                        "curve, surface, pred_true, true_class, loss_map); default: its "
                        "main view, the first listed")
    export.add_argument("--theme", choices=ex.THEMES, default="light",
                        help="colours: light (default) or dark, as the FitViz tab's themes")
    export.add_argument("--smoothing", type=int, default=None,
                        help="moving-average window of the loss band, in sample points, odd "
                        "(default: the run's own, stored when it was recorded; 1: none)")
    export.add_argument("--band", choices=("auto", "sqrt", "raw", "none"), default="auto",
                        help="loss band: the run's own, faithful to its loss (auto, default), "
                        "+/- sqrt of the smoothed loss (units of y for a squared loss), "
                        "+/- the raw smoothed loss, or none")
    export.add_argument("-j", "--jobs", type=int, default=None,
                        help="processes drawing frames (default: half the CPUs, at most "
                        f"{ex.MAX_AUTO_JOBS}, fewer for short runs)")
    export.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    runs = commands.add_parser("runs", help="list the FitViz runs of a log directory")
    runs.add_argument("logdir", metavar="LOGDIR")
    return parser


def main(argv=None):
    """Entry point of the `tb-fitviz` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    # TensorFlow, if installed, is imported by TensorBoard's readers: keep it quiet.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if args.command == "export":
        return _export(parser, args)
    return _runs(parser, args)


def _read_without_tensorflow(logdir):
    """Lets TensorBoard read a local logdir with its TensorFlow-free file layer.

    TensorBoard's readers import TensorFlow when it is installed (seconds of
    start-up, and log noise) only to reach files through `tf.io.gfile`. For a
    local folder its own stub does the same; `tensorboard.compat` picks the
    stub when a module named `tensorboard.compat.notf` exists (TensorBoard's
    own "no_tensorflow" switch). So does s3:// (through boto3: TensorFlow needs
    tensorflow-io for it) and any fsspec URL; gs:// and the other schemes
    TensorFlow speaks itself keep TensorFlow (`storage.reads_with_tensorflow`).
    """
    if storage.reads_with_tensorflow(logdir) or "tensorflow" in sys.modules:
        return
    import types

    sys.modules.setdefault("tensorboard.compat.notf", types.ModuleType("tensorboard.compat.notf"))


class _Terminated(Exception):
    """SIGTERM during an export: raised in the main thread, so that the export's cleanup runs."""


def _raise_terminated(signum, frame):
    raise _Terminated()


def _export(parser, args):
    import signal

    from tb_fitviz import export as ex

    _read_without_tensorflow(args.logdir)
    # A kill (SIGTERM) unwinds like Ctrl-C: the half-written file is removed, not left behind.
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        if args.size is not None and (args.width is not None or args.height is not None):
            raise ex.ExportError("--size", "give either --size or --width/--height, not both")
        width, height = ex.DEFAULT_SIZE if args.size is None else ex.parse_size(args.size)
        width = args.width if args.width is not None else width
        height = args.height if args.height is not None else height
        result = ex.export(
            args.logdir, args.run, args.output, fps=args.fps, start=args.start, stop=args.stop,
            stride=args.stride, size=(width, height), dpi=args.dpi, smoothing=args.smoothing,
            band=None if args.band == "none" else args.band, view=args.view,
            theme=args.theme, progress=not args.quiet, jobs=args.jobs,
        )
    except ex.ExportError as error:
        parser.exit(2, f"tb-fitviz export: error: {error}\n")
    except ImportError as error:
        parser.exit(1, f"tb-fitviz export: error: {error}\n")
    except KeyboardInterrupt:
        parser.exit(130, "tb-fitviz export: interrupted; nothing written\n")
    except _Terminated:
        parser.exit(143, "tb-fitviz export: terminated; nothing written\n")
    finally:
        signal.signal(signal.SIGTERM, previous)
    if result.path.suffix.lower() == ".png":
        print(f"wrote {result.path} (step {result.steps[-1]}, {result.size[0]}x{result.size[1]}, "
              f"{_size_text(result.path.stat().st_size)}) in {result.seconds:.1f} s")
        return 0
    print(
        f"wrote {result.path} ({result.frames} frames, steps {result.steps[0]} to "
        f"{result.steps[-1]}, {result.size[0]}x{result.size[1]}, {result.fps:g} fps, "
        f"{_size_text(result.path.stat().st_size)}) in {result.seconds:.1f} s "
        f"({result.frames_per_second:.1f} frames/s, {result.jobs} drawing "
        f"process{'es' if result.jobs > 1 else ''})"
    )
    return 0


def _size_text(size):
    return f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size / 1e3:.0f} kB"


def _runs(parser, args):
    if not storage.is_remote(args.logdir) and not os.path.isdir(args.logdir):
        parser.exit(2, f"tb-fitviz runs: error: LOGDIR: {args.logdir!r} is not a directory\n")
    try:
        storage.check_readable(args.logdir)
    except (ValueError, PermissionError) as error:
        parser.exit(2, f"tb-fitviz runs: error: {error}\n")
    _read_without_tensorflow(args.logdir)
    from tb_fitviz.plugin.reading import reader_for_logdir

    runs = reader_for_logdir(args.logdir).runs()
    if not runs:
        print(f"no FitViz runs under {args.logdir}")
        return 0
    width = max(len(entry["run"]) for entry in runs)
    kinds = [_kind_text(entry) for entry in runs]
    kind_width = max(len(text) for text in kinds)
    views = ["views: " + (",".join(entry.get("views") or []) or "-") for entry in runs]
    views_width = max(len(text) for text in views)
    for entry, kind, view in zip(runs, kinds, views):
        steps = entry.get("steps") or []
        span = f"steps {steps[0]} to {steps[-1]}" if steps else "no frames yet"
        if entry.get("error"):
            span = f"cannot be read: {entry['error']}"
        print(f"{entry['run']:<{width}}  {entry.get('frame_count', len(steps)):>6} frames  "
              f"{entry.get('sample_size', '?'):>6} points  {kind:<{kind_width}}  "
              f"{view:<{views_width}}  {span}")
    return 0


def _kind_text(entry):
    """What a run fitted, in a few words: "regression, 1 feature, 2 outputs"."""
    settings = entry.get("settings") or {}
    task = entry.get("task")
    if not task:
        return "-"
    width = entry.get("input_width") or 1
    text = f"{task}, {width} feature{'s' if width != 1 else ''}"
    if task == "classification":
        count = len(settings.get("class_names") or [])
        return text + f", {count} classes"
    count = len(settings.get("output_names") or ["y"])
    return text + f", {count} output{'s' if count != 1 else ''}"


if __name__ == "__main__":
    sys.exit(main())
